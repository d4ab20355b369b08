"""The --model of predict and serve, checked before TensorFlow is imported: a path that does not exist, a directory or
a file that is no Keras model is one line that says which, and names the models there are to choose from. And what
the pipeline recorded of the model, for the page to say which model answers and how well it did."""

import hashlib
import json
import zipfile
from pathlib import Path

import yaml

from mnist_dvc.core import paths
from mnist_dvc.core.errors import DataError
from mnist_dvc.export.card import FAMILY_NAMES

LOCK = Path("dvc.lock")

MODELS_DIR = paths.MODEL.parent
SHOWN = 5


def checked_model(path: Path) -> Path:
    """path, when it can be a model saved by the train stage; a DataError saying what it is otherwise."""
    if path == paths.MODEL and not path.exists():
        return path  # the pipeline's own model, not made yet: loading it says how to make it
    if path.is_dir():
        problem = "a directory, not a model file"
    elif not path.exists():
        problem = "no such file"
    elif not _keras_archive(path):
        problem = "not a Keras model (a .keras file is a zip archive holding config.json)"
    else:
        return path
    raise DataError(f"{path}: {problem}; {models_here()}")


def models_here() -> str:
    """The .keras files under models/, for a message: what --model can be."""
    found = sorted(str(file) for file in MODELS_DIR.rglob("*.keras")) if MODELS_DIR.is_dir() else []
    if not found:
        return f"there is no .keras file under {MODELS_DIR}/ (`dvc repro` trains {paths.MODEL})"
    more = f" and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
    return f"the models under {MODELS_DIR}/: {', '.join(found[:SHOWN])}{more}"


def _keras_archive(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "config.json" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def recorded_facts(path: Path) -> dict:
    """The model's path, and, when dvc.lock records this very file as the one evaluate scored, its family, the
    dataset it was trained on and its test accuracy (metrics/test.json); None for what is not on record."""
    facts = {"model": str(path), "family": None, "dataset": None, "test_accuracy": None}
    try:
        stages = yaml.safe_load(LOCK.read_text())["stages"]
        scored = next(dep["md5"] for dep in stages["evaluate"]["deps"] if dep["path"] == str(paths.MODEL))
        if hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest() != scored:
            return facts  # another model, or one trained since: the records are not of it
        family = stages["train"]["params"]["params.yaml"]["train"]["model"]["family"]
        facts["family"] = FAMILY_NAMES.get(family, family)
        facts["dataset"] = stages["prepare"]["params"]["params.yaml"]["prepare"]["dataset"]
        facts["test_accuracy"] = json.loads(paths.TEST_METRICS.read_text())["test"]["accuracy"]
    except (OSError, yaml.YAMLError, json.JSONDecodeError, KeyError, TypeError, StopIteration):
        pass  # no pipeline here, or not all of it: the page says only what is known
    return facts
