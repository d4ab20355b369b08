"""How fast a fresh clone gets to results: `dvc pull` from the DVC remote against `dvc repro` from the raw data.

A clone of the repository has the code, params, dvc.lock, metrics and figures, but
not the prepared data, the model or the predictions. Someone with access to the
DVC remote fetches them with `dvc pull`; someone without it puts the raw files in
data/raw/mnist and runs `dvc repro`, which trains again. This measures both, in a
temporary directory:

1. the origin: a fresh copy of the project (bench/harness.py's: its tracked and
   untracked files in a new git repository, the MNIST files in data/raw/mnist, an
   empty DVC cache), `dvc repro`, the results committed and `dvc push`ed to the
   project's default remote, which .dvc/config places beside the work tree, so
   inside the temporary directory (the benchmark refuses any other);
2. a pull run: `git clone` of the origin, then `dvc pull`, timed from start to
   exit; then `dvc status` must be clean and `dvc repro` must run no stage, or the
   benchmark fails;
3. a repro run: `git clone` of the origin, the four MNIST files copied into
   data/raw/mnist, then `dvc repro`, timed. It runs every stage whose outputs are
   missing; `visualize` may rightly be skipped, since the committed figures are
   what the deterministic pipeline makes. The stages that ran are reported
   (bench/harness.py's `python` wrapper logs each one).

Pull and repro runs alternate, so that a change in the machine's load hits both
alike; medians are reported. The speed-up is the repro run's wall time over the
pull run's; the goal is at least 10x.

    python -m bench.pull DATA_DIR            # about 3 minutes on 2 cores
    python -m bench.pull DATA_DIR --quick    # a smoke run: 2 epochs, one repetition, about a minute
"""

import argparse
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from bench.harness import (
    MNIST_FILES,
    PROJECT_ROOT,
    BenchError,
    Process,
    base_env,
    bench_parser,
    checked,
    fresh_copy,
    git,
    machine,
    make_shim,
    median,
    read_stage_log,
    run_and_report,
    run_process,
    stage_commands,
    stage_env,
    venv_bin,
    versions,
)
from bench.harness import (
    dvc as dvc_stdout,
)

GOAL = 10.0
MB = 1e6


@dataclass
class Bench:
    """Where the benchmark runs and with what."""

    workdir: Path
    data_dir: Path
    shim_dir: Path
    env: dict[str, str]
    keep: bool


@dataclass
class Origin:
    """The repository that every run clones, and what it pushed."""

    root: Path
    repro_wall_s: float
    remote: Path
    remote_bytes: int
    remote_files: int


@dataclass
class PullRun:
    """One `dvc pull` in a clone, and the `git clone` before it (for scale: both users clone)."""

    clone_s: float
    wall_s: float


@dataclass
class ReproRun:
    """One `dvc repro` in a clone: its wall time, each stage that ran with its own wall time, and whether the
    results came out identical to the committed ones (a clean `git status` afterwards)."""

    clone_s: float
    wall_s: float
    stages_run: dict[str, float]
    matches_origin: bool


def parse_args() -> argparse.Namespace:
    parser = bench_parser(__doc__, "pull.json")
    parser.add_argument("--repeats", type=int, help="pull runs and repro runs, each (default: 3, 1 with --quick)")
    args = parser.parse_args()
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def dvc(bench: Bench, args: list[str], cwd: Path, label: str, env: dict[str, str] | None = None) -> Process:
    """Run a dvc command to completion, timed, its output logged to <label>.log; fail if it fails."""
    log = bench.workdir / f"{label}.log"
    return checked(run_process(["dvc", *args], cwd, env or bench.env, log), f"dvc {' '.join(args)} in {cwd}", log)


def dvc_json(bench: Bench, args: list[str], cwd: Path) -> object:
    """The JSON a dvc command prints on stdout."""
    return json.loads(dvc_stdout(args, cwd, bench.env))


