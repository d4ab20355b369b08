"""Training the network: seeding, the optimizer, the fit loop, and the per-epoch log.

The network itself is in network.py, the batches that feed it in batches.py.
"""

import contextlib
import functools
import math
from collections.abc import Callable, Iterator

import keras
import tensorflow as tf

from mnist_dvc.core import results
from mnist_dvc.core.errors import ParamsError, TrainingError
from mnist_dvc.core.prepared import Split
from mnist_dvc.core.signals import raise_if_stopped
from mnist_dvc.model.batches import evaluation_batches, training_batches, validation_pairs
from mnist_dvc.model.layers import SplitDense, plain_keras
from mnist_dvc.model.network import averaged_over_shifts
from mnist_dvc.model.params import TrainParams

# Images per call when a trained model is scored: the batch size of evaluate's.
EVALUATION_BATCH_SIZE = 2000


def seed_everything(seed: int) -> None:
    """Make training a pure function of params and seed: same inputs, same weights, same metrics."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def make_optimizer(params: TrainParams, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    rate = learning_rate(params, steps_per_epoch)
    if params.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=rate)
    if params.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate=rate, weight_decay=params.weight_decay)
    if params.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=rate, momentum=params.momentum)
    return keras.optimizers.RMSprop(learning_rate=rate, momentum=params.momentum)


def learning_rate(params: TrainParams, steps_per_epoch: int) -> float | keras.optimizers.schedules.CosineDecay:
    """The learning rate by step: params.learning_rate throughout, or a cosine from it down to 0 at the last
    step, after a linear warm-up from 0 over warmup_epochs if any. Keras' own schedule, so that the saved
    model names it and loads in safe mode."""
    if params.schedule == "constant":
        return params.learning_rate
    warmup_steps = params.warmup_epochs * steps_per_epoch
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup_steps else params.learning_rate,
        decay_steps=params.epochs * steps_per_epoch - warmup_steps,
        warmup_target=params.learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


def steps_per_epoch(examples: int, batch_size: int) -> int:
    return math.ceil(examples / batch_size)


def compile_for_training(model: keras.Model, params: TrainParams, examples: int) -> None:
    """Attach the optimizer, loss and metric.

    A whole epoch runs in one call into TensorFlow (steps_per_execution), so that no Python
    runs between the steps of an epoch: the results are the same, only sooner.
    """
    steps = steps_per_epoch(examples, params.batch_size)
    loss = (
        keras.losses.CategoricalCrossentropy(label_smoothing=params.label_smoothing)
        if params.label_smoothing
        else keras.losses.SparseCategoricalCrossentropy()
    )
    model.compile(optimizer=make_optimizer(params, steps), loss=loss, metrics=["accuracy"], steps_per_execution=steps)


def compile_for_scoring(model: keras.Model) -> None:
    """Keep the trained weights and optimizer, but score by plain cross-entropy on integer labels.

    Label smoothing is a way to train, not part of the model: the saved model is scored like any
    other (stages/evaluate.py, the stage), so that test losses compare across runs.
    """
    if not isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy):
        model.compile(
            optimizer=model.optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(),
            metrics=["accuracy"],
            steps_per_execution=model.steps_per_execution,
        )


def as_saved(model: keras.Model, params: TrainParams, val: Split) -> tuple[keras.Model, dict[str, float] | None]:
    """The model to save, compiled for scoring, and its validation loss and accuracy if they differ from the last
    epoch's: with test-time augmentation (train.model.tta_shifts) the saved model averages shifted copies, and its
    validation metrics are measured again, so that metrics/train.json describes the model as saved."""
    compile_for_scoring(model)
    shifts = getattr(params.model, "tta_shifts", 0)
    if not shifts:
        return model, None
    saved = averaged_over_shifts(plain_keras(model), shifts)
    saved.compile(optimizer=model.optimizer, loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    loss, accuracy = saved.evaluate(evaluation_batches(val, EVALUATION_BATCH_SIZE), verbose=0)
    return saved, {"loss": float(loss), "accuracy": float(accuracy)}


def one_hot_classes(model: keras.Model, params: TrainParams) -> int | None:
    """The number of classes to make the labels one-hot over, or None to keep them integers.

    Smoothed labels need the whole distribution: one-hot, for validation too, which uses the same loss.
    """
    return model.output_shape[-1] if params.label_smoothing else None


def fit(
    model: keras.Model,
    params: TrainParams,
    seed: int,
    train: Split,
    val: Split,
    callbacks: list[keras.callbacks.Callback],
) -> int:
    """Train with validation after every epoch, calling back as Keras does; return the epochs run.

    With label smoothing, the losses Keras reports are the smoothed loss that training minimises. A run whose loss
    stops being a finite number fails at the end of that epoch, before anything is logged or saved.
    """
    callbacks = [StopWhenAsked(), FailIfDiverged(params.learning_rate), *callbacks]
    if params.early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(patience=params.early_stopping_patience, restore_best_weights=True)
        )
    classes = one_hot_classes(model, params)
    if params.batch_in_halves and len(train.labels) % params.batch_size == 1:
        raise ParamsError(
            f"train.batch_in_halves = true: {len(train.labels)} training images in batches of {params.batch_size} "
            "leave a last batch of one image, which cannot be halved; expected another train.batch_size"
        )
    batches = training_batches(train, params.batch_size, seed, params.augment, classes)
    build_state(model, batches)
    # An MLP's first layer already answers in halves on both cores (layers.SplitDense): two batches at once would
    # gain nothing there, and cost a trace.
    in_pairs = not any(isinstance(layer, SplitDense) for layer in model.layers)
    validation = (validation_pairs if in_pairs else evaluation_batches)(val, params.batch_size, classes)
    steps = {"train_step": halved_train_step} if params.batch_in_halves else {}
    if in_pairs:
        steps["test_step"] = paired_test_step
    with own_steps(model, **steps):
        history = model.fit(
            batches,
            steps_per_epoch=steps_per_epoch(len(train.labels), params.batch_size),
            validation_data=validation,
            epochs=params.epochs,
            shuffle=False,  # the batches come shuffled
            verbose=2,
            callbacks=callbacks,
        )
    return len(history.epoch)


@contextlib.contextmanager
def own_steps(model: keras.Model, **steps: Callable[..., dict[str, tf.Tensor]]) -> Iterator[None]:
    """Within: the model trains or validates with the steps given (train_step=, test_step=), each called with the
    model and a batch; after, with Keras' own. (Keras makes its functions from the steps on first use, and keeps
    them.)"""
    for name, step in steps.items():
        setattr(model, name, functools.partial(step, model))
    model.train_function = model.test_function = None
    try:
        yield
    finally:
        for name in steps:
            delattr(model, name)
        model.train_function = model.test_function = None


def halved_train_step(model: keras.Model, batch: tuple[tf.Tensor, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Keras' own train step, on a batch cut in two halves that go through the model side by side, each on its own
    core (train.batch_in_halves).

    The loss is the mean of the halves' losses weighted by their sizes, the whole batch's mean, so the gradients are
    the whole batch's but for the order of their sums. Batch normalisation normalises each half by its own
    statistics, and moves its averages by one half, then the other. With one thread per op, Keras' step would keep
    one core busy through most of a CNN's layers.
    """
    images, labels = batch
    size = tf.shape(images)[0]
    middle = size // 2
    halves = ((images[:middle], labels[:middle]), (images[middle:], labels[middle:]))
    with tf.GradientTape() as tape:
        predicted = [model(half_images, training=True) for half_images, _ in halves]
        losses = [
            model.compute_loss(half_images, half_labels, half_predicted, training=True)
            for (half_images, half_labels), half_predicted in zip(halves, predicted, strict=True)
        ]
        sizes = tf.cast(tf.stack([middle, size - middle]), losses[0].dtype)
        loss = (losses[0] * sizes[0] + losses[1] * sizes[1]) / tf.cast(size, losses[0].dtype)
    model._loss_tracker.update_state(loss, sample_weight=size)
    gradients = tape.gradient(loss, model.trainable_weights)
    model.optimizer.apply_gradients(zip(gradients, model.trainable_weights, strict=True))
    return model.compute_metrics(images, labels, tf.concat(predicted, axis=0))


