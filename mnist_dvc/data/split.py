"""How prepare splits a dataset: the raw arrays checked against each other, then a stratified split."""

import numpy as np

from mnist_dvc.core.errors import DataError


def check_pair(
    images: np.ndarray, labels: np.ndarray, source: str, image_shape: tuple[int, int], n_classes: int
) -> None:
    """Check that an image array and a label array describe the same, well-formed examples."""
    if images.shape[1:] != image_shape:
        raise DataError(
            f"{source}: images are {images.shape[1]}x{images.shape[2]}; expected {image_shape[0]}x{image_shape[1]}"
        )
    if len(images) != len(labels):
        raise DataError(f"{source}: {len(images)} images but {len(labels)} labels; expected the same count")
    if len(labels) and labels.max() >= n_classes:
        raise DataError(f"{source}: label {int(labels.max())} found; expected labels 0..{n_classes - 1}")


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (sorted) of a train/validation split that keeps each class's share.

    The validation set has round(fraction * n) examples in all, shared among the
    classes by largest remainder, and each class's members are drawn at random.
    """
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quotas = fraction * counts
    sizes = np.floor(quotas).astype(int)
    shortfall = round(fraction * len(labels)) - sizes.sum()
    sizes[np.argsort(-(quotas - sizes), kind="stable")[:shortfall]] += 1
    val_parts = []
    for label, size in zip(classes, sizes, strict=True):
        members = np.flatnonzero(labels == label)
        val_parts.append(rng.choice(members, size=size, replace=False))
    val = np.sort(np.concatenate(val_parts))
    train = np.setdiff1d(np.arange(len(labels)), val, assume_unique=True)
    if not len(train) or not len(val):
        raise DataError(f"a validation fraction of {fraction} leaves an empty split of {len(labels)} examples")
    return train, val
