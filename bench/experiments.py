"""Run the experiments table of docs/recipes.md on the real data and print it as Markdown.

Each row is a recipe of conf/recipe/, run as one `dvc exp run --temp -S recipe=NAME` from the committed params
(the workspace is left as it was); each is forced from train down, so the reference trains too. The CNN
recipes form a ladder, each building on the one before (its `defaults:`), and the table shows only the params
each one changes. Training time is the train stage's own fit time, which the stage records in the file that
MNIST_TIMINGS names (mnist_dvc/core/stage.py); wall time is the whole `dvc exp run`, DVC and the other stages
included.

    python -m bench.experiments                      # every row; the CNN recipes take minutes each on 2 cores
    python -m bench.experiments --only relu wide     # some of them
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.harness import read_timing
from mnist_dvc.core.params import compose
from mnist_dvc.core.stage import TIMINGS_ENV

RECIPES = Path("conf/recipe")
# The rows of the table, in order: the reference, other MLPs, then the CNN ladder.
TABLE = (
    "reference",
    "relu",
    "softmax",
    "relu-softmax",
    "wide",
    "dropout",
    "sgd",
    "cnn",
    "cnn-cosine",
    "cnn-batchnorm",
    "cnn-augment",
    "cnn-adamw",
    "cnn-wider",
    "cnn-deeper",
)


def parent(recipe: str) -> str:
    """The recipe this one builds on (the first recipe in its defaults list), or the reference."""
    config = yaml.safe_load((RECIPES / f"{recipe}.yaml").read_text()) or {}
    named = [entry for entry in config.get("defaults", []) if isinstance(entry, str) and entry != "_self_"]
    return named[0] if named else "reference"


def flat(params: dict, prefix: str = "") -> dict[str, object]:
    items = {}
    for key, value in params.items():
        if isinstance(value, dict):
            items.update(flat(value, f"{prefix}{key}."))
        else:
            items[f"{prefix}{key}"] = value
    return items


def composed(overrides: list[str]) -> dict[str, object]:
    """The params of `dvc exp run -S OVERRIDE...`, by DVC's own composition, as dotted keys."""
    with tempfile.TemporaryDirectory() as temp:
        path = Path(temp) / "params.yaml"
        compose(path, overrides)
        return flat(yaml.safe_load(path.read_text()))


def changes(recipe: str) -> list[str]:
    """What the recipe changes from the one it builds on, as -S overrides: a change of model family as the
    family's name (model=cnn), then the values that differ from that family's defaults."""
    if recipe == "reference":
        return []
    after = composed([f"recipe={recipe}"])
    family = after["train.model.family"]
    before = composed([f"recipe={parent(recipe)}"])
    switched = before["train.model.family"] != family
    if switched:
        before = composed([f"recipe={parent(recipe)}", f"model={family}"])
    changed = [f"{key}={_value(value)}" for key, value in after.items() if before.get(key) != value]
    return [f"model={family}", *changed] if switched else changed


def _value(value: object) -> str:
    return json.dumps(value, separators=(",", ":")).strip('"')


def command(recipe: str) -> list[str]:
    """Forced from train down, so that every row, the reference included, trains and is timed."""
    return ["dvc", "exp", "run", "--temp", "-n", f"table-{recipe}", "--force", "--downstream", "train"] + [
        "-S",
        f"recipe={recipe}",
    ]


def run_recipe(recipe: str) -> dict:
    """Wall time of the recipe's `dvc exp run`, and the fit time its train stage recorded."""
    # A rerun of the table replaces its experiments rather than clashing with them.
    subprocess.run(["dvc", "exp", "remove", f"table-{recipe}"], capture_output=True)
    with tempfile.TemporaryDirectory(prefix="mnist-experiments-") as temp:
        timings = Path(temp) / "timings.jsonl"
        # The stage runs in DVC's temporary workspace: the file must be named by an absolute path.
        env = {**os.environ, TIMINGS_ENV: str(timings)}
        started = time.perf_counter()
        result = subprocess.run(command(recipe), capture_output=True, text=True, env=env)
        wall = time.perf_counter() - started
        fit = read_timing(timings, "train", "fit")
    output = result.stdout + result.stderr
    if result.returncode != 0:
        sys.exit(f"experiments: {recipe} failed:\n{output[-4000:]}")
    if fit is None:
        sys.exit(f"experiments: {recipe}: the train stage recorded no fit time in {TIMINGS_ENV}:\n{output[-4000:]}")
    return {"wall_s": wall, "fit_s": fit}


def metrics_of(recipe: str) -> dict:
    """Test and validation metrics of an experiment, from `dvc exp show --json`."""
    rows = json.loads(
        subprocess.run(["dvc", "exp", "show", "--json"], capture_output=True, text=True, check=True).stdout
    )
    for baseline in rows:
        for experiment in baseline.get("experiments") or []:
            if experiment["name"] == f"table-{recipe}":
                metrics = experiment["revs"][0]["data"]["metrics"]
                return {
                    "test": metrics["metrics/test.json"]["data"]["test"],
                    "val": metrics["metrics/train.json"]["data"]["val"],
                }
    sys.exit(f"experiments: table-{recipe} is missing from dvc exp show")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=TABLE, metavar="RECIPE", help="run only these recipes")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    results = {}
    for recipe in args.only or TABLE:
        print(f"running: {' '.join(command(recipe))}", file=sys.stderr, flush=True)
        results[recipe] = {**run_recipe(recipe), **metrics_of(recipe), "changes": changes(recipe)}

    print("| recipe | params changed | test accuracy | test loss | val accuracy | fit time (s) | exp run wall (s) |")
    print("|---|---|---|---|---|---|---|")
    for recipe, r in results.items():
        changed = ", ".join(f"`{o}`" for o in r["changes"]) or "(defaults)"
        print(
            f"| {recipe} | {changed} | {r['test']['accuracy']:.4f} | {r['test']['loss']:.4f} | "
            f"{r['val']['accuracy']:.4f} | {r['fit_s']:.1f} | {r['wall_s']:.1f} |"
        )
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
