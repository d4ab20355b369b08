"""A stage's outputs are replaced together or not at all: a full disk at any of its writes leaves every one of them
as the last good run wrote it."""

import errno
import importlib
import shutil

import pytest

from mnist_dvc.core import paths, results
from tests.helpers.data import install_tiny_dataset
from tests.helpers.project import tiny_params, write_params
from tests.helpers.servers import closed_port_url
from tests.unit.stages.test_errors import run_stage

OUTPUTS = {
    "train": [paths.MODEL, paths.TRAIN_METRICS],
    "evaluate": [paths.TEST_METRICS, paths.PER_CLASS_METRICS, paths.PREDICTIONS],
}


@pytest.fixture(scope="module")
def last_good_run(tmp_path_factory):
    """A working directory where prepare, train and evaluate succeeded once."""
    root = tmp_path_factory.mktemp("last_good_run")
    install_tiny_dataset(root, mirrors=[closed_port_url()])
    write_params(root, tiny_params(train__epochs=2))
    for stage in ("prepare", "train", "evaluate"):
        result = run_stage(stage, root)
        assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def copy_of_run(last_good_run, tmp_path, monkeypatch):
    root = tmp_path / "run"
    shutil.copytree(last_good_run, root)
    monkeypatch.chdir(root)
    return root


def full_at_write(monkeypatch, module, name, failing):
    """Make the failing-th call of module.name (1 = the first) fail as a full disk would."""
    real, calls = getattr(module, name), []

    def write(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == failing:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(module, name, write)
    return calls


@pytest.mark.parametrize(
    ("stage", "module", "name", "failing"),
    [
        ("train", "mnist_dvc.core.results", "write_json", 1),  # metrics/train.json, after the model is written
        ("evaluate", "mnist_dvc.core.results", "write_json", 2),  # per_class.json, after test.json
        ("evaluate", "mnist_dvc.core.results", "write_text", 1),  # predictions.csv, the last of three
    ],
    ids=["train-metrics", "evaluate-per-class", "evaluate-predictions"],
)
def test_a_full_disk_at_any_write_leaves_every_output_as_the_last_good_run(
    copy_of_run, monkeypatch, stage, module, name, failing
):
    before = {path: path.read_bytes() for path in OUTPUTS[stage]}
    write_params(copy_of_run, tiny_params(train__epochs=3))  # train something else than last time
    calls = full_at_write(monkeypatch, importlib.import_module(module), name, failing)
    monkeypatch.setattr("sys.argv", [stage])
    with pytest.raises(OSError, match="No space left"):
        importlib.import_module(f"stages.{stage}").main()
    assert len(calls) == failing
    assert {path: path.read_bytes() for path in OUTPUTS[stage]} == before
    leftovers = [path for path in copy_of_run.rglob(".*") if path.name not in (".", "..")]
    assert not leftovers, "no temporary file is left behind"


def test_the_same_run_without_a_full_disk_replaces_them_all(copy_of_run, monkeypatch):
    before = {path: path.read_bytes() for path in OUTPUTS["train"]}
    write_params(copy_of_run, tiny_params(train__epochs=3))
    monkeypatch.setattr("sys.argv", ["train"])
    importlib.import_module("stages.train").main()
    after = {path: path.read_bytes() for path in OUTPUTS["train"]}
    assert all(after[path] != before[path] for path in before)
    assert results.curve_file("loss").read_text().count("\n") == 1 + 3
