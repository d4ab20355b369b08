"""Run the experiments table of docs/recipes.md on the real data and print it as Markdown.

Each row is a recipe of conf/recipe/, run as the README runs one, `dvc exp run -S recipe=NAME`, in a fresh clone of
the last commit that holds the raw and prepared data (pulled from this workspace's DVC cache) and nothing else: no
other output and no run-cache to restore a stage from, so the row runs every stage that a recipe changes, as in a
user's clone after `dvc repro prepare` (the reference, whose params are the committed ones, is forced from train
down). This workspace is left as it was, and each row's experiment is pushed back to it. The CNN recipes form a
ladder, each building on the one before (its `defaults:`), and the table shows only the params each one changes.
Training time is the train stage's own fit time, which the stage records in the file that MNIST_TIMINGS names
(mnist_dvc/core/stage.py); wall time is the whole `dvc exp run`, DVC and the other stages included.

With --anchors, the two scripts that the recipes are held against are timed in the same benchmark run: the seed's MLP
(bench/reference.py) and Keras' "Simple MNIST convnet" example (bench/keras_example.py). The seed script runs first
and again after every other row, so that its runs alternate with theirs; its row gives the median of its runs' figures,
and each row's wall time is also given as a ratio to that median and to the Keras example's. Every timed run, anchors
and rows alike, starts after --settle seconds of idle. A recipe's time is also
given without its export and card stages (their own durations, as the stages record them), which a learner's
`dvc repro visualize` leaves out. A second table gives each recipe's accuracy on the changed test images of
metrics/robustness.json.

When the reference row runs, the FLOP floor of its multiplies (bench/floor.py) is timed right after it. The run ends
with the goals of docs/recipes.md, each met or not and by how much, from this run's own figures: a test accuracy
within a multiple of the seed script's wall time (with --anchors), and the reference's fit against its floor.

    dvc repro prepare                                # once, in a fresh clone: the rows run every stage but it
    python -m bench.experiments                      # every row; the CNN recipes take minutes each on 2 cores
    python -m bench.experiments --only relu wide     # some of them
    python -m bench.experiments --anchors --only reference cnn-fast cnn-fast-augment
"""

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

from bench.harness import BenchError, base_env, check_data_dir, dvc, git, median, read_timing, time_floor, venv_bin
from mnist_dvc.core import paths
from mnist_dvc.core.params import compose
from mnist_dvc.core.prepared import read_split
from mnist_dvc.core.stage import TIMINGS_ENV
from mnist_dvc.model.variants import VARIANTS

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
    "cnn-fast",
    "cnn-fast-augment",
)
# The prepared splits that the rows train, validate and test on.
SPLITS = ("train", "val", "test")
# The scripts of --anchors: the seed's MLP, and Keras' own example, each run as `python -m MODULE DATA_DIR`.
SEED_SCRIPT, KERAS_EXAMPLE = "seed script", "Keras example"
ANCHORS = {SEED_SCRIPT: "bench.reference", KERAS_EXAMPLE: "bench.keras_example"}
# The stages that `dvc repro visualize` leaves out: their time is shown apart.
PACKAGING_STAGES = ("export", "card")
# The goals of accuracy per second: a test accuracy, reached within this many times the seed script's wall time.
ACCURACY_GOALS = ((0.992, 1.0), (0.995, 3.0))
# And the most accurate row within this many times.
BEST_WITHIN = 10.0
# The longest idle --settle allows before each timed run: ten minutes.
MAX_SETTLE_S = 600.0
# The reference's fit, at most this many times the FLOP floor of its multiplies.
FIT_OVER_FLOOR_GOAL = 1.3


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
    """A recipe's run as the README gives it, named so that the table finds its experiment. The reference's params are
    the last commit's, with which DVC would run only the stages whose outputs a clone lacks (not visualize nor card,
    whose figures and card git holds, the same bytes): its row is forced from train down."""
    forced = ["--force", "--downstream", "train"] if recipe == "reference" else []
    return ["dvc", "exp", "run", "-n", experiment_name(recipe), *forced, "-S", f"recipe={recipe}"]


def experiment_name(recipe: str) -> str:
    return f"table-{recipe}"


