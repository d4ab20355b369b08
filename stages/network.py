"""The classifier's network: built from params, and saved and loaded as a .keras file that
carries everything a user of the model needs: the input scaling and the class names.

A new model family is a new branch of build_model; how data reaches the network is in
stages/batches.py, how it is trained in stages/training.py, how it is used in stages/inference.py.
"""

import json
import math
import os
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import keras
import tensorflow as tf

from stages.artifacts import ZIP_EPOCH, atomic_path
from stages.errors import DataError, ParamsError
from stages.params import CnnParams, TrainParams

CLASSES_KEY = "classes"


def build_model(params: TrainParams, image_shape: tuple[int, ...], n_classes: int) -> keras.Model:
    """The network of params.model on uint8 images: dense hidden layers, after convolution blocks for a CNN.

    The default params give the reference 784-256-128-10 sigmoid multilayer perceptron.
    """
    model = keras.Sequential(name=params.model)
    model.add(keras.Input(shape=image_shape, dtype="uint8"))
    model.add(pixel_scaling())
    if params.model == "cnn":
        add_convolution_blocks(model, params.cnn, params.hidden_activation, image_shape)
    model.add(keras.layers.Flatten())
    for units in params.hidden_units:
        model.add(keras.layers.Dense(units, activation=params.hidden_activation))
        if params.dropout:
            model.add(keras.layers.Dropout(params.dropout))
    model.add(keras.layers.Dense(n_classes, activation=params.output_activation))
    return model


def add_convolution_blocks(
    model: keras.Sequential, params: CnnParams, activation: str, image_shape: tuple[int, ...]
) -> None:
    """One block per entry of params.filters: a same-size convolution, batch normalisation if asked, the
    activation, then 2x2 pooling unless it is none. The images get a channel axis first (channels last)."""
    most_blocks = int(math.log2(min(image_shape)))
    if params.pooling != "none" and len(params.filters) > most_blocks:
        raise ParamsError(
            f"train.cnn.filters = {list(params.filters)}: each block halves the {'x'.join(map(str, image_shape))} "
            f"images; expected at most {most_blocks} blocks, or pooling: none"
        )
    model.add(keras.layers.Reshape((*image_shape, 1)))
    for filters in params.filters:
        if params.batch_norm:
            # The normalisation's shift does what the convolution's bias would.
            model.add(keras.layers.Conv2D(filters, params.kernel_size, padding="same", use_bias=False))
            model.add(FusedBatchNormalization())
            model.add(keras.layers.Activation(activation))
        else:
            model.add(keras.layers.Conv2D(filters, params.kernel_size, padding="same", activation=activation))
        if params.pooling == "max":
            model.add(keras.layers.MaxPooling2D(2))
        elif params.pooling == "average":
            model.add(keras.layers.AveragePooling2D(2))


class FusedBatchNormalization(keras.layers.BatchNormalization):
    """Keras' BatchNormalization, trained through TensorFlow's fused kernel, for channels-last images.

    Keras 3 normalises a training batch in a dozen elementwise ops, and as many again for the
    gradient; the fused kernel (oneDNN's on CPU) does each in one. A profile of the CNN's training
    step (bench/profile_step.py) found batch normalisation taking more time than the convolutions.
    Outside training the layer is Keras' own, and save_model saves it as that.
    """

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable) or mask is not None:
            return super().call(inputs, training=training, mask=mask)
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, self.gamma, self.beta, epsilon=self.epsilon, is_training=True
        )
        # The kernel's variance has Bessel's correction; Keras' moving variance averages the plain one.
        count = tf.cast(tf.size(inputs) // tf.shape(inputs)[-1], variance.dtype)
        variance *= (count - 1.0) / count
        for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
            moving.assign(moving * self.momentum + batch * (1.0 - self.momentum))
        return outputs


def pixel_scaling() -> keras.layers.Layer:
    """uint8 pixels to float32 in [0, 1], inside the model, so that whoever loads it feeds raw images.

    (x - 0) / sqrt(255 ** 2) is x / 255 to the last bit; Rescaling(1 / 255) multiplies, and
    rounds half of the 256 pixel values differently.
    """
    return keras.layers.Normalization(mean=0.0, variance=255.0**2, axis=None, name="pixel_scaling")


def save_model(model: keras.Model, classes: Sequence[str], path: Path) -> None:
    """Save a .keras file whose bytes depend only on the model, with its class names, atomically.

    The class names go into the file's metadata.json, which Keras writes and ignores on loading.

    Keras stamps a file with the time it was saved (in metadata.json and in the zip entry of
    the weights) and numbers shared objects in config.json by their Python ids, so the same
    model would give different bytes at every run. The archive is rewritten without the date,
    with fixed entry times and with the ids renumbered in order of appearance; Keras reads it
    as before. Layers that only train differently from Keras' own are saved as Keras' own.
    """
    with atomic_path(path) as temp, _as_keras_layers(model):
        model.save(temp)
        members = _read_members(temp)
        metadata = json.loads(members["metadata.json"])
        metadata.pop("date_saved", None)
        metadata[CLASSES_KEY] = list(classes)
        members["metadata.json"] = json.dumps(metadata).encode()
        members["config.json"] = json.dumps(_renumber_shared_objects(json.loads(members["config.json"]))).encode()
        with zipfile.ZipFile(temp, "w", zipfile.ZIP_STORED) as archive:
            for name, data in members.items():
                archive.writestr(zipfile.ZipInfo(name, date_time=ZIP_EPOCH), data)


@contextmanager
def _as_keras_layers(model: keras.Model) -> Iterator[None]:
    """Each FusedBatchNormalization of the model as the Keras BatchNormalization it is outside training, for the
    time being: Keras then saves it as its own layer, so that loading the file needs no code from this project."""
    fused = [layer for layer in model.layers if type(layer) is FusedBatchNormalization]
    for layer in fused:
        layer.__class__ = keras.layers.BatchNormalization
    try:
        yield
    finally:
        for layer in fused:
            layer.__class__ = FusedBatchNormalization


def _read_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _renumber_shared_objects(config: object) -> object:
    """The same config with every shared_object_id replaced by 1, 2, 3... in order of first appearance."""
    numbers: dict[int, int] = {}

    def walk(node: object) -> object:
        if isinstance(node, dict):
            return {
                key: numbers.setdefault(value, len(numbers) + 1) if key == "shared_object_id" else walk(value)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(config)


def load_model(path: os.PathLike) -> tuple[keras.Model, tuple[str, ...]]:
    """A model saved by save_model and its class names, loaded in safe mode: no code from the file is run."""
    if not Path(path).is_file():
        raise DataError(f"{path}: not found; run the pipeline first (dvc repro, or dvc pull)")
    try:
        model = keras.models.load_model(path, safe_mode=True)
        classes = json.loads(_read_members(Path(path))["metadata.json"]).get(CLASSES_KEY)
    except (ValueError, OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise DataError(f"{path}: not a readable Keras model ({error}); run the train stage again") from None
    n_outputs = model.output_shape[-1]
    if not isinstance(classes, list) or len(classes) != n_outputs or not all(isinstance(c, str) for c in classes):
        raise DataError(
            f"{path}: no list of {n_outputs} class names in its metadata.json; "
            "expected a model saved by the train stage"
        )
    return model, tuple(classes)
