"""The trials of a sweep: a grid in DVC's own -S syntax, expanded exactly as `dvc exp run --queue` expands it, and
each trial's name, taken from its overrides, so that the same trial has the same name in every run of the sweep
and a rerun finds the trials that finished before."""

import hashlib
import re
import shlex
from dataclasses import dataclass

from mnist_dvc.core.errors import PipelineError

# The params file that `-S key=value` changes when it names no file; DVC's default, composed by Hydra here.
PARAMS_FILE = "params.yaml"
# A sweep's name begins each trial's name, so it must suit a git ref and a DVC experiment name.
SWEEP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
DIGEST_LENGTH = 8
# How each trial's experiment commit starts its message; the rest is the command that reruns it.
MESSAGE_PREFIX = "sweep "


class SweepError(PipelineError):
    """A sweep that cannot start or go on: bad -S values, a bad search space, an unreachable cluster or remote."""


@dataclass(frozen=True)
class Trial:
    """One experiment of a sweep: its name and the -S overrides that make it."""

    name: str
    overrides: tuple[str, ...]

    @property
    def command(self) -> str:
        """The command that runs this trial alone, on any clone of the same commit."""
        return shlex.join(["dvc", "exp", "run", *(arg for override in self.overrides for arg in ("-S", override))])

    def message(self, sweep: str) -> str:
        """The commit message of the trial's experiment: which sweep made it, and how to run it again."""
        return f"{MESSAGE_PREFIX}{sweep}: {self.command}"


def check_sweep_name(name: str) -> str:
    if not SWEEP_NAME.fullmatch(name):
        raise SweepError(
            f"--name {name!r}: expected up to 40 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return name


def trial_name(sweep: str, overrides: tuple[str, ...] | list[str]) -> str:
    """The sweep's name and a digest of the overrides, in any order: the same trial always has the same name."""
    digest = hashlib.sha256("\n".join(sorted(overrides)).encode()).hexdigest()
    return f"{sweep}-{digest[:DIGEST_LENGTH]}"


def is_trial_of(sweep: str, name: str) -> bool:
    return re.fullmatch(rf"{re.escape(sweep)}-[0-9a-f]{{{DIGEST_LENGTH}}}", name) is not None


def make_trial(sweep: str, overrides: tuple[str, ...] | list[str]) -> Trial:
    return Trial(trial_name(sweep, overrides), tuple(overrides))


def grid(sweep: str, set_params: list[str]) -> list[Trial]:
    """Every combination of the -S values, by DVC's own expansion of a queued grid (`a=1,2` is two values; `range`
    and `choice` work too); each combination once, in DVC's order."""
    trials: dict[str, Trial] = {}
    for combination in _expand(set_params):
        trial = make_trial(sweep, combination)
        trials.setdefault(trial.name, trial)
    return list(trials.values())


def is_grid(set_params: list[str]) -> bool:
    """Whether any -S value is a sweep (a comma list, range, choice): more than one trial."""
    return len(_expand(set_params)) > 1


def _expand(set_params: list[str]) -> list[tuple[str, ...]]:
    from dvc.exceptions import DvcException
    from dvc.utils.cli_parse import to_path_overrides
    from dvc.utils.hydra import get_hydra_sweeps
    from hydra.errors import HydraException

    if not set_params:
        return [()]
    try:
        combinations = get_hydra_sweeps(to_path_overrides(set_params))
    except (HydraException, DvcException) as error:
        raise SweepError(f"-S {' '.join(set_params)}: {str(error).splitlines()[0]}") from None
    return [
        tuple(
            override if path == PARAMS_FILE else f"{path}:{override}" for path, each in c.items() for override in each
        )
        for c in combinations
    ]


def overrides_from_message(sweep: str, message: str) -> tuple[str, ...] | None:
    """The overrides that a trial's commit message records, or None if the message is not one of this sweep's."""
    prefix = f"{MESSAGE_PREFIX}{sweep}: dvc exp run"
    first_line = message.strip().splitlines()[0] if message.strip() else ""
    if not first_line.startswith(prefix):
        return None
    try:
        words = shlex.split(first_line.removeprefix(prefix))
    except ValueError:
        return None
    if len(words) % 2 or any(flag != "-S" for flag in words[::2]):
        return None
    return tuple(words[1::2])


def compare_command(varied: list[str]) -> str:
    """`dvc exp show` with only the columns a sweep needs: the params it varied and the validation and test scores,
    best first; what it drops would not fit a terminal."""
    columns = ["Experiment", "val.accuracy", "test.accuracy", "test.loss", *varied]
    keep = "^(" + "|".join(re.escape(column) for column in columns) + ")$"
    return shlex.join(
        ["dvc", "exp", "show", "--drop", ".*", "--keep", keep]
        + ["--sort-by", "metrics/test.json:test.accuracy", "--sort-order", "desc"]
    )
