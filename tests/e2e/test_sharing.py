"""Data and models versioned the DVC way, end to end: raw data tracked per dataset, a remote that restores a
run in a fresh clone without retraining, experiments shared through git and the remote, queued experiments
that need no network, and the model as an artifact."""

import json
import shutil
import time
from pathlib import Path

import pytest

from tests.helpers.data import install_tiny_dataset
from tests.helpers.project import cached_stages, make_project, ran_stages, read_outputs, run


def clone(origin: Path, root: Path) -> Path:
    run(["git", "clone", "-q", str(origin), str(root)], origin.parent)
    return root


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """A project that ran and pushed: its git history to a bare repository, its data to the DVC remote.

    The remote is the project's default, a directory beside the work tree (here beside every clone).
    """
    base = tmp_path_factory.mktemp("shared")
    first = make_project(base / "first")
    run(["dvc", "repro"], first)
    run(["git", "add", "-A"], first)
    run(["git", "commit", "-qm", "a run"], first)
    run(["git", "clone", "-q", "--bare", str(first), str(base / "origin.git")], base)
    run(["git", "remote", "add", "origin", str(base / "origin.git")], first)
    run(["git", "fetch", "-q", "origin"], first)
    pushed = run(["dvc", "push"], first).stdout
    return base, first, pushed


@pytest.fixture
def copy_of_first(shared, tmp_path):
    root = tmp_path / "first"
    shutil.copytree(shared[1], root, symlinks=True)
    return root


def test_a_changed_raw_file_shows_in_status_and_stops_the_next_repro(copy_of_first):
    raw = copy_of_first / "data/raw/tiny/t10k-labels-idx1-ubyte.gz"
    raw.write_bytes(raw.read_bytes()[:-3])
    status = json.loads(run(["dvc", "status", "--json"], copy_of_first).stdout)
    assert status["prepare"] == [{"changed deps": {"data/raw/tiny": "modified"}}]
    result = run(["dvc", "repro"], copy_of_first, check=False)
    assert result.returncode != 0
    assert "prepare: error: data/raw/tiny/t10k-labels-idx1-ubyte.gz: gzip data is truncated" in result.stderr


def test_pull_in_a_fresh_clone_restores_everything_without_retraining(shared):
    base, first, pushed = shared
    assert "pushed" in pushed
    second = clone(base / "origin.git", base / "second")
    run(["dvc", "pull"], second)
    assert read_outputs(second) == read_outputs(first)
    assert (second / "data/raw/tiny").is_dir()
    assert json.loads(run(["dvc", "status", "--json"], second).stdout) == {}
    output = run(["dvc", "repro"], second).stdout
    assert ran_stages(output) == [] and cached_stages(output) == []


def test_an_experiment_travels_between_clones_with_its_model(shared):
    base, _, _ = shared
    one = clone(base / "origin.git", base / "one")
    run(["dvc", "pull"], one)
    run(["dvc", "exp", "run", "-n", "narrow", "-S", "train.model.hidden_units=[8]"], one)
    model = (one / "models/model.keras").read_bytes()
    run(["dvc", "exp", "push", "origin", "narrow"], one)

    other = clone(base / "origin.git", base / "other")
    run(["dvc", "exp", "pull", "origin", "narrow"], other)
    shown = json.loads(run(["dvc", "exp", "show", "--json"], other).stdout)
    (narrow,) = [exp for row in shown for exp in row.get("experiments") or [] if exp["name"] == "narrow"]
    data = narrow["revs"][0]["data"]
    assert data["params"]["params.yaml"]["data"]["train"]["model"]["hidden_units"] == [8]
    assert "accuracy" in data["metrics"]["metrics/test.json"]["data"]["test"]

    run(["dvc", "exp", "apply", "narrow"], other)
    run(["dvc", "pull"], other)
    assert (other / "models/model.keras").read_bytes() == model
    output = run(["dvc", "repro"], other).stdout
    assert ran_stages(output) == [], "the model came from the remote: no retraining"


