"""The FLOP floor of training: the matrix multiplies alone, at the rate TensorFlow reaches on this machine.

A network's training time is bounded below by its matrix multiplies, so this
counts them exactly and times each one at the model's own shapes. A Dense
layer with k inputs and n units is one multiply per sample; a convolution with
a k x k kernel over c_in channels into c_out filters, on an output of h x w
positions, is the same multiply at each position (im2col): h*w rows of
k*k*c_in inputs and c_out units, so 2*h*w*k*k*c_in*c_out FLOPs per image
forward. For each such layer, on a batch of b samples, with r rows per sample
(1 for Dense, h*w for a convolution) and K inputs and n units per row:

- forward: X (b*r x K) @ W (K x n), 2*b*r*K*n FLOPs;
- backward: the weight gradient X^T @ dY (K x b*r by b*r x n), and the
  input gradient dY @ W^T (b*r x n by n x K) except for the first layer, whose
  input is the data: nothing upstream needs that gradient and TensorFlow does
  not compute it; so training is about 3x the forward work;
- validation: the forward multiplies only.

Elementwise work (activations, pooling, batch normalisation, loss, the
optimizer, metrics) and data movement are left out on purpose: they are the
overhead that the ratio fit time / floor exposes. Each multiply runs in a loop
of one tf.function, after a warm-up, one at a time (as the layers of a step
must), with TensorFlow's default threading; its median time over several
rounds gives the rate at that shape. Prints one JSON object.

The shapes come from a trained model (--model models/model.keras: each Dense
and Conv2D layer's kernel and output size), so that the floor is that of the
network the params actually built, MLP or CNN, or are given by hand as the
widths of a dense network (--layers).

    python -m bench.floor --model models/model.keras
    python -m bench.floor --layers 784,256,128,10 --epochs 3
"""

import argparse
import json
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MatMul:
    """One multiply (m x k) @ (k x n), optionally with a transposed operand, and how often an epoch runs it."""

    m: int
    k: int
    n: int
    transpose_a: bool
    transpose_b: bool
    per_epoch: int
    phase: str  # "train" or "validation"

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n


