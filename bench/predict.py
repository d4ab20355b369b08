"""How fast `python -m mnist_dvc.apps.predict` reads people's image files, and whether it agrees with evaluate.

The 10,000 test images (data/prepared/test.npz) are written as 28x28 grayscale PNGs into a
temporary directory, and models/model.keras is measured on them, in four parts:

1. start-up, each in a fresh process, the two alternating, median of --repeats: `import tensorflow`
   alone (with the settings mnist_dvc/__init__.py gives TensorFlow) against importing mnist_dvc.model.inference
   and `load_classifier`, what predict does before its first image (and, apart, its first model
   call, which traces the graph); goal: at most TensorFlow + 1 s. Both are timed inside the child,
   so the interpreter's own start is left out;
2. throughput after start-up, in this process: predict's loop over the PNGs (normalised_batches
   at its BATCH_SIZE, one model call a batch), best of --repeats (the first run pays the tracing);
   split into decoding and normalising (read_image + to_mnist) alone and model calls alone;
   goal: at least 2000 images/s;
3. the whole command, `python -m mnist_dvc.apps.predict DIR --json`, timed from start to exit;
4. agreement: every label the command printed must equal `predicted` in data/predictions.csv,
   or the benchmark exits non-zero; also how many images to_mnist changed at all, and the largest
   difference in the predicted class's probability, over all images and over those to_mnist left
   as they were (there only the CSV's 6 decimals should show).

    python -m bench.predict        # from the project root; about 2 minutes on 2 cores
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from bench.harness import machine, versions, warn_if_busy
from mnist_dvc.apps.images import normalised_batches, read_image, to_mnist
from mnist_dvc.core import paths
from mnist_dvc.core.cli import parse_args
from mnist_dvc.core.errors import PipelineError
from mnist_dvc.core.prepared import Split, read_split
from mnist_dvc.core.results import Predictions, read_predictions

STARTUP_GOAL_S, THROUGHPUT_GOAL = 1.0, 2000.0
TF_ALONE = "import time; t = time.perf_counter(); import tensorflow; print(time.perf_counter() - t)"
PREDICT_START = (
    "import time; t = time.perf_counter(); from mnist_dvc.model.inference import load_classifier; "
    f"c = load_classifier({str(paths.MODEL)!r}); s = time.perf_counter() - t; import numpy as np; "
    "c.probabilities(np.zeros((1, 28, 28), np.uint8)); print(s, time.perf_counter() - t - s)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the docstring's layout in --help
    parser.add_argument("--repeats", type=int, default=3, help="start-ups and throughput runs (default: 3)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("bench/results/predict.json"),
        help="where to write the JSON (default: %(default)s)",
    )


def run_child(cmd: list[str]) -> tuple[float, str]:
    """Run cmd; its wall time and stdout; exit with its stderr if it fails."""
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bench predict: error: {' '.join(cmd)[:200]} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started, done.stdout


def startup(repeats: int) -> dict:
    """Medians over fresh processes, the two kinds alternating so that a change in the machine's load hits both
    alike: TensorFlow's import, predict's start-up, and its first model call."""
    tf, ours = [], []
    for _ in range(repeats):
        tf.append(float(run_child([sys.executable, "-c", TF_ALONE])[1]))
        ours.append([float(x) for x in run_child([sys.executable, "-c", PREDICT_START])[1].split()])
    tf_s, load_s = statistics.median(tf), statistics.median(r[0] for r in ours)
    return {
        "import_tensorflow_s": tf_s,
        "startup_s": load_s,
        "over_tensorflow_s": load_s - tf_s,
        "first_call_s": statistics.median(r[1] for r in ours),
        "runs": {"import_tensorflow_s": tf, "startup_s": [r[0] for r in ours], "first_call_s": [r[1] for r in ours]},
    }


def best_of(repeats: int, work: Callable[[], object]) -> tuple[float, object]:
    """The shortest wall time of work over repeats runs, and what it returned."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


def throughput(files: list[Path], repeats: int) -> tuple[dict[str, float], np.ndarray]:
    """Images/s of predict's loop (normalised_batches at its BATCH_SIZE, one model call a batch), of decoding and
    normalising alone, and of model calls alone; and the normalised images."""
    from mnist_dvc.apps.predict import BATCH_SIZE
    from mnist_dvc.model.inference import load_classifier

    classifier = load_classifier(paths.MODEL)

    def predict_loop() -> list[np.ndarray]:
        return [classifier.probabilities(batch.images) for batch in normalised_batches(files, BATCH_SIZE)]

    def model_calls(images: np.ndarray) -> list[np.ndarray]:
        return [classifier.probabilities(images[i : i + BATCH_SIZE]) for i in range(0, len(images), BATCH_SIZE)]

    loop_s, _ = best_of(repeats, predict_loop)
    decode_s, images = best_of(repeats, lambda: np.stack([to_mnist(read_image(path)) for path in files]))
    model_s, _ = best_of(repeats, lambda: model_calls(images))
    figures = {
        "batch_size": BATCH_SIZE,
        "images_per_s": len(files) / loop_s,
        "predict_loop_s": loop_s,
        "decode_normalise_s": decode_s,
        "model_calls_s": model_s,
    }
    return figures, images


