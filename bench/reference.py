"""The reference: the MNIST classifier as a bare Keras script, written the way a user would write it.

It is the baseline that bench/pipeline.py holds the pipeline against, so it is
deliberately plain and untuned: read the four gzipped IDX files with gzip and
numpy, divide by 255, fit the 784-256-128-10 sigmoid network for 50 epochs
with batch size 2000 and a 20% validation split, evaluate on the test set. It
uses no project code. The last line of its output is one JSON object with its
timings and test score.
"""

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def read_images(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)


def read_labels(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=8)


def parse_args(description: str = __doc__, default_epochs: int = 50) -> argparse.Namespace:
    """The data folder and the epochs, for this script and bench/keras_example.py alike."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path, help="directory holding the four MNIST .gz files")
    parser.add_argument("--epochs", type=int, default=default_epochs, help="training epochs (default: %(default)s)")
    args = parser.parse_args()
    missing = [name for name in FILES.values() if not (args.data_dir / name).is_file()]
    if missing:
        parser.exit(2, f"{parser.prog}: {args.data_dir}: missing {', '.join(missing)}\n")
    return args


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    import keras

    imported = time.perf_counter()
    x_train = read_images(args.data_dir / FILES["train_images"])
    y_train = read_labels(args.data_dir / FILES["train_labels"])
    x_test = read_images(args.data_dir / FILES["test_images"])
    y_test = read_labels(args.data_dir / FILES["test_labels"])
    x_train, x_test = x_train / 255.0, x_test / 255.0
    loaded = time.perf_counter()

    keras.utils.set_random_seed(42)
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(256, activation="sigmoid"),
            keras.layers.Dense(128, activation="sigmoid"),
            keras.layers.Dense(10, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.001),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    fit_started = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=2000, validation_split=0.2)
    fit_s = time.perf_counter() - fit_started
    test_loss, test_accuracy = model.evaluate(x_test, y_test)
    print(
        json.dumps(
            {
                "import_s": imported - started,
                "load_s": loaded - imported,
                "fit_s": fit_s,
                "total_s": time.perf_counter() - started,
                "epochs": args.epochs,
                "test_loss": float(test_loss),
                "test_accuracy": float(test_accuracy),
            }
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
