"""The changed test images of evaluate's robustness metrics: the same images every time, each variant changed."""

import numpy as np
import pytest

from mnist_dvc.model.variants import SAMPLE, VARIANTS, sample, variants
from tests.helpers.data import tiny_images, tiny_labels


@pytest.fixture(scope="module")
def images():
    return tiny_images(tiny_labels(12, seed=0), seed=0)


def test_every_variant_is_uint8_of_the_same_shape_and_changes_the_images(images):
    made = variants(images)
    assert list(made) == ["original", *VARIANTS]
    assert made["original"] is images
    for name, changed in made.items():
        assert changed.dtype == np.uint8 and changed.shape == images.shape, name
        assert name == "original" or not np.array_equal(changed, images), name


def test_the_variants_are_the_same_every_time(images):
    first, second = variants(images), variants(images)
    assert all(np.array_equal(first[name], second[name]) for name in first)


def test_thicker_strokes_are_brighter_and_thinner_ones_darker(images):
    made = variants(images)
    assert made["thicker"].sum() > images.sum() > made["thinner"].sum()


def test_the_sample_is_fixed_sorted_and_at_most_sample_images():
    assert np.array_equal(sample(5000), sample(5000)) and len(sample(5000)) == SAMPLE
    assert np.all(np.diff(sample(5000)) > 0)
    assert np.array_equal(sample(10), np.arange(10))
