"""Digits drawn with strokes, as people make them: for the image, predict and serve tests.

Three shapes, a 0 (a loop), a 1 (a vertical stroke) and a 7, drawn at any size, thickness,
slant and place, in any colours; and a small dataset of them normalised the MNIST way, on
which a tiny model learns in seconds to tell them apart.
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mnist_dvc.apps.images import to_mnist

SHAPES = ("0", "1", "7")
CLASSES = tuple(str(digit) for digit in range(10))


def draw(
    digit: str,
    size: tuple[int, int] = (200, 200),
    box: tuple[float, float, float, float] = (0.3, 0.15, 0.7, 0.85),
    ink: int | tuple[int, ...] = 0,
    paper: int | tuple[int, ...] = 255,
    mode: str = "L",
    width: int = 14,
    slant: float = 0.0,
) -> Image.Image:
    """A digit drawn in the part of the frame that box gives (left, top, right, bottom, as shares)."""
    image = Image.new(mode, size, paper)
    pen = ImageDraw.Draw(image)
    left, top, right, bottom = (share * extent for share, extent in zip(box, size * 2, strict=True))

    def at(x: float, y: float) -> tuple[float, float]:
        """A point of the box, in shares of its width and height, leaning right by slant as it rises."""
        return left + x * (right - left) + slant * (1 - y) * (right - left), top + y * (bottom - top)

    if digit == "0":
        pen.ellipse([at(0, 0)[0], top, at(1, 1)[0], bottom], outline=ink, width=width)
    elif digit == "1":
        pen.line([at(0.5, 0), at(0.5, 1)], fill=ink, width=width)
    elif digit == "7":
        pen.line([at(0, 0), at(1, 0), at(0.35, 1)], fill=ink, width=width, joint="curve")
    else:
        raise ValueError(f"digit {digit!r}; expected one of {', '.join(SHAPES)}")
    return image


def pencil_on_paper(digit: str, darker: int, grain: float, seed: int = 0) -> Image.Image:
    """A digit in light pencil on textured grey paper, 300x300: the paper 170 grey with blotches and a fine grain
    (grain is the spread of the grain, in grey levels), the pencil on average darker grey levels darker, its
    pressure uneven; darker=0 gives the paper alone."""
    rng = np.random.default_rng(seed)
    stroke = 1 - np.asarray(draw(digit, size=(300, 300), width=8), np.float32) / 255  # 1 where the pencil went
    blotches = np.asarray(
        Image.fromarray(rng.normal(0, grain, (60, 60)).astype(np.float32), mode="F").resize((300, 300))
    )
    paper = 170 + blotches + rng.normal(0, grain, (300, 300))
    pencil = darker * rng.uniform(0.7, 1.3, (300, 300))
    return Image.fromarray(np.clip(paper - stroke * pencil + 0.5, 0, 255).astype(np.uint8))


def drawn_dataset(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """count MNIST-form images (uint8, n x 28 x 28) of drawn 0s, 1s and 7s, with their labels, all varied."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for index in range(count):
        digit = SHAPES[index % len(SHAPES)]
        width, height = rng.uniform(0.25, 0.6), rng.uniform(0.5, 0.8)
        left, top = rng.uniform(0.05, 0.95 - width), rng.uniform(0.05, 0.95 - height)
        image = draw(
            digit,
            box=(left, top, left + width, top + height),
            width=int(rng.integers(8, 24)),
            slant=rng.uniform(-0.2, 0.3),
        )
        images.append(to_mnist(image))
        labels.append(int(digit))
    return np.stack(images), np.array(labels, dtype=np.uint8)


def train_drawn_model(path: Path, output_activation: str = "sigmoid") -> Path:
    """A tiny MLP that tells drawn 0s, 1s and 7s apart, saved by the project's save_model, with the ten
    digit classes; seconds to train."""
    import keras

    from mnist_dvc.model.network import build_model, save_model
    from mnist_dvc.model.training import seed_everything
    from tests.helpers.params import train_params

    images, labels = drawn_dataset(600, seed=0)
    params = train_params("train.model.hidden_units=[64]", f"train.model.output_activation={output_activation}").model
    keras.backend.clear_session()
    seed_everything(0)
    model = build_model(params, (28, 28), len(CLASSES))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images, labels, batch_size=32, epochs=15, verbose=0)
    save_model(model, CLASSES, path)
    return path
