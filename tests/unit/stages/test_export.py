"""The export and card stages on a tiny run: what they write, and how export refuses a missing or unfit model (one
line, earlier outputs intact). The stages run in this process, but for one run as DVC runs it, in a process of its
own."""

import contextlib
import json
import os
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("keras")

from mnist_dvc.core import paths  # noqa: E402
from mnist_dvc.core.errors import DataError  # noqa: E402
from tests.helpers.data import CLASSES, install_tiny_dataset  # noqa: E402
from tests.helpers.project import PROJECT_ROOT, tiny_params, write_params  # noqa: E402
from tests.unit.stages.test_errors import assert_one_line_error  # noqa: E402

OUTPUTS = (paths.SAVED_MODEL, paths.ONNX_MODEL, paths.LITERT_MODEL, paths.EXPORT_METRICS, paths.EXPORT_FACTS)


@contextlib.contextmanager
def stage_in(root, monkeypatch):
    """Run stage mains in root, as `python -m stages.<name>` with no options would."""
    with monkeypatch.context() as patch:
        patch.chdir(root)
        patch.setattr(sys, "argv", ["stage"])
        yield


def run_in(root, stage, monkeypatch):
    import importlib

    with stage_in(root, monkeypatch):
        importlib.import_module(f"stages.{stage}").main()


def read_outputs(root):
    files = [root / out for out in OUTPUTS if (root / out).is_file()]
    files += [file for out in OUTPUTS if (root / out).is_dir() for file in sorted((root / out).rglob("*"))]
    return {str(file.relative_to(root)): file.read_bytes() for file in files if file.is_file()}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny run through prepare, train, evaluate, export and card."""
    root = tmp_path_factory.mktemp("exported")
    install_tiny_dataset(root)
    write_params(root, tiny_params())
    with pytest.MonkeyPatch.context() as monkeypatch:
        for stage in ("prepare", "train", "evaluate", "export", "card"):
            run_in(root, stage, monkeypatch)
    return root


@pytest.fixture
def copy_of(exported, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(exported, root)
    return root


def test_export_writes_every_format_their_agreement_and_the_facts_and_card_the_card(exported):
    for out in (*OUTPUTS, paths.MODEL_CARD):
        assert (exported / out).exists(), out
    metrics = json.loads((exported / paths.EXPORT_METRICS).read_text())
    assert sorted(metrics) == ["litert", "onnx", "saved_model"]
    for name, record in metrics.items():
        assert record["labels_equal"] == 100, name
        assert 0 <= record["max_diff_ppm"] < 10, name
    card = (exported / paths.MODEL_CARD).read_text()
    assert card.startswith("# Model card: a multilayer perceptron for tiny images\n")
    assert "| ONNX | `models/model.onnx` |" in card and "| 100 of 100 |" in card
    assert "| Dense 32, sigmoid | 32 | 25,120 |" in card  # tiny_params' hidden units: [32, 16]
    assert "Not measured yet: `python -m bench.exports`" in card  # no bench/export_speed.json here


def test_the_card_needs_what_export_measured(copy_of, monkeypatch):
    (copy_of / paths.EXPORT_FACTS).unlink()
    with pytest.raises(DataError, match="^models/export_facts.json: not found; run the stage that writes it first"):
        run_in(copy_of, "card", monkeypatch)


def test_a_missing_model_is_one_line_and_the_earlier_exports_stay(copy_of):
    before = read_outputs(copy_of)
    (copy_of / paths.MODEL).unlink()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("MNIST_DEBUG", None)
    result = subprocess.run(
        [sys.executable, "-m", "stages.export"], cwd=copy_of, env=env, capture_output=True, text=True, timeout=300
    )
    assert_one_line_error(result, "export", "models/model.keras: not found; run the pipeline first")
    assert read_outputs(copy_of) == before


def save_unfit_model(path, image_shape, classes):
    from mnist_dvc.model.network import build_model, save_model
    from tests.helpers.params import train_params

    model = build_model(train_params("train.model.hidden_units=[4]").model, image_shape, len(classes))
    model.compile(loss="sparse_categorical_crossentropy")
    save_model(model, classes, path)


@pytest.mark.parametrize(
    ("image_shape", "classes", "message"),
    [
        ((14, 14), CLASSES, "models/model.keras: takes images of 14x14; expected the test split's 28x28"),
        ((28, 28), ("cat", "dog"), "models/model.keras: classes cat, dog; expected the test split's 0, 1, 2"),
    ],
    ids=["shape", "classes"],
)
def test_a_model_unfit_for_the_data_is_refused_before_anything_is_written(
    copy_of, monkeypatch, image_shape, classes, message
):
    before = read_outputs(copy_of)
    save_unfit_model(copy_of / paths.MODEL, image_shape, classes)
    with pytest.raises(DataError, match=f"^{message}"):
        run_in(copy_of, "export", monkeypatch)
    assert read_outputs(copy_of) == before


def test_predictions_of_another_run_are_refused(copy_of, monkeypatch):
    predictions = copy_of / paths.PREDICTIONS
    predictions.write_text("\n".join(predictions.read_text().splitlines()[:50]) + "\n")
    with pytest.raises(DataError, match="data/predictions.csv: 49 rows whose actual labels do not match"):
        run_in(copy_of, "export", monkeypatch)
