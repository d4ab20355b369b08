"""The model card: its facts counted right, its words following the dataset, its speed quoted only for the model it was
measured on, and its Markdown laid out the same every time."""

import dataclasses

import numpy as np
import pytest

from mnist_dvc.core.results import ExportSpeed
from mnist_dvc.data.datasets import load_dataset
from mnist_dvc.export.card import CardRecord, confusable_pairs, render_card
from mnist_dvc.export.facts import Answer, ExportFile, Facts, Layer, Limits, ModelFacts, read_facts, write_facts


def test_the_facts_count_every_weight_and_the_multiplies_of_dense_and_convolution_layers():
    pytest.importorskip("keras")
    from mnist_dvc.export.describe import model_facts
    from mnist_dvc.model.network import build_model
    from tests.helpers.params import train_params

    mlp = model_facts(build_model(train_params().model, (28, 28), 10))
    assert mlp.weights == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    assert mlp.flops == 2 * (784 * 256 + 256 * 128 + 128 * 10)
    assert mlp.sigmoid_head
    assert [layer.kind for layer in mlp.layers][2:] == ["Dense 256, sigmoid", "Dense 128, sigmoid", "Dense 10, sigmoid"]

    params = train_params(
        "model=cnn", "train.model.filters=[4]", "train.model.batch_norm=true", "train.model.hidden_units=[8]"
    )
    cnn = model_facts(build_model(params.model, (28, 28), 10))
    convolution = 2 * 28 * 28 * (3 * 3 * 1 * 4)  # 'same' padding keeps 28x28, then 2x2 pooling
    assert cnn.flops == convolution + 2 * (14 * 14 * 4 * 8 + 8 * 10)
    assert not cnn.sigmoid_head
    kinds = [layer.kind for layer in cnn.layers]
    assert kinds[2:6] == ["Conv2D 4 of 3x3, linear", "BatchNormalization", "Activation, relu", "MaxPooling2D 2x2"]
    assert cnn.weights == sum(layer.weights for layer in cnn.layers)

    from mnist_dvc.model.network import averaged_over_shifts

    averaged = model_facts(averaged_over_shifts(build_model(params.model, (28, 28), 10), 8))
    assert averaged.flops == 9 * cnn.flops and averaged.weights == cnn.weights
    assert averaged.layers == (
        *cnn.layers,
        Layer("mean of the answers to the image and 8 copies moved one pixel", "10", 0),
    )


def test_the_most_confused_pairs_come_commonest_first():
    actual = np.array([9, 9, 9, 4, 4, 7, 7, 1])
    predicted = np.array([4, 4, 3, 9, 4, 2, 2, 1])
    assert confusable_pairs(actual, predicted, 3) == [(7, 2, 2), (9, 4, 2), (4, 9, 1)]
    assert confusable_pairs(actual, actual, 3) == []


SPEED = ExportSpeed(
    model_md5="0" * 32,
    machine="a test machine, 2 cores",
    threads=2,
    batch_size=2000,
    images_per_s={"keras": 1000.0, "saved_model": 1100.0, "onnx": 2000.0, "litert": 3000.0},
    single_image_ms={"keras": 0.3, "saved_model": 0.2, "onnx": 0.02, "litert": 0.01},
    versions={"tensorflow": "2.21.0"},
)

FACTS = Facts(
    model=ModelFacts(
        layers=(Layer("Flatten", "784", 0), Layer("Dense 8, sigmoid", "8", 6280), Layer("Dense 10, sigmoid", "10", 90)),
        weights=6370,
        flops=2 * (784 * 8 + 8 * 10),
        sigmoid_head=True,
    ),
    files={
        "saved_model": ExportFile("models/saved_model", 1000, None),
        "onnx": ExportFile("models/model.onnx", 1000, "a" * 64),
        "litert": ExportFile("models/model.tflite", 1000, "b" * 64),
    },
    limits=Limits(
        accuracy=(("moved 3 pixels right and 3 down", 0.2), ("inverted: dark on light", 0.06)),
        blank=Answer(1, 5, 1.0, 0.4),
        noise=Answer(1000, 3, 0.84, 0.73),
    ),
    versions={"tensorflow": "2.21.0", "tf2onnx": "1.17.0"},
)


