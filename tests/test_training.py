import dataclasses

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from stages.network import build_model  # noqa: E402
from stages.params import load_train_params  # noqa: E402
from stages.training import compile_for_training, make_optimizer, seed_everything  # noqa: E402
from tests.conftest import PROJECT_ROOT  # noqa: E402


@pytest.fixture(scope="module")
def reference():
    return load_train_params(PROJECT_ROOT / "params.yaml")


def test_reference_training_setup(reference):
    model = build_model(reference, (28, 28), 10)
    compile_for_training(model, reference, examples=48000)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.optimizer.learning_rate.numpy() == pytest.approx(0.001)
    assert isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy)
    assert model.steps_per_execution == 24, "one epoch of 48000 images in batches of 2000 per call"


def test_optimizers(reference):
    sgd = make_optimizer(dataclasses.replace(reference, optimizer="sgd", momentum=0.9))
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.momentum == pytest.approx(0.9)
    assert isinstance(make_optimizer(dataclasses.replace(reference, optimizer="rmsprop")), keras.optimizers.RMSprop)


def test_same_seed_same_weights(reference):
    seed_everything(7)
    first = build_model(reference, (28, 28), 10).get_weights()
    seed_everything(7)
    second = build_model(reference, (28, 28), 10).get_weights()
    seed_everything(8)
    third = build_model(reference, (28, 28), 10).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not np.array_equal(first[0], third[0])
