"""The classifier: built from params, trained deterministically, fed the same way everywhere."""

import os
import zipfile

import keras
import numpy as np
import tensorflow as tf
from dvclive import Live

from stages.data import Split
from stages.errors import DataError
from stages.params import TrainParams


def seed_everything(seed: int) -> None:
    """Make training a pure function of params and seed: same inputs, same weights, same metrics."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 pixels to float32 in [0, 1], done once per split rather than once per batch."""
    return images.astype(np.float32) / np.float32(255)


def build_model(params: TrainParams, image_shape: tuple[int, ...], n_classes: int) -> keras.Model:
    """A multilayer perceptron; the default params give the reference 784-256-128-10 sigmoid net."""
    model = keras.Sequential(name="mlp")
    model.add(keras.Input(shape=image_shape))
    model.add(keras.layers.Flatten())
    for units in params.hidden_units:
        model.add(keras.layers.Dense(units, activation=params.hidden_activation))
        if params.dropout:
            model.add(keras.layers.Dropout(params.dropout))
    model.add(keras.layers.Dense(n_classes, activation=params.output_activation))
    model.compile(
        optimizer=make_optimizer(params),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    return model


def fit(model: keras.Model, params: TrainParams, train: Split, val: Split, live: Live) -> int:
    """Train with validation after every epoch; return the number of epochs run."""
    callbacks = [LiveMetrics(live)]
    if params.early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(patience=params.early_stopping_patience, restore_best_weights=True)
        )
    history = model.fit(
        to_model_input(train.images),
        train.labels,
        validation_data=(to_model_input(val.images), val.labels),
        batch_size=params.batch_size,
        epochs=params.epochs,
        shuffle=True,
        verbose=2,
        callbacks=callbacks,
    )
    return len(history.epoch)


class LiveMetrics(keras.callbacks.Callback):
    """Log each epoch's train and validation loss and accuracy as one dvclive step."""

    def __init__(self, live: Live):
        super().__init__()
        self.live = live

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for name in ("loss", "accuracy"):
            self.live.log_metric(f"train/{name}", float(logs[name]))
            self.live.log_metric(f"val/{name}", float(logs[f"val_{name}"]))
        self.live.next_step()


def make_optimizer(params: TrainParams) -> keras.optimizers.Optimizer:
    if params.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=params.learning_rate)
    if params.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=params.learning_rate, momentum=params.momentum)
    return keras.optimizers.RMSprop(learning_rate=params.learning_rate, momentum=params.momentum)


def load_model(path: os.PathLike) -> keras.Model:
    """Load a .keras model in safe mode: no arbitrary code from the file is run."""
    try:
        return keras.models.load_model(path, safe_mode=True)
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable Keras model ({error}); run the train stage again") from None
