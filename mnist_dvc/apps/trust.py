"""Answers not to trust. The model names a class for anything it is shown, a letter, two digits or a scribble
included; predict and the page flag an answer when the model is unsure, or when the ink is too wide to be one digit.

Both limits were chosen on MNIST's validation split, never the test split, with the reference model, and measured on
the test split and on generated non-digits by `python -m bench.trust` (docs/using-the-model.md has the figures).
"""

import numpy as np

# The lowest probability at which at most 5% of the validation split's right answers are flagged.
MIN_PROBABILITY = 0.86
# Cropped to its ink and fitted into 20x20, no validation digit but one in a thousand is wider than 5:3;
# two digits side by side are about 2:1 and wider.
MAX_WIDTH_RATIO = 5 / 3


def doubt(image: np.ndarray, probability: float) -> str | None:
    """Why the answer for a 28x28 MNIST-form image should not be trusted, or None when nothing says so."""
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    if width > MAX_WIDTH_RATIO * height:
        return f"wider than one digit ({width}x{height} pixels): two digits, or a word?"
    if probability < MIN_PROBABILITY:
        return f"the model is unsure (under {MIN_PROBABILITY})"
    return None
