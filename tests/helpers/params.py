"""Params as the stages get them: composed from conf/ as `dvc exp run -S` composes them, and checked."""

import tempfile
from pathlib import Path

from mnist_dvc.core.params import compose, read_params
from mnist_dvc.model.params import TrainParams
from stages.train import Params as TrainStage
from tests.helpers.project import PROJECT_ROOT


def train_params(*overrides: str) -> TrainParams:
    """The train section of `dvc exp run -S OVERRIDE...` in this project: e.g. "model=cnn", "train.epochs=3"."""
    with tempfile.TemporaryDirectory() as temp:
        path = Path(temp) / "params.yaml"
        compose(path, list(overrides), PROJECT_ROOT)
        return read_params(path, TrainStage).train