def default_remote(root: Path, workdir: Path) -> Path:
    """The folder of root's default DVC remote, as DVC resolves it. It must lie inside workdir: the benchmark
    pushes to it, and must neither write to shared storage nor measure anything but its own pushes."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        remote = repo.cloud.get_remote()
        local = remote.fs.protocol == "local"
        path = Path(remote.path).resolve()
    if not local or not path.is_relative_to(workdir.resolve()):
        raise BenchError(
            f"the default DVC remote of the project is {path} (protocol {remote.fs.protocol}); the benchmark needs "
            "it to be a folder beside the work tree, as .dvc/config sets it (../../mnist-dvc-storage)"
        )
    return path


def folder_size(path: Path) -> tuple[int, int]:
    """Bytes and files under path."""
    files = [item for item in path.rglob("*") if item.is_file()]
    return sum(item.stat().st_size for item in files), len(files)


def make_origin(bench: Bench, epochs: int) -> Origin:
    """A fresh copy reproduced, committed and pushed: what a clone, and the remote beside it, start from.
    Fails unless the remote then holds everything that the commit's .dvc files and dvc.lock name."""
    root = fresh_copy(bench.workdir / "origin", bench.data_dir, [f"train.epochs={epochs}"])
    remote = default_remote(root, bench.workdir)
    repro = dvc(bench, ["repro"], root, "origin-repro")
    git(["add", "-A"], root)
    git(["commit", "-q", "--allow-empty", "-m", "results"], root)
    dvc(bench, ["push"], root, "origin-push")
    missing = dvc_json(bench, ["status", "--cloud", "--json"], root)
    if missing:
        raise BenchError(f"after dvc push, dvc status --cloud in {root} is not clean: {missing}")
    size, files = folder_size(remote)
    return Origin(root, repro.wall_s, remote, size, files)


def clone(bench: Bench, origin: Origin, name: str) -> tuple[Path, float]:
    """A `git clone` of the origin into workdir/name, and the seconds it took."""
    process = checked(
        run_process(
            ["git", "clone", "-q", str(origin.root), name], bench.workdir, bench.env, bench.workdir / "git.log"
        ),
        f"git clone into {name}",
        bench.workdir / "git.log",
    )
    return bench.workdir / name, process.wall_s


def discard(bench: Bench, path: Path) -> None:
    """Remove a finished clone (unless --keep), so that the runs do not fill the disk."""
    if not bench.keep:
        shutil.rmtree(path, ignore_errors=True)


def pull_run(bench: Bench, origin: Origin, index: int) -> PullRun:
    """Clone, `dvc pull` (timed), then check that the clone is complete: nothing for DVC to do."""
    root, clone_s = clone(bench, origin, f"pull-{index}")
    process = dvc(bench, ["pull"], root, f"pull-{index}")
    status = dvc_json(bench, ["status", "--json"], root)
    if status:
        raise BenchError(f"after dvc pull, dvc status in {root} is not clean: {status}\n{process.output[-2000:]}")
    repro = dvc(bench, ["repro"], root, f"pull-{index}-repro")
    if "Running stage" in repro.output:
        raise BenchError(f"after dvc pull, dvc repro in {root} ran a stage:\n{repro.output[-2000:]}")
    discard(bench, root)
    return PullRun(clone_s, process.wall_s)


def repro_run(bench: Bench, origin: Origin, index: int) -> ReproRun:
    """Clone, put the raw files in place as a user without the remote would, then `dvc repro` (timed)."""
    root, clone_s = clone(bench, origin, f"repro-{index}")
    raw = root / "data" / "raw" / "mnist"
    raw.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES:
        shutil.copy2(bench.data_dir / name, raw / name)
    stage_log = bench.workdir / f"repro-{index}-stages.jsonl"
    env = stage_env(bench.env, bench.shim_dir, stage_log)
    process = dvc(bench, ["repro"], root, f"repro-{index}", env)
    records = read_stage_log(stage_log, stage_commands(root))
    matches = not git(["status", "--porcelain"], root).strip()
    discard(bench, root)
    return ReproRun(clone_s, process.wall_s, {name: r["end"] - r["start"] for name, r in records}, matches)


