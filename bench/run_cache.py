"""How fast `dvc exp run` comes back to a params set it has run before: DVC's run-cache against training again.

Every stage declares all of its outputs, so DVC's run-cache holds each stage's
outputs under the hash of its command, dependencies and params; a stage whose
inputs were seen before is restored from the cache, not run. This measures what
that is worth, in a fresh copy of the project (bench/harness.py's: its tracked and
untracked files in a new git repository, the MNIST files in data/raw/mnist, an empty
DVC cache):

1. the baseline: `dvc repro --force` with the committed params, committed; every
   stage runs and enters the run-cache;
2. a real run: `dvc exp run -S train.epochs=20`, which trains, timed as a whole,
   with the train stage's own wall time and fit time;
3. the cached run: `dvc exp run -S train.epochs=<the committed value>`, timed;
   no stage may run (the output must say "Stage 'train' is cached - skipping
   run"), or the benchmark fails. It is repeated, each time after a
   `dvc exp run -S train.epochs=20` (cached by then too, and not counted) has
   moved the workspace back to the other params set; the median is reported.

The speed-up is the real run's wall time over the cached run's; the goal is at
least 10x. Stages are started through bench/harness.py's `python` wrapper, which
logs every stage that runs, and record their timings in the file that
MNIST_TIMINGS names (mnist_dvc/core/stage.py).

    python -m bench.run_cache DATA_DIR            # about 2 to 3 minutes on 2 cores
    python -m bench.run_cache DATA_DIR --quick    # a smoke run: 2 epochs committed, 1 in the real run
"""

import argparse
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from bench.harness import (
    PROJECT_ROOT,
    BenchError,
    base_env,
    bench_parser,
    checked,
    fresh_copy,
    git,
    machine,
    make_shim,
    median,
    read_stage_log,
    read_timing,
    run_and_report,
    run_process,
    stage_commands,
    stage_env,
    venv_bin,
    versions,
)

CACHED = re.compile(r"Stage '([^']+)' is cached - skipping run")
GOAL = 10.0


@dataclass
class Bench:
    """Where the benchmark runs and with what."""

    project: Path
    workdir: Path
    shim_dir: Path
    env: dict[str, str]


@dataclass
class DvcRun:
    """One timed dvc command: its wall time, the stages that ran (with their own wall times), the stages that
    came back from the run-cache, and the fit time the train stage recorded if it ran."""

    wall_s: float
    stages_run: dict[str, float]
    stages_cached: list[str]
    fit_s: float | None


def parse_args() -> argparse.Namespace:
    parser = bench_parser(__doc__, "run_cache.json")
    parser.add_argument("--epochs", type=int, help="train.epochs of the real run (default: 20, 1 with --quick)")
    parser.add_argument("--repeats", type=int, help="timed cached runs (default: 3, 2 with --quick)")
    args = parser.parse_args()
    if (args.epochs is not None and args.epochs < 1) or (args.repeats is not None and args.repeats < 1):
        parser.error("--epochs and --repeats must be at least 1")
    return args


def timed(bench: Bench, cmd: list[str], label: str) -> tuple[DvcRun, str]:
    """Run a dvc command in the project through the stage wrapper; what ran, what came from the cache, and
    the output (to show when a check fails)."""
    stage_log, timings = bench.workdir / f"{label}-stages.jsonl", bench.workdir / f"{label}-timings.jsonl"
    log = bench.workdir / f"{label}.log"
    env = stage_env(bench.env, bench.shim_dir, stage_log, timings)
    process = checked(run_process(cmd, bench.project, env, log), " ".join(cmd), log)
    records = read_stage_log(stage_log, stage_commands(bench.project))
    run = DvcRun(
        wall_s=process.wall_s,
        stages_run={name: record["end"] - record["start"] for name, record in records},
        stages_cached=CACHED.findall(process.output),
        fit_s=read_timing(timings, "train", "fit"),
    )
    return run, process.output


def exp_run(bench: Bench, epochs: int, label: str) -> tuple[DvcRun, str]:
    """`dvc exp run -S train.epochs=<epochs>` in the workspace, which it leaves at that params set, named label."""
    return timed(bench, ["dvc", "exp", "run", "-n", label, "-S", f"train.epochs={epochs}"], label)


def baseline(bench: Bench) -> DvcRun:
    """Every stage run once at the committed params (forced: a fresh copy may find the committed figures up to
    date), so that each enters the run-cache; then committed, as the experiments' baseline."""
    run, output = timed(bench, ["dvc", "repro", "--force"], "baseline")
    if sorted(run.stages_run) != sorted(stage_commands(bench.project)):
        raise BenchError(f"dvc repro --force ran {list(run.stages_run)}, not every stage:\n{output[-2000:]}")
    git(["add", "-A"], bench.project)
    git(["commit", "-q", "--allow-empty", "-m", "baseline"], bench.project)
    return run


