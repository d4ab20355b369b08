"""The multilayer perceptron: the image flattened, then the dense layers of the head; the reference model."""

from typing import TYPE_CHECKING, Literal

from mnist_dvc.model.families.head import HeadParams

if TYPE_CHECKING:  # the params are read before TensorFlow is imported, and without it
    import keras


class MlpParams(HeadParams):
    family: Literal["mlp"]


def add_layers(model: "keras.Sequential", params: MlpParams, image_shape: tuple[int, ...]) -> None:
    """Nothing before the head: the MLP is its dense layers alone."""
