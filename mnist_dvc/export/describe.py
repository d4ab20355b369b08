"""The model and its exported files as the model card describes them: layers, weights, FLOPs, sizes, checksums."""

import hashlib
import math
from importlib import metadata
from pathlib import Path

import keras

from mnist_dvc.export.facts import ExportFile, Layer, ModelFacts

# What made and checked the exports, and so what their bytes depend on.
PACKAGES = ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert")


def model_facts(model: keras.Model) -> ModelFacts:
    """The trained model's layers, weights and forward FLOPs. Elementwise work (activations, pooling, batch
    normalisation, the input scaling) is left out of the FLOPs: it is small beside the multiplies. A model that
    averages its answers over shifted copies (model/network.py) is its network's layers, then the average, at the
    network's FLOPs once per copy."""
    networks = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if networks:
        network = model_facts(networks[0])
        copies = len(model.get_layer("averaged").input)
        output = "x".join(str(size) for size in model.output.shape[1:])
        average = Layer(f"mean of the answers to the image and {copies - 1} copies moved one pixel", output, 0)
        return ModelFacts((*network.layers, average), network.weights, network.flops * copies, network.sigmoid_head)
    layers, flops = [], 0
    for layer in model.layers:
        config = layer.get_config()
        output = "x".join(str(size) for size in layer.output.shape[1:])
        if isinstance(layer, keras.layers.Dense):
            kind = f"Dense {config['units']}, {config['activation']}"
            flops += 2 * math.prod(layer.kernel.shape)
        elif isinstance(layer, keras.layers.Conv2D):
            kind = f"Conv2D {config['filters']} of {'x'.join(map(str, config['kernel_size']))}, {config['activation']}"
            flops += 2 * math.prod(layer.output.shape[1:3]) * math.prod(layer.kernel.shape)
        elif isinstance(layer, keras.layers.Normalization):
            kind = "pixel scaling, x / 255"
        elif isinstance(layer, keras.layers.BatchNormalization):  # the project's fused one trains as Keras' own
            kind = "BatchNormalization"
        elif isinstance(layer, keras.layers.Activation):
            kind = f"Activation, {config['activation']}"
        elif isinstance(layer, keras.layers.Dropout):
            kind = f"Dropout {config['rate']:g} (training only)"
        elif isinstance(layer, keras.layers.MaxPooling2D | keras.layers.AveragePooling2D):
            kind = f"{type(layer).__name__} {'x'.join(map(str, config['pool_size']))}"
        else:
            kind = type(layer).__name__
        layers.append(Layer(kind, output, layer.count_params()))
    sigmoid_head = model.layers[-1].get_config().get("activation") == "sigmoid"
    return ModelFacts(tuple(layers), model.count_params(), flops, sigmoid_head)


def export_file(path: Path) -> ExportFile:
    """Its size, and the SHA-256 of a single file (a directory has none)."""
    if path.is_dir():
        return ExportFile(str(path), sum(file.stat().st_size for file in path.rglob("*") if file.is_file()), None)
    return ExportFile(str(path), path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())


def package_versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in PACKAGES}
