"""Training the network: seeding, the optimizer, the fit loop, and the per-epoch log.

The network itself is in stages/network.py, the batches that feed it in stages/batches.py.
"""

import math

import keras
import tensorflow as tf
from dvclive import Live

from stages import results
from stages.batches import evaluation_batches, training_batches
from stages.data import Split
from stages.params import TrainParams


def seed_everything(seed: int) -> None:
    """Make training a pure function of params and seed: same inputs, same weights, same metrics."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def make_optimizer(params: TrainParams) -> keras.optimizers.Optimizer:
    if params.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=params.learning_rate)
    if params.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=params.learning_rate, momentum=params.momentum)
    return keras.optimizers.RMSprop(learning_rate=params.learning_rate, momentum=params.momentum)


def steps_per_epoch(examples: int, batch_size: int) -> int:
    return math.ceil(examples / batch_size)


def compile_for_training(model: keras.Model, params: TrainParams, examples: int) -> None:
    """Attach the optimizer, loss and metric.

    A whole epoch runs in one call into TensorFlow (steps_per_execution), so that no Python
    runs between the steps of an epoch: the results are the same, only sooner.
    """
    model.compile(
        optimizer=make_optimizer(params),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
        steps_per_execution=steps_per_epoch(examples, params.batch_size),
    )


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
        for split in results.TRAINING_SPLITS:
            for metric in results.METRICS:
                key = metric if split == "train" else f"val_{metric}"
                self.live.log_metric(results.curve_name(split, metric), float(logs[key]))
        self.live.next_step()
