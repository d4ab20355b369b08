"""The classifier in the formats that other runtimes load: a TensorFlow SavedModel (for TF Serving), ONNX and
LiteRT (.tflite).

All three come from one function, serve(images) -> {"probabilities"}: uint8 images of the size the model was trained
on, light on dark, in; the classifier's own probabilities out, which for a sigmoid output layer are the softmax of
its logits (model/inference.py). The SavedModel holds it; ONNX (tf2onnx) and LiteRT (the TFLite converter) are
converted from that SavedModel, so each format has the same contract, input `images`, output `probabilities`. The
class names travel inside each file, where its format keeps such things: assets.extra/labels.txt in the SavedModel,
the metadata entry `labels` in ONNX, and a labels.txt in a zip archive appended to the .tflite (how TFLite's metadata
tools pack a label file; the interpreter ignores it). One name a line, in the order of the probabilities.

Every file is byte-identical run to run, given the same model and package versions, when the export runs in a process
of its own (its DVC stage): TensorFlow numbers the traced functions in saved_model.pb with a counter of the whole
process, so whatever was traced before changes the file. What else varies is normalised here: the random uuid of the
SavedModel's fingerprint.pb, and the names that tf2onnx generates.
"""

import contextlib
import io
import logging
import re
import shutil
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from mnist_dvc.core.errors import ExportError
from mnist_dvc.core.files import ZIP_EPOCH
from mnist_dvc.core.quiet import native_logs_filtered
from mnist_dvc.export.contract import INPUT, LABELS, ONNX_LABELS_KEY, ONNX_OPSET, OUTPUT, SIGNATURE
from mnist_dvc.model.inference import Classifier


def write_exports(classifier: Classifier, targets: dict[str, Path]) -> None:
    """Every format of the classifier, each to its path in targets (keyed as FORMATS)."""
    write_saved_model(classifier, targets["saved_model"])
    write_onnx(targets["saved_model"], classifier.classes, targets["onnx"])
    write_litert(targets["saved_model"], classifier.classes, targets["litert"])


def labels_text(classes: Sequence[str]) -> str:
    """The class names one a line, as every format carries them."""
    broken = [name for name in classes if not name or "\n" in name or "\r" in name]
    if broken:
        raise ExportError(f"the class name {broken[0]!r} cannot be a line of {LABELS}; expected a name on one line")
    return "".join(f"{name}\n" for name in classes)


def write_saved_model(classifier: Classifier, path: Path) -> None:
    """A SavedModel whose serving_default signature is serve(images) -> {"probabilities"}, loadable by
    tf.saved_model.load and TF Serving without Keras or this project."""
    model = classifier.probability_model
    images = tf.TensorSpec([None, *model.input_shape[1:]], tf.uint8, name=INPUT)

    @tf.function(input_signature=[images])
    def serve(images):
        return {OUTPUT: model(images, training=False)}

    module = tf.Module()
    # The backend tf.Variables, in the model's order, rather than the Keras layers or their variable wrappers: with
    # those tracked, the TFLite converter keeps the weights as uninitialised variables, and its model answers NaN
    # without an error. This way the file also holds no optimizer state, and its bytes do not vary.
    module.weights = [weight.value for weight in model.weights]
    module.serve = serve
    shutil.rmtree(path, ignore_errors=True)
    tf.saved_model.save(module, str(path), signatures={SIGNATURE: serve})
    _clear_fingerprint_uuid(path / "fingerprint.pb")
    # assets.extra/ is the SavedModel's place for files that go with the model but that no graph reads.
    (path / "assets.extra").mkdir()
    (path / "assets.extra" / LABELS).write_text(labels_text(classifier.classes), encoding="utf-8")


def _clear_fingerprint_uuid(fingerprint: Path) -> None:
    """fingerprint.pb holds hashes of the other files, which do not vary, and a random uuid, which is cleared."""
    from tensorflow.core.protobuf import fingerprint_pb2

    message = fingerprint_pb2.FingerprintDef.FromString(fingerprint.read_bytes())
    message.ClearField("uuid")
    fingerprint.write_bytes(message.SerializeToString(deterministic=True))


