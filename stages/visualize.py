"""visualize: draw the report's figures from the prepared data and from what train and evaluate saved.

It reads files only: it neither trains nor runs the model, and imports no TensorFlow, so a change to a
plotting param reruns this stage alone, in seconds.
"""

from stages import figures, paths
from stages.artifacts import read_arrays
from stages.cli import parse_args, run_stage
from stages.data import read_split
from stages.params import load_visualize_params
from stages.results import TRAIN_CURVES_DIR, read_history, read_per_class, read_predictions, read_test_metrics


def main() -> None:
    args = parse_args(__doc__)
    # Params are checked before any data is loaded; density_digit must name a class, so the class names come first.
    classes = read_arrays(paths.prepared_split("test"), ("classes",))["classes"]
    params = load_visualize_params(args.params, len(classes))
    train, test = read_split("train"), read_split("test")
    predictions = read_predictions(paths.PREDICTIONS, test)
    history = read_history(TRAIN_CURVES_DIR)
    test_metrics = read_test_metrics(paths.TEST_METRICS)
    per_class = read_per_class(paths.PER_CLASS_METRICS, test.classes)
    actual, predicted, probabilities = predictions.actual, predictions.predicted, predictions.probabilities

    # One entry per PNG; each figure is drawn, written and freed before the next.
    drawings = {
        "sample_images": lambda: figures.sample_grid(
            train.images, train.labels, train.classes, params.sample_images, params.seed
        ),
        "confusion_matrix": lambda: figures.confusion_heatmap(actual, predicted, test.classes),
        "model_evaluation": lambda: figures.training_curves(history, test_metrics),
        "true_labels": lambda: figures.label_histogram(test.labels, test.classes),
        "predicted_labels": lambda: figures.prediction_pie(predicted, test.classes),
        "probability_density": lambda: figures.probability_density(
            probabilities, actual, params.density_digit, test.classes
        ),
        "confident_mistakes": lambda: figures.mistake_gallery(
            test.images, actual, predicted, probabilities, test.classes, params.mistakes
        ),
        "per_class_scores": lambda: figures.per_class_scores(per_class, test.classes),
    }
    for name, draw in drawings.items():
        figures.save_png(draw(), paths.PLOTS_DIR / f"{name}.png", params.dpi)
    print(f"visualize: {len(drawings)} figures written to {paths.PLOTS_DIR}/")


if __name__ == "__main__":
    run_stage("visualize", main)
