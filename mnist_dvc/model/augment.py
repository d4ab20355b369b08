"""Data augmentation: random shifts, rotations and zoom of uint8 image batches, and noise, a pure function of a seed.

Images go in and come out as uint8, so that the model's own scaling layer (network.py) stays
the one place where pixels become numbers; which batches are augmented is decided in batches.py.
"""

import math

import tensorflow as tf

from mnist_dvc.model.params import AugmentParams


def random_affine(images: tf.Tensor, params: AugmentParams, seed: tf.Tensor) -> tf.Tensor:
    """Each image of a (batch, height, width) uint8 batch rotated, zoomed and shifted by its own random amounts.

    Every amount is drawn uniformly within params' limits by stateless random ops from seed (two
    integers), so the same seed gives the same images on any run. Each image turns and scales about
    its centre, is shifted, and is resampled bilinearly; what comes in from outside the image is 0,
    the background of MNIST.
    """
    count = tf.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    draws = tf.random.experimental.stateless_split(seed, 4)

    def uniform(draw: int, limit: float) -> tf.Tensor:
        return tf.random.stateless_uniform([count], draws[draw], -limit, limit)

    angle = uniform(0, math.radians(params.rotation))
    scale = 1.0 + uniform(1, params.zoom)
    shift_x, shift_y = uniform(2, params.shift), uniform(3, params.shift)
    # The transform maps each output pixel to where it is read in the input: the inverse of
    # "rotate and scale about the centre, then shift".
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
    from_x, from_y = centre_x + shift_x, centre_y + shift_y
    zeros = tf.zeros_like(angle)
    transforms = tf.stack(
        [
            cos,
            -sin,
            centre_x - cos * from_x + sin * from_y,
            sin,
            cos,
            centre_y - sin * from_x - cos * from_y,
            zeros,
            zeros,
        ],
        axis=1,
    )
    moved = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(images, tf.float32)[..., tf.newaxis],
        transforms=transforms,
        output_shape=tf.constant([height, width]),
        fill_value=tf.constant(0.0),
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )[..., 0]
    return tf.cast(tf.clip_by_value(tf.round(moved), 0.0, 255.0), tf.uint8)


def noise_fields(count: int, shape: tuple[int, ...], seed: tf.Tensor) -> tf.Tensor:
    """count fields of standard normal noise of the images' shape, drawn once from seed, for random_noise to pick from.

    Drawing a batch's normal noise afresh took 3 ms of each step's 23 to 30 ms on two cores, as much as the rest of
    the input pipeline; picking fields drawn once costs a tenth of that.
    """
    return tf.random.stateless_normal([count, *shape], seed)


def random_noise(images: tf.Tensor, limit: float, seed: tf.Tensor, fields: tf.Tensor) -> tf.Tensor:
    """Each image of a uint8 batch with Gaussian noise added: one of the standard normal fields (noise_fields), drawn
    for that image, times a standard deviation drawn uniformly from 0 to limit (a fraction of white, 255), rounded back
    to uint8; clean and noisy images in every batch."""
    draws = tf.random.experimental.stateless_split(seed, 2)
    count = tf.shape(images)[0]
    spread = tf.random.stateless_uniform([count, 1, 1], draws[0], 0.0, limit * 255.0)
    picks = tf.random.stateless_uniform([count], draws[1], 0, fields.shape[0], dtype=tf.int32)
    noise = tf.gather(fields, picks) * spread
    return tf.cast(tf.clip_by_value(tf.round(tf.cast(images, tf.float32) + noise), 0.0, 255.0), tf.uint8)
