"""The network: each family built from its params, and saved as a plain Keras file whose bytes depend only on it."""

import json
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from mnist_dvc.core.errors import DataError, ParamsError  # noqa: E402
from mnist_dvc.model.layers import FusedBatchNormalization, SplitDense, plain_keras  # noqa: E402
from mnist_dvc.model.network import SHIFTS, averaged_over_shifts, build_model, load_model, save_model  # noqa: E402
from mnist_dvc.model.training import seed_everything  # noqa: E402
from tests.helpers.params import train_params  # noqa: E402


def family(*overrides):
    """train.model as `dvc exp run -S OVERRIDE...` would set it."""
    return train_params(*overrides).model


@pytest.fixture(scope="module")
def reference():
    return family()


def dense_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def test_reference_architecture(reference):
    model = build_model(reference, (28, 28), 10)
    assert model.input_shape == (None, 28, 28)
    assert model.output_shape == (None, 10)
    dense = dense_layers(model)
    assert [layer.units for layer in dense] == [256, 128, 10]
    assert [type(layer) for layer in dense] == [SplitDense, keras.layers.Dense, keras.layers.Dense], "on two cores"
    assert [layer.name for layer in dense] == ["dense", "dense_1", "dense_2"], "whatever the process built before"
    assert all(layer.activation.__name__ == "sigmoid" for layer in dense)
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in model.layers)
    assert model.count_params() == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10


def test_model_space():
    params = family(
        "train.model.hidden_units=[64,32,16]",
        "train.model.hidden_activation=relu",
        "train.model.output_activation=softmax",
        "train.model.dropout=0.25",
    )
    model = build_model(params, (28, 28), 10)
    assert [layer.units for layer in dense_layers(model)] == [64, 32, 16, 10]
    assert [layer.activation.__name__ for layer in dense_layers(model)] == ["relu"] * 3 + ["softmax"]
    assert [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == [0.25] * 3


def test_the_model_scales_its_own_pixels_exactly_as_division_by_255(reference):
    """Whoever loads the model feeds it raw uint8 images; training saw x / 255 to the last bit."""
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    model = build_model(reference, (16, 16), 10)
    scaled = model.get_layer("pixel_scaling")(pixels)
    assert np.array_equal(keras.ops.convert_to_numpy(scaled), pixels.astype(np.float32) / np.float32(255))


def test_saved_model_round_trip_with_its_classes(reference, tmp_path):
    images = np.array([[[0, 255]], [[255, 7]]], dtype=np.uint8)
    model = build_model(family("train.model.hidden_units=[4]"), (1, 2), 3)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    save_model(model, ("cat", "dog", "emu"), tmp_path / "m.keras")
    loaded, classes = load_model(tmp_path / "m.keras")
    assert classes == ("cat", "dog", "emu")
    assert np.array_equal(loaded.predict(images, verbose=0), model.predict(images, verbose=0))
    assert isinstance(loaded.optimizer, keras.optimizers.Adam)
    # A normal Keras file: Keras alone reads it, in safe mode.
    assert keras.models.load_model(tmp_path / "m.keras", safe_mode=True).output_shape == (None, 3)


def test_the_same_model_saves_to_the_same_bytes(reference, tmp_path):
    """Keras stamps the save time and Python object ids into the file; save_model leaves neither."""
    params = family("train.model.hidden_units=[8]")
    saved = []
    for attempt in range(2):
        keras.backend.clear_session()  # as in a new process: layer names are numbered per session
        seed_everything(3)
        model = build_model(params, (4, 4), 3)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        path = tmp_path / f"{attempt}.keras"
        save_model(model, ("a", "b", "c"), path)
        saved.append(path.read_bytes())
    assert saved[0] == saved[1]
    with zipfile.ZipFile(tmp_path / "0.keras") as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert "date_saved" not in json.loads(archive.read("metadata.json"))
        config = archive.read("config.json").decode()
    assert '"shared_object_id": 1' in config and '"shared_object_id": 1000' not in config
    assert '"class_name": "Dense"' in config and "SplitDense" not in config, "saved as Keras' own layer"


def test_an_unreadable_model_is_a_one_line_error(tmp_path):
    (tmp_path / "bad.keras").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"bad.keras: not a readable Keras model"):
        load_model(tmp_path / "bad.keras")
    with pytest.raises(DataError, match=r"missing.keras: not found; run the pipeline first"):
        load_model(tmp_path / "missing.keras")


