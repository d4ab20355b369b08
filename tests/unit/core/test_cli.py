"""The shared entry point: every command's --help, and the timings the benchmarks ask for."""

import json
import subprocess
import sys

import pytest
import yaml

from mnist_dvc.core import stage
from tests.helpers.project import DEFAULT_SIGNALS, PROJECT_ROOT

STAGE_MODULES = [
    stage["cmd"].removeprefix("python -m ")
    for stage in yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"].values()
]
# The commands people run that are not stages.
COMMANDS = [
    "mnist_dvc.apps.cache",
    "mnist_dvc.apps.fetch",
    "mnist_dvc.apps.predict",
    "mnist_dvc.apps.serve",
    "mnist_dvc.apps.sweep",
    "mnist_dvc.apps.sweep.share",
    "tools.plots_page",
    "tools.browser_check",
    "tools.summary",
    "tools.normalisation_figure",
]


@pytest.mark.parametrize("module", STAGE_MODULES + COMMANDS)
def test_every_command_has_help(module):
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: python -m {module}")
    assert "MNIST_DEBUG=1" in result.stdout


def test_timings_are_recorded_only_when_asked_for(tmp_path, monkeypatch):
    monkeypatch.delenv(stage.TIMINGS_ENV, raising=False)
    stage.record_timing("train", "fit", 1.5)
    timings = tmp_path / "timings.jsonl"
    monkeypatch.setenv(stage.TIMINGS_ENV, str(timings))
    stage.record_timing("train", "fit", 1.5)
    stage.record_timing("train", "fit", 2.5)
    lines = [json.loads(line) for line in timings.read_text().splitlines()]
    assert lines == [{"stage": "train", "name": "fit", "seconds": s} for s in (1.5, 2.5)]


FULL_DISK = """
import errno, sys
from mnist_dvc.core.cli import run_command

def main():
    raise OSError(errno.ENOSPC, "No space left on device", *sys.argv[1:])

run_command("train", main, after_stop="; earlier outputs are intact")
"""


@pytest.mark.parametrize(
    ("filename", "line"),
    [
        ("models/model.keras", "train: error: models/model.keras: No space left on device; free some space, "),
        (None, "train: error: No space left on device; free some space, "),
    ],
)
def test_a_full_disk_is_one_line_not_a_traceback(filename, line):
    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK, *([filename] if filename else [])],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [line + "then run again; earlier outputs are intact"]


SWALLOWED_STOP = """
import contextlib, os, signal, sys, time
from mnist_dvc.core.cli import run_command

def main():
    with contextlib.suppress(BaseException):  # as a finalizer, or NumPy converting a tensor, would
        os.kill(os.getpid(), getattr(signal, sys.argv[1]))
        time.sleep(10)
    raise ValueError("an error of the code the signal came in")

run_command("train", main, after_stop="; earlier outputs are intact")
"""


@pytest.mark.parametrize(
    ("signal_name", "status", "said"), [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")]
)
def test_a_stop_signal_stops_even_when_the_code_it_came_in_swallowed_it(signal_name, status, said):
    result = subprocess.run(
        [sys.executable, "-c", SWALLOWED_STOP, signal_name],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        **DEFAULT_SIGNALS,
    )
    assert result.returncode == status
    assert result.stderr.splitlines() == [f"train: {said}; earlier outputs are intact"]