def paired_test_step(model: keras.Model, pair: tuple) -> dict[str, tf.Tensor]:
    """Keras' own test step on two batches at once (batches.validation_pairs): both through the model side by side,
    each on its own core, then each added to the loss and metrics in turn, as Keras adds one batch after another.

    With one thread per op, Keras' step would keep one core busy; this one gives the same bits in less time. The
    second batch is added only if it counts (an odd last batch comes with a copy of itself).
    """
    (first_images, first_labels), (second_images, second_labels), second_counts = pair
    first_predicted = model(first_images, training=False)
    second_predicted = model(second_images, training=False)
    logs = add_to_metrics(model, first_images, first_labels, first_predicted)
    return tf.cond(
        second_counts, lambda: add_to_metrics(model, second_images, second_labels, second_predicted), lambda: logs
    )


def add_to_metrics(model: keras.Model, images: tf.Tensor, labels: tf.Tensor, predicted: tf.Tensor) -> dict:
    """One batch's loss and metrics added to the model's totals, as Keras' test step adds them
    (keras/src/backend/tensorflow/trainer.py; tests/unit/model/test_training.py holds the two to the same bits)."""
    loss = model.compute_loss(images, labels, predicted, training=False)
    model._loss_tracker.update_state(loss, sample_weight=tf.shape(images)[0])
    return model.compute_metrics(images, labels, predicted)


