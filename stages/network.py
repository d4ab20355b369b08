"""The classifier's network: built from params, and saved and loaded as a .keras file.

A new model family is a new branch of build_model; how data reaches the network is in
stages/batches.py, how it is trained in stages/training.py.
"""

import json
import os
import zipfile
from pathlib import Path

import keras
import tensorflow as tf

from stages.artifacts import ZIP_EPOCH, atomic_path
from stages.errors import DataError
from stages.params import TrainParams


def scale_batch(images: tf.Tensor) -> tf.Tensor:
    """uint8 pixels to the network's input, float32 in [0, 1], one batch at a time."""
    return tf.cast(images, tf.float32) / 255.0


def build_model(params: TrainParams, image_shape: tuple[int, ...], n_classes: int) -> keras.Model:
    """A multilayer perceptron; the default params give the reference 784-256-128-10 sigmoid net."""
    model = keras.Sequential(name="mlp")
    model.add(keras.Input(shape=image_shape))
    model.add(keras.layers.Flatten())
    for units in params.hidden_units:
        model.add(keras.layers.Dense(units, activation=params.hidden_activation))
        if params.dropout:
            model.add(keras.layers.Dropout(params.dropout))
    model.add(keras.layers.Dense(n_classes, activation=params.output_activation))
    return model


def save_model(model: keras.Model, path: Path) -> None:
    """Save a .keras file whose bytes depend only on the model, atomically.

    Keras stamps a file with the time it was saved (in metadata.json and in the zip entry of
    the weights) and numbers shared objects in config.json by their Python ids, so the same
    model would give different bytes at every run. The archive is rewritten without the date,
    with fixed entry times and with the ids renumbered in order of appearance; Keras reads it
    as before.
    """
    with atomic_path(path) as temp:
        model.save(temp)
        members = _read_members(temp)
        metadata = json.loads(members["metadata.json"])
        metadata.pop("date_saved", None)
        members["metadata.json"] = json.dumps(metadata).encode()
        members["config.json"] = json.dumps(_renumber_shared_objects(json.loads(members["config.json"]))).encode()
        with zipfile.ZipFile(temp, "w", zipfile.ZIP_STORED) as archive:
            for name, data in members.items():
                archive.writestr(zipfile.ZipInfo(name, date_time=ZIP_EPOCH), data)


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


def load_model(path: os.PathLike) -> keras.Model:
    """Load a .keras model in safe mode: no arbitrary code from the file is run."""
    try:
        return keras.models.load_model(path, safe_mode=True)
    except (ValueError, OSError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise DataError(f"{path}: not a readable Keras model ({error}); run the train stage again") from None
