"""Throwaway copies of the project: the code in a fresh git and DVC repository, with tiny data and params, and
the commands run in it."""

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mnist_dvc.core.params import compose
from mnist_dvc.core.paths import EXPORT_SPEED
from tests.helpers.data import install_tiny_dataset

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = str(Path(sys.executable).parent)
STAGES = ("prepare", "train", "evaluate", "visualize", "export", "card")  # in the order dvc repro runs them

# What a copy of the project leaves behind: at the top, environments, data and outputs; anywhere, caches.
_NOT_COPIED_AT_TOP = {".git", ".venv", ".dvc", "data", "models", "metrics", "plots", "bench", "node_modules"}
_NOT_COPIED = {"__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache", "dvc_plots", ".artifacts"}


def stage_outputs(stage: dict) -> dict[str, dict]:
    """A stage of dvc.yaml's outputs of every kind (outs, metrics, plots): each path and its options ({} if none)."""
    return {
        path: options or {}
        for kind in ("outs", "metrics", "plots")
        for entry in stage.get(kind, [])
        for path, options in (entry.items() if isinstance(entry, dict) else [(entry, {})])
    }


def _not_copied(directory: str, names: list[str]) -> list[str]:
    at_top = Path(directory) == PROJECT_ROOT
    return [name for name in names if name in _NOT_COPIED or (at_top and name in _NOT_COPIED_AT_TOP)]


# The tiny project's defaults, as `dvc exp run -S` names them: the tiny dataset, and a small MLP trained briefly.
TINY = {
    "prepare.dataset": "tiny",
    "train.model.hidden_units": [32, 16],
    "train.learning_rate": 0.01,
    "train.batch_size": 32,
    "train.epochs": 5,
    "visualize.sample_images": 16,
}

# The tiny CNN with every recipe that touches the arithmetic: pooling first, batch normalisation, augmentation with
# noise, AdamW, a schedule; as `dvc exp run -S` takes them, from the tiny project's params.
TINY_CNN = [
    "model=cnn",
    "train.model.filters=[4,8]",
    "train.model.pool_first=true",
    "train.model.batch_norm=true",
    "train.model.hidden_units=[16]",
    "train.model.hidden_activation=relu",
    "train.optimizer=adamw",
    "train.weight_decay=0.01",
    "train.schedule=cosine",
    "train.warmup_epochs=1",
    "train.label_smoothing=0.1",
    # Mild: each digit of the tiny data is a band two pixels high (tests/helpers/data.py).
    "train.augment.shift=0.5",
    "train.augment.rotation=3",
    "train.augment.zoom=0.05",
    "train.augment.noise=0.1",
]


def make_project(root: Path) -> Path:
    """The project's code in a new git repository at root, with the tiny dataset in data/raw/ (recorded by DVC at
    the first `dvc repro`), and committed."""
    shutil.copytree(PROJECT_ROOT, root, ignore=_not_copied)
    # Of bench/, the one file the pipeline reads: the export stage's card quotes it.
    (root / EXPORT_SPEED).parent.mkdir()
    shutil.copy(PROJECT_ROOT / EXPORT_SPEED, root / EXPORT_SPEED)
    install_tiny_dataset(root)
    set_defaults(root, TINY)
    run(["git", "init", "-q", "-b", "main"], root)
    run(["git", "config", "user.name", "test"], root)
    run(["git", "config", "user.email", "test@example.com"], root)
    run(["dvc", "init", "-q"], root)
    for source in (*(PROJECT_ROOT / ".dvc").glob("config*"), PROJECT_ROOT / ".dvc/plots_offline.html"):
        shutil.copy(source, root / ".dvc" / source.name)
    shutil.copytree(PROJECT_ROOT / ".dvc/plots", root / ".dvc/plots", dirs_exist_ok=True)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "tiny project"], root)
    return root


