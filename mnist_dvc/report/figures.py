"""The report's figures: one function per figure, each returning a matplotlib Figure, and save_png to write one,
save_pngs to write a set of them.

Figures are drawn on the Agg canvas directly, never through pyplot, so no GUI backend or global figure state
is involved. They share one seaborn style and palette, so that the set reads as one report.
"""

import functools
import math
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from mnist_dvc.core.files import atomic_path
from mnist_dvc.core.results import METRICS, TEST_SPLIT, TRAINING_SPLITS

STYLE = {
    **sns.axes_style("whitegrid"),
    **sns.plotting_context("notebook"),
    "axes.titlesize": "large",
    "axes.titleweight": "bold",
    "figure.titlesize": "x-large",
    "figure.titleweight": "bold",
}
PALETTE = sns.color_palette("colorblind")
SPLIT_COLORS = {split: PALETTE[k] for k, split in enumerate((*TRAINING_SPLITS, TEST_SPLIT))}
SPLIT_NAMES = dict(zip(TRAINING_SPLITS, ("training", "validation"), strict=True))
SCORE_NAMES = {"precision": "Precision", "recall": "Recall", "f1": "F1"}
# The score axis starts at the highest of these below the lowest score, so that runs of like quality, side by
# side in `dvc plots diff`, share one axis; the F1 chart of dvc plots show (.dvc/plots/) uses the same floors.
SCORE_AXIS_FLOORS = (0.9, 0.8, 0.5, 0.0)


def _styled(function: Callable) -> Callable:
    """Run under the shared style: matplotlib reads most rcParams when an artist is created, some when drawn."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(STYLE):
            return function(*args, **kwargs)

    return wrapper


def _new_figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    figure = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(figure)
    return figure


@_styled
def save_png(figure: Figure, path: Path, dpi: int) -> None:
    """Write a figure as a PNG, atomically and without a Software tag: the same figure always gives the same bytes."""
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png", dpi=dpi, metadata={"Software": None})


def save_pngs(drawings: Mapping[str, Callable[[], Figure]], directory: Path, dpi: int) -> None:
    """Draw each figure and write it as directory/<name>.png, freeing it before the next: on Linux every other one in a
    copy of this process forked for them, on another core. The same bytes in about half the time: drawing a figure is
    Python, which one process runs on one core at a time. (Elsewhere, forking a process that has loaded the system's
    libraries is not safe: macOS's Python no longer does it by default.)"""
    names = list(drawings)

    def save(own: list[str]) -> None:
        for name in own:
            save_png(drawings[name](), directory / f"{name}.png", dpi)

    if sys.platform != "linux" or len(names) < 2:
        save(names)
        return
    forked = names[1::2]
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:
        _run_forked(lambda: save(forked))
    try:
        save(names[0::2])
    finally:
        _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"drawing {', '.join(forked)} failed, in a process of its own: its error is above")


