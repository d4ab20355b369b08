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
from mnist_dvc.apps.model_file import checked_model
from mnist_dvc.apps.trust import doubt
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
    checked_model(args.model)
    found = list(find_images(args.paths))
    files = [item for item in found if isinstance(item, Path)]
    failures = [item for item in found if not isinstance(item, Path)]
    if files:
        failures += predict(files, args)
    # After the table, not inside it: one line for each input that could not be used.
    for failure in failures:
        print(f"predict: error: {failure}", file=sys.stderr)
    if failures:
        raise PipelineError(f"{len(failures)} of {len(found)} inputs failed, named above")


def predict(files: list[Path], args: argparse.Namespace) -> list[ImageError]:
    """Print the predictions for the files as they come, batch by batch; return the files that failed.

    The model is loaded, and the table's header printed, only once there is an image to predict."""
    classifier, table, failures, done = None, None, [], 0
    for batch in normalised_batches(files, BATCH_SIZE):
        failures += batch.failures
        if batch.paths:
            classifier = classifier or _classifier(args)
            table = table or Table(files, classifier.classes, args.top, args.json)
            for path, image, probabilities in zip(
                batch.paths, batch.images, classifier.probabilities(batch.images), strict=True
            ):
                print(table.line(path, image, probabilities))
        done += len(batch.paths) + len(batch.failures)
        if len(files) > BATCH_SIZE:
            print(f"predict: {done}/{len(files)} images", file=sys.stderr)
    return failures


def _classifier(args: argparse.Namespace):
    # TensorFlow takes seconds to import: load it only once there is something to predict.
    from mnist_dvc.model.inference import load_classifier

    classifier = load_classifier(args.model)
    if args.top > len(classifier.classes):
        raise PipelineError(f"--top {args.top}; expected at most {len(classifier.classes)}, the model's classes")
    return classifier


class Table:
    """One line per image, a table row or a JSON object, in columns sized for all the files and classes."""

    def __init__(self, files: list[Path], classes: tuple[str, ...], top: int, as_json: bool) -> None:
        self.classes, self.top, self.as_json = classes, top, as_json
        self.widths = (max(len(str(path)) for path in files), max(len(name) for name in ("label", *classes)))
        # Each of the others is a name and a probability of at most 7 characters, two spaces apart.
        self.others_width = max(len("next likeliest"), (top - 1) * (max(map(len, classes)) + 10) - 2)
        if not as_json:
            header = f"{'path':<{self.widths[0]}}  {'label':>{self.widths[1]}}  probability"
            if top > 1:
                header += f"  {'next likeliest':<{self.others_width}}"
            print(header + "  doubt")

    def line(self, path: Path, image: np.ndarray, probabilities: np.ndarray) -> str:
        order = (-probabilities).argsort(kind="stable")[: self.top]
        likeliest = [(self.classes[k], float(probabilities[k])) for k in order]
        label, probability = likeliest[0]
        flag = doubt(image, probability)
        if self.as_json:
            record = {"path": str(path), "label": label, "probability": probability, "doubt": flag}
            if self.top > 1:
                record["top"] = [list(pair) for pair in likeliest]
            return json.dumps(record)
        row = f"{str(path):<{self.widths[0]}}  {label:>{self.widths[1]}}  {shown(probability):>11}"
        if self.top > 1:
            others = "  ".join(f"{name} {shown(p)}" for name, p in likeliest[1:])
            row += f"  {others:<{self.others_width}}"
        return (row + f"  {flag}" if flag else row).rstrip()


def shown(probability: float) -> str:
    """A probability in three decimals that never rounds to a certainty the model does not have."""
    if probability > 0.999:
        return "> 0.999"
    if probability < 0.001:
        return "< 0.001"
    return f"{probability:.3f}"


if __name__ == "__main__":
    run_command("predict", main)
