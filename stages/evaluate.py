"""evaluate: score the trained model on the test split and save its predictions for the plots."""

import numpy as np
from sklearn.metrics import precision_recall_fscore_support

from stages import paths
from stages.artifacts import write_json
from stages.cli import parse_args, run_stage
from stages.data import read_split
from stages.errors import DataError
from stages.results import write_predictions

PREDICT_BATCH_SIZE = 2000


def per_class_metrics(labels: np.ndarray, predicted: np.ndarray, classes: tuple[str, ...]) -> dict[str, dict]:
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=range(len(classes)), zero_division=0
    )
    return {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    }


def main() -> None:
    parse_args(__doc__, with_params=False)
    test = read_split("test")
    if not paths.MODEL.exists():
        raise DataError(f"{paths.MODEL}: not found; run the train stage first (dvc repro)")

    # TensorFlow takes seconds to import: load it only once the inputs have checked out.
    from stages.model import evaluation_batches, load_model

    model = load_model(paths.MODEL)

    batches = evaluation_batches(test, PREDICT_BATCH_SIZE)
    # Keras computes the loss from the output layer's logits, which predict() does
    # not return, so loss and accuracy come from evaluate(), exactly as in training.
    loss, accuracy = model.evaluate(batches, verbose=0)
    metrics = {"test": {"loss": float(loss), "accuracy": float(accuracy)}}
    probabilities = model.predict(batches, verbose=0)
    predicted = probabilities.argmax(axis=1)

    write_json(paths.TEST_METRICS, metrics)
    write_json(paths.PER_CLASS_METRICS, per_class_metrics(test.labels, predicted, test.classes))
    write_predictions(paths.PREDICTIONS, test.labels, predicted, probabilities)
    print(f"evaluate: test loss {metrics['test']['loss']:.4f}, accuracy {metrics['test']['accuracy']:.4f}")


if __name__ == "__main__":
    run_stage("evaluate", main)
