"""Data and models versioned the DVC way, end to end: raw data recorded only once checked, a remote that restores
a run in a fresh clone without retraining, experiments shared through git and the remote, queued experiments
that need no network, the model as an artifact, and DVC's cache verified and repaired."""

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from tests.helpers.data import install_tiny_dataset
from tests.helpers.project import cached_stages, copy_of_reproduced, make_project, ran_stages, read_outputs, run


def clone(origin: Path, root: Path) -> Path:
    run(["git", "clone", "-q", str(origin), str(root)], origin.parent)
    return root


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """A project that ran and pushed: its git history to a bare repository, its data to the DVC remote.

    The remote is the project's default, a directory beside the work tree (here beside every clone).
    """
    base = tmp_path_factory.mktemp("shared")
    first = base / "first"
    copy_of_reproduced(tmp_path_factory, first)
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


def flip_a_byte(path: Path, offset: int, silently: bool = False) -> None:
    """Change one bit of a file, as a careless tool would; silently, keeping its mode and times too, as a failing
    disk would (DVC, which knows a file by its inode, size and time, sees no change then)."""
    stat = path.stat()
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[offset] ^= 1
    path.write_bytes(bytes(data))
    path.chmod(stat.st_mode)
    if silently:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def cached(root: Path, path: Path) -> Path:
    """Where DVC's cache would hold a file with path's bytes."""
    digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    return root / ".dvc/cache/files/md5" / digest[:2] / digest[2:]


def test_a_damaged_raw_file_is_never_recorded_and_one_command_puts_it_right(copy_of_first):
    raw = copy_of_first / "data/raw/tiny/t10k-labels-idx1-ubyte.gz"
    good, lock = raw.read_bytes(), (copy_of_first / "dvc.lock").read_bytes()
    flip_a_byte(raw, -8)  # in the CRC of the gzip stream
    status = json.loads(run(["dvc", "status", "--json"], copy_of_first).stdout)
    assert status["check"] == [{"changed outs": {"data/raw": "modified"}}]

    result = run(["dvc", "repro"], copy_of_first, check=False)
    assert result.returncode != 0 and ran_stages(result.stdout) == ["check"]
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("check: error: ")]
    assert line.startswith(
        "check: error: data/raw/tiny/t10k-labels-idx1-ubyte.gz: gzip data is corrupt (CRC check failed"
    )
    assert line.endswith("`dvc checkout --force data/raw/tiny/t10k-labels-idx1-ubyte.gz` puts back the copy DVC "
                         "recorded, if any, or delete it and run python -m mnist_dvc.apps.fetch tiny")  # fmt: skip
    assert (copy_of_first / "dvc.lock").read_bytes() == lock and not cached(copy_of_first, raw).exists()

    run(["dvc", "checkout", "--force", "data/raw/tiny/t10k-labels-idx1-ubyte.gz"], copy_of_first)
    assert raw.read_bytes() == good
    assert json.loads(run(["dvc", "status", "--json"], copy_of_first).stdout) == {}

    # `dvc exp run` records the data sources of a workspace before it runs; the raw data is no data source, but
    # the output of the check, so it is put back as recorded instead.
    flip_a_byte(raw, -8)
    damaged = cached(copy_of_first, raw)
    run(["dvc", "exp", "run"], copy_of_first)
    assert (copy_of_first / "dvc.lock").read_bytes() == lock and not damaged.exists()
    assert raw.read_bytes() == good


def cache_tool(root: Path, action: str):
    return run(["python", "-m", "mnist_dvc.apps.cache", action], root, check=False)


