"""predict: the trained model on your own images of digits (PNG, JPEG, BMP, GIF, TIFF, WebP).

Each image is normalised the way MNIST was made: cropped to its ink, scaled into a 20x20 box and
centred by its centre of mass in 28x28. Dark ink on light paper and light ink on dark both work.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from mnist_dvc.apps.images import ImageError, find_images, normalised_batches
from mnist_dvc.core import paths
from mnist_dvc.core.cli import parse_args, run_command
from mnist_dvc.core.errors import PipelineError

BATCH_SIZE = 500


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files, or directories to search")
    parser.add_argument("--model", type=Path, default=paths.MODEL, help="trained model (default: %(default)s)")
    parser.add_argument(
        "--top", type=positive, default=1, metavar="K", help="show the K likeliest classes (default: 1)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}; expected a whole number of 1 or more")
    return int(text)


def main() -> None:
    args = parse_args(__doc__, with_params=False, add_arguments=add_arguments)
    found = list(find_images(args.paths))
    files = [item for item in found if isinstance(item, Path)]
    failures = [item for item in found if not isinstance(item, Path)]
    for failure in failures:
        print(f"predict: error: {failure}", file=sys.stderr)
    if files:
        failures += predict(files, args)
    if failures:
        raise PipelineError(f"{len(failures)} of {len(found)} inputs failed, named above")


def predict(files: list[Path], args: argparse.Namespace) -> list[ImageError]:
    """Print the predictions for the files as they come, batch by batch; return the files that failed."""
    # TensorFlow takes seconds to import: load it only once there is something to predict.
    from mnist_dvc.model.inference import load_classifier

    classifier = load_classifier(args.model)
    if args.top > len(classifier.classes):
        raise PipelineError(f"--top {args.top}; expected at most {len(classifier.classes)}, the model's classes")
    widths = (max(len(str(path)) for path in files), max(len(name) for name in ("label", *classifier.classes)))
    if not args.json:
        print(
            f"{'path':<{widths[0]}}  {'label':>{widths[1]}}  probability" + ("  next likeliest" if args.top > 1 else "")
        )
    failures, done = [], 0
    for batch in normalised_batches(files, BATCH_SIZE):
        for failure in batch.failures:
            print(f"predict: error: {failure}", file=sys.stderr)
        for path, probabilities in zip(batch.paths, classifier.probabilities(batch.images), strict=True):
            print(formatted(path, probabilities, classifier.classes, args.top, args.json, widths))
        failures += batch.failures
        done += len(batch.paths) + len(batch.failures)
        if len(files) > BATCH_SIZE:
            print(f"predict: {done}/{len(files)} images", file=sys.stderr)
    return failures


def formatted(
    path: Path, probabilities: np.ndarray, classes: tuple[str, ...], top: int, as_json: bool, widths: tuple[int, int]
) -> str:
    """One line for one image: a table row, or a JSON object."""
    likeliest = [(classes[k], float(probabilities[k])) for k in (-probabilities).argsort(kind="stable")[:top]]
    label, probability = likeliest[0]
    if as_json:
        record = {"path": str(path), "label": label, "probability": probability}
        if top > 1:
            record["top"] = [list(pair) for pair in likeliest]
        return json.dumps(record)
    others = "  ".join(f"{name} {p:.3f}" for name, p in likeliest[1:])
    return f"{str(path):<{widths[0]}}  {label:>{widths[1]}}  {probability:11.3f}" + (f"  {others}" if others else "")


if __name__ == "__main__":
    run_command("predict", main)
