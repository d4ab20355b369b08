import contextlib
import errno
import os
import signal

import numpy as np
import pytest

from mnist_dvc.core import signals
from mnist_dvc.core.errors import DataError
from mnist_dvc.core.files import (
    all_or_nothing,
    atomic_dir,
    atomic_path,
    before_first_replace,
    read_arrays,
    read_json,
    write_arrays,
    write_json,
    write_text,
)


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


def three_outputs(root, version):
    """What a stage like evaluate writes: two files and a folder."""
    write_json(root / "metrics.json", {"version": version})
    write_text(root / "predictions.csv", f"version {version}\n")
    with atomic_dir(root / "plots") as directory:
        (directory / "figure.png").write_text(f"version {version}")


def contents(root):
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("failing_write", [1, 2, 3])
def test_a_failure_at_any_write_leaves_every_output_as_it_was(tmp_path, monkeypatch, failing_write):
    with all_or_nothing():
        three_outputs(tmp_path, 1)
    before = contents(tmp_path)

    calls = {"count": 0}
    real_write_text = type(tmp_path).write_text

    def full_at_the_nth_write(path, *args, **kwargs):
        calls["count"] += 1
        if calls["count"] == failing_write:
            disk_full()
        return real_write_text(path, *args, **kwargs)

    monkeypatch.setattr(type(tmp_path), "write_text", full_at_the_nth_write)
    with pytest.raises(OSError, match="No space left"), all_or_nothing():
        three_outputs(tmp_path, 2)
    assert calls["count"] == failing_write
    assert contents(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "plots", "predictions.csv"], "no temp left"


def test_a_failed_rename_puts_back_those_already_renamed(tmp_path, monkeypatch):
    with all_or_nothing():
        three_outputs(tmp_path, 1)
    before = contents(tmp_path)
    real_replace, renames = os.replace, []

    def fifth_rename_fails(source, target):
        renames.append(target)
        if len(renames) == 5:  # metrics.json and predictions.csv are in place; setting the old folder aside fails
            disk_full()
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", fifth_rename_fails)
    with pytest.raises(OSError), all_or_nothing():
        three_outputs(tmp_path, 2)
    monkeypatch.setattr(os, "replace", real_replace)
    assert contents(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "plots", "predictions.csv"]


def test_every_output_is_replaced_only_once_all_are_written(tmp_path):
    with all_or_nothing():
        three_outputs(tmp_path, 1)
    with all_or_nothing():
        write_json(tmp_path / "metrics.json", {"version": 2})
        assert read_json(tmp_path / "metrics.json") == {"version": 1}, "not yet: the block has not ended"
        three_outputs(tmp_path, 2)
    assert contents(tmp_path) == {
        "metrics.json": '{\n  "version": 2\n}\n',
        "plots/figure.png": "version 2",
        "predictions.csv": "version 2\n",
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "plots", "predictions.csv"]


def lost_stop():
    """SIGTERM whose exception was lost, as when its handler ran in a finalizer."""
    with contextlib.suppress(BaseException):
        signals._on_stop_signal(signal.SIGTERM, None)


def test_a_write_after_a_lost_stop_replaces_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(signals, "_received", None)
    three_outputs(tmp_path, 1)
    lost_stop()
    with pytest.raises(signals.Terminated):
        three_outputs(tmp_path, 2)
    assert contents(tmp_path)["metrics.json"] == '{\n  "version": 1\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "plots", "predictions.csv"]


def test_a_stop_lost_before_all_or_nothing_ends_replaces_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(signals, "_received", None)
    three_outputs(tmp_path, 1)
    with pytest.raises(signals.Terminated), all_or_nothing():
        three_outputs(tmp_path, 2)
        lost_stop()
    assert set(contents(tmp_path).values()) == {'{\n  "version": 1\n}\n', "version 1", "version 1\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "plots", "predictions.csv"]


def test_the_first_output_put_in_place_waits_for_what_must_come_first_and_later_ones_do_not(tmp_path):
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    waited = []
    before_first_replace(lambda: waited.append(first.exists()))
    write_text(first, "new")
    write_text(second, "new")
    assert waited == [False]


def test_a_wait_that_fails_puts_nothing_in_place_and_leaves_no_temp(tmp_path):
    def stopped():
        raise KeyboardInterrupt

    before_first_replace(stopped)
    with pytest.raises(KeyboardInterrupt):
        write_text(tmp_path / "out.txt", "new")
    assert list(tmp_path.iterdir()) == []
