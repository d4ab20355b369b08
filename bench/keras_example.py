"""The peer: Keras' "Simple MNIST convnet" example as published, the benchmark's second anchor beside the seed's script.

Two blocks of a 3x3 ReLU convolution (32, then 64 filters) and 2x2 max pooling, flatten, dropout 0.5, a softmax
layer of 10; Adam on categorical cross-entropy, batch 128, 15 epochs, 10% of the training images held out for
validation. Like bench/reference.py it reads the four gzipped IDX files itself, uses no project code beyond that
script's readers, and prints one JSON object with its timings and test score as its last line.

    python -m bench.keras_example data/raw/mnist
"""

import json
import sys
import time

import numpy as np

from bench.reference import FILES, parse_args, read_images, read_labels

EPOCHS = 15


def main() -> None:
    args = parse_args(__doc__, default_epochs=EPOCHS)
    started = time.perf_counter()
    import keras

    imported = time.perf_counter()
    x_train = read_images(args.data_dir / FILES["train_images"])
    y_train = read_labels(args.data_dir / FILES["train_labels"])
    x_test = read_images(args.data_dir / FILES["test_images"])
    y_test = read_labels(args.data_dir / FILES["test_labels"])
    x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
    x_test = np.expand_dims(x_test.astype("float32") / 255, -1)
    y_train, y_test = keras.utils.to_categorical(y_train, 10), keras.utils.to_categorical(y_test, 10)
    loaded = time.perf_counter()

    keras.utils.set_random_seed(42)
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    fit_started = time.perf_counter()
    model.fit(x_train, y_train, batch_size=128, epochs=args.epochs, validation_split=0.1)
    fit_s = time.perf_counter() - fit_started
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
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
