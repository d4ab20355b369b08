"""card: the model card, MODEL_CARD.md, written from the run's own records.

It reads files only: the params, the dataset's definition, the prepared splits, the model file (for its checksum),
evaluate's results, what the export stage measured (metrics/export.json, models/export_facts.json) and the committed
speed benchmark (bench/export_speed.json). It imports no TensorFlow, so it runs in a fraction of a second. The card
is kept in git, like the figures; DVC's run-cache therefore does not cover this stage, which runs again instead.
"""

import hashlib

from mnist_dvc.core import paths, remote
from mnist_dvc.core.cli import parse_args
from mnist_dvc.core.errors import DataError
from mnist_dvc.core.files import read_arrays, write_text
from mnist_dvc.core.params import Section, Seed, load_yaml, read_params
from mnist_dvc.core.prepared import read_split
from mnist_dvc.core.results import (
    read_export_metrics,
    read_export_speed,
    read_per_class,
    read_predictions,
    read_test_metrics,
)
from mnist_dvc.core.stage import run_stage
from mnist_dvc.data.datasets import load_dataset
from mnist_dvc.data.params import PrepareParams
from mnist_dvc.export.card import CardRecord, render_card
from mnist_dvc.export.contract import FORMATS
from mnist_dvc.export.facts import read_facts
from mnist_dvc.model.params import TrainParams


class Params(Section):
    """What this stage reads of params.yaml, as dvc.yaml declares: all that the card reports."""

    seed: Seed
    prepare: PrepareParams
    train: TrainParams


def main() -> None:
    args = parse_args(__doc__)
    params = read_params(args.params, Params)
    shown = load_yaml(args.params)  # the params as the file has them
    test = read_split("test")
    predictions = read_predictions(paths.PREDICTIONS, test)
    sizes = {name: len(read_arrays(paths.prepared_split(name), ("labels",))["labels"]) for name in ("train", "val")}
    if not paths.MODEL.is_file():
        raise DataError(f"{paths.MODEL}: not found; {remote.how_to_get()}")
    model = paths.MODEL.read_bytes()
    record = CardRecord(
        dataset=load_dataset(params.prepare.dataset, named_by=f"{args.params}: prepare.dataset"),
        params={section: shown[section] for section in Params.model_fields},
        facts=read_facts(paths.EXPORT_FACTS),
        model_md5=hashlib.md5(model).hexdigest(),
        model_size=len(model),
        split_sizes={**sizes, "test": len(test.labels)},
        test_metrics=read_test_metrics(paths.TEST_METRICS),
        per_class=read_per_class(paths.PER_CLASS_METRICS, test.classes),
        actual=predictions.actual,
        predicted=predictions.predicted,
        agreements=read_export_metrics(paths.EXPORT_METRICS, tuple(FORMATS)),
        speed=read_export_speed(paths.EXPORT_SPEED) if paths.EXPORT_SPEED.exists() else None,
    )
    write_text(paths.MODEL_CARD, render_card(record))
    print(f"card: {paths.MODEL_CARD}, for {paths.MODEL} (MD5 {record.model_md5})")


if __name__ == "__main__":
    # MODEL_CARD.md is kept in git, and neither DVC's cache nor its run-cache keeps a copy to put back.
    run_stage("card", main, restores=False)