def measure(bench: Bench, origin: Origin, repeats: int) -> tuple[list[PullRun], list[ReproRun]]:
    """Pull runs and repro runs, alternating."""
    pulls, repros = [], []
    for index in range(1, repeats + 1):
        print(f"pull: run {index} of {repeats}: git clone, dvc pull", flush=True)
        pulls.append(pull_run(bench, origin, index))
        print(f"pull: run {index} of {repeats}: git clone, raw files, dvc repro", flush=True)
        repros.append(repro_run(bench, origin, index))
        if not repros[-1].matches_origin:
            print(f"pull: warning: dvc repro in repro-{index} made results other than the pushed ones", file=sys.stderr)
    return pulls, repros


def summarize(origin: Origin, pulls: list[PullRun], repros: list[ReproRun], epochs: int) -> dict:
    """Medians over the repetitions; the stages that any repro run ran, in dvc.yaml's order."""
    pull, repro = median([run.wall_s for run in pulls]), median([run.wall_s for run in repros])
    order = list(stage_commands(origin.root))
    ran = {name for run in repros for name in run.stages_run}
    stages = sorted(ran, key=lambda name: order.index(name) if name in order else len(order))
    return {
        "epochs": epochs,
        "repeats": len(pulls),
        "pull_wall_s": pull,
        "repro_wall_s": repro,
        "speed_up": repro / pull,
        "goal_speed_up": GOAL,
        "clone_s": median([run.clone_s for run in pulls + repros]),
        "remote_bytes": origin.remote_bytes,
        "remote_files": origin.remote_files,
        "repro_stages_run": stages,
        "repro_stage_wall_s": {name: median([run.stages_run.get(name) for run in repros]) for name in stages},
        "repro_matches_origin": all(run.matches_origin for run in repros),
    }


def table(summary: dict) -> str:
    """The results as one Markdown table, with the goal."""
    speed_up, stages = summary["speed_up"], summary["repro_stages_run"]
    ran = ", ".join(f"`{name}` {summary['repro_stage_wall_s'][name]:.1f} s" for name in stages) or "none"
    rows = [
        ("", "wall time", "goal"),
        (
            f"`dvc pull` in a fresh clone, {summary['remote_bytes'] / MB:.1f} MB from the remote",
            f"{summary['pull_wall_s']:.2f} s",
            "",
        ),
        (
            f"`dvc repro` in a fresh clone, raw data in place (stages run: {ran})",
            f"{summary['repro_wall_s']:.1f} s",
            "",
        ),
        ("speed-up: repro / pull", f"{speed_up:.1f}x", f"≥ {GOAL:.0f}x ({'met' if speed_up >= GOAL else 'not met'})"),
        ("for scale: `git clone`", f"{summary['clone_s']:.2f} s", ""),
    ]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    note = f"train.epochs={summary['epochs']}; medians of {summary['repeats']} run(s) each; 1 MB = 10^6 bytes."
    return "\n".join(lines) + "\n\n" + note


def benchmark(args: argparse.Namespace, workdir: Path) -> dict:
    env = base_env(venv_bin())
    epochs = 2 if args.quick else yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())["train"]["epochs"]
    repeats = args.repeats or (1 if args.quick else 3)
    bench = Bench(workdir, args.data_dir.resolve(), make_shim(workdir), env, args.keep)
    load_at_start = os.getloadavg()
    print(f"pull: the origin: a fresh copy, dvc repro (train.epochs={epochs}), git commit, dvc push", flush=True)
    origin = make_origin(bench, epochs)
    pulls, repros = measure(bench, origin, repeats)
    summary = summarize(origin, pulls, repros, epochs)
    return {
        "summary": summary,
        "table": table(summary),
        "origin": {"repro_wall_s": origin.repro_wall_s, "remote_bytes": origin.remote_bytes},
        "machine": machine(load_at_start),
        "versions": versions(env),
        "runs": {"pull": [asdict(run) for run in pulls], "repro": [asdict(run) for run in repros]},
    }


def main() -> None:
    run_and_report("pull", parse_args(), benchmark)


if __name__ == "__main__":
    main()
