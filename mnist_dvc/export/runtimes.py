"""Each exported format run by its own runtime, as a user of the file would run it: the SavedModel by TensorFlow
without Keras, ONNX by onnxruntime, LiteRT by the LiteRT interpreter; and how far each agrees with the classifier."""

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_dvc.core.errors import ExportError
from mnist_dvc.core.quiet import native_logs_filtered
from mnist_dvc.export.contract import INPUT, LABELS, ONNX_LABELS_KEY, OUTPUT, SIGNATURE, TITLES, TOLERANCE

BATCH_SIZE = 2000


@dataclass(frozen=True)
class Runner:
    """An exported model, loaded: its probabilities for uint8 images, and the class names it carries."""

    predict: Callable[[np.ndarray], np.ndarray]
    classes: tuple[str, ...]

    def probabilities(self, images: np.ndarray, batch_size: int = BATCH_SIZE) -> np.ndarray:
        batches = [images[start : start + batch_size] for start in range(0, len(images), batch_size)]
        return np.concatenate([np.asarray(self.predict(batch), dtype=np.float32) for batch in batches])


def saved_model_runner(path: Path, threads: int | None = None) -> Runner:
    """TensorFlow's threads are those of the whole process, which can be set only before it has run anything."""
    import tensorflow as tf

    if threads and tf.config.threading.get_intra_op_parallelism_threads() != threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    serve = tf.saved_model.load(str(path)).signatures[SIGNATURE]
    classes = (Path(path) / "assets.extra" / LABELS).read_text(encoding="utf-8").splitlines()
    return Runner(lambda images: serve(**{INPUT: tf.constant(images)})[OUTPUT].numpy(), tuple(classes))


def onnx_runner(path: Path, threads: int | None = None) -> Runner:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    classes = session.get_modelmeta().custom_metadata_map[ONNX_LABELS_KEY].splitlines()
    return Runner(lambda images: session.run([OUTPUT], {INPUT: images})[0], tuple(classes))


def litert_runner(path: Path, threads: int | None = None) -> Runner:
    from ai_edge_litert.interpreter import Interpreter

    with native_logs_filtered():  # LiteRT says it applied XNNPACK when the first call allocates the tensors
        serve = Interpreter(model_path=str(path), num_threads=threads).get_signature_runner(SIGNATURE)
        shape = serve.get_input_details()[INPUT]["shape_signature"]
        serve(**{INPUT: np.zeros((1, *shape[1:]), np.uint8)})
    with zipfile.ZipFile(io.BytesIO(Path(path).read_bytes())) as archive:
        classes = archive.read(LABELS).decode("utf-8").splitlines()
    return Runner(lambda images: serve(**{INPUT: images})[OUTPUT], tuple(classes))


RUNNERS: dict[str, Callable[..., Runner]] = {
    "saved_model": saved_model_runner,
    "onnx": onnx_runner,
    "litert": litert_runner,
}


@dataclass(frozen=True)
class Agreement:
    """An export's answers on the test images against evaluate's labels and the classifier's probabilities."""

    images: int
    labels_equal: int  # images whose likeliest class is the one in data/predictions.csv
    max_probability_diff: float  # over every image and class, from the classifier's probability


def check_export(
    name: str, runner: Runner, classes: tuple[str, ...], images: np.ndarray, labels: np.ndarray, expected: np.ndarray
) -> Agreement:
    """How the export answers the images, against labels (evaluate's) and expected (the classifier's
    probabilities); an ExportError if it carries other class names or its probabilities are off."""
    title = TITLES[name]
    if runner.classes != classes:
        raise ExportError(f"{title}: carries the classes {list(runner.classes)}; expected {list(classes)}")
    probabilities = runner.probabilities(images)
    if probabilities.shape != expected.shape:
        raise ExportError(f"{title}: gave probabilities of shape {probabilities.shape}; expected {expected.shape}")
    difference = float(np.abs(probabilities.astype(np.float64) - expected).max(initial=0))
    if not difference <= TOLERANCE:  # NaN included
        raise ExportError(
            f"{title}: its probabilities differ from the classifier's by up to {difference:.3g}; expected at most "
            f"{TOLERANCE:g}: the converter changed what the model computes"
        )
    equal = int((probabilities.argmax(axis=1) == labels).sum())
    return Agreement(images=len(images), labels_equal=equal, max_probability_diff=difference)
