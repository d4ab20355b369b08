"""The convolutional network: blocks of convolution and pooling, then the dense layers of the head."""

import math
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from mnist_dvc.core.errors import ParamsError
from mnist_dvc.model.families.head import HeadParams

if TYPE_CHECKING:  # the params are read before TensorFlow is imported, and without it
    import keras


class CnnParams(HeadParams):
    family: Literal["cnn"]
    filters: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1)]  # one block per entry
    kernel_size: Annotated[int, Field(ge=1, le=9)]
    pooling: Literal["max", "average", "none"]
    batch_norm: bool
    # How much of the moving averages that batch normalisation answers with each training step keeps; lower
    # follows the weights sooner, for short runs of few steps.
    batch_norm_momentum: Annotated[float, Field(ge=0, lt=1)]
    # Test-time augmentation: the answer averaged over the image and this many copies moved one pixel.
    tta_shifts: Literal[0, 4, 8]


def add_layers(model: "keras.Sequential", params: CnnParams, image_shape: tuple[int, ...]) -> None:
    """One block per entry of params.filters: a same-size convolution, batch normalisation if asked, the
    activation, then 2x2 pooling unless it is none. The images get a channel axis first (channels last)."""
    import keras

    from mnist_dvc.model.layers import FusedBatchNormalization

    most_blocks = int(math.log2(min(image_shape)))
    if params.pooling != "none" and len(params.filters) > most_blocks:
        raise ParamsError(
            f"train.model.filters = {params.filters}: each block halves the {'x'.join(map(str, image_shape))} "
            f"images; expected at most {most_blocks} blocks, or pooling: none"
        )
    model.add(keras.layers.Reshape((*image_shape, 1)))
    for filters in params.filters:
        if params.batch_norm:
            # The normalisation's shift does what the convolution's bias would.
            model.add(keras.layers.Conv2D(filters, params.kernel_size, padding="same", use_bias=False))
            model.add(FusedBatchNormalization(momentum=params.batch_norm_momentum))
            model.add(keras.layers.Activation(params.hidden_activation))
        else:
            model.add(
                keras.layers.Conv2D(filters, params.kernel_size, padding="same", activation=params.hidden_activation)
            )
        if params.pooling == "max":
            model.add(keras.layers.MaxPooling2D(2))
        elif params.pooling == "average":
            model.add(keras.layers.AveragePooling2D(2))
