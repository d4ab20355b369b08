"""The trained model in use: class probabilities for 28x28 uint8 images.

evaluate scores the test split through the same Classifier that predict uses on people's image
files, so the two agree; how a file becomes a 28x28 image is in apps/images.py.
"""

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from mnist_dvc.model.network import load_model

# Model calls run at once, each on its own batch: each op runs on one thread (core/runtime.py), so one call keeps one
# core busy, and two keep both of a 2-core machine busy. A batch's probabilities are the same bits alone or beside
# another's: the same ops on the same shapes.
SIDE_BY_SIDE = 2


@dataclass(frozen=True)
class Classifier:
    """The trained model, a copy of it whose output is a probability, and the names of its classes."""

    trained: keras.Model
    probability_model: keras.Model
    classes: tuple[str, ...]
    # A traced function per number of batches scored side by side, made on first use.
    _calls: dict[int, Callable[..., list[tf.Tensor]]] = field(default_factory=dict, repr=False, compare=False)

    def probabilities(self, images: np.ndarray, batch_size: int = 2000) -> np.ndarray:
        """Class probabilities for uint8 images, one row per image, each summing to 1; one model call per batch."""
        return self.probabilities_of([images], batch_size)[0]

    def probabilities_of(self, image_sets: Sequence[np.ndarray], batch_size: int = 2000) -> list[np.ndarray]:
        """probabilities() of each set of images, in batches of its own, the batches of all the sets scored
        SIDE_BY_SIDE at a time: the same numbers as one set and one batch after another, in less time."""
        batches = [
            images[start : start + batch_size] for images in image_sets for start in range(0, len(images), batch_size)
        ]
        scored = []
        for first in range(0, len(batches), SIDE_BY_SIDE):
            group = batches[first : first + SIDE_BY_SIDE]
            scored += [np.asarray(answer) for answer in self._side_by_side(len(group))(*group)]
        rows = np.concatenate(scored) if scored else np.zeros((0, len(self.classes)), np.float32)
        ends = np.cumsum([len(images) for images in image_sets], dtype=int)
        return [rows[end - len(images) : end] for images, end in zip(image_sets, ends, strict=True)]

    def _side_by_side(self, count: int) -> Callable[..., list[tf.Tensor]]:
        """The probability model called on count batches at once, traced once for batches of any size."""
        if count not in self._calls:
            model = self.probability_model
            spec = tf.TensorSpec((None, *model.input_shape[1:]), model.inputs[0].dtype)
            self._calls[count] = tf.function(
                lambda *batches: [model(batch, training=False) for batch in batches], input_signature=[spec] * count
            )
        return self._calls[count]


def load_classifier(path: os.PathLike) -> Classifier:
    """The model saved by train, and a copy whose output is a probability whatever its last activation.

    Keras trains a sigmoid output layer with softmax cross-entropy on that layer's logits (the
    inputs of the sigmoid), so the model's probabilities are the softmax of those logits; the
    sigmoids themselves do not sum to 1.
    """
    model, classes = load_model(path)
    head = model.layers[-1]
    probability_model = model
    if head.get_config().get("activation") == "sigmoid":
        logits = keras.layers.Dense.from_config({**head.get_config(), "activation": "linear", "name": "logits"})
        outputs = keras.layers.Softmax(name="probabilities")(logits(head.input))
        logits.set_weights(head.get_weights())
        probability_model = keras.Model(model.inputs, outputs, name=f"{model.name}_probabilities")
    return Classifier(model, probability_model, classes)