def test_the_model_is_an_artifact_that_dvc_artifacts_get_fetches(shared, tmp_path):
    base, first, _ = shared
    run(["git", "tag", "-a", "mnist-classifier@v1.0.0", "-m", "Registering artifact mnist-classifier v1.0.0"], first)
    run(["dvc", "artifacts", "get", str(first), "mnist-classifier", "--rev", "v1.0.0"], tmp_path)
    assert (tmp_path / "model.keras").read_bytes() == (first / "models/model.keras").read_bytes()


EXPORTS = {"mnist-classifier-onnx": "models/model.onnx", "mnist-classifier-litert": "models/model.tflite"}


def test_each_export_is_an_artifact_that_dvc_artifacts_get_fetches_by_version_offline(copy_of_first, tmp_path):
    """From a bare git repository and a DVC remote both reachable by path, as a shared folder would be, once the
    workspace that made the exports, and its cache, have gone."""
    exports = {name: (copy_of_first / path).read_bytes() for name, path in EXPORTS.items()}
    run(["dvc", "remote", "modify", "storage", "url", str(tmp_path / "shared-storage")], copy_of_first)
    run(["git", "commit", "-qam", "the DVC remote: a shared folder"], copy_of_first)
    run(["git", "clone", "-q", "--bare", str(copy_of_first), str(tmp_path / "shared.git")], tmp_path)
    run(["dvc", "push"], copy_of_first)
    for name in EXPORTS:
        run(["git", "tag", "-a", f"{name}@v1.1.0", "-m", f"Registering artifact {name} v1.1.0"], copy_of_first)
        run(["git", "push", "-q", str(tmp_path / "shared.git"), f"{name}@v1.1.0"], copy_of_first)
    shutil.rmtree(copy_of_first)

    for name, path in EXPORTS.items():
        fetched = tmp_path / name
        fetched.mkdir()
        run(["dvc", "artifacts", "get", str(tmp_path / "shared.git"), name, "--rev", "v1.1.0"], fetched)
        assert (fetched / Path(path).name).read_bytes() == exports[name]


def wait_for_queue(root: Path, timeout: float = 600) -> str:
    """Wait until no queued experiment is queued or running; return `dvc queue status`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = run(["dvc", "queue", "status"], root).stdout
        if not any(state in status for state in ("Queued", "Running")):
            return status
        time.sleep(2)
    pytest.fail(f"the queue did not finish:\n{status}")


def test_queued_experiments_run_offline_on_another_dataset_and_failures_show(tmp_path):
    root = make_project(tmp_path / "project")
    install_tiny_dataset(root, name="tiny-b", mirrors=["http://127.0.0.1:9/unreachable/"])
    run(["dvc", "add", "-q", "data/raw/tiny-b"], root)
    run(["dvc", "repro"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "a second dataset, added"], root)

    run(["dvc", "exp", "run", "--queue", "-n", "on-b", "-S", "prepare.dataset=tiny-b"], root)
    run(["dvc", "exp", "run", "--queue", "-n", "broken", "-S", "train.epochs=fifty"], root)
    run(["dvc", "queue", "start", "-j", "1"], root)
    status = wait_for_queue(root)
    lines = {line.split()[1]: line for line in status.splitlines()[1:] if len(line.split()) > 2}
    assert "Success" in lines["on-b"] and "Failed" in lines["broken"], status
    assert "train: error: params.yaml: train.epochs = 'fifty'" in run(["dvc", "queue", "logs", "broken"], root).stdout

    shown = json.loads(run(["dvc", "exp", "show", "--json"], root).stdout)
    (on_b,) = [exp for row in shown for exp in row.get("experiments") or [] if exp["name"] == "on-b"]
    assert on_b["revs"][0]["data"]["params"]["params.yaml"]["data"]["prepare"]["dataset"] == "tiny-b"
