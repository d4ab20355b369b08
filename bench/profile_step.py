"""Where a training step's time goes: TensorFlow's profiler on the train stage's own model, batches and fit.

The params are a recipe (conf/recipe/) with any -S overrides, composed from conf/ by DVC's own Hydra
composition as `dvc exp run -S recipe=NAME -S ...` composes them, and checked by the train stage's schema; the
prepared data must exist (`dvc repro prepare`). The model is built and trained by the library's fit, as the
train stage trains it, for three epochs: the first warms up (tracing and first calls), the second is timed,
the third runs under TensorFlow's profiler until its last step (its validation is left out). Printed first, the
wall time of a fit's parts: a step and a validation pass in the second epoch, and what the first epoch's steps and
validation take beyond the second's (tracing, first calls), so that a fit's time reads as the first epoch's extra plus
epochs x (steps x step + validation). The profile is read back (an XPlane file) and printed as time per step: the time
of the ops on the threads that run the step, by part of the network (each layer kind, forward and gradient together, the
optimizer, the loss) and by kind of op. Two threads run ops side by side, so op times add up to more than
the wall time. Printed apart: the time each step's call for its next batch takes
(IteratorGetNextAsOptional, which the step waits on unless the batch is ready), and the time of the input
pipeline's own ops.

    python -m bench.profile_step cnn-wider
    python -m bench.profile_step cnn -S train.model.batch_norm=true
    python -m bench.profile_step reference --top 10
"""

import argparse
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mnist_dvc.core.errors import ParamsError, PipelineError
from mnist_dvc.core.params import compose, read_params
from stages.train import Params

RECIPES = Path("conf/recipe")
EPOCHS = 3

# Threads in a profile: those that run the ops of a step, and those of the input pipeline.
STEP_THREADS = "tf_Compute"
INPUT_THREADS = "tf_data"
# The event of a step's call for its next batch, on an input pipeline thread.
GET_NEXT = "IteratorGetNextAsOptionalOp::DoCompute"


@dataclass(frozen=True)
class Timings:
    """Wall seconds of the first two epochs (unprofiled): their steps, and their validation passes."""

    steps: int
    train_s: tuple[float, float]
    validation_s: tuple[float, float]

    @property
    def step_s(self) -> float:
        return self.train_s[1] / self.steps


@dataclass
class Profile:
    """Picoseconds of a profiled epoch: the step's ops by (part of the step, op type), and the input's."""

    step_ops: Counter = field(default_factory=Counter)
    get_next_ps: int = 0
    input_ops_ps: int = 0


def recipes() -> list[str]:
    """The names of the recipes in conf/recipe/."""
    return sorted(path.stem for path in RECIPES.glob("*.yaml"))


def composed_params(recipe: str, overrides: list[str]) -> Params:
    """The params of `dvc exp run -S recipe=RECIPE -S OVERRIDE...`, for three epochs, checked as the train stage
    checks them."""
    with tempfile.TemporaryDirectory() as temp:
        path = Path(temp) / "params.yaml"
        composed = [f"recipe={recipe}", *overrides, f"train.epochs={EPOCHS}"]
        try:
            compose(path, composed)
        except Exception as error:  # Hydra's own errors name the override that failed
            raise ParamsError(f"-S {' -S '.join(overrides)}: {error}".replace("\n", " ")) from None
        try:
            return read_params(path, Params)
        except ParamsError as error:
            # Name what the user gave, not the temporary file.
            raise ParamsError(str(error).replace(str(path), f"recipe {recipe} with the overrides")) from None


def profile_epoch(params: Params, log_dir: Path) -> Timings:
    """Train as the train stage does for three epochs, timing the first two and profiling the third into log_dir."""
    import keras
    import tensorflow as tf

    from mnist_dvc.core.prepared import read_split
    from mnist_dvc.model.network import build_model
    from mnist_dvc.model.training import compile_for_training, fit, seed_everything, steps_per_epoch

    train, val = read_split("train"), read_split("val")
    seed_everything(params.seed)
    model = build_model(params.train.model, train.images.shape[1:], len(train.classes))
    compile_for_training(model, params.train, len(train.labels))
    train_s: list[float] = []
    validation_s: list[float] = []

    class Timer(keras.callbacks.Callback):
        """An epoch's training runs as one call (steps_per_execution): its batch ends before validation starts."""

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            print(f"profile_step: epoch {epoch + 1} of {EPOCHS}", file=sys.stderr, flush=True)
            self.epoch = epoch
            if epoch == 2:
                tf.profiler.experimental.start(str(log_dir))
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            if self.epoch < 2:
                train_s.append(time.perf_counter() - self.started)
            else:
                tf.profiler.experimental.stop()

        def on_test_begin(self, logs: dict | None = None) -> None:
            self.validation_started = time.perf_counter()

        def on_test_end(self, logs: dict | None = None) -> None:
            if self.epoch < 2:
                validation_s.append(time.perf_counter() - self.validation_started)

    fit(model, params.train, params.seed, train, val, [Timer()])
    steps = steps_per_epoch(len(train.labels), params.train.batch_size)
    return Timings(steps, (train_s[0], train_s[1]), (validation_s[0], validation_s[1]))


