"""The formats of what train and evaluate save for later: the training log and final metrics, the test metrics,
the per-class scores and the predictions table.

Each format has its home here: the names inside it, where its parts go, how it is written and read. Reading
checks a file strictly, so visualize draws only from files that say what they should. dvc.yaml's `plots:`
name the same files (a test checks that they match).
"""

import io
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from mnist_dvc.core import paths
from mnist_dvc.core.errors import DataError
from mnist_dvc.core.files import read_json, write_json, write_text
from mnist_dvc.core.prepared import Split

METRICS = ("loss", "accuracy")
TRAINING_SPLITS = ("train", "val")
TEST_SPLIT = "test"
SCORES = ("precision", "recall", "f1")
# One table per metric, the splits side by side, so that `dvc plots show` draws each metric's training and
# validation curves on one chart (dvc.yaml names these files).
CURVE_COLUMNS = ("epoch", *TRAINING_SPLITS)


def curve_file(metric: str) -> Path:
    """Where train writes one training curve: a TSV of (epoch, train, val) rows, epochs counted from 1."""
    return paths.TRAIN_LOG_DIR / f"{metric}.tsv"


def start_curves() -> None:
    """Begin every curve afresh, with its header alone: a row is added as each epoch ends."""
    for metric in METRICS:
        write_text(curve_file(metric), "\t".join(CURVE_COLUMNS) + "\n")


def add_epoch(epoch: int, values: dict[str, dict[str, float]]) -> None:
    """Append epoch's row to every curve (values[split][metric]), so that a page drawn during training shows it."""
    for metric in METRICS:
        with open(curve_file(metric), "a", encoding="utf-8") as file:
            file.write("\t".join([str(epoch), *(str(values[split][metric]) for split in TRAINING_SPLITS)]) + "\n")


@dataclass(frozen=True)
class Predictions:
    actual: np.ndarray  # int, (n,)
    predicted: np.ndarray  # int, (n,)
    probabilities: np.ndarray  # float, (n, classes): the model's output for each class


def read_history() -> dict[str, dict[str, np.ndarray]]:
    """Train's curves: history[split][metric] is an array of (epoch, value) rows, epochs counted from 1."""
    tables = {metric: _read_table(curve_file(metric), list(CURVE_COLUMNS), "train") for metric in METRICS}
    return {
        split: {metric: table[:, [0, column]] for metric, table in tables.items()}
        for column, split in enumerate(TRAINING_SPLITS, start=1)
    }


def write_train_metrics(path: Path, epochs: int, final: dict[str, dict[str, float]]) -> None:
    """The epochs run and the last epoch's loss and accuracy per split: final[split][metric]."""
    write_json(path, {"epochs": epochs, **{split: final[split] for split in TRAINING_SPLITS}})


def write_test_metrics(path: Path, loss: float, accuracy: float) -> None:
    write_json(path, {TEST_SPLIT: {"loss": float(loss), "accuracy": float(accuracy)}})


def write_robustness(path: Path, accuracy: dict[str, float]) -> None:
    """The test accuracy on each variant of the test images (model/variants.py), under one key for `dvc exp show`."""
    write_json(path, {"robustness": {name: float(value) for name, value in accuracy.items()}})


def read_test_metrics(path: Path) -> dict[str, float]:
    """Evaluate's final test loss and accuracy."""
    expected = '{"test": {"loss": number, "accuracy": number}}'
    test = _mapping(_mapping(read_json(path), path, expected).get(TEST_SPLIT), path, expected)
    return {metric: _number(test.get(metric), path, f"{TEST_SPLIT}.{metric}") for metric in METRICS}


def write_per_class(path: Path, classes: tuple[str, ...], scores: dict[str, np.ndarray], support: np.ndarray) -> None:
    """One record per class, in class order: its name, precision, recall, F1 and number of test images.

    A list of records is what `dvc plots` draws as a bar chart, and what any table tool reads.
    """
    records = [
        {"class": name, **{score: float(scores[score][k]) for score in SCORES}, "support": int(support[k])}
        for k, name in enumerate(classes)
    ]
    write_json(path, records)


