"""The search mode: trials chosen one after another by Optuna, in the driver, from a search space file.

The file (conf/sweep/*.yaml, docs/sweeps.md) names the params to search, each a range or a list of choices, the
-S values every trial shares, the metric to optimise and a trial budget. Optuna asks for a point, the point becomes
-S overrides and a trial like a grid's; its metric is told back when it finishes. Nothing but the driver keeps
Optuna's state: a rerun tells it the trials that finished before, read back from their experiments.
"""

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from mnist_dvc.apps.sweep.plan import SweepError, Trial, make_trial
from mnist_dvc.core.errors import ParamsError
from mnist_dvc.core.params import Section, load_yaml, validate

SEARCH_DIR = Path("conf/sweep")
# What a search can optimise: the scores that train and evaluate write (metrics/train.json, metrics/test.json).
METRICS = ("val.accuracy", "val.loss", "test.accuracy", "test.loss", "train.accuracy", "train.loss")
# Chosen floats keep this many significant digits: 0.00231, not 0.0023087964, in names, tables and commands.
SIGNIFICANT_DIGITS = 3
# Floats on a step lose only the noise of their arithmetic: 0.3, not 0.30000000000000004.
STEP_DIGITS = 12
PLAIN_TEXT = re.compile(r"[A-Za-z0-9_.+/-]+")

Scalar = bool | int | float | str | None


class IntRange(Section):
    """Integers from low to high, both included, every step-th one; log draws them evenly on a log scale."""

    low: int
    high: int
    step: Annotated[int, Field(ge=1)] = 1
    log: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> "IntRange":
        return _check_bounds(self)


class FloatRange(Section):
    """Numbers from low to high; step makes them a grid, log draws them evenly on a log scale (not both)."""

    low: float
    high: float
    step: Annotated[float, Field(gt=0)] | None = None
    log: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> "FloatRange":
        return _check_bounds(self)


def _check_bounds(space: IntRange | FloatRange) -> IntRange | FloatRange:
    if space.low >= space.high:
        problem = f"low = {space.low} is not below high = {space.high}; expected low < high"
    elif space.log and space.low <= 0:
        problem = f"low = {space.low} with log: true; expected low > 0"
    elif space.log and space.step not in (None, 1):
        problem = "log: true with a step; expected one or the other"
    else:
        return space
    raise PydanticCustomError("value_error", problem)


Choices = Annotated[list[Scalar | list[Scalar]], Field(min_length=1)]


class _Choices(Section):
    choices: Choices


class SearchSpace(Section):
    """A search space file: what to search, what to keep fixed, what to optimise, and how many trials."""

    space: Annotated[dict[str, IntRange | FloatRange | Choices], Field(min_length=1)]
    set: list[str] = []
    metric: Literal[METRICS] = "val.accuracy"
    direction: Literal["maximize", "minimize"] = "maximize"
    trials: Annotated[int, Field(ge=1)] | None = None
    seed: Annotated[int, Field(ge=0)] = 42


def find_space(name: str) -> Path:
    """A search space file by path, or by name in conf/sweep/."""
    for candidate in (Path(name), SEARCH_DIR / f"{name}.yaml"):
        if candidate.is_file():
            return candidate
    known = ", ".join(sorted(path.stem for path in SEARCH_DIR.glob("*.yaml"))) or "none"
    raise SweepError(
        f"--search {name}: no such file, nor {SEARCH_DIR / name}.yaml; the spaces in {SEARCH_DIR}: {known}"
    )


def read_space(path: Path) -> SearchSpace:
    """The search space in path, checked: a wrong key or value is one line naming it. Each param's range or
    choices is checked on its own, so that the line names the param."""
    try:
        data = load_yaml(path)
        for key, spec in (data.get("space") if isinstance(data.get("space"), dict) else {}).items():
            if not PLAIN_TEXT.fullmatch(str(key)):
                raise SweepError(f"{path}: space key {key!r}; expected a dotted param name such as train.learning_rate")
            where = f"{path}: space.{key}"
            if isinstance(spec, list):
                validate({"choices": spec}, _Choices, where)
            elif isinstance(spec, dict):
                numbers = [spec.get(bound) for bound in ("low", "high")]
                whole = all(isinstance(n, int) and not isinstance(n, bool) for n in numbers)
                validate(spec, IntRange if whole else FloatRange, where)
            else:
                raise SweepError(f"{where} = {spec!r}; expected a list of choices or a mapping of low, high")
        return validate(data, SearchSpace, str(path))
    except ParamsError as error:
        raise SweepError(str(error)) from None


