"""What the export stage finds out for the model card that takes the model itself: its layers, weights and FLOPs,
the exported files, what it answers for images unlike its training data, and the packages that made the files. The
export stage writes them to models/export_facts.json, and the card stage, which does not load TensorFlow, reads them.
"""

from dataclasses import asdict, dataclass
from pathlib import Path

from mnist_dvc.core.errors import DataError
from mnist_dvc.core.files import read_json, write_json


@dataclass(frozen=True)
class Layer:
    kind: str  # "Dense 256, sigmoid"
    output: str  # "256", "13x13x32"
    weights: int


@dataclass(frozen=True)
class ModelFacts:
    layers: tuple[Layer, ...]
    weights: int
    flops: int  # per image, forward: twice the multiply-adds of the dense and convolution layers
    sigmoid_head: bool


@dataclass(frozen=True)
class ExportFile:
    path: str
    size: int  # bytes; of every file under path if it is a directory
    sha256: str | None  # of a single file


@dataclass(frozen=True)
class Answer:
    """What the model answered for a set of images that show none of its classes."""

    images: int
    commonest: int  # the class it gives most often
    share: float  # of the images given that class
    mean_probability: float  # of the class it gives, over every image


@dataclass(frozen=True)
class Limits:
    accuracy: tuple[tuple[str, float], ...]  # on the test images changed in a way: (its description, accuracy)
    blank: Answer  # one black image
    noise: Answer  # images of uniform random pixels


@dataclass(frozen=True)
class Facts:
    model: ModelFacts
    files: dict[str, ExportFile]  # by format
    limits: Limits
    versions: dict[str, str]  # of the packages that made and checked the exports


def write_facts(path: Path, facts: Facts) -> None:
    """As JSON: mappings come back with their keys sorted, lists in their order."""
    write_json(path, asdict(facts))


def read_facts(path: Path) -> Facts:
    """The facts as the export stage wrote them; a DataError in one line if the file is not such a record."""
    record = read_json(path)
    try:
        model, limits = record["model"], record["limits"]
        return Facts(
            model=ModelFacts(
                layers=tuple(Layer(**layer) for layer in model["layers"]),
                weights=model["weights"],
                flops=model["flops"],
                sigmoid_head=model["sigmoid_head"],
            ),
            files={name: ExportFile(**file) for name, file in record["files"].items()},
            limits=Limits(
                accuracy=tuple((str(change), float(value)) for change, value in limits["accuracy"]),
                blank=Answer(**limits["blank"]),
                noise=Answer(**limits["noise"]),
            ),
            versions=dict(record["versions"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise DataError(
            f"{path}: not the facts the export stage writes ({error!r}); run it again (dvc repro)"
        ) from None
