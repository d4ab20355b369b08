"""The visualize section of params.yaml: what the figures show, and at what resolution."""

from typing import Annotated

from pydantic import Field

from mnist_dvc.core.errors import ParamsError
from mnist_dvc.core.params import Section


class VisualizeParams(Section):
    sample_images: Annotated[int, Field(ge=1, le=400)]  # random training images in the sample grid
    density_class: Annotated[int, Field(ge=0)]  # the index of the class whose probability the density plot shows
    mistakes: Annotated[int, Field(ge=1, le=100)]  # most confident mistakes in the gallery
    dpi: Annotated[int, Field(ge=30, le=600)]

    def check_classes(self, n_classes: int, source: str) -> None:
        """density_class must name one of the dataset's classes, which are known once the data is read."""
        if self.density_class >= n_classes:
            raise ParamsError(
                f"{source}: visualize.density_class = {self.density_class}; expected an integer >= 0 and "
                f"<= {n_classes - 1}, the index of one of the {n_classes} classes"
            )
