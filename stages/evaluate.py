"""evaluate: score the trained model on the test split and save its predictions for the plots."""

from sklearn.metrics import precision_recall_fscore_support

from stages import paths
from stages.cli import parse_args, run_stage
from stages.data import read_split
from stages.errors import DataError
from stages.results import write_per_class, write_predictions, write_test_metrics

PREDICT_BATCH_SIZE = 2000


def main() -> None:
    parse_args(__doc__, with_params=False)
    test = read_split("test")
    if not paths.MODEL.exists():
        raise DataError(f"{paths.MODEL}: not found; run the train stage first (dvc repro)")

    # TensorFlow takes seconds to import: load it only once the inputs have checked out.
    from stages.batches import evaluation_batches
    from stages.network import load_model

    print(f"evaluate: scoring {paths.MODEL} on {len(test.labels)} test images")
    model = load_model(paths.MODEL)
    batches = evaluation_batches(test, PREDICT_BATCH_SIZE)
    # Keras computes the loss from the output layer's logits, which predict() does
    # not return, so loss and accuracy come from evaluate(), exactly as in training.
    loss, accuracy = model.evaluate(batches, verbose=0)
    probabilities = model.predict(batches, verbose=0)
    predicted = probabilities.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        test.labels, predicted, labels=range(len(test.classes)), zero_division=0
    )

    write_test_metrics(paths.TEST_METRICS, loss, accuracy)
    write_per_class(
        paths.PER_CLASS_METRICS, test.classes, {"precision": precision, "recall": recall, "f1": f1}, support
    )
    write_predictions(paths.PREDICTIONS, test.labels, predicted, probabilities)
    print(f"evaluate: test loss {loss:.4f}, accuracy {accuracy:.4f}")


if __name__ == "__main__":
    run_stage("evaluate", main)
