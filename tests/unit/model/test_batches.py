import itertools

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from mnist_dvc.core.prepared import Split  # noqa: E402
from mnist_dvc.model.batches import evaluation_batches, training_batches, validation_pairs  # noqa: E402
from mnist_dvc.model.params import AugmentParams  # noqa: E402
from tests.helpers.data import CLASSES, tiny_images, tiny_labels  # noqa: E402

AUGMENT = AugmentParams(shift=2, rotation=10, zoom=0.1, noise=0)


@pytest.fixture(scope="module")
def split():
    labels = tiny_labels(50, seed=0)
    return Split(tiny_images(labels, seed=0), labels, CLASSES)


def take(dataset, count):
    return [(images.numpy(), labels.numpy()) for images, labels in itertools.islice(dataset, count)]


def test_every_epoch_visits_every_example_once_in_its_own_order(split):
    batches = take(training_batches(split, 20, seed=1), 6)  # two epochs of 20, 20 and 10
    assert [len(labels) for _, labels in batches] == [20, 20, 10] * 2
    for epoch in (batches[:3], batches[3:]):
        images = np.concatenate([images for images, _ in epoch])
        assert sorted(map(bytes, images)) == sorted(map(bytes, split.images))
    assert not np.array_equal(batches[0][1], batches[3][1])


def test_augmentation_is_a_pure_function_of_the_seed(split):
    first = take(training_batches(split, 20, seed=1, augment=AUGMENT), 6)
    second = take(training_batches(split, 20, seed=1, augment=AUGMENT), 6)
    other_seed = take(training_batches(split, 20, seed=2, augment=AUGMENT), 6)
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(first, second, strict=True))
    assert not np.array_equal(first[0][0], other_seed[0][0])


def test_augmentation_changes_the_images_but_not_the_order_or_labels(split):
    plain = take(training_batches(split, 20, seed=1), 6)
    augmented = take(training_batches(split, 20, seed=1, augment=AUGMENT), 6)
    for (plain_images, plain_labels), (new_images, new_labels) in zip(plain, augmented, strict=True):
        assert new_images.dtype == np.uint8 and new_images.shape == plain_images.shape
        assert np.array_equal(plain_labels, new_labels)
        assert all(not np.array_equal(a, b) for a, b in zip(plain_images, new_images, strict=True))


def test_an_example_is_changed_differently_in_each_epoch(split):
    """Each epoch holds every example once; no image comes out the same in both."""
    (first_images, _), (second_images, _) = take(training_batches(split, 50, seed=1, augment=AUGMENT), 2)
    assert not set(map(bytes, first_images)) & set(map(bytes, second_images))


def test_noise_is_a_pure_function_of_the_seed_and_leaves_the_moves_as_they_are(split):
    with_noise = AugmentParams(shift=2, rotation=10, zoom=0.1, noise=0.1)
    moved = take(training_batches(split, 20, seed=1, augment=AUGMENT), 3)
    noisy = take(training_batches(split, 20, seed=1, augment=with_noise), 3)
    again = take(training_batches(split, 20, seed=1, augment=with_noise), 3)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(noisy, again, strict=True))
    assert not np.array_equal(noisy[0][0], take(training_batches(split, 20, seed=2, augment=with_noise), 1)[0][0])
    differences = np.concatenate([b[0].astype(int) - a[0] for a, b in zip(moved, noisy, strict=True)])
    assert differences.any() and np.abs(differences).max() <= 0.1 * 255 * 6, "the moved images, with noise on them"


def test_augmentation_off_is_the_plain_pipeline(split):
    plain = take(training_batches(split, 20, seed=1), 3)
    off = take(training_batches(split, 20, seed=1, augment=AugmentParams(shift=0, rotation=0, zoom=0, noise=0)), 3)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(plain, off, strict=True))


@pytest.mark.parametrize("batch_size", [20, 25, 64])
def test_evaluation_batches_are_the_split_in_order_never_augmented(split, batch_size):
    """50 images: a last batch of 10, none short, one batch of them all."""
    batches = take(evaluation_batches(split, batch_size), 10)
    assert [len(labels) for _, labels in batches] == [min(batch_size, 50 - start) for start in range(0, 50, batch_size)]
    assert np.array_equal(np.concatenate([images for images, _ in batches]), split.images)
    assert np.array_equal(np.concatenate([labels for _, labels in batches]), split.labels)


@pytest.mark.parametrize("one_hot_classes", [None, 10])
@pytest.mark.parametrize(
    ("batch_size", "expected_pairs"),
    [(20, [(0, 1, True), (2, 2, False)]), (25, [(0, 1, True)]), (10, [(0, 1, True), (2, 3, True), (4, 4, False)])],
)
def test_validation_pairs_are_the_evaluation_batches_two_at_a_time_an_odd_last_one_with_a_copy_that_does_not_count(
    split, one_hot_classes, batch_size, expected_pairs
):
    """50 images in batches of 20: the batches 0-20 and 20-40, then 40-50 with a copy of itself; in batches of 25,
    one pair; in batches of 10, two pairs and the last batch with a copy of itself."""
    pairs = [
        tuple((images.numpy(), labels.numpy()) for images, labels in (first, second)) + (bool(counts),)
        for first, second, counts in validation_pairs(split, batch_size, one_hot_classes)
    ]
    batches = take(evaluation_batches(split, batch_size, one_hot_classes), 10)
    assert [counts for *_, counts in pairs] == [counts for *_, counts in expected_pairs]
    for (first, second, _), (first_index, second_index, _) in zip(pairs, expected_pairs, strict=True):
        for (images, labels), (expected_images, expected_labels) in zip(
            (first, second), (batches[first_index], batches[second_index]), strict=True
        ):
            assert np.array_equal(images, expected_images) and np.array_equal(labels, expected_labels)


def test_one_hot_labels_for_label_smoothing(split):
    (images, labels), *_ = take(training_batches(split, 20, seed=1, one_hot_classes=10), 1)
    (plain_images, plain_labels), *_ = take(training_batches(split, 20, seed=1), 1)
    assert np.array_equal(images, plain_images)
    assert labels.shape == (20, 10) and np.array_equal(labels.argmax(axis=1), plain_labels)
    assert np.array_equal(labels.sum(axis=1), np.ones(20))
    (_, validation_labels), *_ = take(evaluation_batches(split, 20, one_hot_classes=10), 1)
    assert np.array_equal(validation_labels.argmax(axis=1), split.labels[:20])
