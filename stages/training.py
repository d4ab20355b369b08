"""Training the network: seeding, the optimizer, the fit loop, and the per-epoch log.

The network itself is in stages/network.py, the batches that feed it in stages/batches.py.
"""

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


def fit(model: keras.Model, params: TrainParams, train: Split, val: Split, live: Live) -> tuple[int, dict]:
    """Train with validation after every epoch; return the epochs run and the last epoch's metrics by split."""
    log = LiveMetrics(live)
    callbacks = [log]
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
    return len(history.epoch), log.last


@contextmanager
def curve_log(directory: Path) -> Iterator[Live]:
    """dvclive, writing each epoch's row of every training curve as the epoch ends.

    Its summary file, there while training runs, is removed at the end: the run's final metrics are
    metrics/train.json (stages/results.py), so that `dvc metrics show` has one short row for training.
    """
    with Live(dir=str(directory), save_dvc_exp=False, dvcyaml=None, report=None) as live:
        yield live
    Path(live.metrics_file).unlink(missing_ok=True)


class LiveMetrics(keras.callbacks.Callback):
    """Log each epoch's train and validation loss and accuracy as one dvclive step, and keep the last."""

    def __init__(self, live: Live):
        super().__init__()
        self.live = live
        self.last: dict[str, dict[str, float]] = {}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        # Keras names the validation metrics val_<metric>.
        self.last = {
            split: {metric: float(logs[metric if split == "train" else f"val_{metric}"]) for metric in results.METRICS}
            for split in results.TRAINING_SPLITS
        }
        for split, metrics in self.last.items():
            for metric, value in metrics.items():
                self.live.log_metric(results.curve_name(split, metric), value)
        self.live.next_step()
