"""train: fit the classifier on the train split, validate on val, write the curves as every epoch ends."""

import time

from mnist_dvc.core import paths, runtime
from mnist_dvc.core.cli import parse_args
from mnist_dvc.core.files import all_or_nothing
from mnist_dvc.core.params import Section, Seed, read_params
from mnist_dvc.core.prepared import read_split
from mnist_dvc.core.results import write_train_metrics
from mnist_dvc.core.stage import put_back, record_timing, run_stage
from mnist_dvc.model.params import TrainParams


class Params(Section):
    """What this stage reads of params.yaml, as dvc.yaml declares."""

    seed: Seed
    train: TrainParams


def main() -> None:
    args = parse_args(__doc__)
    params = read_params(args.params, Params)
    train, val = read_split("train"), read_split("val")

    # TensorFlow takes seconds to import: load it only once params and data have checked out.
    from mnist_dvc.model.network import build_model, save_model
    from mnist_dvc.model.training import (
        LiveMetrics,
        as_saved,
        compile_for_training,
        fit,
        seed_everything,
    )

    print(f"train: {runtime.machine()}")
    seed_everything(params.seed)
    model = build_model(params.train.model, train.images.shape[1:], len(train.classes))
    compile_for_training(model, params.train, len(train.labels))

    # Each epoch's row of the curves in metrics/train/ is written as it ends, so that `dvc plots show` shows the
    # curves growing. A run that fails puts the last good curves back; one killed outright leaves its partial
    # curves, which dvc.lock does not describe, so dvc status shows them as changed, never as complete.
    # The model and the final metrics replace the last good ones together, or neither does.
    try:
        started = time.perf_counter()
        log = LiveMetrics()
        epochs_run = fit(model, params.train, params.seed, train, val, [log])
        fit_seconds = time.perf_counter() - started
        print(f"train: {epochs_run} epochs in {fit_seconds:.1f} s")
        record_timing("train", "fit", fit_seconds)
        saved, val_as_saved = as_saved(model, params.train, val)
        final = {**log.last, "val": val_as_saved} if val_as_saved else log.last
        with all_or_nothing():
            save_model(saved, train.classes, paths.MODEL)
            write_train_metrics(paths.TRAIN_METRICS, epochs_run, final)
    except BaseException:
        put_back(paths.TRAIN_LOG_DIR)
        raise


if __name__ == "__main__":
    run_stage("train", main)
