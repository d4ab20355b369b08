"""How the prepared splits reach the network: batches made in TensorFlow for training and scoring, images uint8.

A new input pipeline (another source, another recipe) goes here; the network is in network.py,
the augmentation itself in augment.py.
"""

import math

import numpy as np
import tensorflow as tf

from mnist_dvc.core.prepared import Split
from mnist_dvc.model.augment import noise_fields, random_affine, random_noise
from mnist_dvc.model.params import AugmentParams

# Folded with the seed into every augmentation seed, so that augmentation never draws from the
# very (seed, epoch) pairs that order the examples.
AUGMENT_STREAM = 1
# Folded into a batch's augmentation seed for its noise, so that noise leaves the draws of the moves as they are.
NOISE_STREAM = 1
# The noise fields that batches pick from (augment.py), drawn once from a stream of their own.
NOISE_FIELDS = 4096
NOISE_FIELDS_STREAM = 2


def hold(array: np.ndarray) -> tf.Variable:
    """An array held once in TensorFlow's memory, for the input pipelines below to read from.

    A variable rather than a constant: with op determinism on, tf.data copies every
    tensor that a pipeline's functions capture each time an iterator is made, while a
    variable is captured by reference and never copied.
    """
    return tf.Variable(array, trainable=False)


def training_batches(
    split: Split,
    batch_size: int,
    seed: int,
    augment: AugmentParams | None = None,
    one_hot_classes: int | None = None,
) -> tf.data.Dataset:
    """Shuffled batches, epoch after epoch without end; each epoch visits every example once.

    The images stay uint8, a quarter of the memory of float32: the model scales them
    itself (network.py). Epoch e visits the examples in a permutation drawn from
    (seed, e) alone, so training is a pure function of the seed. With augment enabled,
    the n-th batch since the start is changed by random draws from (seed, n) alone, and
    noise fields drawn once from the seed, the same on every run; n counts epochs and the
    batches within them. With one_hot_classes, labels come one-hot, for a loss that
    smooths them. The next batch is made while the model trains on the current one.
    """
    images, labels = hold(split.images), hold(split.labels)
    count = len(split.labels)
    if augment is not None and augment.noise:
        fields_seed = tf.random.experimental.stateless_fold_in(tf.constant([seed, NOISE_FIELDS_STREAM], tf.int64), 0)
        fields = hold(noise_fields(NOISE_FIELDS, split.images.shape[1:], fields_seed))

    def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
        seed_pair = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), seed=seed_pair)
        return tf.data.Dataset.range(0, count, batch_size).map(lambda start: order[start : start + batch_size])

    def gather(indices: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        # Gather from the variables' values: a gather from the variable itself would
        # switch it to copy-on-read and copy the whole array once.
        return tf.gather(images.value(), indices), _labels(tf.gather(labels.value(), indices), one_hot_classes)

    def augmented(step: tf.Tensor, batch: tuple[tf.Tensor, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        stream = tf.constant([seed, AUGMENT_STREAM], tf.int64)
        batch_seed = tf.random.experimental.stateless_fold_in(stream, step)
        images = random_affine(batch[0], augment, batch_seed) if augment.moves else batch[0]
        if augment.noise:
            noise_seed = tf.random.experimental.stateless_fold_in(batch_seed, NOISE_STREAM)
            images = random_noise(images, augment.noise, noise_seed, fields.value())
        return images, batch[1]

    batches = tf.data.Dataset.counter().flat_map(epoch_batches).map(gather)
    if augment is not None and augment.enabled:
        batches = batches.enumerate().map(augmented)
    return _as_written(batches.prefetch(1))


def evaluation_batches(split: Split, batch_size: int, one_hot_classes: int | None = None) -> tf.data.Dataset:
    """The split's batches in order, never augmented; labels one-hot with one_hot_classes, as in training_batches."""
    return _as_written(_in_batches(split, batch_size, one_hot_classes).prefetch(1))


def validation_pairs(split: Split, batch_size: int, one_hot_classes: int | None = None) -> tf.data.Dataset:
    """evaluation_batches() two at a time, for a validation step that scores both at once (training.py): each element
    is (first batch, second batch, whether the second counts). An odd last batch comes with a copy of itself that
    does not count, so that every element has the same structure."""
    batches = _in_batches(split, batch_size, one_hot_classes)
    count = math.ceil(len(split.labels) / batch_size)
    seconds = batches.shard(2, 1)
    if count % 2:
        seconds = seconds.concatenate(batches.skip(count - 1))
    # The second batches are the 2nd, 4th...: each counts if the split has that many.
    counts = tf.data.Dataset.from_tensor_slices(np.arange(2, count + 2, 2) <= count)
    return _as_written(tf.data.Dataset.zip(batches.shard(2, 0), seconds, counts).prefetch(1))


def _in_batches(split: Split, batch_size: int, one_hot_classes: int | None) -> tf.data.Dataset:
    """The split's batches in order, cut once as the pipeline is made, so that an iterator over them runs no function
    of its own: Keras makes two iterators each time it validates, and one over slices that a function cut took about
    5 ms to make, against 0.3 ms."""
    images, labels = split.images, _labels(tf.constant(split.labels), one_hot_classes)
    whole = len(split.labels) // batch_size * batch_size

    def stacked(rows: np.ndarray | tf.Tensor) -> tf.Tensor:
        return tf.reshape(rows[:whole], (whole // batch_size, batch_size, *rows.shape[1:]))

    batches = tf.data.Dataset.from_tensor_slices((stacked(images), stacked(labels)))
    if whole < len(split.labels):
        batches = batches.concatenate(tf.data.Dataset.from_tensors((images[whole:], labels[whole:])))
    return batches


def _labels(labels: tf.Tensor, one_hot_classes: int | None) -> tf.Tensor:
    """The labels as they are, or one-hot over one_hot_classes classes."""
    return labels if one_hot_classes is None else tf.one_hot(labels, one_hot_classes)


def _as_written(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Run a pipeline as written: no graph rewrites, and no autotuning thread, which has
    nothing to tune here and can hold up the end of fit() by a second while it winds down."""
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    return dataset.with_options(options)
