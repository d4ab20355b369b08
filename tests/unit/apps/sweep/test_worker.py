"""What runs on a sweep's machines: code that travels by value (the standard library alone), one clone per trial
running at once, and a trial's outcome read from what `dvc exp run` printed and wrote."""

import ast
import json
import subprocess
import sys
import threading
import time

from mnist_dvc.apps.sweep import worker
from mnist_dvc.core import stage
from tests.helpers.project import PROJECT_ROOT


def test_the_worker_module_imports_the_standard_library_alone():
    """cloudpickle sends its code by value; a worker has the project's environment but not the project."""
    tree = ast.parse((PROJECT_ROOT / "mnist_dvc/apps/sweep/worker.py").read_text())
    top = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    names = {alias.name.split(".")[0] for node in top if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module.split(".")[0] for node in top if isinstance(node, ast.ImportFrom)}
    assert names <= sys.stdlib_module_names, names - sys.stdlib_module_names


def test_the_timings_file_is_the_one_the_stages_write():
    assert worker.TIMINGS_ENV == stage.TIMINGS_ENV


def test_the_first_error_is_the_stages_own_line_then_dvcs_then_the_last():
    output = (
        "Running stage 'train':\n> python -m stages.train\n"
        "train: error: params.yaml: train.batch_size = 0; expected an integer >= 1\n"
        "ERROR: failed to reproduce 'train': failed to run: python -m stages.train, exited with 1\n"
    )
    assert worker.first_error(output) == "train: error: params.yaml: train.batch_size = 0; expected an integer >= 1"
    assert worker.first_error("some\nERROR: Invalid `--set-param` value\n") == "Invalid `--set-param` value"
    assert worker.first_error("train: terminated; earlier outputs are intact\n") == (
        "train: terminated; earlier outputs are intact"
    )
    assert worker.first_error("a\nlast words\n\n") == "last words"
    assert worker.first_error("") == "no output"


def test_metrics_are_every_number_by_dotted_name(tmp_path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/test.json").write_text(json.dumps({"test": {"accuracy": 0.9, "loss": 0.3}}))
    (tmp_path / "metrics/train.json").write_text(json.dumps({"epochs": 2, "val": {"accuracy": 0.8}, "flag": True}))
    found = worker.read_metrics(tmp_path, ("metrics/test.json", "metrics/train.json", "metrics/missing.json"))
    assert found == {"test.accuracy": 0.9, "test.loss": 0.3, "epochs": 2, "val.accuracy": 0.8}


def test_the_fit_time_is_the_train_stages_last_one_and_none_when_it_did_not_train(tmp_path):
    timings = tmp_path / "timings"
    assert worker._fit_seconds(timings) is None
    records = [{"stage": "train", "name": "fit", "seconds": 1.5}, {"stage": "evaluate", "name": "x", "seconds": 9}]
    timings.write_text("".join(json.dumps(record) + "\n" for record in records))
    assert worker._fit_seconds(timings) == 1.5


def test_trials_at_once_on_one_machine_get_a_clone_each_and_a_free_one_is_taken_again(tmp_path, monkeypatch):
    monkeypatch.setenv(worker.CLONES_ENV, str(tmp_path))
    job = worker.Job("/some/repository", "0" * 40, "/remote", "storage", (), ())
    inside, release = threading.Event(), threading.Event()
    held = []

    def hold() -> None:
        with worker.slot(job) as clone:
            held.append(clone)
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(10)
    with worker.slot(job) as second:
        assert second != held[0] and second.parent == held[0].parent
    release.set()
    holder.join()
    with worker.slot(job) as again:
        assert again == held[0], "the first slot is free again, and kept for the next trial"


def test_a_supervised_command_reports_its_status_and_output(tmp_path):
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    status, output = worker.supervised([sys.executable, "-c", code], tmp_path, {})
    assert status == 3
    assert sorted(output.split()) == ["err", "out"]


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        return "\nState:\tZ" not in open(f"/proc/{pid}/status").read()
    except FileNotFoundError:
        return False


def test_a_trial_dies_with_the_worker_that_ran_it(tmp_path):
    pid_file = tmp_path / "pid"
    trial = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    the_worker = (
        f"import sys; sys.path.insert(0, {str(PROJECT_ROOT)!r}); from mnist_dvc.apps.sweep import worker; "
        f"worker.supervised([sys.executable, '-c', {trial!r}], '.', {{}})"
    )
    parent = subprocess.Popen([sys.executable, "-c", the_worker], cwd=tmp_path)
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    assert alive(pid)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid), "the trial outlived its worker"
