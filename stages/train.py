"""train: fit the classifier on the train split, validate on val, log every epoch with dvclive."""

import time

from dvclive import Live

from stages import paths
from stages.artifacts import atomic_dir
from stages.cli import parse_args, record_timing, run_stage
from stages.data import read_split
from stages.params import load_train_params


def main() -> None:
    args = parse_args(__doc__)
    params = load_train_params(args.params)
    train, val = read_split("train"), read_split("val")

    # TensorFlow takes seconds to import: load it only once params and data have checked out.
    from stages.network import build_model, save_model
    from stages.training import compile_for_training, fit, seed_everything

    seed_everything(params.seed)
    model = build_model(params, train.images.shape[1:], len(train.classes))
    compile_for_training(model, params, len(train.labels))

    # dvclive writes into a temporary directory that replaces the old log only
    # once the model is saved, so a killed run never leaves a log that looks complete.
    with atomic_dir(paths.TRAIN_LOG_DIR) as log_dir:
        with Live(dir=str(log_dir), save_dvc_exp=False, dvcyaml=None) as live:
            started = time.perf_counter()
            epochs_run = fit(model, params, train, val, live)
            fit_seconds = time.perf_counter() - started
            live.summary["epochs_run"] = epochs_run
            print(f"train: {epochs_run} epochs in {fit_seconds:.1f} s")
            record_timing("train", "fit", fit_seconds)
        save_model(model, paths.MODEL)


if __name__ == "__main__":
    run_stage("train", main)
