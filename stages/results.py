"""What train and evaluate save for later: the predictions table, the training log, the test metrics.

Each file is written and read here, so its format has one home, and reading
checks it strictly: visualize draws only from files that say what they should.
"""

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stages import paths
from stages.artifacts import read_json, write_text
from stages.data import Split
from stages.errors import DataError

TRAIN_CURVES_DIR = paths.TRAIN_LOG_DIR / "plots" / "metrics"
SPLITS = ("train", "val")
METRICS = ("loss", "accuracy")
SCORES = ("precision", "recall", "f1")


@dataclass(frozen=True)
class Predictions:
    actual: np.ndarray  # int, (n,)
    predicted: np.ndarray  # int, (n,)
    probabilities: np.ndarray  # float, (n, classes): the model's output for each class


def _read_table(path: Path, header: list[str], stage: str) -> np.ndarray:
    """A numeric CSV or TSV with the given header, as a 2-D float array."""
    delimiter = "\t" if path.suffix == ".tsv" else ","
    try:
        with open(path, encoding="utf-8") as file:
            found = file.readline().rstrip("\n").split(delimiter)
            if found != header:
                raise DataError(f"{path}: header is {delimiter.join(found)!r}; expected {delimiter.join(header)!r}")
            table = np.loadtxt(file, delimiter=delimiter, ndmin=2)
    except FileNotFoundError:
        raise DataError(f"{path}: not found; run the {stage} stage first (dvc repro)") from None
    except ValueError as error:
        raise DataError(f"{path}: not a table of numbers ({error})") from None
    if len(table) == 0:
        raise DataError(f"{path}: has no rows; expected at least one")
    return table


def read_predictions(path: Path, test: Split) -> Predictions:
    """Evaluate's predictions, checked against the test split they claim to describe."""
    n_classes = len(test.classes)
    table = _read_table(path, ["actual", "predicted", *(f"p{k}" for k in range(n_classes))], "evaluate")
    actual, predicted = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
    if len(table) != len(test.labels) or not np.array_equal(actual, test.labels):
        raise DataError(
            f"{path}: {len(table)} rows whose actual labels do not match the {len(test.labels)} test images of "
            f"{paths.prepared_split('test')}; rerun evaluate (dvc repro)"
        )
    if predicted.min() < 0 or predicted.max() >= n_classes:
        raise DataError(f"{path}: predicted label {predicted.max()} found; expected labels 0..{n_classes - 1}")
    return Predictions(actual, predicted, table[:, 2:])


def read_history(directory: Path) -> dict[str, dict[str, np.ndarray]]:
    """Train's dvclive log: history[split][metric] is an array of (step, value) rows."""
    return {
        split: {
            metric: _read_table(directory / split / f"{metric}.tsv", ["step", metric], "train") for metric in METRICS
        }
        for split in SPLITS
    }


def _number(value: object, path: Path, key: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not np.isfinite(value):
        raise DataError(f"{path}: {key} = {value!r}; expected a number")
    return float(value)


def _mapping(value: object, path: Path, expected: str) -> dict:
    if not isinstance(value, dict):
        raise DataError(f"{path}: found {type(value).__name__}; expected {expected}")
    return value


def read_test_metrics(path: Path) -> dict[str, float]:
    """Evaluate's final test loss and accuracy."""
    expected = '{"test": {"loss": number, "accuracy": number}}'
    test = _mapping(_mapping(read_json(path), path, expected).get("test"), path, expected)
    return {metric: _number(test.get(metric), path, f"test.{metric}") for metric in METRICS}


def read_per_class(path: Path, classes: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Evaluate's precision, recall and F1 of every class."""
    expected = '{"<class>": {"precision": number, "recall": number, "f1": number}, ...}'
    data = _mapping(read_json(path), path, expected)
    if sorted(data) != sorted(classes):
        raise DataError(f"{path}: classes {', '.join(data)}; expected one entry per class: {', '.join(classes)}")
    return {
        name: {
            score: _number(_mapping(data[name], path, expected).get(score), path, f"{name}.{score}") for score in SCORES
        }
        for name in classes
    }


def write_predictions(path: Path, labels: np.ndarray, predicted: np.ndarray, probabilities: np.ndarray) -> None:
    """One row per test image: true label, predicted label, the model's output for each class."""
    columns = ["actual", "predicted", *(f"p{k}" for k in range(probabilities.shape[1]))]
    table = np.column_stack([labels, predicted, probabilities])
    buffer = io.StringIO()
    np.savetxt(
        buffer,
        table,
        fmt=["%d", "%d", *["%.6f"] * probabilities.shape[1]],
        delimiter=",",
        header=",".join(columns),
        comments="",
    )
    write_text(path, buffer.getvalue())
