"""Test images changed the ways people's digits differ from MNIST's, for evaluate's robustness metrics: thicker and
thinner strokes, blur, a lower resolution scaled up, small rotations and shifts, noise.

Every variant is drawn from one fixed sample of the test images with a fixed seed, so every model, whatever its params,
is scored on the very same images. Each is a uint8 batch, as the model takes it.
"""

from collections.abc import Callable

import numpy as np
from scipy import ndimage

SAMPLE = 1000  # test images per variant: enough to tell 0.98 from 0.95, at a tenth of the test set's cost
SEED = 0
ROTATION = 20  # degrees, either way
SHIFT = 3  # pixels, in x and in y
NOISE = 0.25  # standard deviation, a fraction of white
BLUR = 1.0  # standard deviation of the Gaussian, in pixels

Variant = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _uint8(images: np.ndarray) -> np.ndarray:
    return np.clip(np.round(images), 0, 255).astype(np.uint8)


def thicker(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each pixel the brightest of a 2x2 neighbourhood: strokes a pixel wider."""
    return ndimage.grey_dilation(images, size=(1, 2, 2))


def thinner(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each pixel the darkest of a 2x2 neighbourhood: strokes a pixel narrower."""
    return ndimage.grey_erosion(images, size=(1, 2, 2))


def blurred(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _uint8(ndimage.gaussian_filter(images.astype(np.float32), sigma=(0, BLUR, BLUR)))


def low_resolution(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half the resolution (the mean of each 2x2 block), scaled back up bilinearly: a photo of a small digit."""
    n, height, width = images.shape
    small = images.reshape(n, height // 2, 2, width // 2, 2).mean(axis=(2, 4))
    return _uint8(ndimage.zoom(small, (1, 2, 2), order=1, mode="nearest", grid_mode=True))


def rotated(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    angles = rng.uniform(-ROTATION, ROTATION, len(images))
    return np.stack(
        [
            _uint8(ndimage.rotate(image.astype(np.float32), angle, reshape=False, order=1))
            for image, angle in zip(images, angles, strict=True)
        ]
    )


def shifted(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each image moved by whole pixels, up to SHIFT in x and in y; black comes in at the edges."""
    moves = rng.integers(-SHIFT, SHIFT + 1, (len(images), 2))
    return np.stack([ndimage.shift(image, move, order=0) for image, move in zip(images, moves, strict=True)])


def noisy(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _uint8(images + rng.normal(0, NOISE * 255, images.shape))


VARIANTS: dict[str, Variant] = {
    "thicker": thicker,
    "thinner": thinner,
    "blurred": blurred,
    "low_resolution": low_resolution,
    "rotated": rotated,
    "shifted": shifted,
    "noisy": noisy,
}


def sample(count: int) -> np.ndarray:
    """The indices of the test images that every variant is made from: SAMPLE of them, or all if fewer."""
    return np.sort(np.random.default_rng(SEED).permutation(count)[:SAMPLE])


def variants(images: np.ndarray) -> dict[str, np.ndarray]:
    """The images unchanged ("original"), then each variant of them, each drawn with its own fixed seed."""
    made = {"original": images}
    for index, (name, change) in enumerate(VARIANTS.items()):
        made[name] = change(images, np.random.default_rng([SEED, index]))
    return made
