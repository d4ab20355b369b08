"""What every family ends with, and so every family's params hold: dense hidden layers and the output layer."""

from typing import Annotated, Literal

from pydantic import Field

from mnist_dvc.core.params import Section

Activation = Literal["sigmoid", "relu", "tanh", "gelu", "elu", "selu", "swish"]


class HeadParams(Section):
    hidden_units: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1)]
    hidden_activation: Activation  # of every hidden layer, convolutions included
    output_activation: Literal["sigmoid", "softmax"]
    dropout: Annotated[float, Field(ge=0, lt=1)]  # after each dense hidden layer; 0 adds no layer
