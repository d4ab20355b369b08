"""The driver's own repository, as a sweep needs it: the commit the trials start from, where the workers clone it
from and send their experiments to, and the trials that finished, read back from their experiments' commits."""

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from mnist_dvc.apps.sweep.plan import SweepError, is_trial_of
from mnist_dvc.core.errors import ParamsError
from mnist_dvc.core.params import parse_yaml

# Hydra's output, composed by `dvc exp run` from conf/: what a trial ran with.
PARAMS_FILE = "params.yaml"
# Where DVC records the check stage's output, the raw data that the workers pull.
LOCK_FILE = "dvc.lock"


def git(*args: str, check: bool = True) -> str:
    """A git command's output; a SweepError with git's last line if check and it fails."""
    result = subprocess.run(["git", *args], capture_output=True, text=True)
    if check and result.returncode:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise SweepError(f"git {args[0]}: {lines[-1].removeprefix('fatal: ')}")
    return result.stdout if result.returncode == 0 else ""


def dvc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["dvc", *args], capture_output=True, text=True, env={**os.environ, "DVC_NO_ANALYTICS": "1"})


def project_root() -> Path:
    """The project's root, which a sweep runs from: where dvc.yaml and conf/ are, in a git repository."""
    if not Path("dvc.yaml").is_file() or not Path("conf").is_dir():
        raise SweepError("dvc.yaml: not found; run the sweep from the project's root")
    root = git("rev-parse", "--show-toplevel", check=False).strip()
    if not root or Path(root).resolve() != Path.cwd().resolve():
        raise SweepError(f"{Path.cwd()}: not the root of a git repository; run the sweep from the project's clone")
    return Path(root)


def base_commit() -> str:
    """HEAD: every trial runs on it, so that it is the baseline of every trial's experiment."""
    commit = git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False).strip()
    if not commit:
        raise SweepError("this repository has no commit yet; commit the project first")
    return commit


def head_params() -> dict[str, Any]:
    """params.yaml as HEAD commits it."""
    try:
        return parse_yaml(git("show", f"HEAD:{PARAMS_FILE}", check=False) or "{}", f"HEAD:{PARAMS_FILE}")
    except ParamsError:
        return {}


def check_data_recorded(raw_dir: str) -> None:
    """The workers pull the raw data that HEAD's dvc.lock records; without a record they have nothing to pull."""
    try:
        lock = parse_yaml(git("show", f"HEAD:{LOCK_FILE}", check=False) or "{}", f"HEAD:{LOCK_FILE}")
    except ParamsError:
        lock = {}
    outs = lock.get("stages", {}).get("check", {}).get("outs", [])
    if not any(raw_dir == out.get("path") or raw_dir.startswith(f"{out.get('path')}/") for out in outs):
        raise SweepError(
            f"{raw_dir}: not recorded in HEAD's {LOCK_FILE}, so the workers cannot pull it; "
            f"run `dvc repro check`, commit {LOCK_FILE}, then `dvc push`"
        )


def uncommitted() -> list[str]:
    """Tracked files changed since HEAD, which the trials will not see (they run HEAD as committed)."""
    return [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines() if line.strip()]


def remote_url(name: str) -> str:
    url = git("remote", "get-url", name, check=False).strip()
    if not url:
        raise SweepError(f"no git remote {name!r}; the workers clone the project from it (git remote add {name} URL)")
    return url


def check_pushed(remote: str, commit: str) -> None:
    """The commit must be on the remote, where the workers fetch it from."""
    git("fetch", "--quiet", remote)
    holders = git("branch", "--remotes", "--contains", commit, "--format=%(refname)").split()
    if not any(ref.startswith(f"refs/remotes/{remote}/") for ref in holders):
        raise SweepError(f"HEAD ({commit[:7]}) is not on {remote}; the workers clone it from there: git push {remote}")


def dvc_remote(name: str | None) -> tuple[str, str]:
    """The DVC remote the trials share through (the default one unless named): its name and URL."""
    from dvc.repo import Repo

    with Repo() as repo:
        config = repo.config
    name = name or config["core"].get("remote")
    remotes = config.get("remote", {})
    if not name:
        raise SweepError("no default DVC remote; the workers share their results through one (dvc remote add -d)")
    if name not in remotes:
        raise SweepError(f"--dvc-remote {name}: no such DVC remote; expected one of: {', '.join(remotes) or 'none'}")
    return name, str(remotes[name]["url"])


def cache_dir() -> str:
    """The DVC cache of this repository, which the workers of the embedded cluster share through as a remote."""
    from dvc.repo import Repo

    with Repo() as repo:
        return str(repo.cache.legacy.path)


def exp_ref(commit: str, name: str) -> str:
    """Where DVC keeps an experiment of a baseline commit."""
    return f"refs/exps/{commit[:2]}/{commit[2:]}/{name}"


def local_trials(commit: str, sweep: str) -> list[str]:
    """The names of the sweep's experiments on this commit that this repository holds."""
    refs = git("for-each-ref", "--format=%(refname)", exp_ref(commit, "")).split()
    return [ref.rsplit("/", 1)[1] for ref in refs if is_trial_of(sweep, ref.rsplit("/", 1)[1])]


def remote_trials(remote: str, commit: str, sweep: str) -> list[str]:
    """The names of the sweep's experiments on this commit that the git remote holds."""
    lines = git("ls-remote", remote, exp_ref(commit, "*")).splitlines()
    names = [line.split()[1].rsplit("/", 1)[1] for line in lines if line.strip()]
    return [name for name in names if is_trial_of(sweep, name)]


def pull(remote: str, dvc_remote_name: str, names: list[str]) -> str | None:
    """`dvc exp pull` the experiments: their refs, and their outputs from the DVC remote. An error line, or None."""
    result = dvc("exp", "pull", "--force", "--remote", dvc_remote_name, remote, *names)
    if result.returncode:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        return lines[-1].removeprefix("ERROR: ")
    return None


def read_trial(commit: str, name: str, metrics_files: tuple[str, ...]) -> dict[str, Any]:
    """What a finished trial's experiment commit holds: its message, its metrics (dotted names) and its params."""
    ref = exp_ref(commit, name)
    metrics: dict[str, float] = {}
    for path in metrics_files:
        text = git("show", f"{ref}:{path}", check=False)
        if text:
            metrics.update(_flat(json.loads(text)))
    try:
        params = parse_yaml(git("show", f"{ref}:{PARAMS_FILE}", check=False) or "{}", f"{name}:{PARAMS_FILE}")
    except ParamsError:
        params = {}
    return {"message": git("log", "-1", "--format=%B", ref), "metrics": metrics, "params": _flat(params, numbers=False)}


def _flat(data: dict, prefix: str = "", numbers: bool = True) -> dict[str, Any]:
    items: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            items.update(_flat(value, f"{prefix}{key}.", numbers))
        elif not numbers or (isinstance(value, int | float) and not isinstance(value, bool)):
            items[f"{prefix}{key}"] = value
    return items