def test_the_facts_read_back_as_the_export_stage_wrote_them(tmp_path):
    write_facts(tmp_path / "facts.json", FACTS)
    assert read_facts(tmp_path / "facts.json") == FACTS


def record(dataset_name: str, speed: ExportSpeed | None = SPEED) -> CardRecord:
    dataset = load_dataset(dataset_name)
    actual = np.arange(100) % 10
    predicted = actual.copy()
    predicted[:3] = 5
    scores = {"precision": 0.97, "recall": 0.96, "f1": 0.965}
    return CardRecord(
        dataset=dataset,
        params={
            "seed": 42,
            "prepare": {"dataset": dataset_name, "val_fraction": 0.2},
            "train": {"model": {"family": "mlp"}},
        },
        facts=FACTS,
        model_md5="0" * 32,
        model_size=123456,
        split_sizes={"train": 480, "val": 120, "test": 100},
        test_metrics={"accuracy": 0.97, "loss": 0.1},
        per_class={name: scores for name in dataset.classes},
        actual=actual,
        predicted=predicted,
        agreements={name: (100, 6.6e-7) for name in ("saved_model", "onnx", "litert")},
        speed=speed,
    )


def test_the_card_speaks_of_what_the_dataset_shows():
    mnist = render_card(record("mnist"))
    assert mnist.startswith("# Model card: a multilayer perceptron for handwritten digits\n")
    fashion = render_card(record("fashion-mnist"))
    assert fashion.startswith("# Model card: a multilayer perceptron for articles of clothing\n")
    assert "digit" not in fashion.lower()
    assert "| Ankle boot | 0.9700 | 0.9600 | 0.9650 | 10 |" in fashion
    assert "A black image: `Sandal`, with probability 0.40" in fashion
    assert "| T-shirt/top | Sandal | 1 |" in fashion  # the first test image, a 0, taken for a 5
    assert "| ONNX | `models/model.onnx` | 0.00 MB | SHA-256 `" + "a" * 64 + "` | 100 of 100 | 6.6e-07 |" in fashion


def test_the_formats_and_the_changed_images_keep_their_order_through_the_facts_file(tmp_path):
    write_facts(tmp_path / "facts.json", FACTS)
    card = render_card(dataclasses.replace(record("mnist"), facts=read_facts(tmp_path / "facts.json")))
    rows = [line.split(" | ")[0] for line in card.splitlines() if line.startswith("| ")]
    formats = [row for row in rows if row in ("| Keras", "| TensorFlow SavedModel", "| ONNX", "| LiteRT")]
    assert formats == ["| Keras", "| TensorFlow SavedModel", "| ONNX", "| LiteRT"]
    assert card.index("| moved 3 pixels right and 3 down |") < card.index("| inverted: dark on light |")


def test_the_speed_is_quoted_for_the_model_it_was_measured_on_only():
    card = render_card(record("mnist"))
    assert "Measured by `python -m bench.exports` on this model" in card
    assert "| ONNX, onnxruntime | 2,000 | 0.020 |" in card
    other = render_card(record("mnist", dataclasses.replace(SPEED, model_md5="1" * 32)))
    assert f"on another model (MD5 `{'1' * 32}`), not this one" in other
    assert "Not measured yet" in render_card(record("mnist", None))


def test_the_layout_is_the_same_every_time_and_only_prose_is_wrapped():
    card = render_card(record("mnist"))
    assert card == render_card(record("mnist"))
    lines = card.splitlines()
    long = [line for line in lines if len(line) > 120]
    assert long and all(line.startswith(("|", "git log")) for line in long), long
    assert "```yaml\nseed: 42\nprepare:\n  dataset: mnist\n" in card
    assert card.endswith("all pinned in `requirements.lock`.\n")
