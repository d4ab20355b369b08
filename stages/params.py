"""Loading and validating params.yaml: one typed, checked object per stage.

Every stage validates what it reads before doing any work, so a typo fails in
a second with a message naming the key, the value and what is allowed.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stages.errors import ParamsError

HIDDEN_ACTIVATIONS = ("sigmoid", "relu", "tanh", "gelu", "elu", "selu", "swish")
OUTPUT_ACTIVATIONS = ("sigmoid", "softmax")
MODELS = ("mlp", "cnn")
POOLINGS = ("max", "average", "none")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
OPTIMIZERS_WITH_MOMENTUM = ("sgd", "rmsprop")
SCHEDULES = ("constant", "cosine")
# train.cnn applies to model cnn only, yet params.yaml always holds it, so that `dvc exp run -S train.model=cnn`
# works from the default file. With model mlp it must keep these values: a value that params.yaml shows always
# shapes the network it trains, so experiments never differ in a param that trained the same model.
CNN_DEFAULTS = {"filters": [32, 64], "kernel_size": 3, "pooling": "max", "batch_norm": False}
# Keys that were renamed: an old name gets a message that gives the new one.
RENAMED = {"visualize.density_digit": "visualize.density_class"}


@dataclass(frozen=True)
class PrepareParams:
    dataset: str
    val_fraction: float
    seed: int


@dataclass(frozen=True)
class CnnParams:
    """The convolution blocks that a CNN puts before its dense layers."""

    filters: tuple[int, ...]
    kernel_size: int
    pooling: str
    batch_norm: bool


@dataclass(frozen=True)
class AugmentParams:
    """Random shifts (pixels), rotations (degrees) and zoom (a fraction) of training images; all 0 is off."""

    shift: float
    rotation: float
    zoom: float

    @property
    def enabled(self) -> bool:
        return bool(self.shift or self.rotation or self.zoom)


@dataclass(frozen=True)
class TrainParams:
    model: str
    cnn: CnnParams
    hidden_units: tuple[int, ...]
    hidden_activation: str
    output_activation: str
    optimizer: str
    learning_rate: float
    schedule: str
    warmup_epochs: int
    momentum: float
    weight_decay: float
    label_smoothing: float
    batch_size: int
    epochs: int
    dropout: float
    early_stopping_patience: int
    augment: AugmentParams
    seed: int


@dataclass(frozen=True)
class VisualizeParams:
    sample_images: int
    density_class: int
    mistakes: int
    dpi: int
    seed: int


def load_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping safely, with a one-line error for a missing or broken file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found; run from the project root") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise ParamsError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of sections, found {type(data).__name__}")
    return data


def load_prepare_params(path: Path) -> PrepareParams:
    params = load_yaml(path)
    section = _Section(path, "prepare", params)
    result = PrepareParams(
        dataset=section.string("dataset"),
        val_fraction=section.number("val_fraction", low=0.0, high=1.0, low_open=True, high_open=True),
        seed=_seed(path, params),
    )
    section.reject_unknown()
    return result


def load_train_params(path: Path) -> TrainParams:
    params = load_yaml(path)
    section = _Section(path, "train", params)
    cnn = section.subsection("cnn")
    augment = section.subsection("augment")
    result = TrainParams(
        model=section.choice("model", MODELS),
        cnn=CnnParams(
            filters=cnn.positive_int_list("filters"),
            kernel_size=cnn.integer("kernel_size", low=1, high=9),
            pooling=cnn.choice("pooling", POOLINGS),
            batch_norm=cnn.boolean("batch_norm"),
        ),
        hidden_units=section.positive_int_list("hidden_units"),
        hidden_activation=section.choice("hidden_activation", HIDDEN_ACTIVATIONS),
        output_activation=section.choice("output_activation", OUTPUT_ACTIVATIONS),
        optimizer=section.choice("optimizer", OPTIMIZERS),
        learning_rate=section.number("learning_rate", low=0.0, low_open=True),
        schedule=section.choice("schedule", SCHEDULES),
        warmup_epochs=section.integer("warmup_epochs", low=0),
        momentum=section.number("momentum", low=0.0, high=1.0, high_open=True),
        weight_decay=section.number("weight_decay", low=0.0, high=1.0, high_open=True),
        label_smoothing=section.number("label_smoothing", low=0.0, high=1.0, high_open=True),
        batch_size=section.integer("batch_size", low=1),
        epochs=section.integer("epochs", low=1),
        dropout=section.number("dropout", low=0.0, high=1.0, high_open=True),
        early_stopping_patience=section.integer("early_stopping_patience", low=0),
        augment=AugmentParams(
            shift=augment.number("shift", low=0.0, high=10.0),
            rotation=augment.number("rotation", low=0.0, high=45.0),
            zoom=augment.number("zoom", low=0.0, high=0.5),
        ),
        seed=_seed(path, params),
    )
    for checked in (section, cnn, augment):
        checked.reject_unknown()
    _check_combinations(path, result, cnn.values)
    return result


def _check_combinations(path: Path, params: TrainParams, cnn_values: dict[str, Any]) -> None:
    """Reject a param that the rest of the params leave without effect, with one line saying how to fix it."""

    def not_applicable(key: str, value: Any, applies_to: str, fix: str) -> ParamsError:
        return ParamsError(f"{path}: train.{key} = {value!r} does not apply to {applies_to}; {fix}")

    if params.model != "cnn":
        for key, default in CNN_DEFAULTS.items():
            if cnn_values[key] != default:
                fix = f"leave it at {default!r} or set model: cnn"
                raise not_applicable(f"cnn.{key}", cnn_values[key], f"model {params.model!r}", fix)
    if params.momentum and params.optimizer not in OPTIMIZERS_WITH_MOMENTUM:
        raise not_applicable(
            "momentum",
            params.momentum,
            f"optimizer {params.optimizer!r}",
            f"set it to 0 or use one of: {', '.join(OPTIMIZERS_WITH_MOMENTUM)}",
        )
    if params.weight_decay and params.optimizer != "adamw":
        raise not_applicable(
            "weight_decay", params.weight_decay, f"optimizer {params.optimizer!r}", "set it to 0 or use adamw"
        )
    if params.warmup_epochs and params.schedule != "cosine":
        raise not_applicable(
            "warmup_epochs", params.warmup_epochs, f"schedule {params.schedule!r}", "set it to 0 or use cosine"
        )
    if params.warmup_epochs >= params.epochs:
        raise ParamsError(
            f"{path}: train.warmup_epochs = {params.warmup_epochs!r}; expected fewer than "
            f"train.epochs ({params.epochs}), to leave epochs for the cosine decay"
        )


def load_visualize_params(path: Path, n_classes: int) -> VisualizeParams:
    """Read the visualize section; density_class must be the index of one of the dataset's n_classes classes."""
    params = load_yaml(path)
    section = _Section(path, "visualize", params)
    result = VisualizeParams(
        sample_images=section.integer("sample_images", low=1, high=400),
        density_class=section.integer("density_class", low=0, high=n_classes - 1),
        mistakes=section.integer("mistakes", low=1, high=100),
        dpi=section.integer("dpi", low=30, high=600),
        seed=_seed(path, params),
    )
    section.reject_unknown()
    return result


