import numpy as np
import pytest

from mnist_dvc.core.errors import DataError
from mnist_dvc.core.files import atomic_dir, atomic_path, read_arrays, read_json, write_arrays, write_json


def test_failed_write_keeps_the_previous_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "metrics.json"
    write_json(target, {"accuracy": 0.9})
    with pytest.raises(RuntimeError), atomic_path(target) as temp:
        temp.write_text('{"accur')
        raise RuntimeError("killed mid-write")
    assert read_json(target) == {"accuracy": 0.9}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_failed_directory_keeps_the_previous_directory(tmp_path):
    target = tmp_path / "log"
    with atomic_dir(target) as temp:
        (temp / "a").write_text("good")
    with pytest.raises(RuntimeError), atomic_dir(target) as temp:
        (temp / "a").write_text("half")
        raise RuntimeError
    assert (target / "a").read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["log"]


def test_arrays_round_trip_without_pickle(tmp_path):
    path = tmp_path / "a.npz"
    write_arrays(path, {"x": np.arange(6, dtype=np.uint8).reshape(2, 3), "names": np.array(["a", "b"])})
    arrays = read_arrays(path, ("x", "names"))
    assert arrays["x"].dtype == np.uint8 and list(arrays["names"]) == ["a", "b"]
    with pytest.raises(ValueError):
        write_arrays(tmp_path / "b.npz", {"objects": np.array([{}, []], dtype=object)})


def test_reading_a_missing_or_broken_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="not found; run the stage that writes it first"):
        read_arrays(tmp_path / "missing.npz", ("x",))
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04broken")
    with pytest.raises(DataError, match="not a readable .npz"):
        read_arrays(tmp_path / "broken.npz", ("x",))
    write_arrays(tmp_path / "a.npz", {"x": np.zeros(1)})
    with pytest.raises(DataError, match="has no array 'y'"):
        read_arrays(tmp_path / "a.npz", ("y",))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(DataError, match="not valid JSON"):
        read_json(tmp_path / "bad.json")