def agreement(stdout: str, test: Split, evaluated: Predictions, normalised: np.ndarray) -> dict[str, float]:
    """The command's labels and probabilities, image by image, against evaluate's; and what to_mnist changed."""
    records = {int(Path(r["path"]).stem): r for r in map(json.loads, stdout.splitlines())}
    order = range(len(test.images))
    labels = np.array([test.classes.index(records[i]["label"]) for i in order])
    expected = evaluated.probabilities[order, evaluated.predicted]
    difference = np.abs(np.array([records[i]["probability"] for i in order]) - expected)
    changed = (normalised != test.images).any(axis=(1, 2))
    return {
        "images": len(test.images),
        "agreeing": int((labels == evaluated.predicted).sum()),
        "changed_by_to_mnist": int(changed.sum()),
        "max_probability_diff": float(difference.max()),
        "max_probability_diff_unchanged": float(difference[~changed].max(initial=0)),
    }


def measure(repeats: int) -> dict:
    test = read_split("test")
    evaluated = read_predictions(paths.PREDICTIONS, test)
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="mnist-predict-") as directory:
        print(f"bench predict: writing {len(test.images)} PNGs", flush=True)
        files = [Path(directory) / f"{i:05d}.png" for i in range(len(test.images))]
        for image, path in zip(test.images, files, strict=True):
            Image.fromarray(image, "L").save(path)
        print(f"bench predict: start-up, {repeats} fresh processes each", flush=True)
        start = startup(repeats)
        print(f"bench predict: throughput, best of {repeats}", flush=True)
        speed, normalised = throughput(files, repeats)
        print("bench predict: python -m mnist_dvc.apps.predict DIR --json", flush=True)
        wall_s, stdout = run_child([sys.executable, "-m", "mnist_dvc.apps.predict", directory, "--json"])
    agree = agreement(stdout, test, evaluated, normalised)
    summary = {"startup": start, "throughput": speed, "command_wall_s": wall_s, "agreement": agree}
    return {"summary": summary, "repeats": repeats, "machine": machine(load_at_start), "versions": versions(None)}


def main() -> None:
    args = parse_args(__doc__, with_params=False, add_arguments=add_arguments)
    if args.repeats < 1:
        sys.exit("bench predict: error: --repeats must be at least 1")
    warn_if_busy()
    try:
        results = measure(args.repeats)
    except PipelineError as error:
        sys.exit(f"bench predict: error: {error}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    start, speed, agree = (results["summary"][key] for key in ("startup", "throughput", "agreement"))
    met, n = {True: "met", False: "missed"}, agree["images"]
    print(
        f"\nstart-up (median of {args.repeats}): import tensorflow {start['import_tensorflow_s']:.2f} s, "
        f"import + load_classifier {start['startup_s']:.2f} s, difference {start['over_tensorflow_s']:+.2f} s "
        f"(goal <= +{STARTUP_GOAL_S:.0f} s: {met[start['over_tensorflow_s'] <= STARTUP_GOAL_S]}); "
        f"first model call {start['first_call_s']:.3f} s"
    )
    print(
        f"throughput (best of {args.repeats}, batch {speed['batch_size']}): {speed['images_per_s']:.0f} images/s "
        f"(goal >= {THROUGHPUT_GOAL:.0f}: {met[speed['images_per_s'] >= THROUGHPUT_GOAL]}); for {n} images: "
        f"predict's loop {speed['predict_loop_s']:.2f} s, decode + normalise alone "
        f"{speed['decode_normalise_s']:.2f} s, model calls alone {speed['model_calls_s']:.2f} s"
    )
    print(f"whole command on {n} PNGs: {results['summary']['command_wall_s']:.2f} s")
    print(
        f"agreement: {agree['agreeing']}/{n} labels equal {paths.PREDICTIONS}; to_mnist changed "
        f"{agree['changed_by_to_mnist']} images; largest probability difference {agree['max_probability_diff']:.2g} "
        f"({agree['max_probability_diff_unchanged']:.2g} over the images it left unchanged)"
    )
    print(f"\nbench predict: numbers in {args.out}")
    if agree["agreeing"] != n:
        sys.exit(f"bench predict: error: {n - agree['agreeing']} labels disagree with {paths.PREDICTIONS}")


if __name__ == "__main__":
    main()
