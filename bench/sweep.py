"""What a sweep costs and gains on this machine: the same grid of CNN trials with one worker and with two.

Each run is `python -m mnist_dvc.apps.sweep` on the embedded cluster (LocalCluster), in a fresh copy of the project
(bench/harness.py's, the MNIST files in data/raw/mnist and in its DVC cache) with fresh clones for its workers, so
that nothing is restored from an earlier run: every trial trains. The grid is 8 trials of the small CNN recipe for
one epoch, `-S recipe=cnn -S train.epochs=1 -S 'train.learning_rate=...' -S 'train.batch_size=128,256'`. The runs
alternate (1, 2, 1, 2 workers) so that a change in the machine's load falls on both.

For each run: its wall time, and from the sweep's record each trial's fit time (the train stage's own), its
`dvc exp run` time, and the sweep's own cost per trial (preparing the clone, then pushing the experiment and its
run-cache). The overhead of the sweep is its wall time less what its trials' `dvc exp run` took, per trial, for
one worker: what a loop of `dvc exp run` on one machine would not pay. docs/sweeps.md puts the figures on paper
for N machines.

    python -m bench.sweep DATA_DIR              # 4 sweeps of 8 trials: about 30 to 40 minutes on 2 cores
    python -m bench.sweep DATA_DIR --quick      # 2 sweeps of 2 trials: a smoke run
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import (
    base_env,
    bench_parser,
    checked,
    fresh_copy,
    git,
    machine,
    median,
    run_and_report,
    run_process,
    venv_bin,
    versions,
)

LEARNING_RATES = "0.0005,0.001,0.002,0.004"
GRID = ["-S", "recipe=cnn", "-S", "train.epochs=1", "-S", f"train.learning_rate={LEARNING_RATES}"]
GRID += ["-S", "train.batch_size=128,256"]
QUICK_GRID = ["-S", "recipe=cnn", "-S", "train.epochs=1", "-S", "train.learning_rate=0.001,0.002"]


def parse_args() -> argparse.Namespace:
    parser = bench_parser(__doc__.split("\n\n")[0], "sweep.json")
    parser.add_argument("--repeats", type=int, default=2, help="sweeps per worker count (default: %(default)s)")
    return parser.parse_args()


def one_sweep(workdir: Path, data_dir: Path, label: str, workers: int, grid: list[str], env: dict) -> dict:
    """A fresh copy, a sweep of the grid on `workers` workers, and what its record says of each trial."""
    project = fresh_copy(workdir / label / "project", data_dir)
    add = subprocess.run(["dvc", "add", "-q", "data/raw/mnist"], cwd=project, env=env, capture_output=True, text=True)
    if add.returncode:
        sys.exit(f"sweep: dvc add failed: {add.stderr.strip()}")
    git(["add", "-A"], project)
    git(["commit", "-qm", "raw data in the cache", "--allow-empty"], project)
    sweep_env = {**env, "MNIST_SWEEP_CLONES": str(workdir / label / "clones")}
    command = [sys.executable, "-m", "mnist_dvc.apps.sweep", "--name", "bench", "--workers", str(workers), *grid]
    print(f"sweep: {label}: {workers} worker(s)", flush=True)
    log = workdir / label / "sweep.log"
    started = time.time()
    process = checked(run_process(command, project, sweep_env, log), f"the sweep of {label}", log)
    trials = json.loads((project / "sweeps" / "bench.json").read_text())["trials"]
    if any(trial["status"] != "finished" for trial in trials.values()):
        sys.exit(f"sweep: {label}: a trial failed (log: {log})")
    return {"label": label, "workers": workers, "wall_s": process.wall_s, "started": started, "trials": trials}


def summarize(runs: list[dict]) -> dict:
    """Per worker count: the median sweep wall time, per-trial times, and the sweep's overhead per trial."""
    summary = {}
    for workers in sorted({run["workers"] for run in runs}):
        group = [run for run in runs if run["workers"] == workers]
        trials = [trial for run in group for trial in run["trials"].values()]
        count = len(group[0]["trials"])
        run_s = [trial["seconds"]["run"] for trial in trials]
        own_s = [trial["seconds"].get("setup", 0) + trial["seconds"].get("share", 0) for trial in trials]
        walls = [run["wall_s"] for run in group]
        # What the sweep added to its trials' `dvc exp run` time, per trial: on w workers, w trials share the clock.
        overheads = [
            (run["wall_s"] * workers - sum(t["seconds"]["run"] for t in run["trials"].values())) / count
            for run in group
        ]
        summary[workers] = {
            "sweeps": len(group),
            "trials_per_sweep": count,
            "wall_s": walls,
            "median_wall_s": median(walls),
            "median_per_trial_wall_s": median(walls) / count,
            "median_fit_s": median([trial.get("fit_seconds") for trial in trials]),
            "median_exp_run_s": median(run_s),
            "median_setup_and_share_s": median(own_s),
            "median_overhead_per_trial_s": median(overheads),
        }
    return summary


def table(summary: dict) -> str:
    rows = [
        (
            "workers",
            "sweep wall time",
            "per trial",
            "fit (median)",
            "dvc exp run (median)",
            "clone + share",
            "overhead/trial",
        )
    ]
    for workers, s in summary.items():
        walls = ", ".join(f"{w:.0f}" for w in s["wall_s"])
        rows.append(
            (
                str(workers),
                f"{s['median_wall_s']:.0f} s ({walls})",
                f"{s['median_per_trial_wall_s']:.1f} s",
                f"{s['median_fit_s']:.1f} s",
                f"{s['median_exp_run_s']:.1f} s",
                f"{s['median_setup_and_share_s']:.1f} s",
                f"{s['median_overhead_per_trial_s']:.1f} s",
            )
        )
    if 1 in summary and 2 in summary:
        ratio = summary[1]["median_wall_s"] / summary[2]["median_wall_s"]
        rows.append(("1 / 2", f"{ratio:.2f}x", "", "", "", "", ""))
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows[1:]])


def benchmark(args: argparse.Namespace, workdir: Path) -> dict:
    env = base_env(venv_bin())
    grid = QUICK_GRID if args.quick else GRID
    repeats = 1 if args.quick else args.repeats
    load_at_start = os.getloadavg()
    runs = []
    for repeat in range(1, repeats + 1):
        for workers in (1, 2):
            runs.append(one_sweep(workdir, args.data_dir.resolve(), f"w{workers}-r{repeat}", workers, grid, env))
    summary = summarize(runs)
    return {
        "grid": grid,
        "summary": summary,
        "table": table(summary),
        "machine": machine(load_at_start),
        "versions": versions(env),
        "runs": runs,
    }


def main() -> None:
    run_and_report("sweep", parse_args(), benchmark)


if __name__ == "__main__":
    main()
