"""What runs on each machine of a sweep, in a Dask worker: a trial in a clone of the project, shared when done.

Each trial gets a clone of its own (a slot, kept between trials: one per trial running at once on the machine),
checked out at the sweep's commit, its DVC remote set to the sweep's. `dvc exp run --pull` runs it: the raw data
comes from the remote, and a stage that has run anywhere before is restored from the run-cache, not run. The
experiment's git ref then goes to the sweep's git remote, its outputs and run-cache to the DVC remote.

The driver sends this module's code with each task (cloudpickle, by value), so that a worker needs only the
project's environment, not the project on its import path; it therefore imports nothing but the standard
library. Expected failures come back as results with one line each, never as exceptions.
"""

import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Where a worker keeps its clones, if not in ~/.cache/mnist-dvc-sweep (XDG_CACHE_HOME is honoured).
CLONES_ENV = "MNIST_SWEEP_CLONES"
# The file that the train stage appends its fit time to (mnist_dvc/core/stage.py's TIMINGS_ENV).
TIMINGS_ENV = "MNIST_TIMINGS"
# What a worker reports a trial as.
FINISHED, FAILED, UNUSABLE = "finished", "failed", "unusable"
STAGE_ERROR = re.compile(r"^[a-z_]+: (error: |terminated|interrupted)")
RAN = re.compile(r"^Running stage '([^']+)'")

# Runs a command as the leader of a new process group and takes the whole group down when the worker that started
# it dies (Linux's parent-death signal): a worker killed in the middle of a trial leaves no training behind.
SUPERVISOR = """
import os, signal, subprocess, sys
def stop(*_):
    os.killpg(0, signal.SIGKILL)
signal.signal(signal.SIGTERM, stop)
if sys.platform == "linux":
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
if os.getppid() != int(sys.argv[1]):
    stop()
sys.exit(subprocess.call(sys.argv[2:]))
"""


@dataclass(frozen=True)
class Job:
    """What every trial of a sweep shares: where the project and its data come from, and where results go."""

    git_url: str  # cloned by each worker; the experiments are pushed back to it
    commit: str  # the sweep's baseline
    dvc_remote: str  # the DVC remote's URL, as this machine should reach it
    remote_name: str  # its name in the clones' .dvc/config.local
    data: tuple[str, ...]  # the raw data's folders (the check stage's output), pulled before the first trial
    metrics: tuple[str, ...]  # the metrics files a trial reports


class Unusable(Exception):
    """This machine cannot run trials: no git remote, no DVC remote, no data. The message is one line."""


