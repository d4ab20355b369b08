"""The exports of tiny models of each family, run by each format's own runtime, against the classifier. That they are
byte-identical run to run is tested end to end (tests/e2e/test_pipeline.py), where each runs in a process of its own."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from mnist_dvc.core.errors import ExportError  # noqa: E402
from mnist_dvc.export.contract import FORMATS  # noqa: E402
from mnist_dvc.export.formats import write_exports, write_litert, write_onnx  # noqa: E402
from mnist_dvc.export.runtimes import RUNNERS, Runner, check_export  # noqa: E402
from mnist_dvc.model.inference import load_classifier  # noqa: E402
from tests.helpers.data import CLASSES  # noqa: E402
from tests.helpers.models import CNN_BATCHNORM, GELU, tiny_model, tiny_test_images  # noqa: E402

# The reference MLP is exported by the stage's own tests (tests/unit/stages/test_export.py).
FAMILIES = {"cnn-batchnorm": CNN_BATCHNORM, "mlp-gelu": GELU}


def export_into(directory, classifier):
    targets = {name: directory / path.name for name, path in FORMATS.items()}
    write_exports(classifier, targets)
    return targets


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """By family: the classifier, and its exports."""
    found = {}
    for family, overrides in FAMILIES.items():
        directory = tmp_path_factory.mktemp(family)
        classifier = load_classifier(tiny_model(directory / "model.keras", *overrides))
        found[family] = classifier, export_into(directory, classifier)
    return found


@pytest.mark.parametrize("family", FAMILIES)
def test_each_format_run_by_its_own_runtime_answers_as_the_classifier(exported, family):
    """gelu included: tf2onnx converts TensorFlow's Erfc through the project's handler, 1 - Erf."""
    classifier, targets = exported[family]
    images, labels = tiny_test_images()
    expected = classifier.probabilities(images)
    assert (expected.argmax(axis=1) == labels).mean() > 0.9, "a model that has learnt the tiny data"
    for name, path in targets.items():
        runner = RUNNERS[name](path)
        assert runner.classes == CLASSES, name
        agreement = check_export(name, runner, CLASSES, images, expected.argmax(axis=1), expected)
        assert agreement.labels_equal == agreement.images == len(images), name
        assert agreement.max_probability_diff < 1e-5, name


def test_every_format_takes_uint8_images_alone_and_gives_probabilities(exported):
    """Keras' own ONNX export would also require the input scaling's constants as inputs."""
    import onnx
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    _, targets = exported["cnn-batchnorm"]
    graph = onnx.load(targets["onnx"]).graph
    assert [value.name for value in graph.input] == ["images"] and [value.name for value in graph.output] == [
        "probabilities"
    ]
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    signatures = Interpreter(model_path=str(targets["litert"])).get_signature_list()
    assert signatures == {"serving_default": {"inputs": ["images"], "outputs": ["probabilities"]}}
    serve = tf.saved_model.load(str(targets["saved_model"])).signatures["serving_default"]
    (spec,) = serve.structured_input_signature[1].values()
    assert spec.dtype == tf.uint8 and spec.shape.as_list() == [None, 28, 28]
    assert list(serve.structured_outputs) == ["probabilities"]


def test_a_broken_export_or_other_classes_are_refused():
    images, labels = tiny_test_images()
    expected = np.full((len(images), 10), 0.1, dtype=np.float32)
    broken = Runner(lambda batch: np.full((len(batch), 10), np.nan, dtype=np.float32), CLASSES)
    with pytest.raises(ExportError, match=r"^LiteRT: its probabilities differ from the classifier's by up to nan"):
        check_export("litert", broken, CLASSES, images, labels, expected)
    renamed = Runner(lambda batch: expected[: len(batch)], tuple(reversed(CLASSES)))
    with pytest.raises(ExportError, match=r"^ONNX: carries the classes \['9'"):
        check_export("onnx", renamed, CLASSES, images, labels, expected)


def test_an_op_a_converter_cannot_handle_is_one_line_naming_it(tmp_path, capfd):
    """An op with no ONNX or LiteRT counterpart (none of the model families has one): tf2onnx would write an invalid
    model without failing, and the TFLite converter dumps the graph; each is one line naming the op."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28], tf.uint8, name="images")])
    def serve(images):
        pixels = tf.reshape(tf.cast(images, tf.float32), [-1, 784])[:, :10]
        return {"probabilities": tf.nn.softmax(tf.math.bessel_i0e(pixels))}

    module = tf.Module()
    module.serve = serve
    tf.saved_model.save(module, str(tmp_path / "saved_model"), signatures={"serving_default": serve})
    capfd.readouterr()
    with pytest.raises(ExportError) as onnx_error:
        write_onnx(tmp_path / "saved_model", CLASSES, tmp_path / "model.onnx")
    with pytest.raises(ExportError) as litert_error:
        write_litert(tmp_path / "saved_model", CLASSES, tmp_path / "model.tflite")
    assert str(onnx_error.value) == (
        "ONNX: tf2onnx 1.17.0 cannot convert this model: No Op registered for BesselI0e with domain_version of 15"
    )
    assert str(litert_error.value) == (
        "LiteRT: the TFLite converter cannot convert this model: no built-in LiteRT op for tf.BesselI0e"
    )
    shown = capfd.readouterr()
    assert "BesselI0e" not in shown.err + shown.out
    assert not (tmp_path / "model.onnx").exists() and not (tmp_path / "model.tflite").exists()
