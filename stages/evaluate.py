"""evaluate: score the trained model on the test split and on changed copies of it (thicker strokes, blur, noise...),
and save its predictions for the plots."""

from concurrent.futures import ThreadPoolExecutor

from sklearn.metrics import precision_recall_fscore_support

from mnist_dvc.core import paths, runtime
from mnist_dvc.core.cli import parse_args
from mnist_dvc.core.errors import DataError
from mnist_dvc.core.files import all_or_nothing
from mnist_dvc.core.prepared import read_split
from mnist_dvc.core.results import write_per_class, write_predictions, write_robustness, write_test_metrics
from mnist_dvc.core.stage import run_stage

PREDICT_BATCH_SIZE = 2000


def main() -> None:
    parse_args(__doc__, with_params=False)
    test = read_split("test")

    # TensorFlow takes seconds to import: load it only once the inputs have checked out.
    from mnist_dvc.model.batches import evaluation_batches
    from mnist_dvc.model.inference import load_classifier
    from mnist_dvc.model.variants import sample, variants

    print(f"evaluate: {runtime.machine()}")
    print(f"evaluate: scoring {paths.MODEL} on {len(test.labels)} test images")
    classifier = load_classifier(paths.MODEL)
    if classifier.classes != test.classes:
        raise DataError(
            f"{paths.MODEL}: classes {', '.join(classifier.classes)}; expected the test split's "
            f"{', '.join(test.classes)}; run the train stage again (dvc repro)"
        )
    chosen = sample(len(test.labels))
    changed = variants(test.images[chosen])
    # Loss and accuracy come from the trained model's own evaluate(), exactly as in training; the probabilities from
    # the classifier that predict uses too. The one on one core beside the other on both, each as it would alone.
    with ThreadPoolExecutor(max_workers=1) as pool:
        scored = pool.submit(classifier.trained.evaluate, evaluation_batches(test, PREDICT_BATCH_SIZE), verbose=0)
        probabilities, *of_changed = classifier.probabilities_of([test.images, *changed.values()], PREDICT_BATCH_SIZE)
        loss, accuracy = scored.result()
    predicted = probabilities.argmax(axis=1)
    robustness = {
        name: float((answers.argmax(axis=1) == test.labels[chosen]).mean())
        for name, answers in zip(changed, of_changed, strict=True)
    }
    precision, recall, f1, support = precision_recall_fscore_support(
        test.labels, predicted, labels=range(len(test.classes)), zero_division=0
    )

    # The four outputs replace the last good ones together, or none does.
    with all_or_nothing():
        write_test_metrics(paths.TEST_METRICS, loss, accuracy)
        write_per_class(
            paths.PER_CLASS_METRICS, test.classes, {"precision": precision, "recall": recall, "f1": f1}, support
        )
        write_predictions(paths.PREDICTIONS, test.labels, predicted, probabilities)
        write_robustness(paths.ROBUSTNESS_METRICS, robustness)
    print(f"evaluate: test loss {loss:.4f}, accuracy {accuracy:.4f}")
    print(
        f"evaluate: on {len(chosen)} changed test images: " + ", ".join(f"{k} {v:.3f}" for k, v in robustness.items())
    )


if __name__ == "__main__":
    run_stage("evaluate", main)
