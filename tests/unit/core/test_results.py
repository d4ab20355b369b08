"""The saved formats: the training curves, the export stage's metrics, and the speed record the model card quotes."""

import json

import pytest

from mnist_dvc.core import paths
from mnist_dvc.core.errors import DataError
from mnist_dvc.core.results import (
    CURVE_COLUMNS,
    ExportSpeed,
    add_epoch,
    curve_file,
    read_export_metrics,
    read_export_speed,
    read_history,
    start_curves,
    write_export_metrics,
    write_export_speed,
)
from tests.helpers.project import PROJECT_ROOT

SPEED = ExportSpeed(
    model_md5="0" * 32,
    machine="a machine, 2 cores",
    threads=2,
    batch_size=2000,
    images_per_s={"keras": 1000.0, "onnx": 2000.0},
    single_image_ms={"keras": 0.3, "onnx": 0.02},
    versions={"onnxruntime": "1.32.0"},
)


def test_the_curves_hold_both_splits_per_metric_epochs_from_1(tmp_path, monkeypatch):
    """One table per metric, so that DVC draws training and validation on one chart, as the figure does."""
    monkeypatch.chdir(tmp_path)
    start_curves()
    for epoch in (1, 2):
        add_epoch(
            epoch, {"train": {"loss": 1.0 / epoch, "accuracy": 0.5}, "val": {"loss": 2.0 / epoch, "accuracy": 0.4}}
        )
    assert curve_file("loss").read_text() == "\t".join(CURVE_COLUMNS) + "\n1\t1.0\t2.0\n2\t0.5\t1.0\n"
    history = read_history()
    assert history["val"]["loss"].tolist() == [[1.0, 2.0], [2.0, 1.0]]
    assert history["train"]["accuracy"].tolist() == [[1.0, 0.5], [2.0, 0.5]]


def test_the_export_metrics_hold_one_record_per_format(tmp_path):
    path = tmp_path / "export.json"
    write_export_metrics(path, {"onnx": (9, 6.5e-7), "saved_model": (10, 0.0)})
    written = json.loads(path.read_text())
    assert written["saved_model"] == {"labels_equal": 10, "max_diff_ppm": 0.0}
    assert written["onnx"]["labels_equal"] == 9 and written["onnx"]["max_diff_ppm"] == pytest.approx(0.65)
    assert read_export_metrics(path, ("saved_model", "onnx")) == {"saved_model": (10, 0.0), "onnx": (9, 6.5e-7)}
    with pytest.raises(DataError, match=r"formats \['onnx', 'saved_model'\]; expected \['litert'"):
        read_export_metrics(path, ("litert", "onnx", "saved_model"))


def test_the_speed_record_reads_back_as_written_and_the_committed_one_reads(tmp_path):
    write_export_speed(tmp_path / "speed.json", SPEED)
    assert read_export_speed(tmp_path / "speed.json") == SPEED
    committed = read_export_speed(PROJECT_ROOT / paths.EXPORT_SPEED)
    assert set(committed.images_per_s) == {"keras", "saved_model", "onnx", "litert"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("threads"), "has no threads"),
        (lambda r: r.update(threads=0), "threads = 0; expected an integer >= 1"),
        (lambda r: r["images_per_s"].update(onnx="fast"), "images_per_s.onnx = 'fast'; expected a number"),
        (lambda r: r["single_image_ms"].pop("onnx"), "name different runtimes"),
        (lambda r: r.update(machine=2), "machine = 2; expected a string"),
    ],
)
def test_a_bad_speed_record_is_refused_in_one_line(tmp_path, change, message):
    write_export_speed(tmp_path / "speed.json", SPEED)
    record = json.loads((tmp_path / "speed.json").read_text())
    change(record)
    (tmp_path / "speed.json").write_text(json.dumps(record))
    with pytest.raises(DataError, match=message):
        read_export_speed(tmp_path / "speed.json")