def part_of(op_name: str, model_name: str) -> str:
    """The part of the training step an op belongs to: the kind of layer (conv2d, dense...), forward and gradient
    alike, or the optimizer, the loss, and "step" for the loop around them and the step's bookkeeping.

    Keras names a step's ops by scope, as in .../StatefulPartitionedCall/gradient_tape/cnn_1/conv2d_1_2/...,
    where TensorFlow numbers repeated scopes.
    """
    scope = op_name.rsplit("StatefulPartitionedCall/", 1)[-1].removeprefix("gradient_tape/")
    first, _, rest = scope.partition("/")
    if re.fullmatch(rf"{re.escape(model_name)}(_\d+)*", first) and rest:
        first, _, rest = rest.partition("/")
    # Ops outside any scope, and the loop over the steps of an epoch, are the step's own.
    return re.sub(r"(_\d+)+$", "", first) if rest and first != "while" else "step"


def read_profile(log_dir: Path, model_name: str) -> Profile:
    """The op times of the profile in log_dir, from its XPlane file."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    (xplane,) = log_dir.rglob("*.xplane.pb")
    space = xplane_pb2.XSpace.FromString(xplane.read_bytes())
    (host,) = (plane for plane in space.planes if plane.name == "/host:CPU")
    profile = Profile()
    for line in host.lines:
        for event in line.events:
            # An op's event is named "op_name:OpType"; the runtime's own are "Class::method".
            name = host.event_metadata[event.metadata_id].name
            if line.name.startswith(INPUT_THREADS) and name == GET_NEXT:
                profile.get_next_ps += event.duration_ps
            if ":" not in name or "::" in name:
                continue
            if line.name.startswith(STEP_THREADS):
                op_name, op_type = name.rsplit(":", 1)
                profile.step_ops[part_of(op_name, model_name), op_type] += event.duration_ps
            elif line.name.startswith(INPUT_THREADS):
                profile.input_ops_ps += event.duration_ps
    return profile


def report(name: str, overrides: list[str], timings: Timings, profile: Profile, top: int) -> str:
    steps = timings.steps

    def ms_per_step(key: int) -> dict[str, float]:
        totals: Counter = Counter()
        for part_and_type, ps in profile.step_ops.items():
            totals[part_and_type[key]] += ps / 1e9 / steps
        return dict(totals.most_common())

    by_part, by_type = ms_per_step(0), ms_per_step(1)
    total = sum(by_part.values())
    extra_train, extra_validation = (first - second for first, second in (timings.train_s, timings.validation_s))
    lines = [
        f"{name}: {' '.join(overrides) or '(defaults)'}",
        f"wall time per step (epoch 2, not profiled): {timings.step_s * 1e3:.1f} ms, {steps} steps an epoch",
        f"wall time of the validation pass after it: {timings.validation_s[1] * 1e3:.1f} ms",
        f"the first epoch beyond the second: {extra_train:.2f} s in its steps, {extra_validation:.2f} s in validation",
        f"op time per step on the step's threads (epoch 3, profiled): {total:.1f} ms",
        f"the call for the next batch, per step: {profile.get_next_ps / 1e9 / steps:.2f} ms",
        f"the input pipeline's own ops per step: {profile.input_ops_ps / 1e9 / steps:.2f} ms",
    ]
    for title, times in (("part of the step", by_part), ("op", by_type)):
        lines += ["", f"| {title} | ms per step | share of op time |", "|---|---|---|"]
        for key, ms in list(times.items())[:top]:
            lines.append(f"| {key} | {ms:.2f} | {ms / total:.1%} |")
        rest = sum(list(times.values())[top:])
        if rest:
            lines.append(f"| {len(times) - top} others | {rest:.2f} | {rest / total:.1%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", nargs="?", default="reference", choices=recipes(), help="a recipe of conf/recipe/")
    parser.add_argument("-S", dest="overrides", action="append", default=[], help="key=value, as in dvc exp run -S")
    parser.add_argument("--top", type=int, default=15, help="op kinds to list (default: %(default)s)")
    args = parser.parse_args()
    if args.top < 1:
        parser.error(f"--top {args.top}: expected at least 1")

    try:
        params = composed_params(args.recipe, args.overrides)
        with tempfile.TemporaryDirectory(prefix="profile-step-") as temp:
            timings = profile_epoch(params, Path(temp))
            profile = read_profile(Path(temp), params.train.model.family)
    except PipelineError as error:
        raise SystemExit(f"profile_step: {error}") from None
    print(report(args.recipe, args.overrides, timings, profile, args.top))


if __name__ == "__main__":
    main()