def write_onnx(saved_model: Path, classes: Sequence[str], path: Path) -> None:
    """ONNX converted from the SavedModel by tf2onnx, as `python -m tf2onnx.convert --saved-model` converts it.

    The SavedModel route freezes the constants of the input scaling into the graph; converting the Keras model or the
    function directly (as Keras' own ONNX export does) leaves them as inputs that every caller would have to feed.
    tf2onnx logs an op it cannot convert and writes the model anyway, so the ONNX checker is what refuses it.
    """
    import onnx
    import tf2onnx

    with _quiet_python_logs():
        graph_def, inputs, outputs, _tables, renames = tf2onnx.tf_loader.from_saved_model(
            str(saved_model),
            None,
            None,
            tag=["serve"],
            signatures=[SIGNATURE],
            return_initialized_tables=True,
            return_tensors_to_rename=True,
        )
        model, _ = tf2onnx.convert.from_graph_def(
            graph_def,
            name="serve",
            input_names=inputs,
            output_names=outputs,
            opset=ONNX_OPSET,
            tensors_to_rename=renames,
            custom_op_handlers={"Erfc": (_erfc, [])},
        )
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        raise ExportError(
            f"ONNX: tf2onnx {tf2onnx.__version__} cannot convert this model: {_first_line(error)}"
        ) from None
    canonical = _canonical_onnx(model)
    onnx.helper.set_model_props(canonical, {ONNX_LABELS_KEY: labels_text(classes)})
    path.write_bytes(canonical.SerializeToString(deterministic=True))


@contextlib.contextmanager
def _quiet_python_logs() -> Iterator[None]:
    """tf2onnx's progress (INFO) and its errors, which the ONNX checker's message sums up in one line; TensorFlow's
    deprecation warnings for the graph functions that tf2onnx calls."""
    loggers = [logging.getLogger(name) for name in ("tf2onnx", "tensorflow")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _erfc(ctx, node, name, args) -> None:
    """Erfc(x) = 1 - Erf(x): TensorFlow's exact gelu uses Erfc, which tf2onnx 1.17 has no conversion for, while ONNX
    has Erf."""
    import tf2onnx

    erf = ctx.make_node("Erf", [node.input[0]], op_name_scope=node.name)
    one = ctx.make_const(tf2onnx.utils.make_name(f"{node.name}/one"), np.array(1, dtype=np.float32))
    node.type = "Sub"
    ctx.replace_inputs(node, [one.output[0], erf.output[0]])


_GENERATED = re.compile(r"__\d+")


def _canonical_onnx(model):
    """The same graph with the names that tf2onnx generates numbered in order of first use, and the initializers
    (the weights and constants) in that order.

    tf2onnx numbers the nodes and tensors it makes (Transpose__54, const_fold_opt__63) with a counter of the whole
    process, and, merging equal constants, keeps whichever name a set gives first: names that change run to run.
    """
    import onnx

    graph = model.graph
    kept = {value.name for value in (*graph.input, *graph.output)}
    initializers = {tensor.name for tensor in graph.initializer}
    tensors: dict[str, str] = {}
    nodes: dict[str, str] = {}

    def tensor_name(name: str) -> str:
        if not name or name in kept:
            return name
        if name not in tensors:
            number = len(tensors)
            if name in initializers:
                tensors[name] = f"const__{number}"
            else:
                tensors[name] = _GENERATED.sub(f"__t{number}", name) if _GENERATED.search(name) else name
        return tensors[name]

    for node in graph.node:
        node.input[:] = [tensor_name(name) for name in node.input]
        node.output[:] = [tensor_name(name) for name in node.output]
        if _GENERATED.search(node.name):
            node.name = nodes.setdefault(node.name, _GENERATED.sub(f"__n{len(nodes)}", node.name))
    for value in graph.value_info:
        value.name = tensor_name(value.name)
    for value in (*graph.input, *graph.output):
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param:
                dim.dim_param = "batch"
    for tensor in graph.initializer:
        tensor.name = tensor_name(tensor.name)
    ordered = sorted(graph.initializer, key=lambda tensor: int(tensor.name.rpartition("__")[2]))
    copies = [onnx.TensorProto.FromString(tensor.SerializeToString()) for tensor in ordered]
    del graph.initializer[:]
    graph.initializer.extend(copies)
    onnx.checker.check_model(model)
    return model


def write_litert(saved_model: Path, classes: Sequence[str], path: Path) -> None:
    """A float32 .tflite converted from the SavedModel by the TFLite converter, with TFLite's built-in ops only:
    LiteRT's interpreter from pip has no delegate for TensorFlow ops (which Keras' own LiteRT export allows, so that
    such a model converts, then fails when run)."""
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=[SIGNATURE])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        with native_logs_filtered(silent_on_error=True):
            flatbuffer = converter.convert()
    except Exception as error:  # tensorflow.lite.python.convert_phase.ConverterError, which tf.lite does not export
        ops = sorted({data.operator.name for data in getattr(error, "errors", []) if data.operator.name})
        found = f"no built-in LiteRT op for {', '.join(ops)}" if ops else _first_line(error)
        raise ExportError(f"LiteRT: the TFLite converter cannot convert this model: {found}") from None
    buffer = io.BytesIO(flatbuffer)
    buffer.seek(0, io.SEEK_END)
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_STORED) as archive:
        archive.writestr(zipfile.ZipInfo(LABELS, date_time=ZIP_EPOCH), labels_text(classes))
    path.write_bytes(buffer.getvalue())


def _first_line(error: BaseException) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
