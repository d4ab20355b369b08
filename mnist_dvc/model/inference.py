"""The trained model in use: class probabilities for 28x28 uint8 images.

evaluate scores the test split through the same Classifier that predict uses on people's image
files, so the two agree; how a file becomes a 28x28 image is in apps/images.py.
"""

import os
from dataclasses import dataclass

import keras
import numpy as np

from mnist_dvc.model.network import load_model


@dataclass(frozen=True)
class Classifier:
    """The trained model, a copy of it whose output is a probability, and the names of its classes."""

    trained: keras.Model
    probability_model: keras.Model
    classes: tuple[str, ...]

    def probabilities(self, images: np.ndarray, batch_size: int = 2000) -> np.ndarray:
        """Class probabilities for uint8 images, one row per image, each summing to 1; one model call per batch."""
        batches = [images[start : start + batch_size] for start in range(0, len(images), batch_size)]
        if not batches:  # no image: no model call, and no rows
            return np.zeros((0, len(self.classes)), np.float32)
        return np.concatenate([np.asarray(self.probability_model.predict_on_batch(batch)) for batch in batches])


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
