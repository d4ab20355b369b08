"""train: fit the classifier on the train split, validate on val, log every epoch with dvclive."""

import time

from stages import paths
from stages.cli import parse_args, record_timing, run_stage
from stages.data import read_split
from stages.params import load_train_params
from stages.restore import put_back
from stages.results import write_train_metrics


def main() -> None:
    args = parse_args(__doc__)
    params = load_train_params(args.params)
    train, val = read_split("train"), read_split("val")

    # TensorFlow takes seconds to import: load it only once params and data have checked out.
    from stages.network import build_model, save_model
    from stages.training import compile_for_scoring, compile_for_training, curve_log, fit, seed_everything

    seed_everything(params.seed)
    model = build_model(params, train.images.shape[1:], len(train.classes))
    compile_for_training(model, params, len(train.labels))

    # dvclive writes each epoch into metrics/train/ as it ends, so that `dvc plots show` and DVC's VS Code
    # extension show the curves growing. A run that fails puts the last good log back; one killed outright leaves
    # its partial log, which dvc.lock does not describe, so dvc status shows it as changed, never as complete.
    try:
        with curve_log(paths.TRAIN_LOG_DIR) as live:
            started = time.perf_counter()
            epochs_run, final = fit(model, params, train, val, live)
            fit_seconds = time.perf_counter() - started
        print(f"train: {epochs_run} epochs in {fit_seconds:.1f} s")
        record_timing("train", "fit", fit_seconds)
        compile_for_scoring(model)
        save_model(model, train.classes, paths.MODEL)
        write_train_metrics(paths.TRAIN_METRICS, epochs_run, final)
    except BaseException:
        put_back(paths.TRAIN_LOG_DIR)
        raise


if __name__ == "__main__":
    run_stage("train", main)
