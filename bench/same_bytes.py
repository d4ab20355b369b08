"""What the same bytes on every machine cost: the train stage's fit time with the project's settings (oneDNN's
AVX2 kernels, one thread per op; mnist_dvc/core/runtime.py) against MNIST_FAST=1 (every instruction set and
core the machine has).

In a fresh copy of the project with the MNIST files, prepare runs once; then, for each recipe, the train stage
runs in both modes, alternating, --repeats times each, and the fit time it records (MNIST_TIMINGS) is compared.
The test metrics of each run are kept too: the same-bytes runs must agree with each other to the last bit.

    python -m bench.same_bytes DATA_DIR                                   # reference, cnn-cosine, cnn-batchnorm
    python -m bench.same_bytes DATA_DIR --recipes cnn --epochs 2 --quick  # a smoke run
"""

import os
import statistics
import sys
from pathlib import Path

from bench.harness import (
    BenchError,
    base_env,
    bench_parser,
    checked,
    fresh_copy,
    machine,
    read_timing,
    run_and_report,
    run_process,
    venv_bin,
    versions,
)
from mnist_dvc.core.params import compose
from mnist_dvc.core.runtime import FAST_ENV
from mnist_dvc.core.stage import TIMINGS_ENV

RECIPES = ("reference", "cnn-cosine", "cnn-batchnorm")
MODES = {"same bytes": {}, f"{FAST_ENV}=1": {FAST_ENV: "1"}}


def train(root: Path, env: dict[str, str], log: Path) -> tuple[float, bytes]:
    """Run the train stage once; its fit time, and the model it saved."""
    timings = log.with_suffix(".timings")
    timings.unlink(missing_ok=True)
    command = [sys.executable, "-m", "stages.train"]
    checked(run_process(command, root, {**env, TIMINGS_ENV: str(timings)}, log), "train", log)
    fit = read_timing(timings, "train", "fit")
    if fit is None:
        raise BenchError(f"the train stage recorded no fit time (log: {log})")
    return fit, (root / "models" / "model.keras").read_bytes()


def measure(args, workdir: Path) -> dict:
    load_at_start = os.getloadavg()
    env = base_env(venv_bin())
    env.pop(FAST_ENV, None)
    root = fresh_copy(workdir / "project", args.data_dir.resolve())
    log = workdir / "prepare.log"
    checked(run_process(["dvc", "repro", "prepare"], root, env, log), "dvc repro prepare", log)
    repeats = 1 if args.quick else args.repeats
    results = {}
    for recipe in args.recipes:
        overrides = [f"recipe={recipe}"] + ([f"train.epochs={args.epochs}"] if args.epochs else [])
        compose(root / "params.yaml", overrides, root)
        runs: dict[str, list[float]] = {mode: [] for mode in MODES}
        models: dict[str, set[bytes]] = {mode: set() for mode in MODES}
        for repeat in range(repeats):
            for mode, changes in MODES.items():
                print(f"same_bytes: {recipe}, {mode}, run {repeat + 1} of {repeats}", file=sys.stderr, flush=True)
                fit, model = train(root, {**env, **changes}, workdir / f"{recipe}-{repeat}-{len(changes)}.log")
                runs[mode].append(fit)
                models[mode].add(model)
        if len(models["same bytes"]) != 1:
            raise BenchError(f"{recipe}: the same-bytes runs saved {len(models['same bytes'])} different models")
        same, quick = (statistics.median(runs[mode]) for mode in MODES)
        results[recipe] = {"fit_s": runs, "median_fit_s": {"same bytes": same, "fast": quick}, "cost": same / quick}
    return {
        "recipes": results,
        "table": table(results, repeats),
        "machine": machine(load_at_start),
        "versions": versions(env),
    }


def table(results: dict, repeats: int) -> str:
    lines = [
        f"| recipe | fit, same bytes (s) | fit, {FAST_ENV}=1 (s) | cost |",
        "|---|---|---|---|",
        *(
            f"| {recipe} | {r['median_fit_s']['same bytes']:.1f} | {r['median_fit_s']['fast']:.1f} | {r['cost']:.2f}x |"
            for recipe, r in results.items()
        ),
    ]
    return "\n".join(lines) + f"\n\nMedians of {repeats} runs each, alternating; fit time of the train stage."


def main() -> None:
    parser = bench_parser(__doc__, "same_bytes.json")
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), help="recipes of conf/recipe/ to time")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each mode per recipe (default: 3)")
    parser.add_argument("--epochs", type=int, help="train.epochs for every recipe (default: each recipe's own)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    run_and_report("same_bytes", args, measure)


if __name__ == "__main__":
    main()