def _seed(path: Path, params: dict[str, Any]) -> int:
    return _Section(path, None, params).integer("seed", low=0, high=2**32 - 1)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Section:
    """Typed access to one section of params.yaml, remembering which keys were read."""

    def __init__(self, path: Path, name: str | None, params: dict[str, Any]):
        self.path = path
        self.name = name
        if name is None:
            self.values = params
        else:
            values = params.get(name.rpartition(".")[2])
            if not isinstance(values, dict):
                found = "nothing" if values is None else repr(values)
                raise ParamsError(f"{path}: section '{name}' is missing or not a mapping (found {found})")
            self.values = values
        self.read: set[str] = set()

    def _key(self, key: str) -> str:
        return key if self.name is None else f"{self.name}.{key}"

    def _get(self, key: str, expected: str) -> Any:
        self.read.add(key)
        if key not in self.values:
            raise ParamsError(f"{self.path}: {self._key(key)} is missing; expected {expected}")
        return self.values[key]

    def _fail(self, key: str, value: Any, expected: str) -> ParamsError:
        return ParamsError(f"{self.path}: {self._key(key)} = {value!r}; expected {expected}")

    def subsection(self, key: str) -> "_Section":
        """The mapping at key, as a section of its own: its keys are checked and named as section.key.key."""
        self.read.add(key)
        return _Section(self.path, self._key(key), self.values)

    def boolean(self, key: str) -> bool:
        value = self._get(key, "true or false")
        if not isinstance(value, bool):
            raise self._fail(key, value, "true or false")
        return value

    def string(self, key: str) -> str:
        value = self._get(key, "a name")
        if not isinstance(value, str) or not value:
            raise self._fail(key, value, "a non-empty string")
        return value

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        expected = "one of: " + ", ".join(options)
        value = self._get(key, expected)
        if value not in options:
            raise self._fail(key, value, expected)
        return value

    def integer(self, key: str, low: int | None = None, high: int | None = None) -> int:
        expected = _range_text("an integer", low, high, False, False)
        value = self._get(key, expected)
        if not isinstance(value, int) or isinstance(value, bool) or not _in_range(value, low, high, False, False):
            raise self._fail(key, value, expected)
        return value

    def number(
        self,
        key: str,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
        high_open: bool = False,
    ) -> float:
        expected = _range_text("a number", low, high, low_open, high_open)
        value = self._get(key, expected)
        if not _is_number(value) or not _in_range(value, low, high, low_open, high_open):
            raise self._fail(key, value, expected)
        return float(value)

    def positive_int_list(self, key: str) -> tuple[int, ...]:
        expected = "a non-empty list of integers >= 1, such as [256, 128]"
        value = self._get(key, expected)
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
        ):
            raise self._fail(key, value, expected)
        return tuple(value)

    def reject_unknown(self) -> None:
        if self.name is None:
            return
        unknown = sorted(set(self.values) - self.read)
        for key in unknown:
            if self._key(key) in RENAMED:
                raise ParamsError(f"{self.path}: {self._key(key)} was renamed; call it {RENAMED[self._key(key)]}")
        if unknown:
            raise ParamsError(
                f"{self.path}: unknown key {self._key(unknown[0])}; expected one of: {', '.join(sorted(self.read))}"
            )


def _in_range(value: float, low: float | None, high: float | None, low_open: bool, high_open: bool) -> bool:
    if low is not None and (value <= low if low_open else value < low):
        return False
    return high is None or (value < high if high_open else value <= high)


def _range_text(kind: str, low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return kind + (" " + " and ".join(parts) if parts else "")
