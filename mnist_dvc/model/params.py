"""The train section of params.yaml: the model family's own params (train.model), then how to train it."""

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from mnist_dvc.core.params import Section
from mnist_dvc.model.families import FamilyParams

Fraction = Annotated[float, Field(ge=0, lt=1)]
OPTIMIZERS_WITH_MOMENTUM = ("sgd", "rmsprop")


class AugmentParams(Section):
    """Random shifts (pixels), rotations (degrees) and zoom (a fraction) of training images, and Gaussian noise (its
    largest standard deviation, a fraction of white); all 0 is off."""

    shift: Annotated[float, Field(ge=0, le=10)]
    rotation: Annotated[float, Field(ge=0, le=45)]
    zoom: Annotated[float, Field(ge=0, le=0.5)]
    noise: Annotated[float, Field(ge=0, le=0.5)]

    @property
    def moves(self) -> bool:
        return bool(self.shift or self.rotation or self.zoom)

    @property
    def enabled(self) -> bool:
        return self.moves or bool(self.noise)


class TrainParams(Section):
    model: FamilyParams
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"]
    learning_rate: Annotated[float, Field(gt=0)]  # the peak rate under a schedule
    schedule: Literal["constant", "cosine"]
    warmup_epochs: Annotated[int, Field(ge=0)]  # cosine only
    momentum: Fraction  # sgd and rmsprop only
    weight_decay: Fraction  # adamw only
    label_smoothing: Fraction
    batch_size: Annotated[int, Field(ge=1)]
    # Each batch as two halves through the network side by side, one per core, their losses averaged: the same
    # gradients but for rounding, in less time on two cores; batch normalisation normalises each half by its own
    # statistics. Other numbers than the whole batch's, the same bytes on every machine either way.
    batch_in_halves: bool
    epochs: Annotated[int, Field(ge=1)]
    early_stopping_patience: Annotated[int, Field(ge=0)]
    augment: AugmentParams

    @model_validator(mode="after")
    def _every_value_applies(self) -> "TrainParams":
        """Refuse a param that the others leave without effect, saying how to fix it."""

        def not_applicable(key: str, value: object, applies_to: str, fix: str) -> PydanticCustomError:
            return PydanticCustomError("value_error", f"train.{key} = {value!r} does not apply to {applies_to}; {fix}")

        if self.momentum and self.optimizer not in OPTIMIZERS_WITH_MOMENTUM:
            fix = f"set it to 0 or use one of: {', '.join(OPTIMIZERS_WITH_MOMENTUM)}"
            raise not_applicable("momentum", self.momentum, f"optimizer {self.optimizer!r}", fix)
        if self.weight_decay and self.optimizer != "adamw":
            raise not_applicable(
                "weight_decay", self.weight_decay, f"optimizer {self.optimizer!r}", "set it to 0 or use adamw"
            )
        if self.warmup_epochs and self.schedule != "cosine":
            raise not_applicable(
                "warmup_epochs", self.warmup_epochs, f"schedule {self.schedule!r}", "set it to 0 or use cosine"
            )
        if self.batch_in_halves and self.batch_size < 2:
            raise PydanticCustomError(
                "value_error", "train.batch_in_halves = true needs train.batch_size of at least 2, to halve; got 1"
            )
        if self.warmup_epochs >= self.epochs:
            raise PydanticCustomError(
                "value_error",
                f"train.warmup_epochs = {self.warmup_epochs}; expected fewer than train.epochs ({self.epochs}), "
                "to leave epochs for the cosine decay",
            )
        return self
