"""Each figure, drawn from tiny generated data, is a valid, non-blank PNG of a sensible size."""

import struct
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from stages import figures
from tests.conftest import CLASSES
from tests.visualize_fixtures import fake_run

RUN = fake_run()
DPI = 60
DRAWINGS = {
    "sample_grid": lambda: figures.sample_grid(RUN.train_images, RUN.train_labels, CLASSES, 36, seed=42),
    "confusion_heatmap": lambda: figures.confusion_heatmap(RUN.actual, RUN.predicted, CLASSES),
    "training_curves": lambda: figures.training_curves(RUN.history, RUN.test_metrics),
    "label_histogram": lambda: figures.label_histogram(RUN.actual, CLASSES),
    "prediction_pie": lambda: figures.prediction_pie(RUN.predicted, CLASSES),
    "probability_density": lambda: figures.probability_density(RUN.probabilities, RUN.actual, 7, CLASSES),
    "mistake_gallery": lambda: figures.mistake_gallery(
        RUN.test_images, RUN.actual, RUN.predicted, RUN.probabilities, CLASSES, 25
    ),
    "per_class_scores": lambda: figures.per_class_scores(RUN.per_class, CLASSES),
}


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


@pytest.mark.parametrize("name", DRAWINGS)
def test_figure_is_a_readable_png(name, tmp_path):
    path = tmp_path / f"{name}.png"
    figures.save_png(DRAWINGS[name](), path, DPI)
    assert_readable_png(path)
    assert not list(tmp_path.glob(".*.tmp*")), "a temporary file was left behind"


def test_same_figure_gives_same_bytes(tmp_path):
    """No timestamp or version in the PNG: rerunning the stage does not change its outputs for nothing."""
    for name in ("first.png", "second.png"):
        figures.save_png(DRAWINGS["label_histogram"](), tmp_path / name, DPI)
    assert (tmp_path / "first.png").read_bytes() == (tmp_path / "second.png").read_bytes()


def test_sample_grid_follows_the_seed(tmp_path):
    def draw(seed: int, name: str) -> bytes:
        figures.save_png(
            figures.sample_grid(RUN.train_images, RUN.train_labels, CLASSES, 9, seed), tmp_path / name, DPI
        )
        return (tmp_path / name).read_bytes()

    assert draw(1, "a.png") == draw(1, "b.png")
    assert draw(1, "a.png") != draw(2, "c.png")


def test_figures_cope_with_degenerate_predictions(tmp_path):
    """All predictions right, one class never predicted, one image of the density's digit: still valid figures."""
    actual = np.array([0, 1, 1, 2, 2, 7])
    probabilities = np.eye(10)[actual] * 0.9 + 0.05
    drawings = {
        "gallery": figures.mistake_gallery(RUN.test_images[:6], actual, actual, probabilities, CLASSES, 5),
        "pie": figures.prediction_pie(actual, CLASSES),
        "density": figures.probability_density(probabilities, actual, 7, CLASSES),
    }
    for name, figure in drawings.items():
        figures.save_png(figure, tmp_path / f"{name}.png", DPI)
        width, height = png_size(tmp_path / f"{name}.png")
        assert width > 100 and height > 100


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    matrix = figures._confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1]), 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]


def test_mistake_gallery_shows_the_most_confident_mistakes_first():
    actual = np.array([0, 1, 2, 3])
    predicted = np.array([1, 1, 0, 0])
    probabilities = np.zeros((4, 10))
    probabilities[[0, 2, 3], [1, 0, 0]] = [0.7, 0.9, 0.8]
    figure = figures.mistake_gallery(RUN.test_images[:4], actual, predicted, probabilities, CLASSES, 2)
    captions = [text.get_text() for text in figure.axes[0].texts]
    assert captions == ["true 2\npred. 0\np = 0.900", "true 3\npred. 0\np = 0.800"]