def build_state(model: keras.Model, batches: tf.data.Dataset) -> None:
    """Create the optimizer's slots and the metrics' totals, from two blank examples shaped as the batches, before fit
    traces its first step.

    Keras would create them inside that trace, and TensorFlow traces a step that created variables a second time:
    about half a second of every fit. The values are the same either way: the slots start at zero, and fit resets the
    metrics before each epoch. (Before evaluate on a loaded model, building its metrics costs what it saves.)
    """
    images, labels = (tf.zeros((2, *spec.shape[1:]), spec.dtype) for spec in batches.element_spec)
    predicted = model(images, training=False)
    model.compute_loss(images, labels, predicted, training=False)
    model.compute_metrics(images, labels, predicted)
    model.optimizer.build(model.trainable_variables)
    model.reset_metrics()


class StopWhenAsked(keras.callbacks.Callback):
    """Stop before the next call into TensorFlow (an epoch's steps, or a validation pass) once Ctrl-C or SIGTERM
    came, even where the exception raised for it was lost."""

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        raise_if_stopped()

    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        raise_if_stopped()


class FailIfDiverged(keras.callbacks.Callback):
    """Stop the run with a TrainingError at the first epoch whose training or validation loss is NaN or infinite.

    A learning rate far too large passes every check on params, yet makes the weights overflow: a model that
    answers one class for everything must not replace the last good one.
    """

    def __init__(self, learning_rate: float):
        super().__init__()
        self.learning_rate = learning_rate

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for key in ("loss", "val_loss"):
            value = float((logs or {}).get(key, 0.0))
            if not math.isfinite(value):
                raise TrainingError(
                    f"the training diverged: {key} is {value} after epoch {epoch + 1}; expected a finite number: "
                    f"lower train.learning_rate (now {self.learning_rate:g})"
                )


class LiveMetrics(keras.callbacks.Callback):
    """Write each epoch's train and validation loss and accuracy into the curves as the epoch ends, and keep the
    last: `dvc plots show` during a run, or DVC's VS Code extension, shows the curves growing."""

    def __init__(self):
        super().__init__()
        self.last: dict[str, dict[str, float]] = {}

    def on_train_begin(self, logs: dict | None = None) -> None:
        results.start_curves()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        # Keras names the validation metrics val_<metric>, and counts epochs from 0.
        self.last = {
            split: {metric: float(logs[metric if split == "train" else f"val_{metric}"]) for metric in results.METRICS}
            for split in results.TRAINING_SPLITS
        }
        results.add_epoch(epoch + 1, self.last)
