import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from mnist_dvc.model.augment import noise_fields, random_affine, random_noise  # noqa: E402
from mnist_dvc.model.params import AugmentParams  # noqa: E402
from tests.helpers.data import tiny_images, tiny_labels  # noqa: E402

EVERYTHING = AugmentParams(shift=2, rotation=15, zoom=0.1, noise=0)


@pytest.fixture(scope="module")
def images():
    return tiny_images(tiny_labels(20, seed=0), seed=0)


def augmented(images, params, seed=(42, 0)):
    return random_affine(tf.constant(images), params, tf.constant(seed, tf.int64)).numpy()


def test_uint8_in_uint8_out_same_shape(images):
    result = augmented(images, EVERYTHING)
    assert result.dtype == np.uint8 and result.shape == images.shape


def test_the_same_seed_gives_the_same_images_and_another_seed_others(images):
    assert np.array_equal(augmented(images, EVERYTHING), augmented(images, EVERYTHING))
    assert not np.array_equal(augmented(images, EVERYTHING), augmented(images, EVERYTHING, seed=(42, 1)))
    assert not np.array_equal(augmented(images, EVERYTHING), augmented(images, EVERYTHING, seed=(43, 0)))


@pytest.mark.parametrize(
    "params",
    [
        AugmentParams(shift=2, rotation=0, zoom=0, noise=0),
        AugmentParams(shift=0, rotation=15, zoom=0, noise=0),
        AugmentParams(shift=0, rotation=0, zoom=0.1, noise=0),
        EVERYTHING,
    ],
)
def test_each_change_changes_every_image_by_its_own_amount(images, params):
    result = augmented(images, params)
    changed = [not np.array_equal(before, after) for before, after in zip(images, result, strict=True)]
    assert all(changed)
    differences = [np.abs(after.astype(int) - before).sum() for before, after in zip(images, result, strict=True)]
    assert len(set(differences)) > 1, "each image draws its own amounts"


def test_no_change_at_all_is_the_identity(images):
    assert np.array_equal(augmented(images, AugmentParams(shift=0, rotation=0, zoom=0, noise=0)), images)


def test_a_small_change_keeps_the_digit_in_place(images):
    """A shift of at most 1 pixel leaves each band (tests/conftest.py) where it was, give or take a row."""
    result = augmented(images, AugmentParams(shift=1, rotation=0, zoom=0, noise=0))
    for label, image in zip(tiny_labels(20, seed=0), result, strict=True):
        bright_rows = np.flatnonzero(image[:, 8:20].mean(axis=1) > 150)
        assert bright_rows.min() >= 1 + 2 * label and bright_rows.max() <= 4 + 2 * label


FIELDS = noise_fields(64, (28, 28), tf.constant((7, 0), tf.int64))


def noisy(images, limit, seed=(42, 0)):
    return random_noise(tf.constant(images), limit, tf.constant(seed, tf.int64), FIELDS).numpy()


def test_noise_is_seeded_uint8_and_nothing_at_zero(images):
    result = noisy(images, 0.2)
    assert result.dtype == np.uint8 and result.shape == images.shape
    assert np.array_equal(result, noisy(images, 0.2)) and not np.array_equal(result, noisy(images, 0.2, (42, 1)))
    assert not np.array_equal(result, images)
    assert np.array_equal(noisy(images, 0.0), images)


def test_noise_fields_are_standard_normal_and_seeded():
    fields = FIELDS.numpy()
    assert fields.shape == (64, 28, 28) and abs(fields.mean()) < 0.02 and abs(fields.std() - 1) < 0.02
    assert np.array_equal(fields, noise_fields(64, (28, 28), tf.constant((7, 0), tf.int64)).numpy())
    assert not np.array_equal(fields, noise_fields(64, (28, 28), tf.constant((7, 1), tf.int64)).numpy())


def test_each_image_gets_a_whole_field_of_its_own_strength():
    """On grey images (nothing clipped) the noise each image gets is one field times its own spread, within the
    rounding to uint8 (the spread is fitted to the rounded noise); the fields and spreads vary from image to image."""
    grey = np.full((32, 28, 28), 128, np.uint8)
    noise = noisy(grey, 0.1).astype(float) - 128
    fields = FIELDS.numpy().reshape(64, -1)
    picks, spreads = [], []
    for image in noise.reshape(32, -1):
        fits = fields @ image / (fields * fields).sum(axis=1)  # each field's best scale for this image
        pick = int(np.argmax(np.abs(fits)))
        assert np.abs(image - fits[pick] * fields[pick]).max() <= 1
        assert 0 <= fits[pick] <= 0.1 * 255
        picks.append(pick)
        spreads.append(fits[pick])
    assert len(set(picks)) > 16 and np.ptp(spreads) > 5
