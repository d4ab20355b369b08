"""The prepare section of params.yaml: which dataset, and how much of its training images to hold out."""

from typing import Annotated

from pydantic import Field

from mnist_dvc.core.params import Section


class PrepareParams(Section):
    dataset: Annotated[str, Field(min_length=1)]  # an entry of datasets.yaml
    val_fraction: Annotated[float, Field(gt=0, lt=1)]  # share of the training images held out for validation