def test_a_damaged_model_file_points_to_the_cache_repair(reference, tmp_path):
    """A flipped byte fails the zip's CRC: retraining cannot help where DVC checks the damaged copy out again."""
    path = tmp_path / "model.keras"
    save_model(build_model(family("train.model.hidden_units=[4]"), (1, 2), 3), ("a", "b", "c"), path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1  # inside the weights
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as raised:
        load_model(path)
    assert str(raised.value).startswith(f"{path}: the file is damaged (Bad CRC-32 for file ")
    assert str(raised.value).endswith(
        "; if DVC checked it out, `python -m mnist_dvc.apps.cache repair` checks DVC's cache and gets a good copy back"
    )


def test_a_model_without_class_names_is_a_one_line_error(reference, tmp_path):
    """A .keras file saved by Keras alone does not say what its outputs mean."""
    model = build_model(family("train.model.hidden_units=[4]"), (1, 2), 3)
    plain_keras(model).save(tmp_path / "plain.keras")
    with pytest.raises(DataError, match=r"plain.keras: no list of 3 class names in its metadata.json"):
        load_model(tmp_path / "plain.keras")


def cnn_params(*overrides):
    """A small CNN: 8 and 16 filters, a dense layer of 32, sigmoid like the reference; then the overrides."""
    small = ("model=cnn", "train.model.filters=[8,16]", "train.model.hidden_units=[32]")
    return family(*small, "train.model.hidden_activation=sigmoid", *overrides)


def test_cnn_architecture():
    model = build_model(cnn_params(), (28, 28), 10)
    assert model.name == "cnn" and model.input_shape == (None, 28, 28) and model.output_shape == (None, 10)
    assert model.layers[0].name == "pixel_scaling", "the CNN scales its own pixels, like the MLP"
    assert isinstance(model.layers[1], keras.layers.Reshape) and model.layers[1].output.shape == (None, 28, 28, 1)
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [(layer.filters, layer.kernel_size, layer.padding) for layer in convolutions] == [
        (8, (3, 3), "same"),
        (16, (3, 3), "same"),
    ]
    assert all(layer.activation.__name__ == "sigmoid" for layer in convolutions), "train.model.hidden_activation"
    pools = [layer for layer in model.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    assert [layer.output.shape[1:] for layer in pools] == [(14, 14, 8), (7, 7, 16)]
    assert [layer.units for layer in dense_layers(model)] == [32, 10], "the dense head is train.model.hidden_units"
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    conv_weights = 3 * 3 * 1 * 8 + 8 + 3 * 3 * 8 * 16 + 16
    assert model.count_params() == conv_weights + 7 * 7 * 16 * 32 + 32 + 32 * 10 + 10


def test_cnn_with_batch_normalisation_average_pooling_and_dropout():
    params = cnn_params(
        "train.model.kernel_size=5",
        "train.model.pooling=average",
        "train.model.batch_norm=true",
        "train.model.hidden_activation=relu",
        "train.model.dropout=0.5",
    )
    model = build_model(params, (28, 28), 10)
    kinds = [type(layer).__name__ for layer in model.layers]
    block = ["Conv2D", "FusedBatchNormalization", "Activation", "AveragePooling2D"]
    assert kinds == ["Normalization", "Reshape", *block, *block, "Flatten", "Dense", "Dropout", "Dense"]
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert all(not layer.use_bias and layer.kernel_size == (5, 5) for layer in convolutions)


@pytest.mark.parametrize("batch_norm", [True, False])
def test_cnn_pooling_first_pools_each_convolution_before_the_rest_of_its_block(batch_norm):
    params = cnn_params("train.model.pool_first=true", f"train.model.batch_norm={str(batch_norm).lower()}")
    model = build_model(params, (28, 28), 10)
    block = ["Conv2D", "MaxPooling2D", *(["FusedBatchNormalization"] if batch_norm else []), "Activation"]
    assert [type(layer).__name__ for layer in model.layers][:-3] == ["Normalization", "Reshape", *block, *block]
    normalised = [layer for layer in model.layers if isinstance(layer, FusedBatchNormalization)]
    assert [layer.output.shape[1:] for layer in normalised] == ([(14, 14, 8), (7, 7, 16)] if batch_norm else [])
    unpooled = build_model(cnn_params(f"train.model.batch_norm={str(batch_norm).lower()}"), (28, 28), 10)
    assert model.count_params() == unpooled.count_params(), "the same weights, in another order of ops"


def test_cnn_without_pooling_keeps_the_image_size():
    model = build_model(cnn_params("train.model.pooling=none"), (28, 28), 10)
    assert model.get_layer(index=-3).output.shape == (None, 28 * 28 * 16)


def test_too_many_pooled_blocks_is_a_one_line_error():
    with pytest.raises(ParamsError, match=r"train.model.filters = \[4, 4, 4, 4, 4\]: each block halves the 28x28"):
        build_model(cnn_params("train.model.filters=[4,4,4,4,4]"), (28, 28), 10)
    assert build_model(cnn_params("train.model.filters=[4,4,4,4]"), (28, 28), 10).output_shape == (None, 10)


def test_the_same_cnn_saves_to_the_same_bytes_and_loads_in_safe_mode(tmp_path):
    saved = []
    for attempt in range(2):
        keras.backend.clear_session()
        seed_everything(3)
        model = build_model(cnn_params("train.model.batch_norm=true"), (28, 28), 3)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        save_model(model, ("a", "b", "c"), tmp_path / f"{attempt}.keras")
        saved.append((tmp_path / f"{attempt}.keras").read_bytes())
    assert saved[0] == saved[1]
    assert [type(layer) for layer in model.layers].count(FusedBatchNormalization) == 2, "and trains on as before"
    # Saved as Keras' own layer: FusedBatchNormalization is not registered with Keras, so safe mode could not load it.
    loaded, classes = load_model(tmp_path / "0.keras")
    assert [type(layer) for layer in loaded.layers if "batch_normalization" in layer.name] == [
        keras.layers.BatchNormalization
    ] * 2
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    assert np.array_equal(loaded.predict(images, verbose=0), model.predict(images, verbose=0))


def moved(images, rows, columns):
    """The images moved by (rows, columns) pixels, black coming in: what each copy of the averaged model sees."""
    result = np.zeros_like(images)
    height, width = images.shape[1:]
    result[:, max(rows, 0) : height + min(rows, 0), max(columns, 0) : width + min(columns, 0)] = images[
        :, max(-rows, 0) : height + min(-rows, 0), max(-columns, 0) : width + min(-columns, 0)
    ]
    return result


@pytest.mark.parametrize("shifts", [4, 8])
def test_averaged_over_shifts_is_the_mean_over_moved_copies_and_saves_as_plain_keras(shifts, tmp_path):
    seed_everything(3)
    model = build_model(cnn_params(), (28, 28), 3)
    averaged = averaged_over_shifts(model, shifts)
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    copies = [images, *(moved(images, rows, columns) for rows, columns in SHIFTS[shifts])]
    expected = np.mean([model.predict_on_batch(copy) for copy in copies], axis=0)
    answers = averaged.predict_on_batch(images)
    assert np.allclose(answers, expected, atol=1e-6)
    averaged.compile(loss="sparse_categorical_crossentropy")
    save_model(averaged, ("a", "b", "c"), tmp_path / "averaged.keras")
    loaded, _ = load_model(tmp_path / "averaged.keras")
    assert np.array_equal(loaded.predict_on_batch(images), answers)


def test_averaged_over_shifts_refuses_other_counts():
    with pytest.raises(ValueError, match="shifts = 3; expected one of 4, 8"):
        averaged_over_shifts(build_model(cnn_params(), (28, 28), 3), 3)
