import numpy as np
import pytest

from mnist_dvc.core.errors import DataError
from mnist_dvc.core.prepared import Split, read_split, write_splits
from mnist_dvc.data.split import check_pair, stratified_split
from tests.helpers.data import CLASSES, tiny_images, tiny_labels


def test_split_sizes_and_disjointness():
    labels = tiny_labels(1000, seed=0)
    train, val = stratified_split(labels, 0.2, seed=1)
    assert (len(train), len(val)) == (800, 200)
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(1000))


def test_split_keeps_each_class_share():
    rng = np.random.default_rng(0)
    labels = rng.choice(10, size=6000, p=np.linspace(1, 3, 10) / np.linspace(1, 3, 10).sum()).astype(np.uint8)
    _, val = stratified_split(labels, 0.2, seed=3)
    for label in range(10):
        share = np.mean(labels[val] == label)
        assert share == pytest.approx(np.mean(labels == label), abs=1 / len(val))


def test_split_total_is_exact_when_classes_round_unevenly():
    labels = np.repeat(np.arange(10, dtype=np.uint8), 7)  # 0.2 * 7 = 1.4 per class
    _, val = stratified_split(labels, 0.2, seed=0)
    assert len(val) == 14


def test_split_is_deterministic_in_the_seed():
    labels = tiny_labels(500, seed=0)
    assert np.array_equal(stratified_split(labels, 0.2, 7)[1], stratified_split(labels, 0.2, 7)[1])
    assert not np.array_equal(stratified_split(labels, 0.2, 7)[1], stratified_split(labels, 0.2, 8)[1])


def test_split_that_would_be_empty_is_refused():
    with pytest.raises(DataError, match="leaves an empty split"):
        stratified_split(np.zeros(2, dtype=np.uint8), 0.1, seed=0)


def test_check_pair_rejects_disagreeing_counts_sizes_and_labels():
    labels = tiny_labels(10, 0)
    images = tiny_images(labels, 0)
    check_pair(images, labels, "x", (28, 28), 10)
    with pytest.raises(DataError, match="10 images but 9 labels"):
        check_pair(images, labels[:9], "x", (28, 28), 10)
    with pytest.raises(DataError, match="images are 28x27; expected 28x28"):
        check_pair(images[:, :, :27], labels, "x", (28, 28), 10)
    with pytest.raises(DataError, match="label 9 found; expected labels 0..4"):
        check_pair(images, labels, "x", (28, 28), 5)


def test_split_round_trip_is_uint8_and_byte_stable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    labels = tiny_labels(30, 0)
    split = Split(tiny_images(labels, 0), labels, CLASSES)
    write_splits({"train": split})
    first = (tmp_path / "data/prepared/train.npz").read_bytes()
    write_splits({"train": split})
    assert (tmp_path / "data/prepared/train.npz").read_bytes() == first
    loaded = read_split("train")
    assert loaded.images.dtype == np.uint8 and loaded.labels.dtype == np.uint8
    assert np.array_equal(loaded.images, split.images) and loaded.classes == split.classes
