"""The convolutional network: blocks of convolution and pooling, then the dense layers of the head."""

import math
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from mnist_dvc.core.errors import ParamsError
from mnist_dvc.model.families.head import HeadParams

if TYPE_CHECKING:  # the params are read before TensorFlow is imported, and without it
    import keras


class CnnParams(HeadParams):
    family: Literal["cnn"]
    filters: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1)]  # one block per entry
    kernel_size: Annotated[int, Field(ge=1, le=9)]
    pooling: Literal["max", "average", "none"]
    # Pool each convolution's output before batch normalisation and the activation, which then do a quarter of
    # the work.
    pool_first: bool
    batch_norm: bool
    # How much of the moving averages that batch normalisation answers with each training step keeps; lower
    # follows the weights sooner, for short runs of few steps.
    batch_norm_momentum: Annotated[float, Field(ge=0, lt=1)]
    # Test-time augmentation: the answer averaged over the image and this many copies moved one pixel.
    tta_shifts: Literal[0, 4, 8]

    @model_validator(mode="after")
    def _pool_first_needs_pooling(self) -> "CnnParams":
        if self.pool_first and self.pooling == "none":
            raise PydanticCustomError(
                "value_error",
                "train.model.pool_first = true does not apply to pooling 'none'; set it to false or pool (max or "
                "average)",
            )
        return self


def add_layers(model: "keras.Sequential", params: CnnParams, image_shape: tuple[int, ...]) -> None:
    """One block per entry of params.filters, after giving the images a channel axis (channels last)."""
    import keras

    most_blocks = int(math.log2(min(image_shape)))
    if params.pooling != "none" and len(params.filters) > most_blocks:
        raise ParamsError(
            f"train.model.filters = {params.filters}: each block halves the {'x'.join(map(str, image_shape))} "
            f"images; expected at most {most_blocks} blocks, or pooling: none"
        )
    model.add(keras.layers.Reshape((*image_shape, 1)))
    for filters in params.filters:
        for layer in block(filters, params):
            model.add(layer)


def block(filters: int, params: CnnParams) -> list["keras.layers.Layer"]:
    """A same-size convolution, batch normalisation if asked, the activation, then 2x2 pooling unless it is none;
    with pool_first, the pooling straight after the convolution."""
    import keras

    from mnist_dvc.model.layers import FusedBatchNormalization

    pooling = {"max": keras.layers.MaxPooling2D, "average": keras.layers.AveragePooling2D}.get(params.pooling)
    pooled = [pooling(2)] if pooling else []
    size, activation = params.kernel_size, params.hidden_activation
    if not (params.batch_norm or params.pool_first):  # the activation runs inside the convolution's op
        return [keras.layers.Conv2D(filters, size, padding="same", activation=activation), *pooled]
    # The normalisation's shift does what the convolution's bias would.
    layers = [keras.layers.Conv2D(filters, size, padding="same", use_bias=not params.batch_norm)]
    if params.pool_first:
        layers += pooled
    if params.batch_norm:
        layers.append(FusedBatchNormalization(momentum=params.batch_norm_momentum))
    layers.append(keras.layers.Activation(activation))
    return layers if params.pool_first else [*layers, *pooled]
