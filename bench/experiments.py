"""Run the README's experiments table on the real data and print it as Markdown.

Each row is one `dvc exp run --temp` from the committed params (the workspace
is left as it was), so every variant differs from the reference model in only
the params shown; each is forced from train down, so the reference trains
too. Training time is the train stage's own fit time, which the stage records
in the file that MNIST_TIMINGS names (stages/cli.py); wall time is the whole
`dvc exp run`, DVC and the other stages included.

    python -m bench.experiments            # all variants; the CNN recipes take minutes each on 2 cores
    python -m bench.experiments --only relu wide
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.run import TIMINGS_ENV, read_timing

# The road from the MLP to a small CNN, one step at a time: each CNN row keeps every step above it, and the
# table shows only what the row adds.
LADDER = {
    "cnn": [
        "train.model=cnn",
        "train.cnn.filters=[16,32]",
        "train.hidden_units=[128]",
        "train.hidden_activation=relu",
        "train.output_activation=softmax",
        "train.batch_size=128",
        "train.epochs=8",
    ],
    "+cosine": ["train.schedule=cosine", "train.learning_rate=0.003"],
    "+batchnorm": ["train.cnn.batch_norm=true", "train.warmup_epochs=1"],
    "+augment": ["train.augment.shift=2", "train.augment.rotation=10", "train.augment.zoom=0.1", "train.epochs=12"],
    "+adamw+smoothing": ["train.optimizer=adamw", "train.weight_decay=0.0001", "train.label_smoothing=0.1"],
    "+wider": ["train.cnn.filters=[32,64]", "train.dropout=0.25", "train.epochs=15"],
    "+deeper": ["train.cnn.filters=[32,64,128]"],
}


def climbed(ladder: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each step's full overrides: the steps before it, then its own, a later value of a param replacing an earlier."""
    variants, params = {}, {}
    for name, step in ladder.items():
        params.update(override.split("=", 1) for override in step)
        variants[name] = [f"{key}={value}" for key, value in params.items()]
    return variants


VARIANTS = {
    "reference": [],
    "relu": ["train.hidden_activation=relu"],
    "softmax": ["train.output_activation=softmax"],
    "relu+softmax": ["train.hidden_activation=relu", "train.output_activation=softmax"],
    "wide": ["train.hidden_units=[1024,512]"],
    "dropout": ["train.dropout=0.2"],
    "sgd": ["train.optimizer=sgd", "train.learning_rate=0.1", "train.momentum=0.9"],
    **climbed(LADDER),
}


def command(name: str, overrides: list[str]) -> list[str]:
    """Forced from train down, so that every row, the reference included, trains and is timed."""
    return [
        "dvc",
        "exp",
        "run",
        "--temp",
        "-n",
        f"table-{name}",
        "--force",
        "--downstream",
        "train",
        *(arg for o in overrides for arg in ("-S", o)),
    ]


def run_variant(name: str, overrides: list[str]) -> dict:
    """Wall time of the variant's `dvc exp run`, and the fit time its train stage recorded."""
    # A rerun of the table replaces its experiments rather than clashing with them.
    subprocess.run(["dvc", "exp", "remove", f"table-{name}"], capture_output=True)
    with tempfile.TemporaryDirectory(prefix="mnist-experiments-") as temp:
        timings = Path(temp) / "timings.jsonl"
        # The stage runs in DVC's temporary workspace: the file must be named by an absolute path.
        env = {**os.environ, TIMINGS_ENV: str(timings)}
        started = time.perf_counter()
        result = subprocess.run(command(name, overrides), capture_output=True, text=True, env=env)
        wall = time.perf_counter() - started
        fit = read_timing(timings, "train", "fit")
    output = result.stdout + result.stderr
    if result.returncode != 0:
        sys.exit(f"experiments: {name} failed:\n{output[-4000:]}")
    if fit is None:
        sys.exit(f"experiments: {name}: the train stage recorded no fit time in {TIMINGS_ENV}:\n{output[-4000:]}")
    return {"wall_s": wall, "fit_s": fit}


def metrics_of(name: str) -> dict:
    """Test and validation metrics of an experiment, from `dvc exp show --json`."""
    rows = json.loads(
        subprocess.run(["dvc", "exp", "show", "--json"], capture_output=True, text=True, check=True).stdout
    )
    for baseline in rows:
        for experiment in baseline.get("experiments") or []:
            if experiment["name"] == f"table-{name}":
                metrics = experiment["revs"][0]["data"]["metrics"]
                return {
                    "test": metrics["metrics/test.json"]["data"]["test"],
                    "val": metrics["metrics/train.json"]["data"]["val"],
                }
    sys.exit(f"experiments: table-{name} is missing from dvc exp show")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=VARIANTS, help="run only these variants")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    results = {}
    for name in args.only or VARIANTS:
        print(f"running: {' '.join(command(name, VARIANTS[name]))}", file=sys.stderr, flush=True)
        results[name] = {**run_variant(name, VARIANTS[name]), **metrics_of(name), "overrides": VARIANTS[name]}

    print("| variant | params changed | test accuracy | test loss | val accuracy | fit time (s) | exp run wall (s) |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        changed = ", ".join(f"`{o}`" for o in LADDER.get(name, r["overrides"])) or "(defaults)"
        print(
            f"| {name} | {changed} | {r['test']['accuracy']:.4f} | {r['test']['loss']:.4f} | "
            f"{r['val']['accuracy']:.4f} | {r['fit_s']:.1f} | {r['wall_s']:.1f} |"
        )
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
