"""The model families: each a module with its own params (what conf/model/<family>.yaml sets) and the layers
it builds. A new family is a module here, its entry in FAMILIES, and its conf/model/<family>.yaml."""

from typing import Annotated

from pydantic import Field

from mnist_dvc.model.families import cnn, mlp

FAMILIES = {"mlp": mlp, "cnn": cnn}
# train.model in params.yaml: the params of one family, told apart by their `family` key.
FamilyParams = Annotated[mlp.MlpParams | cnn.CnnParams, Field(discriminator="family")]
