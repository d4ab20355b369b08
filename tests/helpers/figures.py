"""Tiny generated stand-ins for what the visualize stage reads, and throwaway DVC projects to run it in.

Shared by the figure, stage and report tests; everything is small enough to draw in well under a second.
"""

import struct
from dataclasses import dataclass
from pathlib import Path

import matplotlib.image
import numpy as np

from mnist_dvc.core import paths, results
from mnist_dvc.core.files import write_arrays, write_text
from tests.helpers.data import CLASSES
from tests.helpers.project import make_project


@dataclass(frozen=True)
class FakeRun:
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    actual: np.ndarray
    predicted: np.ndarray
    probabilities: np.ndarray
    history: dict[str, dict[str, np.ndarray]]
    test_metrics: dict[str, float]
    per_class: dict[str, dict[str, float]]


def fake_images(n: int, rng: np.random.Generator) -> np.ndarray:
    """Noisy bright squares on a dark ground: images that are not blank, drawn in no time."""
    images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
    corners = rng.integers(2, 14, size=(n, 2))
    for image, (top, left) in zip(images, corners, strict=True):
        image[top : top + 12, left : left + 12] = 255
    return images


def fake_run(n_train: int = 200, n_test: int = 120, epochs: int = 5, seed: int = 0) -> FakeRun:
    """Every input of the visualize stage for a made-up run: about 80% of the predictions right, all classes seen."""
    rng = np.random.default_rng(seed)
    n_classes = len(CLASSES)
    actual = rng.permutation(np.arange(n_test) % n_classes)
    predicted = np.where(rng.random(n_test) < 0.8, actual, rng.integers(0, n_classes, n_test))
    probabilities = rng.uniform(0.0, 0.4, size=(n_test, n_classes))
    probabilities[np.arange(n_test), predicted] = rng.uniform(0.6, 1.0, n_test)
    counted = np.arange(1, epochs + 1, dtype=float)
    history = {
        split: {
            "loss": np.column_stack([counted, 2.0 / counted + offset]),
            "accuracy": np.column_stack([counted, 0.9 - 0.5 / counted - offset]),
        }
        for split, offset in (("train", 0.0), ("val", 0.05))
    }
    per_class = {
        name: {"precision": 0.8 + 0.01 * k, "recall": 0.85 - 0.01 * k, "f1": 0.82} for k, name in enumerate(CLASSES)
    }
    return FakeRun(
        train_images=fake_images(n_train, rng),
        train_labels=(np.arange(n_train) % n_classes).astype(np.uint8),
        test_images=fake_images(n_test, rng),
        actual=actual.astype(np.uint8),
        predicted=predicted,
        probabilities=probabilities,
        history=history,
        test_metrics={"loss": 0.7, "accuracy": 0.8},
        per_class=per_class,
    )


def predictions_csv(run: FakeRun) -> str:
    header = ",".join(["actual", "predicted", *(f"p{k}" for k in range(len(CLASSES)))])
    rows = (
        ",".join([str(a), str(p), *(f"{value:.6f}" for value in row)])
        for a, p, row in zip(run.actual, run.predicted, run.probabilities, strict=True)
    )
    return "\n".join([header, *rows]) + "\n"


def write_inputs(root: Path, run: FakeRun) -> None:
    """Write the files that prepare, train and evaluate would have left under root."""
    classes = np.array(CLASSES)
    write_arrays(
        root / paths.prepared_split("train"),
        {"images": run.train_images, "labels": run.train_labels, "classes": classes},
    )
    write_arrays(
        root / paths.prepared_split("test"), {"images": run.test_images, "labels": run.actual, "classes": classes}
    )
    write_text(root / paths.PREDICTIONS, predictions_csv(run))
    for metric in results.METRICS:
        train, val = (run.history[split][metric] for split in results.TRAINING_SPLITS)
        lines = [
            "\t".join(results.CURVE_COLUMNS),
            *(f"{int(e)}\t{t}\t{v}" for (e, t), (_, v) in zip(train, val, strict=True)),
        ]
        write_text(root / results.curve_file(metric), "\n".join(lines) + "\n")
    results.write_test_metrics(root / paths.TEST_METRICS, **run.test_metrics)
    scores = {score: [run.per_class[name][score] for name in CLASSES] for score in results.SCORES}
    results.write_per_class(root / paths.PER_CLASS_METRICS, CLASSES, scores, np.bincount(run.actual, minlength=10))


def visualize_project(root: Path, run: FakeRun) -> Path:
    """A committed copy of the project (see conftest.make_project) holding made-up inputs of the visualize stage.

    Nothing upstream of visualize runs: its inputs are written as prepare, train and evaluate would leave them.
    """
    make_project(root)
    write_inputs(root, run)
    return root


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG header, which must be a PNG's."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def assert_readable_png(path: Path) -> None:
    width, height = png_size(path)
    assert 250 <= width <= 3000 and 100 <= height <= 3000, f"{path.name} is {width}x{height} pixels"
    pixels = matplotlib.image.imread(path)[..., :3]
    background = pixels[0, 0]
    drawn = np.any(np.abs(pixels - background) > 0.1, axis=-1).mean()
    assert drawn > 0.02, f"{path.name}: only {drawn:.1%} of the pixels differ from the background"
