"""The classifier's network: built from params, and saved and loaded as a .keras file that
carries everything a user of the model needs: the input scaling and the class names.

Each model family builds its own layers (model/families/); how data reaches the network is in
batches.py, how it is trained in training.py, how it is used in inference.py.
"""

import json
import os
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import keras

from mnist_dvc.core import remote
from mnist_dvc.core.errors import DataError
from mnist_dvc.core.files import ZIP_EPOCH, atomic_path
from mnist_dvc.model.families import FAMILIES, FamilyParams
from mnist_dvc.model.layers import dense_head, pixel_scaling, plain_keras

CLASSES_KEY = "classes"


def build_model(params: FamilyParams, image_shape: tuple[int, ...], n_classes: int) -> keras.Model:
    """The network of params.family on uint8 images: the family's own layers, then the dense head.

    The default params give the reference 784-256-128-10 sigmoid multilayer perceptron.
    """
    model = keras.Sequential(name=params.family)
    model.add(keras.Input(shape=image_shape, dtype="uint8"))
    model.add(pixel_scaling())
    FAMILIES[params.family].add_layers(model, params, image_shape)
    dense_head(model, params, n_classes)
    return model


# Test-time augmentation: the one-pixel moves (rows, columns) whose answers are averaged with the image's own.
SHIFTS = {
    4: ((-1, 0), (1, 0), (0, -1), (0, 1)),
    8: ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)),
}


def averaged_over_shifts(model: keras.Model, shifts: int) -> keras.Model:
    """The trained model answering with the mean of its probabilities for the image and `shifts` copies of it moved
    one pixel (what comes in at the edge is black): test-time augmentation, inside the model, so that evaluate,
    predict and every export give the same answers, at 1 + shifts times the work of one pass.

    Keras' own layers only (padding, cropping, the model itself, shared, and an average), so the saved file loads
    with Keras alone in safe mode. Trained models only: the copies are for answering, not for training.
    """
    if shifts not in SHIFTS:
        raise ValueError(f"shifts = {shifts}; expected one of {', '.join(map(str, SHIFTS))}")
    shape = model.input_shape[1:]
    images = keras.Input(shape=shape, dtype="uint8", name="images")
    # As float32 (the same whole numbers) before they are moved: LiteRT pads no uint8.
    as_float = keras.layers.Rescaling(1.0, name="as_float32")(images)
    channel = keras.layers.Reshape((*shape, 1))(as_float)
    answers = [model(images)]
    for rows, columns in SHIFTS[shifts]:
        padded = keras.layers.ZeroPadding2D(((max(rows, 0), max(-rows, 0)), (max(columns, 0), max(-columns, 0))))
        cropped = keras.layers.Cropping2D(((max(-rows, 0), max(rows, 0)), (max(-columns, 0), max(columns, 0))))
        moved = keras.layers.Reshape(shape)(cropped(padded(channel)))
        answers.append(model(moved))
    return keras.Model(images, keras.layers.Average(name="averaged")(answers), name=f"{model.name}_tta{shifts}")


def save_model(model: keras.Model, classes: Sequence[str], path: Path) -> None:
    """Save a .keras file whose bytes depend only on the model, with its class names, atomically.

    The class names go into the file's metadata.json, which Keras writes and ignores on loading.

    Keras stamps a file with the time it was saved (in metadata.json and in the zip entry of
    the weights) and numbers shared objects in config.json by their Python ids, so the same
    model would give different bytes at every run. The archive is rewritten without the date,
    with fixed entry times and with the ids renumbered in order of appearance; Keras reads it
    as before. Layers that compute as Keras' own by another road are saved as Keras' own (layers.plain_keras).
    """
    with atomic_path(path) as temp:
        plain_keras(model).save(temp)
        members = _read_members(temp)
        metadata = json.loads(members["metadata.json"])
        metadata.pop("date_saved", None)
        metadata[CLASSES_KEY] = list(classes)
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


def load_model(path: os.PathLike) -> tuple[keras.Model, tuple[str, ...]]:
    """A model saved by save_model and its class names, loaded in safe mode: no code from the file is run."""
    if not Path(path).is_file():
        raise DataError(f"{path}: not found; {remote.how_to_get()}")
    try:
        model = keras.models.load_model(path, safe_mode=True)
        classes = json.loads(_read_members(Path(path))["metadata.json"]).get(CLASSES_KEY)
    except (zipfile.BadZipFile, zlib.error) as error:  # a failed CRC: bytes changed since the file was written
        raise DataError(
            f"{path}: the file is damaged ({error}); if DVC checked it out, `python -m mnist_dvc.apps.cache repair` "
            "checks DVC's cache and gets a good copy back"
        ) from None
    except (ValueError, OSError, KeyError, json.JSONDecodeError) as error:
        # Keras explains at length; its first sentence says enough.
        reason = str(error).split(". ")[0][:120]
        raise DataError(
            f"{path}: not a readable Keras model ({reason}); expected a .keras file saved by the train stage"
        ) from None
    n_outputs = model.output_shape[-1]
    if not isinstance(classes, list) or len(classes) != n_outputs or not all(isinstance(c, str) for c in classes):
        raise DataError(
            f"{path}: no list of {n_outputs} class names in its metadata.json; "
            "expected a model saved by the train stage"
        )
    return model, tuple(classes)