def clones_root() -> Path:
    if os.environ.get(CLONES_ENV):
        return Path(os.environ[CLONES_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mnist-dvc-sweep"


def check(job: Job) -> dict:
    """Make this machine ready for the sweep's trials and say whether it is: its clone, the remote, the raw data."""
    started = time.monotonic()
    try:
        with slot(job) as clone:
            tools = _tools()
            checkout(job, clone)
            pull_data(job, clone, tools)
    except Unusable as error:
        return {"host": socket.gethostname(), "status": UNUSABLE, "error": str(error)}
    return {"host": socket.gethostname(), "status": FINISHED, "seconds": time.monotonic() - started}


def run_trial(job: Job, name: str, overrides: tuple[str, ...], message: str) -> dict:
    """Run one trial as a named DVC experiment in a clone, share it, and report its outcome and metrics."""
    report: dict = {"name": name, "host": socket.gethostname(), "worker": _announce(name), "seconds": {}}
    clock = time.monotonic()
    try:
        with slot(job) as clone:
            tools = _tools()
            checkout(job, clone)
            pull_data(job, clone, tools)
            report["seconds"]["setup"] = time.monotonic() - clock
            timings = clone.parent / f"{clone.name}.timings"
            timings.unlink(missing_ok=True)
            env = {**_env(tools), TIMINGS_ENV: str(timings)}
            command = [tools["dvc"], "exp", "run", "--pull", "--name", name, "--message", message]
            command += [arg for override in overrides for arg in ("--set-param", override)]
            clock = time.monotonic()
            returncode, output = supervised(command, clone, env)
            report["seconds"]["run"] = time.monotonic() - clock
            report["ran"] = [match.group(1) for line in output.splitlines() if (match := RAN.match(line))]
            if returncode:
                return {**report, "status": FAILED, "error": first_error(output)}
            report["metrics"] = read_metrics(clone, job.metrics)
            report["fit_seconds"] = _fit_seconds(timings)
            clock = time.monotonic()
            problem = share(clone, name, tools)
            report["seconds"]["share"] = time.monotonic() - clock
            if problem:
                return {**report, "status": FAILED, "error": f"ran, but could not share it: {problem}"}
    except Unusable as error:
        return {**report, "status": UNUSABLE, "error": str(error)}
    return {**report, "status": FINISHED}


@contextmanager
def slot(job: Job) -> Iterator[Path]:
    """A clone for this trial alone: the first slot of this machine that no other trial holds, locked meanwhile.

    The lock is the kernel's (flock): a worker that dies lets go of its slot at once.
    """
    root = clones_root() / hashlib.sha256(job.git_url.encode()).hexdigest()[:12]
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise Unusable(f"cannot make the clones' folder {root}: {error.strerror}; set {CLONES_ENV}") from None
    index = 0
    while True:
        lock = open(root / f"slot-{index}.lock", "a")  # noqa: SIM115 (closed below, which releases the lock)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            index += 1
            continue
        try:
            yield root / f"slot-{index}"
        finally:
            lock.close()
        return


def checkout(job: Job, clone: Path) -> None:
    """The clone at the sweep's commit, as committed (whatever an earlier trial left is gone), with its remote."""
    if not (clone / ".git").is_dir():
        shutil.rmtree(clone, ignore_errors=True)
        _git(
            ["clone", "--quiet", "--no-checkout", job.git_url, str(clone)], clone.parent, f"cannot clone {job.git_url}"
        )
    else:
        _git(["remote", "set-url", "origin", job.git_url], clone, "cannot set the clone's origin")
    if not _has_commit(clone, job.commit):
        subprocess.run(["git", "fetch", "--quiet", "origin"], cwd=clone, capture_output=True, env=_git_env())
    if not _has_commit(clone, job.commit):
        raise Unusable(f"commit {job.commit[:7]} is not on {job.git_url}; push it there first (git push)")
    _git(["checkout", "--quiet", "--force", "--detach", job.commit], clone, f"cannot check out {job.commit[:7]}")
    _git(["clean", "--quiet", "--force", "-d"], clone, "cannot clean the clone")
    if "://" not in job.dvc_remote and not Path(job.dvc_remote).is_dir():
        raise Unusable(
            f"DVC remote {job.dvc_remote}: no such folder on this machine; every machine of a sweep needs the "
            "remote (a shared folder at the same path, or cloud storage)"
        )
    # What `dvc remote add --local --default NAME URL` writes, without a second of starting DVC for it.
    config = f"[core]\n    remote = {job.remote_name}\n['remote \"{job.remote_name}\"']\n    url = {job.dvc_remote}\n"
    local_config = clone / ".dvc" / "config.local"
    if not local_config.is_file() or local_config.read_text(encoding="utf-8") != config:
        local_config.write_text(config, encoding="utf-8")


def pull_data(job: Job, clone: Path, tools: dict[str, str]) -> None:
    """The raw data in the clone, from the DVC remote, once per clone: `git clean` leaves it, as DVC ignores it."""
    for target in job.data:
        if (clone / target).is_dir():
            continue
        result = _run([tools["dvc"], "pull", "--quiet", target], clone, _env(tools))
        if result.returncode:
            raise Unusable(
                f"{target}: not in the DVC remote {job.dvc_remote} ({_last_line(result.stdout)}); "
                "dvc push it from a clone that has it"
            )


def share(clone: Path, name: str, tools: dict[str, str]) -> str | None:
    """The experiment to the git remote (its ref) and the DVC remote (its outputs); its run-cache to the DVC remote,
    with the outputs its entries name, so that any machine restores these stages instead of running them. What went
    wrong, in one line, or None."""
    result = _run([tools["python"], "-m", "mnist_dvc.apps.sweep.share", name], clone, _env(tools))
    return first_error(result.stdout) if result.returncode else None


def supervised(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run command to its end under SUPERVISOR; its exit status and its output, stdout and stderr together."""
    process = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, str(os.getpid()), *command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output, _ = process.communicate()
    return process.returncode, output


def first_error(output: str) -> str:
    """The one line that says why a command failed: a stage's own error line, else DVC's, else the last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if STAGE_ERROR.match(line):
            return line
    for line in lines:
        if line.startswith("ERROR: "):
            return line.removeprefix("ERROR: ")
    return lines[-1] if lines else "no output"


def read_metrics(clone: Path, files: tuple[str, ...]) -> dict[str, float]:
    """Every number in the metrics files, by dotted name (test.accuracy, val.loss, epochs)."""
    found: dict[str, float] = {}
    for name in files:
        try:
            found.update(_flat(json.loads((clone / name).read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    return found


def _flat(data: dict, prefix: str = "") -> dict[str, float]:
    items: dict[str, float] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            items.update(_flat(value, f"{prefix}{key}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            items[f"{prefix}{key}"] = value
    return items


def _fit_seconds(timings: Path) -> float | None:
    """The train stage's fit time, if it trained (a stage restored from the run-cache records none)."""
    try:
        records = [json.loads(line) for line in timings.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError):
        return None
    fits = [r["seconds"] for r in records if r.get("stage") == "train" and r.get("name") == "fit"]
    return fits[-1] if fits else None


def _announce(name: str) -> str:
    """Tell the driver that a trial started, and where (its progress line); return the worker's name."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return ""
    worker.log_event("mnist-sweep", {"started": name, "host": socket.gethostname(), "name": str(worker.name)})
    return str(worker.name)


def _tools() -> dict[str, str]:
    """The project environment's python and dvc: those of the interpreter running this worker."""
    bin_dir = Path(sys.executable).parent
    dvc = bin_dir / "dvc"
    if not dvc.exists():
        raise Unusable(f"{dvc}: not found; start the worker with the project's environment (.venv/bin/dask worker)")
    if shutil.which("git") is None:
        raise Unusable("git: not found on PATH; install git on this machine")
    return {"dvc": str(dvc), "python": sys.executable, "bin": str(bin_dir)}


def _env(tools: dict[str, str]) -> dict[str, str]:
    env = _git_env()
    env["PATH"] = tools["bin"] + os.pathsep + env.get("PATH", "")
    env["DVC_NO_ANALYTICS"] = "1"
    env.pop(TIMINGS_ENV, None)
    return env


def _git_env() -> dict[str, str]:
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0"}


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _git(args: list[str], cwd: Path, what: str) -> None:
    result = _run(["git", *args], cwd, _git_env())
    if result.returncode:
        raise Unusable(f"{what}: {_last_line(result.stdout)}")


def _has_commit(clone: Path, commit: str) -> bool:
    found = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=clone, capture_output=True)
    return found.returncode == 0


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1].removeprefix("ERROR: ").removeprefix("fatal: ") if lines else "no output"
