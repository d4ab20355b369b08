"""Sweeps on a real Dask cluster: a `dask scheduler` and two `dask worker` processes on 127.0.0.1, each worker
with its own folder of clones (a machine of its own), a bare git repository as origin and a folder as the DVC
remote. A grid survives a worker killed in the middle of a trial; a search interrupted with Ctrl-C goes on from
where it was; a failed trial is one line and the rest go on; the same sweep again trains nothing; a third
clone pulls every trial. The tests run in order, on one cluster."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mnist_dvc.apps.sweep import worker
from tests.helpers.project import DEFAULT_SIGNALS, make_project, project_env, run, set_defaults

SWEEP = [sys.executable, "-m", "mnist_dvc.apps.sweep"]
GRID = ["-S", "train.learning_rate=0.01,0.03", "-S", "train.batch_size=16"]


class Cluster:
    """The scheduler and the workers, each in a process group of its own, stopped by stop()."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.processes: dict[str, subprocess.Popen] = {}
        env = {**project_env(), "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
        scheduler_file = base / "scheduler.json"
        self._start(
            "scheduler",
            ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
            env,
            "--scheduler-file",
            scheduler_file,
        )
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.address = json.loads(scheduler_file.read_text())["address"]

    def _start(self, name: str, args: list[str], env: dict, *more: object) -> None:
        log = open(self.base / f"{name}.log", "a")  # noqa: SIM115 (the process writes to it until stop())
        self.processes[name] = subprocess.Popen(
            [str(Path(sys.executable).parent / "dask"), *args, *map(str, more)],
            cwd=self.base,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_worker(self, name: str) -> None:
        env = {**project_env(), worker.CLONES_ENV: str(self.base / name)}
        args = [self.address, "--name", name, "--nthreads", "1", "--no-nanny", "--no-dashboard"]
        self._start(name, ["worker", *args], env)

    def wait_for_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout="20s") as client:
            client.wait_for_workers(count, timeout=60)

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for name in list(self.processes):
            self.kill(name)


def processes_in(folder: Path) -> list[str]:
    """The command lines of the processes working in folder (their cwd under it): a trial's dvc and stages."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.readlink(entry / "cwd").startswith(str(folder)):
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


def sweep(root: Path, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**project_env(), **(env or {})}
    result = subprocess.run(
        [*SWEEP, *args], cwd=root, env=env, capture_output=True, text=True, timeout=600, **DEFAULT_SIGNALS
    )
    if check and result.returncode:
        pytest.fail(f"sweep {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def record(root: Path, name: str) -> dict:
    return json.loads((root / "sweeps" / f"{name}.json").read_text())["trials"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The driver's clone, pushed to a bare origin and its data to the DVC remote, and a cluster of two workers."""
    base = tmp_path_factory.mktemp("sweep")
    driver = make_project(base / "driver")
    set_defaults(driver, {"train.epochs": 1})
    # The figures and exports take seconds per trial and tell nothing about sweeps: this pipeline stops at evaluate.
    pipeline = yaml.safe_load((driver / "dvc.yaml").read_text())
    for stage in ("visualize", "export", "card"):
        del pipeline["stages"][stage]
    (driver / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    # dvc.lock then records the raw data and the prepared splits of this dataset, which the workers pull.
    run(["dvc", "repro", "-q", "prepare"], driver)
    run(["git", "add", "-A"], driver)
    run(["git", "commit", "-qm", "one epoch, no figures, the data recorded"], driver)
    run(["git", "clone", "-q", "--bare", str(driver), str(base / "origin.git")], base)
    run(["git", "remote", "add", "origin", str(base / "origin.git")], driver)
    run(["git", "fetch", "-q", "origin"], driver)
    run(["dvc", "push", "-q"], driver)  # the data, to the default remote: a folder beside the clones
    cluster = Cluster(base)
    try:
        for name in ("machine-1", "machine-2"):
            cluster.start_worker(name)
        cluster.wait_for_workers(2)
        yield base, driver, cluster
    finally:
        cluster.stop()
    time.sleep(0.5)
    assert processes_in(base) == [], "every process the test started is stopped"


def test_a_grid_on_two_workers_survives_a_worker_killed_in_the_middle_of_a_trial(setup):
    base, driver, cluster = setup
    command = [*SWEEP, "--name", "grid", "--scheduler", cluster.address, *GRID]
    with subprocess.Popen(
        command,
        cwd=driver,
        env=project_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **DEFAULT_SIGNALS,
    ) as driving:
        deadline = time.monotonic() + 300
        while not any("stages.train" in line for line in processes_in(base / "machine-1")):
            if time.monotonic() > deadline or driving.poll() is not None:
                pytest.fail(f"machine-1 never trained:\n{driving.stdout.read()}")
            time.sleep(0.1)
        cluster.kill("machine-1")
        time.sleep(1)
        assert processes_in(base / "machine-1") == [], "the killed worker's trial went with it"
        cluster.start_worker("machine-1")  # the same machine back, its half-run clone as the kill left it
        output, _ = driving.communicate(timeout=300)
    assert driving.returncode == 0, output
    trials = record(driver, "grid")
    assert len(trials) == 2 and {t["status"] for t in trials.values()} == {"finished"}, output
    started = [line.split()[1] for line in output.splitlines() if " started on " in line]
    (killed,) = [name for name in trials if started.count(name) == 2]
    assert f"{killed} started on {trials[killed]['host']}, worker machine-1" in output
    assert started.count(killed) == 2, "run again, once"
    shown = json.loads(run(["dvc", "exp", "show", "--json"], driver).stdout)
    names = {exp["name"] for row in shown for exp in row.get("experiments") or []}
    assert set(trials) <= names
    cluster.wait_for_workers(2)


def test_a_search_stopped_with_ctrl_c_goes_on_from_the_trials_that_finished(setup):
    base, driver, cluster = setup
    space = base / "tiny.yaml"
    space.write_text("set: [train.batch_size=16]\nspace:\n  train.learning_rate: {low: 0.005, high: 0.05, log: true}\n")
    command = [*SWEEP, "--name", "search", "--scheduler", cluster.address, "--search", str(space), "--trials", "2"]
    with subprocess.Popen(
        command,
        cwd=driver,
        env=project_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **DEFAULT_SIGNALS,
    ) as driving:
        lines = []
        for line in driving.stdout:
            lines.append(line)
            if " finished on " in line:
                driving.send_signal(signal.SIGINT)
                break
        lines += driving.stdout.readlines()
    output = "".join(lines)
    assert driving.returncode == 130, output
    assert "sweep: interrupted; finished trials are kept" in output
    done_before = {name for name, t in record(driver, "search").items() if t["status"] == "finished"}
    assert done_before

    again = sweep(driver, "--name", "search", "--scheduler", cluster.address, "--search", str(space), "--trials", "2")
    trials = record(driver, "search")
    assert len([t for t in trials.values() if t["status"] == "finished"]) == 2, again.stdout
    assert not any(f"{name} started" in again.stdout for name in done_before), again.stdout


def test_a_failed_trial_is_one_line_and_the_rest_go_on_from_the_run_cache(setup):
    base, driver, cluster = setup
    result = sweep(
        driver,
        "--name",
        "mixed",
        "--scheduler",
        cluster.address,
        "-S",
        "train.batch_size=0,16",
        "-S",
        "train.learning_rate=0.01",
        check=False,
    )
    assert result.returncode == 1, result.stdout
    assert "sweep: error: 1 trial(s) failed (above)" in result.stderr, result.stdout + result.stderr
    trials = record(driver, "mixed")
    (failed,) = [t for t in trials.values() if t["status"] == "failed"]
    assert failed["error"] == "check: error: params.yaml: train.batch_size = 0; expected an integer >= 1"
    (restored,) = [t for t in trials.values() if t["status"] == "finished"]
    assert restored["ran"] == ["check"], "the grid ran these params: all but the check come from the run-cache"


def test_the_same_sweep_again_trains_nothing(setup):
    _, driver, cluster = setup
    result = sweep(driver, "--name", "grid", "--scheduler", cluster.address, *GRID)
    assert "sweep grid: 2 trials on" in result.stdout and "; 2 finished before" in result.stdout
    assert "started on" not in result.stdout


def test_a_third_clone_pulls_and_sees_every_trial(setup):
    base, driver, _ = setup
    third = base / "third"
    run(["git", "clone", "-q", str(base / "origin.git"), str(third)], base)
    names = run(["dvc", "exp", "list", "--name-only", "origin"], third).stdout.split()
    run(["dvc", "exp", "pull", "origin", *names], third)
    shown = json.loads(run(["dvc", "exp", "show", "--json"], third).stdout)
    experiments = {exp["name"]: exp for row in shown for exp in row.get("experiments") or []}
    expected = {
        name
        for sweep_name in ("grid", "search", "mixed")
        for name, trial in record(driver, sweep_name).items()
        if trial["status"] == "finished"
    }
    assert set(experiments) == expected
    for experiment in experiments.values():
        assert "accuracy" in experiment["revs"][0]["data"]["metrics"]["metrics/test.json"]["data"]["test"]


def test_a_machine_without_the_remote_or_the_data_gets_one_line(setup, tmp_path, monkeypatch):
    base, driver, _ = setup
    monkeypatch.setenv(worker.CLONES_ENV, str(tmp_path / "clones"))
    commit = run(["git", "rev-parse", "HEAD"], driver).stdout.strip()
    data = ("data/raw/tiny",)
    metrics = ("metrics/test.json",)
    job = worker.Job(str(base / "origin.git"), commit, str(tmp_path / "nowhere"), "storage", data, metrics)
    outcome = worker.check(job)
    assert outcome["status"] == "unusable"
    assert outcome["error"] == (
        f"DVC remote {tmp_path / 'nowhere'}: no such folder on this machine; every machine of a sweep needs the "
        "remote (a shared folder at the same path, or cloud storage)"
    )
    (tmp_path / "empty").mkdir()
    outcome = worker.check(worker.Job(job.git_url, commit, str(tmp_path / "empty"), "storage", data, metrics))
    assert outcome["status"] == "unusable"
    assert outcome["error"].startswith(f"data/raw/tiny: not in the DVC remote {tmp_path / 'empty'} (")
    assert outcome["error"].endswith("); dvc push it from a clone that has it")


def test_with_nothing_started_a_sweep_runs_on_this_machine_and_its_trials_land_here(setup):
    base, driver, _ = setup
    clones = {worker.CLONES_ENV: str(base / "this-machine")}
    result = sweep(driver, "--name", "local", "-S", "train.learning_rate=0.05", env=clones)
    (name,) = record(driver, "local")
    assert f"sweep: {name} finished on " in result.stdout and ", worker 0 " in result.stdout
    shown = json.loads(run(["dvc", "exp", "show", "--json"], driver).stdout)
    (local,) = [exp for row in shown for exp in row.get("experiments") or [] if exp["name"] == name]
    assert local["revs"][0]["data"]["params"]["params.yaml"]["data"]["train"]["learning_rate"] == 0.05
    assert (driver / "sweeps/local.html").is_file()