def batch_sizes(samples: int, batch: int) -> dict[int, int]:
    """How many batches of each size an epoch over `samples` has (the last may be partial)."""
    sizes = {batch: samples // batch} if samples >= batch else {}
    if samples % batch:
        sizes[samples % batch] = 1
    return sizes


@dataclass(frozen=True)
class Layer:
    """A layer as the multiply it does per sample: rows (1 for Dense, output positions for a convolution)
    of `inputs` values each, into `units` outputs."""

    rows: int
    inputs: int
    units: int


def dense_layers(widths: list[int]) -> list[Layer]:
    """The layers of a dense network given by its widths, input first."""
    return [Layer(1, k, n) for k, n in zip(widths, widths[1:], strict=False)]


def matmuls(layers: list[Layer], batch: int, train: int, validation: int) -> list[MatMul]:
    """Every multiply of one epoch, grouped by shape."""
    result = []
    for size, count in batch_sizes(train, batch).items():
        for i, layer in enumerate(layers):
            m, k, n = size * layer.rows, layer.inputs, layer.units
            result.append(MatMul(m, k, n, False, False, count, "train"))  # X @ W
            result.append(MatMul(k, m, n, True, False, count, "train"))  # X^T @ dY
            if i > 0:
                result.append(MatMul(m, n, k, False, True, count, "train"))  # dY @ W^T
    for size, count in batch_sizes(validation, batch).items():
        for layer in layers:
            result.append(MatMul(size * layer.rows, layer.inputs, layer.units, False, False, count, "validation"))
    return result


def model_layers(path: Path) -> list[Layer]:
    """The multiplies of a saved Keras model's Dense and Conv2D layers, in order.

    They are read from the kernels and output shapes themselves, so the floor follows whatever
    params built the model. Layers without weights (Flatten, Reshape, pooling, Dropout) and batch
    normalisation are elementwise or data movement, not multiplies; a model with any other layer
    that has weights is refused rather than counted wrongly.
    """
    import keras

    model = keras.models.load_model(path, compile=False, safe_mode=True)
    layers = []
    for layer in model.layers:
        if not layer.weights or isinstance(layer, keras.layers.BatchNormalization):
            continue
        if isinstance(layer, keras.layers.Dense):
            inputs, units = layer.kernel.shape
            layers.append(Layer(1, inputs, units))
        elif isinstance(layer, keras.layers.Conv2D):
            height, width, _ = layer.output.shape[1:]
            layers.append(Layer(height * width, math.prod(layer.kernel.shape[:3]), layer.kernel.shape[3]))
        else:
            kind = type(layer).__name__
            raise SystemExit(f"floor: {path}: layer {layer.name} is a {kind}; only Dense and Conv2D layers count")
    if not layers:
        raise SystemExit(f"floor: {path}: the model has no Dense or Conv2D layer")
    return layers


def time_matmul(mm: MatMul, rounds: int, min_seconds: float) -> float:
    """Median seconds of one multiply at this shape."""
    import tensorflow as tf

    a_shape = (mm.k, mm.m) if mm.transpose_a else (mm.m, mm.k)
    b_shape = (mm.n, mm.k) if mm.transpose_b else (mm.k, mm.n)
    generator = tf.random.Generator.from_seed(0)
    a, b = generator.uniform(a_shape), generator.uniform(b_shape)

    @tf.function
    def loop(a: tf.Tensor, b: tf.Tensor, repeats: tf.Tensor) -> tf.Tensor:
        # Each iteration adds to a carried value, so the multiplies run one after another.
        def body(i: tf.Tensor, acc: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            product = tf.matmul(a, b, transpose_a=mm.transpose_a, transpose_b=mm.transpose_b)
            return i + 1, acc + product[0, 0]

        start = (tf.constant(0), tf.constant(0.0))
        return tf.while_loop(lambda i, _: i < repeats, body, start, parallel_iterations=1)[1]

    repeats = 1
    while True:  # warm up, and find a loop length that runs long enough to time
        started = time.perf_counter()
        loop(a, b, tf.constant(repeats)).numpy()
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            break
        repeats *= 4
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        loop(a, b, tf.constant(repeats)).numpy()
        samples.append((time.perf_counter() - started) / repeats)
    return statistics.median(samples)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", type=Path, help="a saved .keras model: take the layer shapes from its kernels")
    source.add_argument("--layers", default="784,256,128,10", help="layer widths, input first (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=2000, help="batch size (default: %(default)s)")
    parser.add_argument("--train", type=int, default=48000, help="training samples (default: %(default)s)")
    parser.add_argument("--validation", type=int, default=12000, help="validation samples (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=50, help="epochs (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per shape (default: %(default)s)")
    parser.add_argument(
        "--min-seconds", type=float, default=0.2, help="length of one timed round (default: %(default)s)"
    )
    return parser.parse_args()


def floor(layers: list[Layer], args: argparse.Namespace) -> dict:
    """Time every multiply of an epoch at its shape; the floor is their sum over all epochs."""
    shapes = []
    for mm in matmuls(layers, args.batch, args.train, args.validation):
        seconds = time_matmul(mm, args.rounds, args.min_seconds)
        shapes.append({**mm.__dict__, "flops": mm.flops, "seconds": seconds, "gflops_per_s": mm.flops / seconds / 1e9})
    flops = {
        phase: args.epochs * sum(s["flops"] * s["per_epoch"] for s in shapes if s["phase"] == phase)
        for phase in ("train", "validation")
    }
    floor_s = args.epochs * sum(s["seconds"] * s["per_epoch"] for s in shapes)
    total = flops["train"] + flops["validation"]
    return {
        "model": str(args.model) if args.model else None,
        "layers": [layer.__dict__ for layer in layers],
        "batch": args.batch,
        "train": args.train,
        "validation": args.validation,
        "epochs": args.epochs,
        "train_flops": flops["train"],
        "validation_flops": flops["validation"],
        "total_flops": total,
        "floor_s": floor_s,
        "gflops_per_s": total / floor_s / 1e9,
        "shapes": shapes,
    }


def main() -> None:
    args = parse_args()
    layers = model_layers(args.model) if args.model else dense_layers([int(width) for width in args.layers.split(",")])
    print(json.dumps(floor(layers, args)))


if __name__ == "__main__":
    main()