def _run_forked(work: Callable[[], None]) -> None:
    """In a forked child: do the work and leave at once, never returning into the parent's code (its with-blocks and
    exit handlers are the parent's to run)."""
    code = 0
    try:
        work()
    except KeyboardInterrupt:  # Ctrl-C reaches both processes: the parent reports it
        code = 130
    except SystemExit as stop:  # SIGTERM sent to both (core/signals.py): the parent reports it too
        code = stop.code if isinstance(stop.code, int) and stop.code else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _image_grid(
    images: np.ndarray, captions: Sequence[str], title: str, caption_size: float, cell_width: float
) -> Figure:
    """Images in a near-square grid, each with a caption above it.

    The images are tiled into one mosaic drawn by a single imshow, with the captions as text on
    it: a hundred separate axes would take seconds to draw and save.
    """
    columns = math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / columns)
    lines = max(caption.count("\n") for caption in captions) + 1
    height_px, width_px = images.shape[1:]
    pad = max(width_px // 7, 1)
    # The caption band, in pixels of the mosaic: its height in inches at this cell width.
    pixels_per_inch = (width_px + 2 * pad) / cell_width
    caption_px = math.ceil(lines * caption_size * 1.3 / 72 * pixels_per_inch) + pad
    cell_w, cell_h = width_px + 2 * pad, height_px + caption_px + pad
    mosaic = np.zeros((rows * cell_h, columns * cell_w), dtype=images.dtype)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = row * cell_h + caption_px, column * cell_w + pad
        mosaic[top : top + height_px, left : left + width_px] = image

    title_height = 0.7
    grid_width = columns * cell_width
    grid_height = grid_width * mosaic.shape[0] / mosaic.shape[1]
    width, height = max(grid_width + 0.2, 6.0), grid_height + title_height + 0.1
    figure = _new_figure(width, height, layout=None)
    ax = figure.add_axes(((width - grid_width) / 2 / width, 0.05 / height, grid_width / width, grid_height / height))
    ax.imshow(mosaic, cmap="gray_r", vmin=0, vmax=255, interpolation="nearest")
    ax.set_axis_off()
    for index, caption in enumerate(captions):
        row, column = divmod(index, columns)
        x, y = column * cell_w + cell_w / 2, row * cell_h + caption_px - pad / 2
        ax.text(x, y, caption, ha="center", va="bottom", fontsize=caption_size)
    figure.suptitle(title, y=1 - title_height / 2 / height, va="center")
    return figure


@_styled
def sample_grid(images: np.ndarray, labels: np.ndarray, classes: Sequence[str], count: int, seed: int) -> Figure:
    """A seeded random sample of images with their labels: a first look at what the model learns from."""
    picks = np.random.default_rng(seed).choice(len(images), size=min(count, len(images)), replace=False)
    return _image_grid(
        images[picks],
        [classes[label] for label in labels[picks]],
        f"{len(picks)} random training images and their labels",
        caption_size=11,
        cell_width=1.0,
    )


def _confusion_matrix(actual: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts of (true, predicted) pairs: rows are true labels, columns predicted ones."""
    pairs = actual.astype(np.int64) * n_classes + predicted
    return np.bincount(pairs, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


@_styled
def confusion_heatmap(actual: np.ndarray, predicted: np.ndarray, classes: Sequence[str]) -> Figure:
    """Which labels the model confuses, as counts; the diagonal holds the correct predictions."""
    matrix = _confusion_matrix(actual, predicted, len(classes))
    figure = _new_figure(9, 7.5)
    ax = figure.subplots()
    sns.heatmap(
        matrix,
        annot=True,
        fmt="d",
        cmap="Blues",
        square=True,
        linewidths=0.5,
        xticklabels=classes,
        yticklabels=classes,
        cbar_kws={"label": "Test images"},
        ax=ax,
    )
    ax.tick_params(axis="y", labelrotation=0)
    if max(len(name) for name in classes) > 3:
        # Names wider than a cell ("Ankle boot") would run into each other: slant them.
        ax.tick_params(axis="x", labelrotation=35)
        for label in ax.get_xticklabels():
            label.set(horizontalalignment="right", rotation_mode="anchor")
    accuracy = np.trace(matrix) / max(len(actual), 1)
    ax.set(
        xlabel="Predicted label",
        ylabel="True label",
        title=f"Confusion matrix on the test set: {accuracy:.2%} of {len(actual)} images correct",
    )
    return figure


@_styled
def training_curves(history: Mapping[str, Mapping[str, np.ndarray]], test: Mapping[str, float]) -> Figure:
    """Loss and accuracy per epoch for training and validation, with the final test score marked after the last epoch.

    history[split][metric] is an array of (epoch, value) rows, epochs counted from 1. The epoch axis has whole
    numbers only, so that a short run does not show epoch 1.5.
    """
    figure = _new_figure(12, 5)
    for ax, metric in zip(figure.subplots(1, len(METRICS)), METRICS, strict=True):
        last_epoch = 1
        for split in TRAINING_SPLITS:
            epochs, values = history[split][metric].T
            last_epoch = max(last_epoch, int(epochs.max()))
            ax.plot(epochs, values, color=SPLIT_COLORS[split], linewidth=2, label=SPLIT_NAMES[split])
        ax.axhline(test[metric], color=SPLIT_COLORS[TEST_SPLIT], linestyle=":", linewidth=1.5)
        ax.plot(
            last_epoch,
            test[metric],
            marker="*",
            markersize=16,
            linestyle="none",
            color=SPLIT_COLORS[TEST_SPLIT],
            label=f"test (final model): {test[metric]:.4f}",
        )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(title=metric.capitalize(), xlabel="Epoch", ylabel=metric.capitalize())
        ax.legend(loc="upper right" if metric == "loss" else "lower right")
    figure.suptitle("Model evaluation: training and validation per epoch, test at the end")
    return figure


@_styled
def label_histogram(labels: np.ndarray, classes: Sequence[str]) -> Figure:
    """How many test images carry each true label: shows whether the test set is balanced."""
    counts = np.bincount(labels, minlength=len(classes))
    figure = _new_figure(9, 5)
    ax = figure.subplots()
    bars = ax.bar(classes, counts, color=PALETTE[0], edgecolor="white")
    ax.bar_label(bars, padding=2, fontsize=10)
    ax.grid(axis="x", visible=False)
    ax.margins(y=0.1)
    ax.set(
        xlabel="True label",
        ylabel="Test images",
        title=f"True labels in the test set ({len(labels)} images)",
    )
    return figure


@_styled
def prediction_pie(predicted: np.ndarray, classes: Sequence[str]) -> Figure:
    """The share of test images the model assigns to each label; labels never predicted are left out."""
    counts = np.bincount(predicted, minlength=len(classes))
    shown = np.flatnonzero(counts)
    colors = sns.color_palette("colorblind", len(classes))
    figure = _new_figure(7.5, 7.5)
    ax = figure.subplots()
    ax.pie(
        counts[shown],
        labels=[classes[k] for k in shown],
        colors=[colors[k] for k in shown],
        autopct="%1.1f%%",
        pctdistance=0.78,
        startangle=90,
        counterclock=False,
        wedgeprops={"edgecolor": "white", "linewidth": 1.5},
        textprops={"fontsize": 12},
    )
    ax.set_title(f"Predicted labels on the test set ({len(predicted)} images)")
    return figure


@_styled
def probability_density(
    probabilities: np.ndarray, actual: np.ndarray, class_index: int, classes: Sequence[str]
) -> Figure:
    """The probability of one class, over images of that class and over all others: how well the model separates them.

    Each group gets its own density (they do not share one normalisation), so a small class is as visible as the rest.
    """
    scores = probabilities[:, class_index]
    name = classes[class_index]
    figure = _new_figure(9, 5)
    ax = figure.subplots()
    groups = (
        (actual == class_index, f"true label {name}", PALETTE[4]),
        (actual != class_index, "any other true label", PALETTE[7]),
    )
    for mask, label, color in groups:
        values, label = scores[mask], f"{label} ({mask.sum()})"
        # A density needs two distinct values (seaborn would warn and draw nothing): one value is drawn as a line.
        if np.unique(values).size > 1:
            sns.kdeplot(x=values, fill=True, clip=(0, 1), color=color, linewidth=2, label=label, ax=ax)
        elif values.size:
            ax.axvline(values[0], color=color, linewidth=2, label=label)
    ax.set_xlim(0, 1)
    ax.set_yscale("log")
    ax.set_ylim(bottom=0.01)
    ax.set(
        xlabel=f"Probability of {name}",
        ylabel="Density (log scale)",
        title=f"Predicted probability of {name} on the test set",
    )
    ax.legend(title="Test images with")
    return figure


@_styled
def mistake_gallery(
    images: np.ndarray,
    actual: np.ndarray,
    predicted: np.ndarray,
    probabilities: np.ndarray,
    classes: Sequence[str],
    count: int,
) -> Figure:
    """The wrong test predictions with the highest probability: where the model is surest, and wrong."""
    wrong = np.flatnonzero(predicted != actual)
    confidence = probabilities[wrong, predicted[wrong]]
    worst = wrong[np.argsort(-confidence, kind="stable")[:count]]
    if not len(worst):
        figure = _new_figure(6, 2)
        figure.text(0.5, 0.5, "No mistakes on the test set", ha="center", va="center", fontsize=14)
        return figure
    captions = [
        f"true {classes[actual[k]]}\npred. {classes[predicted[k]]}\np = {probabilities[k, predicted[k]]:.3f}"
        for k in worst
    ]
    title = f"The {len(worst)} most confident mistakes on the test set"
    return _image_grid(images[worst], captions, title, caption_size=10, cell_width=1.25)


@_styled
def per_class_scores(scores: Mapping[str, Mapping[str, float]], classes: Sequence[str]) -> Figure:
    """Precision, recall and F1 of each class side by side: which labels the model finds hard, and in which way.

    The y axis is zoomed, since the differences that matter are a few percent, but fixed (score_axis_floor).
    """
    figure = _new_figure(11, 5)
    ax = figure.subplots()
    positions = np.arange(len(classes))
    width = 0.8 / len(SCORE_NAMES)
    lowest = 1.0
    for offset, (key, label) in enumerate(SCORE_NAMES.items()):
        values = np.array([scores[name][key] for name in classes])
        lowest = min(lowest, values.min())
        ax.bar(
            positions + (offset - (len(SCORE_NAMES) - 1) / 2) * width,
            values,
            width,
            label=label,
            color=PALETTE[offset],
            edgecolor="white",
        )
    ax.set_xticks(positions, classes)
    ax.set_ylim(score_axis_floor(lowest), 1.0)
    ax.grid(axis="x", visible=False)
    ax.set(xlabel="Label", ylabel="Score", title="Precision, recall and F1 per label on the test set")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return figure


def score_axis_floor(lowest: float) -> float:
    """Where the score axis starts: the highest of SCORE_AXIS_FLOORS at or below the lowest score."""
    return next(floor for floor in SCORE_AXIS_FLOORS if floor <= lowest)


@_styled
def normalisation_pairs(
    originals: Sequence[np.ndarray], normalised: Sequence[np.ndarray], names: Sequence[str]
) -> Figure:
    """People's images as they came (RGB, any size) above what the model sees of each: MNIST's 28x28 form."""
    figure = _new_figure(2.4 * len(names), 5.2)
    axes = figure.subplots(2, len(names), squeeze=False)
    for column, (original, image, name) in enumerate(zip(originals, normalised, names, strict=True)):
        axes[0, column].imshow(original)
        axes[0, column].set_title(name, fontsize=10, fontweight="normal")
        axes[1, column].imshow(image, cmap="gray", vmin=0, vmax=255)
        axes[1, column].set_title("28x28, as the model sees it", fontsize=9, fontweight="normal")
    for axis in axes.flat:
        axis.set(xticks=[], yticks=[])
        axis.grid(False)
    figure.suptitle("Images as people make them, normalised the way MNIST was made")
    return figure
