"""How fast the model answers in each format: Keras (the classifier that evaluate uses), the SavedModel in TensorFlow,
ONNX in onnxruntime and LiteRT in its interpreter, on the test images (data/prepared/test.npz).

It needs the exports in models/ (./tasks.sh repro, or dvc pull), and measures, for each runtime, with --threads threads:

- throughput: images per second over the whole test split in batches of --batch-size, best of --repeats after a
  warm-up; the runtimes take turns in each repeat, so that a change in the machine's load hits them alike;
- one image a call: the median time of --calls calls, each with one test image.

It writes bench/export_speed.json, the result that the model card quotes: commit it, and the export stage (dvc
repro) writes the card again with these numbers.

    python -m bench.exports          # about a minute on 2 cores
"""

import argparse
import hashlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np

from bench.harness import machine, warn_if_busy
from mnist_dvc.core import paths, remote
from mnist_dvc.core.cli import parse_args
from mnist_dvc.core.errors import PipelineError
from mnist_dvc.core.prepared import read_split
from mnist_dvc.core.results import ExportSpeed, write_export_speed

PACKAGES = ("tensorflow", "keras", "onnxruntime", "ai-edge-litert")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the docstring's layout in --help
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads of each runtime (default: cores)")
    parser.add_argument("--batch-size", type=int, default=2000, help="images a call for throughput (default: 2000)")
    parser.add_argument("--repeats", type=int, default=5, help="throughput runs of each runtime (default: 5)")
    parser.add_argument("--calls", type=int, default=500, help="single-image calls of each runtime (default: 500)")
    parser.add_argument(
        "--out", type=Path, default=paths.EXPORT_SPEED, help="where to write the result (default: %(default)s)"
    )


def runtimes(threads: int) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """A call on a batch of uint8 images for each runtime, Keras first; TensorFlow's threads are set before it runs
    anything, for Keras and the SavedModel alike."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    from mnist_dvc.export.contract import FORMATS
    from mnist_dvc.export.runtimes import RUNNERS
    from mnist_dvc.model.inference import load_classifier

    classifier = load_classifier(paths.MODEL)
    calls = {"keras": lambda images: np.asarray(classifier.probability_model.predict_on_batch(images))}
    for name, path in FORMATS.items():
        if not path.exists():
            raise PipelineError(f"{path}: not found; {remote.how_to_get()}")
        calls[name] = RUNNERS[name](path, threads).predict
    return calls


def measure(args: argparse.Namespace) -> ExportSpeed:
    images = read_split("test").images
    calls = runtimes(args.threads)
    batches = [images[start : start + args.batch_size] for start in range(0, len(images), args.batch_size)]
    best = dict.fromkeys(calls, float("inf"))
    for call in calls.values():  # warm-up: the first calls trace, allocate and pick kernels
        call(batches[0])
        call(images[:1])
    for repeat in range(args.repeats):
        print(f"bench exports: throughput, run {repeat + 1} of {args.repeats}", flush=True)
        for name, call in calls.items():
            started = time.perf_counter()
            for batch in batches:
                call(batch)
            best[name] = min(best[name], time.perf_counter() - started)
    single = {}
    for name, call in calls.items():
        print(f"bench exports: {args.calls} calls of one image, {name}", flush=True)
        times = []
        for index in range(args.calls):
            image = images[index % len(images)][None]
            started = time.perf_counter()
            call(image)
            times.append(time.perf_counter() - started)
        single[name] = statistics.median(times) * 1000
    host = machine(os.getloadavg())
    return ExportSpeed(
        model_md5=hashlib.md5(paths.MODEL.read_bytes()).hexdigest(),
        machine=f"{host['cpu']}, {host['cores']} cores",
        threads=args.threads,
        batch_size=args.batch_size,
        images_per_s={name: len(images) / seconds for name, seconds in best.items()},
        single_image_ms=single,
        versions={package: metadata.version(package) for package in PACKAGES},
    )


def main() -> None:
    args = parse_args(__doc__, with_params=False, add_arguments=add_arguments)
    for option in ("threads", "batch_size", "repeats", "calls"):
        if getattr(args, option) < 1:
            sys.exit(f"bench exports: error: --{option.replace('_', '-')} must be at least 1")
    warn_if_busy()
    try:
        speed = measure(args)
    except PipelineError as error:
        sys.exit(f"bench exports: error: {error}")
    write_export_speed(args.out, speed)
    print(f"\n{speed.machine}, {speed.threads} threads; batches of {speed.batch_size}")
    print(f"{'runtime':<12} {'images/s':>12} {'one image (ms)':>16}")
    for name, rate in speed.images_per_s.items():
        print(f"{name:<12} {rate:>12,.0f} {speed.single_image_ms[name]:>16.3f}")
    print(f"\nbench exports: numbers in {args.out}; commit it, then dvc repro writes them into {paths.MODEL_CARD}")


if __name__ == "__main__":
    main()
