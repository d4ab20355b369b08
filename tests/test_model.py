import dataclasses

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from stages.model import build_model, load_model, scale_batch, seed_everything  # noqa: E402
from stages.params import load_train_params  # noqa: E402
from tests.conftest import PROJECT_ROOT  # noqa: E402


@pytest.fixture(scope="module")
def reference():
    return load_train_params(PROJECT_ROOT / "params.yaml")


def dense_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def test_reference_architecture(reference):
    model = build_model(reference, (28, 28), 10)
    assert model.input_shape == (None, 28, 28)
    assert model.output_shape == (None, 10)
    dense = dense_layers(model)
    assert [layer.units for layer in dense] == [256, 128, 10]
    assert all(layer.activation.__name__ == "sigmoid" for layer in dense)
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in model.layers)
    assert model.count_params() == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.optimizer.learning_rate.numpy() == pytest.approx(0.001)
    assert isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy)


def test_model_space(reference):
    params = dataclasses.replace(
        reference, hidden_units=(64, 32, 16), hidden_activation="relu", output_activation="softmax",
        optimizer="sgd", momentum=0.9, dropout=0.25,
    )
    model = build_model(params, (28, 28), 10)
    assert [layer.units for layer in dense_layers(model)] == [64, 32, 16, 10]
    assert [layer.activation.__name__ for layer in dense_layers(model)] == ["relu"] * 3 + ["softmax"]
    assert [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == [0.25] * 3
    assert isinstance(model.optimizer, keras.optimizers.SGD) and model.optimizer.momentum == pytest.approx(0.9)
    rmsprop = build_model(dataclasses.replace(reference, optimizer="rmsprop"), (28, 28), 10)
    assert isinstance(rmsprop.optimizer, keras.optimizers.RMSprop)


def test_same_seed_same_weights(reference):
    seed_everything(7)
    first = build_model(reference, (28, 28), 10).get_weights()
    seed_everything(7)
    second = build_model(reference, (28, 28), 10).get_weights()
    seed_everything(8)
    third = build_model(reference, (28, 28), 10).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not np.array_equal(first[0], third[0])


def test_input_scaling_and_saved_model_round_trip(reference, tmp_path):
    images = np.array([[[0, 255]]], dtype=np.uint8)
    scaled = scale_batch(images).numpy()
    assert scaled.dtype == np.float32 and scaled.tolist() == [[[0.0, 1.0]]]
    model = build_model(dataclasses.replace(reference, hidden_units=(4,)), (1, 2), 3)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert np.allclose(loaded.predict(scaled, verbose=0), model.predict(scaled, verbose=0))
