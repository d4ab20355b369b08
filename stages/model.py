"""The classifier: built from params, trained deterministically, fed the same way everywhere."""

import math
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


def scale_batch(images: tf.Tensor) -> tf.Tensor:
    """uint8 pixels to the model's input, float32 in [0, 1], one batch at a time."""
    return tf.cast(images, tf.float32) / 255.0


def hold(array: np.ndarray) -> tf.Variable:
    """An array held once in TensorFlow's memory, for the input pipelines below to read from.

    A variable rather than a constant: with op determinism on, tf.data copies every
    tensor that a pipeline captures each time an iterator is made (Keras makes one per
    epoch for validation), while a variable is captured by reference and never copied.
    """
    return tf.Variable(array, trainable=False)


def training_batches(split: Split, batch_size: int, seed: int) -> tf.data.Dataset:
    """Shuffled batches, epoch after epoch without end; each epoch visits every example once.

    The images stay uint8, a quarter of the memory of float32, and each batch is scaled
    as it is gathered, which costs no more than gathering float32 rows. Epoch e visits the
    examples in a permutation drawn from (seed, e) alone, so training is a pure function
    of the seed. The next batch is made while the model trains on the current one.
    """
    images, labels = hold(split.images), hold(split.labels)
    count = len(split.labels)

    def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
        seed_pair = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), seed=seed_pair)
        return tf.data.Dataset.range(0, count, batch_size).map(lambda start: order[start : start + batch_size])

    def gather(indices: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        # Gather from the variables' values: a gather from the variable itself would
        # switch it to copy-on-read and copy the whole array once.
        return scale_batch(tf.gather(images.value(), indices)), tf.gather(labels.value(), indices)

    return _as_written(tf.data.Dataset.counter().flat_map(epoch_batches).map(gather).prefetch(1))


def evaluation_batches(split: Split, batch_size: int) -> tf.data.Dataset:
    """The split's batches in order, scaled as in training."""
    images, labels = hold(split.images), hold(split.labels)

    def batch(start: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        end = start + batch_size
        return scale_batch(images.value()[start:end]), labels.value()[start:end]

    return _as_written(tf.data.Dataset.range(0, len(split.labels), batch_size).map(batch).prefetch(1))


def _as_written(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Run a pipeline as written: no graph rewrites, and no autotuning thread, which has
    nothing to tune here and can hold up the end of fit() by a second while it winds down."""
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    return dataset.with_options(options)


def steps_per_epoch(examples: int, batch_size: int) -> int:
    return math.ceil(examples / batch_size)


def build_model(
    params: TrainParams, image_shape: tuple[int, ...], n_classes: int, steps_per_execution: int = 1
) -> keras.Model:
    """A multilayer perceptron; the default params give the reference 784-256-128-10 sigmoid net.

    steps_per_execution batches run in one call into TensorFlow; the train stage makes it
    a whole epoch, so that no Python runs between the steps of an epoch (the results are
    the same, only sooner).
    """
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
        steps_per_execution=steps_per_execution,
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
        training_batches(train, params.batch_size, params.seed),
        steps_per_epoch=steps_per_epoch(len(train.labels), params.batch_size),
        validation_data=evaluation_batches(val, params.batch_size),
        epochs=params.epochs,
        shuffle=False,  # the batches come shuffled
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
