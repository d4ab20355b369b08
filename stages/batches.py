"""How the prepared splits reach the network: batches made in TensorFlow, the same way for training and scoring.

A new input pipeline (augmentation, another source) goes here; the network is in stages/network.py.
"""

import numpy as np
import tensorflow as tf

from stages.data import Split


def hold(array: np.ndarray) -> tf.Variable:
    """An array held once in TensorFlow's memory, for the input pipelines below to read from.

    A variable rather than a constant: with op determinism on, tf.data copies every
    tensor that a pipeline captures each time an iterator is made (Keras makes one per
    epoch for validation), while a variable is captured by reference and never copied.
    """
    return tf.Variable(array, trainable=False)


def training_batches(split: Split, batch_size: int, seed: int) -> tf.data.Dataset:
    """Shuffled batches, epoch after epoch without end; each epoch visits every example once.

    The images stay uint8, a quarter of the memory of float32: the model scales them
    itself (stages/network.py). Epoch e visits the examples in a permutation drawn from
    (seed, e) alone, so training is a pure function of the seed. The next batch is made
    while the model trains on the current one.
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
        return tf.gather(images.value(), indices), tf.gather(labels.value(), indices)

    return _as_written(tf.data.Dataset.counter().flat_map(epoch_batches).map(gather).prefetch(1))


def evaluation_batches(split: Split, batch_size: int) -> tf.data.Dataset:
    """The split's batches in order."""
    images, labels = hold(split.images), hold(split.labels)

    def batch(start: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        end = start + batch_size
        return images.value()[start:end], labels.value()[start:end]

    return _as_written(tf.data.Dataset.range(0, len(split.labels), batch_size).map(batch).prefetch(1))


def _as_written(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Run a pipeline as written: no graph rewrites, and no autotuning thread, which has
    nothing to tune here and can hold up the end of fit() by a second while it winds down."""
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    return dataset.with_options(options)
