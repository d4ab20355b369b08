"""The README's figure of the normalisation that predict and serve apply: each image beside its 28x28 form.

python -m tools.normalisation_figure [IMAGE ...] [--output PNG]
"""

import argparse
from pathlib import Path

import numpy as np

from mnist_dvc.apps.images import find_images, read_image, to_mnist
from mnist_dvc.core.cli import parse_args, run_command
from mnist_dvc.report.figures import normalisation_pairs, save_png

EXAMPLES = Path("examples")
DEFAULT_OUTPUT = Path("docs/normalisation.png")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="*", type=Path, default=[EXAMPLES], metavar="IMAGE", help="default: examples/")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="PNG to write (default: %(default)s)")


def main() -> None:
    args = parse_args(__doc__, with_params=False, add_arguments=add_arguments)
    files = []
    for found in find_images(args.images):
        if not isinstance(found, Path):
            raise found
        files.append(found)
    images = [read_image(path) for path in files]
    originals = [np.asarray(image.convert("RGBA")) for image in images]
    normalised = [to_mnist(image, str(path)) for image, path in zip(images, files, strict=True)]
    save_png(normalisation_pairs(originals, normalised, [path.name for path in files]), args.output, dpi=100)
    print(f"normalisation_figure: {len(files)} images drawn into {args.output}")


if __name__ == "__main__":
    run_command("normalisation_figure", main)
