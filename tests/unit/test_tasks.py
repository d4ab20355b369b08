"""tasks.sh: its set-up says what it does while it installs; `exps`, DVC's own experiments table drawn by DVC's
renderer, fits 100 columns with test accuracy in it."""

import re
import shutil
import subprocess

import pytest
from dvc.commands.experiments.show import show_experiments
from dvc.compare import TabularData
from dvc.ui import ui

from tests.helpers.project import PROJECT_ROOT

# The columns of `dvc exp show` after a run of the pipeline, and three changed params.
METRICS = [
    "epochs",
    *(f"{split}.{metric}" for split in ("train", "val", "test") for metric in ("accuracy", "loss")),
    *(f"{runtime}.{check}" for runtime in ("litert", "onnx") for check in ("labels_equal", "max_diff_ppm")),
    *(f"robustness.{variant}" for variant in ("original", "thicker", "thinner", "blurred", "noisy")),
]
PARAMS = ["train.model.hidden_activation", "train.learning_rate", "train.epochs", "visualize.dpi"]


def tasks_variable(name: str) -> str:
    (value,) = re.findall(rf"^{name}='(.*)'$", (PROJECT_ROOT / "tasks.sh").read_text(), re.MULTILINE)
    return value


def experiment(rev: str, typ: str, test_accuracy: float, activation: str, rate: float, epochs: int) -> list:
    metrics = {name: 0.123456 for name in METRICS} | {"test.accuracy": test_accuracy, "epochs": epochs}
    cells = [*metrics.values(), activation, rate, epochs, 100]
    return [rev, rev, typ, "2026-01-01T12:00:00", "", "", "", *map(str, cells)]


@pytest.fixture
def table(monkeypatch) -> str:
    rows = TabularData(["Experiment", "rev", "typ", "Created", "parent", "State", "Executor", *METRICS, *PARAMS])
    rows.append(experiment("main", "baseline", 0.972, "sigmoid", 0.001, 50))
    rows.append(experiment("a1b2c3d", "branch_commit", 0.957, "relu", 0.003, 3))
    rows.append(experiment("d4e5f6a", "branch_base", 0.8703, "sigmoid", 0.001, 3))
    monkeypatch.setattr(ui, "_enabled", True)
    monkeypatch.setattr(ui.rich_console, "_width", 100)
    with ui.rich_console.capture() as captured:
        show_experiments(
            rows,
            {"metrics": METRICS, "params": PARAMS},
            keep=[tasks_variable("EXP_KEEP")],
            drop=[tasks_variable("EXP_DROP")],
            pager=False,
            only_changed=True,
        )
    return captured.get()


def test_exps_fits_100_columns_with_test_accuracy_and_a_changed_param(table):
    lines = table.splitlines()
    assert max(map(len, lines)) <= 100, table
    header = lines[1].split()
    assert header[:4] == ["Experiment", "val.accuracy", "test.accuracy", "train.model.hidden_activation"], table
    assert "0.8703" in table


def test_exps_leaves_out_hashes_figure_params_times_and_training_metrics(table):
    for left_out in ("Created", "epochs", "train.accuracy", "test.loss", "max_diff_ppm", "robustness", "visualize.dpi"):
        assert left_out not in table


def test_setup_says_each_step_before_it_and_lets_pip_show_its_progress():
    lines = (PROJECT_ROOT / "tasks.sh").read_text().splitlines()
    installs = [k for k, line in enumerate(lines) if "pip install" in line]
    assert len(installs) == 2
    for k in installs:
        assert "--quiet" not in lines[k] and " -q " not in lines[k], lines[k]
        assert lines[k - 1].strip().startswith('echo "tasks.sh: step'), lines[k - 1]


def test_help_is_the_usage_and_an_unknown_command_says_what_is_expected():
    tasks = str(PROJECT_ROOT / "tasks.sh")
    shown = subprocess.run([tasks, "--help"], capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0 and "./tasks.sh repro" in shown.stdout
    wrong = subprocess.run([tasks, "reproo"], capture_output=True, text=True, timeout=30)
    assert wrong.returncode == 2 and "unknown command 'reproo'; expected repro, test or exps" in wrong.stderr


def test_setup_refuses_a_python_the_lock_is_not_for(tmp_path):
    """Before it makes .venv: a python3.11 on the PATH that is in truth 3.10 is named, with the versions that work."""
    shutil.copy(PROJECT_ROOT / "tasks.sh", tmp_path / "tasks.sh")
    fake = tmp_path / "bin" / "python3.11"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 3.10\n")
    fake.chmod(0o755)
    env = {"PATH": f"{fake.parent}:/usr/bin:/bin"}
    result = subprocess.run([str(tmp_path / "tasks.sh"), "test"], capture_output=True, text=True, env=env, timeout=30)
    assert result.returncode == 1 and not (tmp_path / ".venv").exists()
    assert result.stderr == f"tasks.sh: {fake} is Python 3.10; the locked packages need 3.11, 3.12 or 3.13\n"