def read_per_class(path: Path, classes: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Evaluate's precision, recall and F1 of every class, by class name."""
    expected = '[{"class": name, "precision": number, "recall": number, "f1": number, "support": count}, ...]'
    records = read_json(path)
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        raise DataError(f"{path}: found {type(records).__name__}; expected {expected}")
    found = [record.get("class") for record in records]
    if found != list(classes):
        raise DataError(f"{path}: classes {found}; expected one record per class, in order: {list(classes)}")
    return {
        record["class"]: {score: _number(record.get(score), path, f"{record['class']}.{score}") for score in SCORES}
        for record in records
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


def _number(value: object, path: Path, key: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not np.isfinite(value):
        raise DataError(f"{path}: {key} = {value!r}; expected a number")
    return float(value)


def _mapping(value: object, path: Path, expected: str) -> dict:
    if not isinstance(value, dict):
        raise DataError(f"{path}: found {type(value).__name__}; expected {expected}")
    return value


def write_export_metrics(path: Path, agreements: dict[str, tuple[int, float]]) -> None:
    """By format: how many of its labels on the test images equal data/predictions.csv's, and its largest probability
    difference from the classifier that evaluate uses, in millionths (ppm): `dvc metrics show` rounds to five
    decimals, and the differences are about 1e-6."""
    write_json(
        path,
        {
            name: {"labels_equal": int(equal), "max_diff_ppm": difference * 1e6}
            for name, (equal, difference) in agreements.items()
        },
    )


def read_export_metrics(path: Path, formats: tuple[str, ...]) -> dict[str, tuple[int, float]]:
    """The export stage's metrics of each format: labels equal to evaluate's, and the largest probability difference
    (back from millionths)."""
    expected = '{"<format>": {"labels_equal": count, "max_diff_ppm": number}, ...}'
    record = _mapping(read_json(path), path, expected)
    if sorted(record) != sorted(formats):
        raise DataError(f"{path}: formats {sorted(record)}; expected {sorted(formats)}; run the export stage again")
    agreements = {}
    for name in formats:
        entry = _mapping(record[name], path, expected)
        equal = _number(entry.get("labels_equal"), path, f"{name}.labels_equal")
        agreements[name] = (int(equal), _number(entry.get("max_diff_ppm"), path, f"{name}.max_diff_ppm") / 1e6)
    return agreements


@dataclass(frozen=True)
class ExportSpeed:
    """Inference speed of the model in each runtime, as bench/exports.py measured it, and on what."""

    model_md5: str  # of the .keras file the exports were made from, as dvc.lock records it
    machine: str
    threads: int
    batch_size: int
    images_per_s: dict[str, float]  # by runtime: keras and each exported format
    single_image_ms: dict[str, float]  # one image a call, the median call
    versions: dict[str, str]


def write_export_speed(path: Path, speed: ExportSpeed) -> None:
    write_json(path, asdict(speed))


def read_export_speed(path: Path) -> ExportSpeed:
    """The committed benchmark result the model card quotes, checked."""
    expected = "the JSON that python -m bench.exports writes"
    record = _mapping(read_json(path), path, expected)
    missing = [field.name for field in fields(ExportSpeed) if field.name not in record]
    if missing:
        raise DataError(f"{path}: has no {missing[0]}; expected {expected}")
    for key in ("images_per_s", "single_image_ms"):
        rates = _mapping(record[key], path, f"{key}: a mapping of runtime to number")
        record[key] = {runtime: _number(value, path, f"{key}.{runtime}") for runtime, value in rates.items()}
    if record["images_per_s"].keys() != record["single_image_ms"].keys():
        raise DataError(f"{path}: images_per_s and single_image_ms name different runtimes; expected the same")
    for key in ("model_md5", "machine"):
        if not isinstance(record[key], str):
            raise DataError(f"{path}: {key} = {record[key]!r}; expected a string")
    for key in ("threads", "batch_size"):
        if not isinstance(record[key], int) or isinstance(record[key], bool) or record[key] < 1:
            raise DataError(f"{path}: {key} = {record[key]!r}; expected an integer >= 1")
    versions = _mapping(record["versions"], path, "versions: a mapping of package to version")
    record["versions"] = {str(name): str(version) for name, version in versions.items()}
    return ExportSpeed(**{field.name: record[field.name] for field in fields(ExportSpeed)})
