"""The prepared splits, as prepare writes them and every later stage reads them: uint8 images, their labels
and the class names, one .npz file per split."""

from dataclasses import dataclass

import numpy as np

from mnist_dvc.core import paths
from mnist_dvc.core.files import atomic_dir, read_arrays, write_arrays


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # uint8, (n, height, width)
    labels: np.ndarray  # uint8, (n,)
    classes: tuple[str, ...]


def write_splits(splits: dict[str, Split]) -> None:
    """Write every split into a fresh directory that replaces the old one whole,
    so that an interrupted run never leaves a mix of old and new splits."""
    with atomic_dir(paths.PREPARED_DIR) as directory:
        for name, split in splits.items():
            arrays = {"images": split.images, "labels": split.labels, "classes": np.array(split.classes)}
            write_arrays(directory / paths.prepared_split(name).name, arrays)


def read_split(name: str) -> Split:
    arrays = read_arrays(paths.prepared_split(name), ("images", "labels", "classes"))
    return Split(arrays["images"], arrays["labels"], tuple(str(c) for c in arrays["classes"]))
