"""What the classifier answers for images unlike those it learnt from, measured for the model card's known limits.

The model always answers with one of its classes: shown a blank image or noise, it still names one, often with high
probability. And it learnt from images prepared one way (for MNIST: white on black, the digit scaled into 20x20 and
centred by its centre of mass), so the same test images moved, made smaller or inverted are read less well.
"""

import numpy as np

from mnist_dvc.export.facts import Answer, Limits
from mnist_dvc.model.inference import Classifier

SHIFT = 3  # pixels right and down
NOISE_IMAGES = 1000


def shifted(images: np.ndarray) -> np.ndarray:
    moved = np.zeros_like(images)
    moved[:, SHIFT:, SHIFT:] = images[:, :-SHIFT, :-SHIFT]
    return moved


def half_size(images: np.ndarray) -> np.ndarray:
    """Each image scaled to half its size (the mean of each 2x2 block) and centred on a black image."""
    n, height, width = images.shape
    small = images[:, : height // 2 * 2, : width // 2 * 2].reshape(n, height // 2, 2, width // 2, 2).mean(axis=(2, 4))
    centred = np.zeros_like(images)
    top, left = (height - small.shape[1]) // 2, (width - small.shape[2]) // 2
    centred[:, top : top + small.shape[1], left : left + small.shape[2]] = np.round(small).astype(np.uint8)
    return centred


def inverted(images: np.ndarray) -> np.ndarray:
    return 255 - images


CHANGES = {
    f"moved {SHIFT} pixels right and {SHIFT} down": shifted,
    "scaled to half size, centred": half_size,
    "inverted: dark on light": inverted,
}


def answer(probabilities: np.ndarray) -> Answer:
    predicted = probabilities.argmax(axis=1)
    counts = np.bincount(predicted, minlength=probabilities.shape[1])
    commonest = int(counts.argmax())
    return Answer(
        images=len(probabilities),
        commonest=commonest,
        share=float(counts[commonest] / len(probabilities)),
        mean_probability=float(probabilities.max(axis=1).mean()),
    )


def measure_limits(classifier: Classifier, images: np.ndarray, labels: np.ndarray, seed: int) -> Limits:
    """The classifier on the test images changed in each way of CHANGES, on a blank image and on noise (seeded)."""
    shape = images.shape[1:]
    blank = np.zeros((1, *shape), np.uint8)
    noise = np.random.default_rng(seed).integers(0, 256, size=(NOISE_IMAGES, *shape), dtype=np.uint8)
    *of_changed, of_blank, of_noise = classifier.probabilities_of(
        [*(change(images) for change in CHANGES.values()), blank, noise]
    )
    accuracy = tuple(
        (description, float((answers.argmax(axis=1) == labels).mean()))
        for description, answers in zip(CHANGES, of_changed, strict=True)
    )
    return Limits(accuracy=accuracy, blank=answer(of_blank), noise=answer(of_noise))
