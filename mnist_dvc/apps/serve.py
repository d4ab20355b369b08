"""serve: the trained model on a local web page; draw a digit, or upload an image, and see its answer.

The page answers as you draw: the three likeliest classes, and the 28x28 image that the model saw after
normalising the drawing the way predict normalises files. Everything is served locally; nothing is fetched
from the network.
"""

import argparse
import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from mnist_dvc.apps.model_file import checked_model, recorded_facts
from mnist_dvc.apps.server import serve
from mnist_dvc.core import paths
from mnist_dvc.core.cli import parse_args, run_command

if TYPE_CHECKING:
    from mnist_dvc.model.inference import Classifier


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=paths.MODEL, help="trained model (default: %(default)s)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s, this machine only)"
    )
    parser.add_argument("--port", type=port, default=8000, help="port to listen on; 0 picks a free one (default: 8000)")


def port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r}; expected a port number, 0 to 65535")
    return int(text)


def main() -> None:
    args = parse_args(__doc__, with_params=False, add_arguments=add_arguments)
    checked_model(args.model)

    def load() -> "Classifier":
        # TensorFlow takes seconds to import: the server loads the model once it listens.
        from mnist_dvc.model.inference import load_classifier

        return load_classifier(args.model)

    try:
        asyncio.run(serve(load, recorded_facts(args.model), args.host, args.port))
    except KeyboardInterrupt:
        print("serve: stopped")


if __name__ == "__main__":
    run_command("serve", main)