@contextlib.contextmanager
def fresh_clone(env: dict[str, str]) -> Iterator[Path]:
    """A clone of this repository's last commit with the raw and prepared data pulled from this workspace's DVC cache
    into a cache of its own, removed after."""
    with tempfile.TemporaryDirectory(prefix="mnist-experiments-") as temp:
        root = Path(temp) / "project"
        git(["clone", "-q", str(Path.cwd()), str(root)], Path.cwd())
        cache = Path(dvc(["cache", "dir"], Path.cwd(), env).strip()).resolve()
        dvc(["remote", "add", "--local", "--default", "workspace", str(cache)], root, env)
        dvc(["pull", "-q", "check", "prepare"], root, env)
        # DVC hashes the data it has not seen at this path once, here rather than in the row's time.
        subprocess.run(["dvc", "status"], cwd=root, capture_output=True, env=env)
        yield root


def push_experiment(recipe: str, workspace: Path, env: dict[str, str]) -> None:
    """The row's experiment, from its clone to this repository (`dvc exp show` lists it), replacing the one of an
    earlier run of the table."""
    dvc(["exp", "push", "-q", "--force", "--no-cache", "origin", experiment_name(recipe)], workspace, env)


def run_recipe(recipe: str, env: dict[str, str], workspace: Path) -> dict:
    """Wall time of the recipe's `dvc exp run` in the workspace, the fit time its train stage recorded, and the
    stages that DVC ran."""
    with tempfile.TemporaryDirectory(prefix="mnist-experiments-") as temp:
        timings = Path(temp) / "timings.jsonl"
        started = time.perf_counter()
        run_env = {**env, TIMINGS_ENV: str(timings)}
        result = subprocess.run(command(recipe), cwd=workspace, capture_output=True, text=True, env=run_env)
        wall = time.perf_counter() - started
        fit = read_timing(timings, "train", "fit")
        packaging = [read_timing(timings, stage, "stage") for stage in PACKAGING_STAGES]
    output = result.stdout + result.stderr
    if result.returncode != 0:
        sys.exit(f"experiments: {recipe} failed:\n{output[-4000:]}")
    if fit is None or None in packaging:
        sys.exit(f"experiments: {recipe}: the stages recorded no time in {TIMINGS_ENV}:\n{output[-4000:]}")
    stages = [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")]
    return {"wall_s": wall, "fit_s": fit, "without_packaging_s": wall - sum(packaging), "stages": stages}


def run_anchor(name: str, data_dir: Path, env: dict[str, str]) -> dict:
    """Wall time of one anchor script, its fit time and test accuracy, from the JSON line it ends with."""
    started = time.perf_counter()
    command = [sys.executable, "-m", ANCHORS[name], str(data_dir)]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"experiments: {ANCHORS[name]} failed:\n{(result.stdout + result.stderr)[-4000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return {"wall_s": wall, "fit_s": report["fit_s"], "test": {"accuracy": report["test_accuracy"]}}


def metrics_of(recipe: str, env: dict[str, str], workspace: Path) -> dict:
    """Test and validation metrics of an experiment, from `dvc exp show --json`."""
    rows = json.loads(dvc(["exp", "show", "--json"], workspace, env))
    for baseline in rows:
        for experiment in baseline.get("experiments") or []:
            if experiment["name"] == experiment_name(recipe):
                metrics = experiment["revs"][0]["data"]["metrics"]
                return {
                    "test": metrics["metrics/test.json"]["data"]["test"],
                    "val": metrics["metrics/train.json"]["data"]["val"],
                    "robustness": metrics["metrics/robustness.json"]["data"]["robustness"],
                }
    sys.exit(f"experiments: {experiment_name(recipe)} is missing from dvc exp show")


def reference_floor(env: dict[str, str]) -> float:
    """Seconds of the FLOP floor (bench/floor.py) of the reference's training, timed now: its layers' widths,
    batch size and epochs as composed, on the prepared splits' sizes."""
    params = composed(["recipe=reference"])
    train, val = read_split("train"), read_split("val")
    widths = [math.prod(train.images.shape[1:]), *params["train.model.hidden_units"], len(train.classes)]
    layers = ["--layers", ",".join(map(str, widths))]
    sizes = (len(train.labels), len(val.labels))
    with tempfile.TemporaryDirectory(prefix="mnist-floor-") as temp:
        floor = time_floor(layers, params["train.batch_size"], params["train.epochs"], sizes, Path(temp), env)
    return floor["floor_s"]


def check_prepared() -> None:
    """Every row runs every stage but prepare, on the prepared splits of the workspace."""
    missing = [str(path) for path in map(paths.prepared_split, SPLITS) if not path.is_file()]
    if missing:
        raise BenchError(f"{', '.join(missing)}: not found; run `dvc repro prepare` first")


def run_all(
    recipes: list[str], anchors: bool, data_dir: Path, env: dict[str, str], settle: float
) -> tuple[dict, list[float]]:
    """Every row's results, and the seed script's wall times: with anchors, it runs first and after every row.
    env runs the project environment's dvc, whatever PATH the script was started with. Each timed run starts after
    settle seconds of idle, so that none starts on cores still slowed by the one before."""
    results, seed_runs = {}, []

    def seed_script() -> None:
        print(f"running: {SEED_SCRIPT} ({ANCHORS[SEED_SCRIPT]})", file=sys.stderr, flush=True)
        time.sleep(settle)
        seed_runs.append(run_anchor(SEED_SCRIPT, data_dir, env))

    if anchors:
        seed_script()
        print(f"running: {KERAS_EXAMPLE} ({ANCHORS[KERAS_EXAMPLE]})", file=sys.stderr, flush=True)
        time.sleep(settle)
        results[KERAS_EXAMPLE] = run_anchor(KERAS_EXAMPLE, data_dir, env)
        seed_script()
    for recipe in recipes:
        print(f"running: {' '.join(command(recipe))}", file=sys.stderr, flush=True)
        with fresh_clone(env) as workspace:
            time.sleep(settle)
            results[recipe] = {
                **run_recipe(recipe, env, workspace),
                **metrics_of(recipe, env, workspace),
                "changes": changes(recipe),
            }
            push_experiment(recipe, workspace, env)
        if recipe == "reference":
            print("running: python -m bench.floor, at the reference's shapes", file=sys.stderr, flush=True)
            time.sleep(settle)
            results[recipe]["floor_s"] = reference_floor(env)
        if anchors:
            seed_script()
    if anchors:
        results = {SEED_SCRIPT: seed_row(seed_runs), **results}
    return results, [run["wall_s"] for run in seed_runs]


def seed_row(runs: list[dict]) -> dict:
    """The seed script's row: the median over its runs of each figure, its wall time, its fit time and its test
    accuracy, each on its own."""
    return {
        "wall_s": median([run["wall_s"] for run in runs]),
        "fit_s": median([run["fit_s"] for run in runs]),
        "test": {"accuracy": median([run["test"]["accuracy"] for run in runs])},
    }


def table(results: dict, anchors: bool) -> str:
    """The Markdown table: accuracy and times of every row, and with anchors each wall time as a ratio to theirs."""
    ratios = " | × seed script | × Keras example" if anchors else ""
    lines = [
        "| recipe | params changed | test accuracy | test loss | val accuracy | fit time (s) | exp run wall (s) "
        f"| without export, card (s){ratios} |",
        "|---" * (8 + 2 * anchors) + "|",
    ]
    for name, r in results.items():
        if name in ANCHORS:
            cells = [f"{name} (`{ANCHORS[name]}`)", "", f"{r['test']['accuracy']:.4f}", "", "", f"{r['fit_s']:.1f}"]
            cells += [f"{r['wall_s']:.1f}", ""]
        else:
            changed = ", ".join(f"`{o}`" for o in r["changes"]) or "(defaults)"
            cells = [name, changed, f"{r['test']['accuracy']:.4f}", f"{r['test']['loss']:.4f}"]
            cells += [f"{r['val']['accuracy']:.4f}", f"{r['fit_s']:.1f}", f"{r['wall_s']:.1f}"]
            cells.append(f"{r['without_packaging_s']:.1f}")
        if anchors:
            cells += [f"{r['wall_s'] / results[anchor]['wall_s']:.2f}x" for anchor in (SEED_SCRIPT, KERAS_EXAMPLE)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def robustness_table(results: dict) -> str:
    """Each recipe's accuracy on the changed test images, one column per change."""
    rows = {name: r["robustness"] for name, r in results.items() if "robustness" in r}
    first = next(iter(rows.values()))
    variants = [name for name in ("original", *VARIANTS) if name in first]  # as evaluate makes them, not as sorted
    lines = ["| recipe | " + " | ".join(variants) + " |", "|---" * (1 + len(variants)) + "|"]
    lines += [f"| {name} | " + " | ".join(f"{row[v]:.3f}" for v in variants) + " |" for name, row in rows.items()]
    return "\n".join(lines)


def goals(results: dict) -> list[str]:
    """Each goal that this run's rows can answer, met or not, and by how much: the accuracy goals with the anchors,
    the reference's fit against its floor when the reference ran."""
    rows = {name: r for name, r in results.items() if name not in ANCHORS}
    lines = accuracy_goals(rows, results[SEED_SCRIPT]["wall_s"]) if SEED_SCRIPT in results and rows else []
    if "floor_s" in rows.get("reference", {}):
        lines.append(floor_goal(rows["reference"]["fit_s"], rows["reference"]["floor_s"]))
    return lines


def accuracy_goals(rows: dict, seed_wall: float) -> list[str]:
    """For each accuracy goal, the fastest row to reach that test accuracy, against the time allowed; then the
    most accurate row within BEST_WITHIN times the seed script."""
    lines = []
    for accuracy, times in ACCURACY_GOALS:
        allowed = times * seed_wall
        goal = f"test accuracy {accuracy} within {times:g}x the seed script's wall time ({allowed:.1f} s)"
        reached = [name for name, r in rows.items() if r["test"]["accuracy"] >= accuracy]
        if not reached:
            best = max(rows, key=lambda name: rows[name]["test"]["accuracy"])
            lines.append(f"{goal}: not met; no row reached it, the best is {_row(best, rows[best], seed_wall)}")
            continue
        fastest = min(reached, key=lambda name: rows[name]["wall_s"])
        r = rows[fastest]
        if r["wall_s"] <= allowed:
            lines.append(f"{goal}: met by {_row(fastest, r, seed_wall)}")
        else:
            over, without = r["wall_s"] - allowed, r["without_packaging_s"]
            lines.append(
                f"{goal}: not met; the fastest to reach it is {_row(fastest, r, seed_wall)}, {over:.1f} s over "
                f"({without:.1f} s, {without / seed_wall:.2f}x, without export and card)"
            )
    within = [name for name, r in rows.items() if r["wall_s"] <= BEST_WITHIN * seed_wall]
    if within:
        best = max(within, key=lambda name: rows[name]["test"]["accuracy"])
        lines.append(f"the most accurate within {BEST_WITHIN:g}x: {_row(best, rows[best], seed_wall)}")
    return lines


def floor_goal(fit: float, floor: float) -> str:
    allowed = FIT_OVER_FLOOR_GOAL * floor
    verdict = "met" if fit <= allowed else f"not met, {fit - allowed:.1f} s over"
    return (
        f"the reference's fit at most {FIT_OVER_FLOOR_GOAL:g}x the FLOP floor of its multiplies: {verdict}; "
        f"{fit:.1f} s against {floor:.1f} s timed after it, {fit / floor:.2f}x"
    )


def _row(name: str, r: dict, seed_wall: float) -> str:
    return f"{name}, {r['test']['accuracy']:.4f} in {r['wall_s']:.1f} s ({r['wall_s'] / seed_wall:.2f}x)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=TABLE, metavar="RECIPE", help="run only these recipes")
    parser.add_argument("--anchors", action="store_true", help="run the seed script and Keras' example too")
    parser.add_argument(
        "--data", type=Path, default=Path("data/raw/mnist"), help="the MNIST files for --anchors (default: %(default)s)"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--settle",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="idle seconds before each timed run: a run right after another, on a virtual machine, can be a tenth "
        f"slower; 0 to {MAX_SETTLE_S:g} (default: %(default)g)",
    )
    args = parser.parse_args()

    try:
        env = base_env(venv_bin())
        if args.anchors:
            check_data_dir(args.data)
        check_prepared()
        if args.json and not args.json.parent.is_dir():
            raise BenchError(f"--json {args.json}: no folder {args.json.parent} to write it in")
        if not 0 <= args.settle <= MAX_SETTLE_S:
            raise BenchError(f"--settle {args.settle:g}: expected 0 to {MAX_SETTLE_S:g} seconds")
    except BenchError as error:
        sys.exit(f"experiments: error: {error}")
    load = os.getloadavg()
    try:
        results, seed_walls = run_all(args.only or list(TABLE), args.anchors, args.data, env, args.settle)
    except BenchError as error:
        sys.exit(f"experiments: error: {error}")
    print(table(results, args.anchors))
    if any("robustness" in r for r in results.values()):
        print()
        print(robustness_table(results))
    print()
    for line in goals(results):
        print(f"goal: {line}")
    if seed_walls:
        print(f"seed script wall times (s): {', '.join(f'{w:.1f}' for w in seed_walls)}; the ratios use their median")
    at_start, at_end = (" ".join(f"{value:.2f}" for value in loads) for loads in (load, os.getloadavg()))
    print(f"load average: {at_start} at the start, {at_end} at the end")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"results": results, "seed_walls": seed_walls}, out, indent=2)


if __name__ == "__main__":
    main()
