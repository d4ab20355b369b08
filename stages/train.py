"""train: fit the classifier on the train split, validate on val, log every epoch with dvclive."""

import time

import keras
from dvclive import Live

from stages import paths
from stages.artifacts import atomic_dir, atomic_path
from stages.cli import parse_args, run_stage
from stages.data import read_split
from stages.model import build_model, seed_everything, to_model_input
from stages.params import load_train_params


class LiveMetrics(keras.callbacks.Callback):
    """Log each epoch's train and validation loss and accuracy as one dvclive step."""

    def __init__(self, live: Live):
        super().__init__()
        self.live = live

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for name in ("loss", "accuracy"):
            self.live.log_metric(f"train/{name}", float(logs[name]))
            self.live.log_metric(f"val/{name}", float(logs[f"val_{name}"]))
        self.live.next_step()


def main() -> None:
    args = parse_args(__doc__)
    params = load_train_params(args.params)
    train, val = read_split("train"), read_split("val")

    seed_everything(params.seed)
    model = build_model(params, train.images.shape[1:], len(train.classes))
    callbacks = []
    if params.early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(patience=params.early_stopping_patience, restore_best_weights=True)
        )

    # dvclive writes into a temporary directory that replaces the old log only
    # once the model is saved, so a killed run never leaves a log that looks complete.
    with atomic_dir(paths.TRAIN_LOG_DIR) as log_dir:
        with Live(dir=str(log_dir), save_dvc_exp=False, dvcyaml=None) as live:
            started = time.perf_counter()
            history = model.fit(
                to_model_input(train.images),
                train.labels,
                validation_data=(to_model_input(val.images), val.labels),
                batch_size=params.batch_size,
                epochs=params.epochs,
                shuffle=True,
                verbose=2,
                callbacks=[LiveMetrics(live), *callbacks],
            )
            live.summary["epochs_run"] = len(history.epoch)
            print(f"train: {len(history.epoch)} epochs in {time.perf_counter() - started:.1f} s")
        with atomic_path(paths.MODEL) as model_file:
            model.save(model_file)


if __name__ == "__main__":
    run_stage("train", main)
