"""export: the trained model as a TensorFlow SavedModel, ONNX and LiteRT, each checked with its own runtime against
the classifier on the test images, and the model card.

Writes models/saved_model/, models/model.onnx and models/model.tflite; metrics/export.json (per format: how many of
its labels equal data/predictions.csv, and its largest probability difference from the classifier); and
MODEL_CARD.md. It runs in a process of its own, as every stage does, which keeps the SavedModel's bytes the same run
to run (mnist_dvc/export/formats.py).
"""

import hashlib
import time

from mnist_dvc.core import paths
from mnist_dvc.core.cli import parse_args
from mnist_dvc.core.errors import DataError
from mnist_dvc.core.files import atomic_dir, atomic_path, read_arrays, write_text
from mnist_dvc.core.params import Section, Seed, load_yaml, read_params
from mnist_dvc.core.prepared import read_split
from mnist_dvc.core.results import (
    read_export_speed,
    read_per_class,
    read_predictions,
    read_test_metrics,
    write_export_metrics,
)
from mnist_dvc.core.stage import run_stage
from mnist_dvc.data.datasets import load_dataset
from mnist_dvc.data.params import PrepareParams
from mnist_dvc.model.params import TrainParams


class Params(Section):
    """What this stage reads of params.yaml, as dvc.yaml declares: all of it that the card reports."""

    seed: Seed
    prepare: PrepareParams
    train: TrainParams


def main() -> None:
    args = parse_args(__doc__)
    params = read_params(args.params, Params)
    dataset = load_dataset(params.prepare.dataset, named_by=f"{args.params}: prepare.dataset")
    test = read_split("test")
    predictions = read_predictions(paths.PREDICTIONS, test)
    test_metrics = read_test_metrics(paths.TEST_METRICS)
    per_class = read_per_class(paths.PER_CLASS_METRICS, test.classes)
    split_sizes = {
        name: len(read_arrays(paths.prepared_split(name), ("labels",))["labels"]) for name in ("train", "val")
    }
    split_sizes["test"] = len(test.labels)
    speed = read_export_speed(paths.EXPORT_SPEED) if paths.EXPORT_SPEED.exists() else None
    if not paths.MODEL.is_file():
        raise DataError(f"{paths.MODEL}: not found; run the pipeline first (dvc repro, or dvc pull)")

    # TensorFlow takes seconds to import: load it only once params and data have checked out.
    from mnist_dvc.export.card import CardRecord, export_file, model_facts, render_card
    from mnist_dvc.export.formats import FORMATS, TITLES, write_exports
    from mnist_dvc.export.limits import measure_limits
    from mnist_dvc.export.runtimes import RUNNERS, check_export
    from mnist_dvc.model.inference import load_classifier

    classifier = load_classifier(paths.MODEL)
    image_shape = tuple(classifier.trained.input_shape[1:])
    if image_shape != test.images.shape[1:]:
        raise DataError(
            f"{paths.MODEL}: takes images of {'x'.join(map(str, image_shape))}; expected the test split's "
            f"{'x'.join(map(str, test.images.shape[1:]))}; run the train stage again (dvc repro)"
        )
    if classifier.classes != test.classes:
        raise DataError(
            f"{paths.MODEL}: classes {', '.join(classifier.classes)}; expected the test split's "
            f"{', '.join(test.classes)}; run the train stage again (dvc repro)"
        )

    print(f"export: {paths.MODEL} as {', '.join(TITLES.values())}")
    # Written beside their targets and moved into place together once all three have passed their checks.
    with (
        atomic_dir(paths.SAVED_MODEL) as saved_model,
        atomic_path(paths.ONNX_MODEL) as onnx_model,
        atomic_path(paths.LITERT_MODEL) as litert_model,
    ):
        targets = {"saved_model": saved_model, "onnx": onnx_model, "litert": litert_model}
        started = time.perf_counter()
        # First, before this process runs the model: what it traces before changes saved_model.pb.
        write_exports(classifier, targets)
        print(f"export: converted in {time.perf_counter() - started:.1f} s")
        expected = classifier.probabilities(test.images)
        agreements = {}
        for name, path in targets.items():
            agreements[name] = check_export(
                name, RUNNERS[name](path), classifier.classes, test.images, predictions.predicted, expected
            )
            agreement = agreements[name]
            print(
                f"export: {TITLES[name]}: {agreement.labels_equal} of {agreement.images} labels equal "
                f"{paths.PREDICTIONS}'s; largest probability difference {agreement.max_probability_diff:.2g}"
            )

    write_export_metrics(
        paths.EXPORT_METRICS, {name: (a.labels_equal, a.max_probability_diff) for name, a in agreements.items()}
    )
    record = CardRecord(
        dataset=dataset,
        params={section: load_yaml(args.params)[section] for section in Params.model_fields},
        facts=model_facts(classifier.trained),
        model_md5=hashlib.md5(paths.MODEL.read_bytes()).hexdigest(),
        model_size=paths.MODEL.stat().st_size,
        split_sizes=split_sizes,
        test_metrics=test_metrics,
        per_class=per_class,
        support={name: int((test.labels == k).sum()) for k, name in enumerate(test.classes)},
        actual=predictions.actual,
        predicted=predictions.predicted,
        agreements=agreements,
        files={name: export_file(path) for name, path in FORMATS.items()},
        limits=measure_limits(classifier, test.images, test.labels, params.seed),
        speed=speed,
    )
    write_text(paths.MODEL_CARD, render_card(record))
    print(f"export: model card in {paths.MODEL_CARD}")


if __name__ == "__main__":
    run_stage("export", main)