def real_run(bench: Bench, epochs: int) -> DvcRun:
    """The experiment that trains: params not seen before."""
    run, output = exp_run(bench, epochs, "real")
    if "train" not in run.stages_run:
        raise BenchError(f"dvc exp run -S train.epochs={epochs} did not run the train stage:\n{output[-2000:]}")
    return run


def cached_run(bench: Bench, epochs: int, label: str) -> DvcRun:
    """An experiment at params seen before: every stage that changed must come back from the run-cache."""
    run, output = exp_run(bench, epochs, label)
    if run.stages_run or "train" not in run.stages_cached:
        raise BenchError(
            f"dvc exp run -S train.epochs={epochs} ran {list(run.stages_run) or 'no stage'} and restored "
            f"{run.stages_cached or 'no stage'} from the run-cache; expected train and the stages after it to be "
            f"restored and none to run:\n{output[-3000:]}"
        )
    return run


def measure(bench: Bench, committed: int, real: int, repeats: int) -> dict[str, list[DvcRun]]:
    """The baseline, the real run, then the cached run back to the committed params, repeated; before each
    repetition but the first, a cached run to the real run's params moves the workspace away again."""
    print(f"run_cache: dvc repro --force, train.epochs={committed} (the baseline)", flush=True)
    runs: dict[str, list[DvcRun]] = {"baseline": [baseline(bench)], "real": [], "cached": [], "away": []}
    print(f"run_cache: dvc exp run -S train.epochs={real} (trains)", flush=True)
    runs["real"].append(real_run(bench, real))
    for repeat in range(1, repeats + 1):
        if repeat > 1:
            runs["away"].append(cached_run(bench, real, f"away-{repeat}"))
        print(f"run_cache: dvc exp run -S train.epochs={committed} (cached), {repeat} of {repeats}", flush=True)
        runs["cached"].append(cached_run(bench, committed, f"cached-{repeat}"))
    return runs


def summarize(runs: dict[str, list[DvcRun]], committed: int, real: int) -> dict:
    trained, cached = runs["real"][0], median([run.wall_s for run in runs["cached"]])
    return {
        "committed_epochs": committed,
        "real_epochs": real,
        "baseline_repro_wall_s": runs["baseline"][0].wall_s,
        "real_run_wall_s": trained.wall_s,
        "real_run_train_stage_wall_s": trained.stages_run["train"],
        "real_run_fit_s": trained.fit_s,
        "cached_run_wall_s": cached,
        "cached_runs": len(runs["cached"]),
        "speed_up": trained.wall_s / cached,
        "goal_speed_up": GOAL,
    }


def table(summary: dict) -> str:
    """The results as one Markdown table, with the goal."""
    committed, real = summary["committed_epochs"], summary["real_epochs"]
    fit = summary["real_run_fit_s"]
    speed_up = summary["speed_up"]
    rows = [
        ("", "wall time", "goal"),
        (f"real run: `dvc exp run -S train.epochs={real}` (trains)", f"{summary['real_run_wall_s']:.1f} s", ""),
        (
            "its train stage (fit alone)",
            f"{summary['real_run_train_stage_wall_s']:.1f} s ({'n/a' if fit is None else f'{fit:.1f} s'})",
            "",
        ),
        (
            f"cached run: `dvc exp run -S train.epochs={committed}`, median of {summary['cached_runs']}",
            f"{summary['cached_run_wall_s']:.2f} s",
            "",
        ),
        (
            "speed-up: real run / cached run",
            f"{speed_up:.1f}x",
            f"≥ {GOAL:.0f}x ({'met' if speed_up >= GOAL else 'not met'})",
        ),
        (
            f"for scale: `dvc repro --force` at train.epochs={committed}, every stage",
            f"{summary['baseline_repro_wall_s']:.1f} s",
            "",
        ),
    ]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows[1:]])


def committed_epochs(quick: bool) -> int:
    """The train.epochs the copy commits: the project's own, or 2 for a smoke run."""
    return 2 if quick else yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())["train"]["epochs"]


def benchmark(args: argparse.Namespace, workdir: Path) -> dict:
    env = base_env(venv_bin())
    committed = committed_epochs(args.quick)
    real = args.epochs or (1 if args.quick else 20)
    if real == committed:
        raise BenchError(f"--epochs {real} is the committed train.epochs; the real run needs params not seen before")
    repeats = args.repeats or (2 if args.quick else 3)
    load_at_start = os.getloadavg()
    print("run_cache: copying the project", flush=True)
    project = fresh_copy(workdir / "project", args.data_dir.resolve(), [f"train.epochs={committed}"])
    bench = Bench(project=project, workdir=workdir, shim_dir=make_shim(workdir), env=env)
    runs = measure(bench, committed, real, repeats)
    summary = summarize(runs, committed, real)
    return {
        "summary": summary,
        "table": table(summary),
        "machine": machine(load_at_start),
        "versions": versions(env),
        "runs": {name: [asdict(run) for run in group] for name, group in runs.items()},
    }


def main() -> None:
    run_and_report("run_cache", parse_args(), benchmark)


if __name__ == "__main__":
    main()