def text(value: Any) -> str:
    """A value as an -S override writes it: true, null, 0.001, [16,32], relu."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ",".join(text(item) for item in value) + "]"
    if isinstance(value, float):
        return repr(value)
    value = str(value)
    return value if PLAIN_TEXT.fullmatch(value) else "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def distributions(space: SearchSpace) -> dict[str, Any]:
    """Optuna's distribution for each searched param. Choices that are lists go to Optuna as their -S text."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    found = {}
    for key, spec in space.space.items():
        if isinstance(spec, IntRange):
            found[key] = IntDistribution(spec.low, spec.high, log=spec.log, step=spec.step)
        elif isinstance(spec, FloatRange):
            found[key] = FloatDistribution(spec.low, spec.high, log=spec.log, step=spec.step)
        else:
            found[key] = CategoricalDistribution([_choice(choice) for choice in spec])
    return found


def _choice(choice: Scalar | list[Scalar]) -> Scalar:
    """A choice as Optuna takes it: a list (train.model.filters) as its -S text, anything else as it is."""
    return text(choice) if isinstance(choice, list) else choice


def _written(choice: Scalar, spec: list) -> str:
    """The -S text of a choice that Optuna returned."""
    return next(
        text(original) for original in spec if _choice(original) == choice and type(_choice(original)) is type(choice)
    )


def rounded(value: float, low: float, high: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """A chosen float with so many significant digits, kept within its range."""
    return min(max(float(f"{value:.{digits}g}"), low), high)


class Search:
    """Optuna's study, asked for trials and told their scores; the trials get their names as a grid's do."""

    def __init__(self, sweep: str, space: SearchSpace) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.sweep = sweep
        self.space = space
        self.distributions = distributions(space)
        self.study = optuna.create_study(direction=space.direction, sampler=optuna.samplers.TPESampler(seed=space.seed))
        self._asked: dict[int, Any] = {}

    def overrides(self, params: dict[str, Any]) -> tuple[str, ...]:
        """The -S overrides of a point: the fixed ones, then one per searched param."""
        written = {
            key: _written(params[key], spec) if isinstance(spec, list) else text(params[key])
            for key, spec in self.space.space.items()
        }
        return (*self.space.set, *(f"{key}={written[key]}" for key in self.space.space))

    def ask(self) -> tuple[int, Trial]:
        """The next point to try: its number in the study and its trial."""
        from optuna.distributions import FloatDistribution

        asked = self.study.ask(self.distributions)
        params = dict(asked.params)
        for key, distribution in self.distributions.items():
            if isinstance(distribution, FloatDistribution):
                digits = SIGNIFICANT_DIGITS if distribution.step is None else STEP_DIGITS
                params[key] = rounded(params[key], distribution.low, distribution.high, digits)
        self._asked[asked.number] = asked
        return asked.number, make_trial(self.sweep, self.overrides(params))

    def tell(self, number: int, metrics: dict[str, float] | None) -> None:
        """The score of an asked trial; None for one that failed."""
        from optuna.trial import TrialState

        asked = self._asked.pop(number)
        if metrics is None or self.space.metric not in metrics:
            self.study.tell(asked, state=TrialState.FAIL)
        else:
            self.study.tell(asked, metrics[self.space.metric])

    def add_finished(self, overrides: tuple[str, ...], metrics: dict[str, float]) -> bool:
        """Tell the study a trial that finished in an earlier run; False if it is no point of this space."""
        import optuna

        given = dict(override.split("=", 1) for override in overrides if "=" in override)
        if self.space.metric not in metrics or overrides[: len(self.space.set)] != tuple(self.space.set):
            return False
        params = {}
        for key, spec in self.space.space.items():
            if key not in given:
                return False
            params[key] = _value(spec, given[key])
        try:
            frozen = optuna.trial.create_trial(
                params=params, distributions=self.distributions, value=metrics[self.space.metric]
            )
            self.study.add_trial(frozen)
        except ValueError:
            return False
        return True

    @property
    def told(self) -> int:
        """How many trials the study has been told of: the budget counts them."""
        return len(self.study.trials) - len(self._asked)


def _value(spec: IntRange | FloatRange | list, written: str) -> Any:
    """The value in Optuna's terms of a param as its override wrote it; None where it cannot be one."""
    if isinstance(spec, list):
        return next((_choice(choice) for choice in spec if text(choice) == written), None)
    try:
        return int(written) if isinstance(spec, IntRange) else float(written)
    except ValueError:
        return None
