"""export: the trained model as a TensorFlow SavedModel, ONNX and LiteRT, each checked with its own runtime against
the classifier on the test images.

Writes models/saved_model/, models/model.onnx and models/model.tflite; metrics/export.json (per format: how many of
its labels equal data/predictions.csv's, and its largest probability difference from the classifier); and
models/export_facts.json, what the model card says of the model that takes the model itself to find out. It runs in
a process of its own, as every stage does, which keeps the SavedModel's bytes the same run to run
(mnist_dvc/export/formats.py).
"""

import os
import sys

# tf2onnx's graph rewrites visit sets of node names in the order of their string hashes, which Python seeds afresh
# in each process: the same ONNX bytes need the same seed, set before the interpreter starts. The stage starts
# itself again with it before it imports anything else, which would only be imported twice.
HASH_SEED = "0"
if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED") != HASH_SEED:
    os.execve(
        sys.executable,
        [sys.executable, "-m", "stages.export", *sys.argv[1:]],
        {**os.environ, "PYTHONHASHSEED": HASH_SEED},
    )

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from mnist_dvc.core import paths, remote
from mnist_dvc.core.cli import parse_args
from mnist_dvc.core.errors import DataError
from mnist_dvc.core.files import atomic_dir, atomic_path
from mnist_dvc.core.params import Section, Seed, read_params
from mnist_dvc.core.prepared import read_split
from mnist_dvc.core.results import read_predictions, write_export_metrics
from mnist_dvc.core.stage import run_stage
from mnist_dvc.export.contract import FORMATS, TITLES
from mnist_dvc.export.facts import Facts, write_facts

# Each export's runtime on one thread, as TensorFlow runs each op (mnist_dvc/core/runtime.py); None: the
# SavedModel's, TensorFlow's own, set for the whole process.
RUNTIME_THREADS = {"saved_model": None, "onnx": 1, "litert": 1}


class Params(Section):
    """What this stage reads of params.yaml, as dvc.yaml declares: the seed of the noise images among the limits."""

    seed: Seed


def main() -> None:
    args = parse_args(__doc__)
    params = read_params(args.params, Params)
    test = read_split("test")
    predictions = read_predictions(paths.PREDICTIONS, test)
    if not paths.MODEL.is_file():
        raise DataError(f"{paths.MODEL}: not found; {remote.how_to_get()}")

    # TensorFlow takes seconds to import: load it only once params and data have checked out.
    from mnist_dvc.export.describe import export_file, model_facts, package_versions
    from mnist_dvc.export.formats import write_exports
    from mnist_dvc.export.limits import measure_limits
    from mnist_dvc.export.runtimes import RUNNERS, Agreement, check_export
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

        def check_in_runtime(name: str, expected: np.ndarray) -> Agreement:
            runner = RUNNERS[name](targets[name], threads=RUNTIME_THREADS[name])
            return check_export(name, runner, classifier.classes, test.images, predictions.predicted, expected)

        # Two at a time, each keeping one core busy or sharing both: the limits beside the classifier's answers,
        # then the checks of the three exports, each in its own runtime. Each answers as it would alone.
        with ThreadPoolExecutor(max_workers=2) as pool:
            limits = pool.submit(measure_limits, classifier, test.images, test.labels, params.seed)
            expected = classifier.probabilities(test.images)
            checks = {name: pool.submit(check_in_runtime, name, expected) for name in targets}
            agreements = {name: check.result() for name, check in checks.items()}
        for name, agreement in agreements.items():
            print(
                f"export: {TITLES[name]}: {agreement.labels_equal} of {agreement.images} labels equal "
                f"{paths.PREDICTIONS}'s; largest probability difference {agreement.max_probability_diff:.2g}"
            )

    write_export_metrics(
        paths.EXPORT_METRICS, {name: (a.labels_equal, a.max_probability_diff) for name, a in agreements.items()}
    )
    facts = Facts(
        model=model_facts(classifier.trained),
        files={name: export_file(path) for name, path in FORMATS.items()},
        limits=limits.result(),
        versions=package_versions(),
    )
    write_facts(paths.EXPORT_FACTS, facts)


if __name__ == "__main__":
    run_stage("export", main)
