"""mnist_dvc/apps/model_file.py: what the page may say of a model, from what the pipeline recorded of that very file."""

import hashlib
import json

import pytest
import yaml

from mnist_dvc.apps.model_file import recorded_facts


@pytest.fixture
def pipeline(tmp_path, monkeypatch):
    """A model file, dvc.lock recording it as the one evaluate scored, and its test metrics."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "metrics").mkdir()
    (tmp_path / "models/model.keras").write_bytes(b"the model")
    model_md5 = hashlib.md5(b"the model").hexdigest()
    lock = {
        "stages": {
            "prepare": {"params": {"params.yaml": {"prepare": {"dataset": "fashion-mnist"}}}},
            "train": {"params": {"params.yaml": {"train": {"model": {"family": "cnn"}}}}},
            "evaluate": {
                "deps": [
                    {"path": "data/prepared/test.npz", "md5": "0"},
                    {"path": "models/model.keras", "md5": model_md5},
                ]
            },
        }
    }
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    (tmp_path / "metrics/test.json").write_text(json.dumps({"test": {"accuracy": 0.91, "loss": 0.3}}))
    return tmp_path


def test_the_recorded_model_gets_its_family_dataset_and_test_accuracy(pipeline):
    assert recorded_facts(pipeline / "models/model.keras") == {
        "model": str(pipeline / "models/model.keras"),
        "family": "convolutional network",
        "dataset": "fashion-mnist",
        "test_accuracy": 0.91,
    }


def test_another_file_or_one_trained_since_gets_its_path_alone(pipeline):
    (pipeline / "other.keras").write_bytes(b"another model")
    assert recorded_facts(pipeline / "other.keras")["test_accuracy"] is None
    (pipeline / "models/model.keras").write_bytes(b"retrained, not evaluated")
    assert recorded_facts(pipeline / "models/model.keras") == {
        "model": str(pipeline / "models/model.keras"),
        "family": None,
        "dataset": None,
        "test_accuracy": None,
    }


def test_without_a_pipeline_the_facts_are_the_path_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.keras").write_bytes(b"a model")
    assert recorded_facts(tmp_path / "model.keras")["family"] is None
