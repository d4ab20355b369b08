"""visualize: draw the report's figures from the prepared data and from what train and evaluate saved.

It reads files only: it neither trains nor runs the model, and imports no TensorFlow, so a change to a
plotting param reruns this stage alone, in seconds.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from mnist_dvc.core import paths
from mnist_dvc.core.cli import parse_args
from mnist_dvc.core.files import atomic_dir
from mnist_dvc.core.params import Section, Seed, read_params
from mnist_dvc.core.prepared import Split, read_split
from mnist_dvc.core.results import Predictions, read_history, read_per_class, read_predictions, read_test_metrics
from mnist_dvc.core.stage import run_stage
from mnist_dvc.report import figures
from mnist_dvc.report.params import VisualizeParams


class Params(Section):
    """What this stage reads of params.yaml, as dvc.yaml declares."""

    seed: Seed
    visualize: VisualizeParams


@dataclass(frozen=True)
class Run:
    """Everything the figures are drawn from."""

    train: Split
    test: Split
    predictions: Predictions
    history: dict[str, dict[str, np.ndarray]]
    test_metrics: dict[str, float]
    per_class: dict[str, dict[str, float]]


# One entry per PNG (plots/<name>.png), written by figures.save_pngs.
FIGURES: dict[str, Callable[[Run, Params], Figure]] = {
    "sample_images": lambda run, params: figures.sample_grid(
        run.train.images, run.train.labels, run.train.classes, params.visualize.sample_images, params.seed
    ),
    "confusion_matrix": lambda run, params: figures.confusion_heatmap(
        run.predictions.actual, run.predictions.predicted, run.test.classes
    ),
    "model_evaluation": lambda run, params: figures.training_curves(run.history, run.test_metrics),
    "true_labels": lambda run, params: figures.label_histogram(run.test.labels, run.test.classes),
    "predicted_labels": lambda run, params: figures.prediction_pie(run.predictions.predicted, run.test.classes),
    "probability_density": lambda run, params: figures.probability_density(
        run.predictions.probabilities, run.predictions.actual, params.visualize.density_class, run.test.classes
    ),
    "confident_mistakes": lambda run, params: figures.mistake_gallery(
        run.test.images,
        run.predictions.actual,
        run.predictions.predicted,
        run.predictions.probabilities,
        run.test.classes,
        params.visualize.mistakes,
    ),
    "per_class_scores": lambda run, params: figures.per_class_scores(run.per_class, run.test.classes),
}


def main() -> None:
    args = parse_args(__doc__)
    params = read_params(args.params, Params)
    test = read_split("test")
    params.visualize.check_classes(len(test.classes), str(args.params))
    run = Run(
        train=read_split("train"),
        test=test,
        predictions=read_predictions(paths.PREDICTIONS, test),
        history=read_history(),
        test_metrics=read_test_metrics(paths.TEST_METRICS),
        per_class=read_per_class(paths.PER_CLASS_METRICS, test.classes),
    )

    print(f"visualize: drawing {len(FIGURES)} figures into {paths.PLOTS_DIR}/: {', '.join(FIGURES)}")
    # The figures replace the old ones as a set, so the folder never mixes two runs.
    with atomic_dir(paths.PLOTS_DIR) as directory:
        drawings = {name: functools.partial(draw, run, params) for name, draw in FIGURES.items()}
        figures.save_pngs(drawings, directory, params.visualize.dpi)


if __name__ == "__main__":
    run_stage("visualize", main)
