"""Each figure, drawn from tiny generated data, is a valid, non-blank PNG of a sensible size."""

import os
import sys

import numpy as np
import pytest

from mnist_dvc.report import figures
from tests.helpers.data import CLASSES
from tests.helpers.figures import assert_readable_png, fake_run, png_size

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


@pytest.mark.parametrize(("lowest", "floor"), [(0.97, 0.9), (0.9, 0.9), (0.85, 0.8), (0.6, 0.5), (0.3, 0.0)])
def test_per_class_scores_axis_is_fixed_for_runs_of_like_quality(lowest, floor):
    scores = {name: {"precision": 0.99, "recall": 0.99, "f1": 0.99} for name in CLASSES}
    scores[CLASSES[3]]["recall"] = lowest
    (ax,) = figures.per_class_scores(scores, CLASSES).axes
    assert ax.get_ylim() == (floor, 1.0)


def test_training_curves_count_epochs_from_1_in_whole_numbers():
    run = fake_run(epochs=3)
    for ax in figures.training_curves(run.history, run.test_metrics).axes:
        assert ax.lines[0].get_xdata().tolist() == [1, 2, 3]
        ticks = [tick for tick in ax.get_xticks() if 1 <= tick <= 3]
        assert ticks == [1, 2, 3]


def drawn_where(names: list[str], log) -> dict:
    """Drawings of DRAWINGS that note the process that drew them in log, one line each."""

    def drawing(name: str):
        def draw():
            with open(log, "a") as out:
                out.write(f"{name} {os.getpid()}\n")
            return DRAWINGS[name]()

        return draw

    return {name: drawing(name) for name in names}


def test_a_set_of_figures_is_drawn_in_two_processes_with_the_bytes_of_one_at_a_time(tmp_path):
    names = ["label_histogram", "prediction_pie", "per_class_scores"]
    (tmp_path / "set").mkdir()
    figures.save_pngs(drawn_where(names, tmp_path / "log"), tmp_path / "set", DPI)
    for name in names:
        figures.save_png(DRAWINGS[name](), tmp_path / f"{name}.png", DPI)
        assert (tmp_path / "set" / f"{name}.png").read_bytes() == (tmp_path / f"{name}.png").read_bytes()
    drawn_by = dict(line.split() for line in (tmp_path / "log").read_text().splitlines())
    assert drawn_by["label_histogram"] == drawn_by["per_class_scores"] == str(os.getpid())
    assert drawn_by["prediction_pie"] != str(os.getpid())


def test_a_figure_that_fails_in_the_forked_process_fails_the_set_by_name(tmp_path):
    drawings = {"first": DRAWINGS["label_histogram"], "second": lambda: 1 / 0}
    with pytest.raises(RuntimeError, match="drawing second failed"):
        figures.save_pngs(drawings, tmp_path, DPI)
    assert (tmp_path / "first.png").is_file()


def test_a_stop_in_the_forked_process_ends_it_quietly_and_fails_the_set(tmp_path, capfd):
    def stopped():
        raise SystemExit(143)

    with pytest.raises(RuntimeError, match="drawing second failed"):
        figures.save_pngs({"first": DRAWINGS["label_histogram"], "second": stopped}, tmp_path, DPI)
    assert "Traceback" not in capfd.readouterr().err


def test_off_linux_every_figure_is_drawn_in_this_process(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    figures.save_pngs(drawn_where(["label_histogram", "prediction_pie"], tmp_path / "log"), tmp_path, DPI)
    assert {line.split()[1] for line in (tmp_path / "log").read_text().splitlines()} == {str(os.getpid())}
    assert (tmp_path / "prediction_pie.png").is_file()
