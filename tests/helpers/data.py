"""Tiny generated datasets: IDX payloads a model can learn in seconds, and their datasets.yaml entries."""

import gzip
import hashlib
from pathlib import Path

import numpy as np
import yaml

from mnist_dvc.data.idx import encode_idx

CLASSES = tuple(str(digit) for digit in range(10))


def tiny_images(labels: np.ndarray, seed: int) -> np.ndarray:
    """28x28 uint8 images in which each label lights its own band, so a model can learn them."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
    for index, label in enumerate(labels):
        images[index, 2 + 2 * label : 4 + 2 * label, 4:24] = 255
    return images


def tiny_labels(count: int, seed: int) -> np.ndarray:
    """Labels that cover every class."""
    rng = np.random.default_rng(seed)
    return rng.permutation(np.arange(count) % 10).astype(np.uint8)


def write_gz(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload, mtime=0))


def dataset_entry(payloads: dict[str, bytes], mirrors: list[str] | None = None) -> dict:
    """A datasets.yaml entry pinning the given IDX payloads, keyed by role."""
    names = {
        "train_images": "train-images-idx3-ubyte.gz",
        "train_labels": "train-labels-idx1-ubyte.gz",
        "test_images": "t10k-images-idx3-ubyte.gz",
        "test_labels": "t10k-labels-idx1-ubyte.gz",
    }
    return {
        "mirrors": mirrors or [],
        "image_shape": [28, 28],
        "classes": list(CLASSES),
        "files": {
            role: {"name": names[role], "idx_sha256": hashlib.sha256(payload).hexdigest()}
            for role, payload in payloads.items()
        },
    }


def tiny_payloads(n_train: int = 200, n_test: int = 100, seed: int = 0) -> dict[str, bytes]:
    train_labels, test_labels = tiny_labels(n_train, seed), tiny_labels(n_test, seed + 1)
    return {
        "train_images": encode_idx(tiny_images(train_labels, seed)),
        "train_labels": encode_idx(train_labels),
        "test_images": encode_idx(tiny_images(test_labels, seed + 1)),
        "test_labels": encode_idx(test_labels),
    }


def install_tiny_dataset(
    root: Path,
    payloads: dict[str, bytes] | None = None,
    mirrors: list[str] | None = None,
    write_files: bool = True,
    name: str = "tiny",
) -> dict:
    """Define a dataset (default 'tiny') in root/datasets.yaml, beside any already there, and unless told not
    to write its raw files to root/data/raw/<name>/."""
    payloads = payloads or tiny_payloads()
    entry = dataset_entry(payloads, mirrors)
    definitions_file = root / "datasets.yaml"
    definitions = yaml.safe_load(definitions_file.read_text()) if definitions_file.exists() else {}
    definitions_file.write_text(yaml.safe_dump({**definitions, name: entry}, sort_keys=False))
    if write_files:
        for role, payload in payloads.items():
            write_gz(root / "data" / "raw" / name / entry["files"][role]["name"], payload)
    return entry