def test_a_damaged_cache_object_is_found_named_and_repaired(copy_of_first, shared):
    model = copy_of_first / "models/model.keras"
    good = model.read_bytes()
    assert cache_tool(copy_of_first, "verify").returncode == 0

    # The object read-only as DVC left it: DVC trusts it, checks it out again, and sees nothing wrong.
    flip_a_byte(cached(copy_of_first, model), len(good) // 2, silently=True)
    model.unlink()
    run(["dvc", "checkout", "models/model.keras"], copy_of_first)
    assert model.read_bytes() != good
    assert json.loads(run(["dvc", "status", "--json"], copy_of_first).stdout) == {}
    predicted = run(["python", "-m", "mnist_dvc.apps.predict", "examples"], copy_of_first, check=False)
    assert "models/model.keras: the file is damaged (Bad CRC-32" in predicted.stderr
    assert "python -m mnist_dvc.apps.cache repair" in predicted.stderr

    verified = cache_tool(copy_of_first, "verify")
    assert verified.returncode == 1 and "(used by models/model.keras)" in verified.stdout
    assert verified.stderr.splitlines()[-1].endswith("`python -m mnist_dvc.apps.cache repair` replaces them")

    # Neither the workspace nor a remote has the recorded bytes: it says which stage writes them again.
    repaired = cache_tool(copy_of_first, "repair")
    assert repaired.returncode == 1 and "Traceback" not in repaired.stderr
    assert repaired.stderr.splitlines()[-1] == (
        "cache: error: 1 damaged objects had no good copy; `dvc repro --force -s train` writes its outputs again"
    )
    run(["dvc", "repro", "--force", "-s", "train"], copy_of_first)
    assert model.read_bytes() == good and cache_tool(copy_of_first, "verify").returncode == 0

    # With the remote that holds the run, the damaged copy in the workspace is put right too.
    base = shared[0]
    run(["dvc", "remote", "modify", "--local", "storage", "url", str(base / "mnist-dvc-storage")], copy_of_first)
    flip_a_byte(cached(copy_of_first, model), len(good) // 2, silently=True)
    model.unlink()
    run(["dvc", "checkout", "models/model.keras"], copy_of_first)
    repaired = cache_tool(copy_of_first, "repair")
    assert repaired.returncode == 0, repaired.stderr
    assert "fetched from the remote" in repaired.stdout and "models/model.keras: checked out again" in repaired.stdout
    assert model.read_bytes() == good and cache_tool(copy_of_first, "verify").returncode == 0

    # A workspace file with the recorded bytes is copy enough.
    flip_a_byte(cached(copy_of_first, model), len(good) // 2, silently=True)
    repaired = cache_tool(copy_of_first, "repair")
    assert repaired.returncode == 0 and "restored from models/model.keras" in repaired.stdout
    assert cache_tool(copy_of_first, "verify").returncode == 0


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
        time.sleep(5)  # each look is a DVC process, whose second of CPU the queued runs would miss
    pytest.fail(f"the queue did not finish:\n{status}")


def test_queued_experiments_run_offline_on_another_dataset_and_failures_show(tmp_path):
    root = make_project(tmp_path / "project")
    install_tiny_dataset(root, name="tiny-b", mirrors=["http://127.0.0.1:9/unreachable/"])
    run(["dvc", "repro", "check"], root)  # records data/raw/ with both datasets
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "a second dataset, added"], root)

    # As far as evaluate, whose metrics the table shows: the figures and exports have tests of their own.
    run(["dvc", "exp", "run", "--queue", "-n", "on-b", "-S", "prepare.dataset=tiny-b", "evaluate"], root)
    run(["dvc", "exp", "run", "--queue", "-n", "broken", "-S", "train.epochs=fifty", "evaluate"], root)
    run(["dvc", "queue", "start", "-j", "1"], root)
    status = wait_for_queue(root)
    lines = {line.split()[1]: line for line in status.splitlines()[1:] if len(line.split()) > 2}
    assert "Success" in lines["on-b"] and "Failed" in lines["broken"], status
    assert "check: error: params.yaml: train.epochs = 'fifty'" in run(["dvc", "queue", "logs", "broken"], root).stdout

    shown = json.loads(run(["dvc", "exp", "show", "--json"], root).stdout)
    (on_b,) = [exp for row in shown for exp in row.get("experiments") or [] if exp["name"] == "on-b"]
    assert on_b["revs"][0]["data"]["params"]["params.yaml"]["data"]["prepare"]["dataset"] == "tiny-b"