def copy_of_reproduced(tmp_path_factory: pytest.TempPathFactory, root: Path) -> str:
    """Put at root a tiny project after one full `dvc repro`, not committed; return what DVC printed.

    The run is made once per test session, under a lock that the test processes of pytest-xdist share, and copied.
    """
    session_temp = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        session_temp = session_temp.parent  # above each process's own
    built, printed = session_temp / "reproduced" / "project", session_temp / "reproduced" / "printed.txt"
    built.parent.mkdir(exist_ok=True)
    with open(built.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not printed.exists():
            shutil.rmtree(built, ignore_errors=True)  # what a failed try left
            printed.write_text(run(["dvc", "repro"], make_project(built)).stdout)
    shutil.copytree(built, root, symlinks=True)
    return printed.read_text()


def set_defaults(root: Path, values: dict[str, object]) -> None:
    """Change the defaults in root/conf/ (the family's own in conf/model/mlp.yaml), then compose params.yaml
    from them as `dvc exp run` does."""
    files = {"config": root / "conf/config.yaml", "model": root / "conf/model/mlp.yaml"}
    configs = {name: yaml.safe_load(path.read_text()) for name, path in files.items()}
    for key, value in values.items():
        if key.startswith("train.model."):
            configs["model"][key.removeprefix("train.model.")] = value
        else:
            *parents, leaf = key.split(".")
            node = configs["config"]
            for parent in parents:
                node = node[parent]
            node[leaf] = value
    for name, path in files.items():
        header = "# @package train.model\n" if name == "model" else ""
        path.write_text(header + yaml.safe_dump(configs[name], sort_keys=False))
    compose(root / "params.yaml", root=root)


def tiny_params(**changes: object) -> dict:
    """The params of the tiny project, as a dict: the project's params.yaml with TINY, then changes (dotted keys
    with "." written as "__"), applied."""
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    for key, value in {**TINY, **{k.replace("__", "."): v for k, v in changes.items()}}.items():
        _set(params, key, value)
    return params


def write_params(root: Path, params: dict) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def set_param(root: Path, key: str, value: object) -> None:
    """Change one value of root/params.yaml by hand, as a user editing the file would: key is dotted."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    _set(params, key, value)
    write_params(root, params)


def _set(params: dict, key: str, value: object) -> None:
    *parents, leaf = key.split(".")
    for parent in parents:
        params = params[parent]
    params[leaf] = value


def project_env() -> dict[str, str]:
    """The environment for commands run in a project copy: this venv first, no analytics."""
    env = dict(os.environ)
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    env["DVC_NO_ANALYTICS"] = "1"
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "test"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "test@example.com"
    return env


def run(command: list[str], cwd: Path, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a command in a project copy and return its result; fail with its output if check and it fails."""
    result = subprocess.run(
        command, cwd=cwd, env=project_env(), capture_output=True, text=True, timeout=timeout, **DEFAULT_SIGNALS
    )
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def _default_signal_handling() -> None:
    """In the child, before it runs: SIGINT handled as usual, even where the suite was started in the background
    (from a script, as some CI runners do), which leaves SIGINT ignored in every process it starts."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


# For every subprocess a test starts and may interrupt.
DEFAULT_SIGNALS = {"preexec_fn": _default_signal_handling}


def ran_stages(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


def cached_stages(output: str) -> list[str]:
    """The stages that DVC restored from its run-cache instead of running them."""
    return [line.split("'")[1] for line in output.splitlines() if "is cached - skipping run" in line]


def read_outputs(root: Path) -> dict[str, bytes]:
    """Every file that a stage writes, by path: what a failed or interrupted run must leave as it was."""
    outputs = ["models", "data/predictions.csv", "metrics", "plots", "data/prepared", "MODEL_CARD.md"]
    # Hidden names are temporary files of a run in progress, never outputs.
    files = [path for out in outputs for path in sorted((root / out).rglob("*")) if path.is_file()]
    files = [path for path in files if not any(part.startswith(".") for part in path.relative_to(root).parts)]
    files += [root / out for out in outputs if (root / out).is_file()]
    return {str(path.relative_to(root)): path.read_bytes() for path in files}
