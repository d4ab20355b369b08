"""Answers not to trust. The model names a class for anything it is shown, a letter, two digits or a scribble
included; predict and the page flag an answer when the ink cannot be one digit (in pieces side by side, or too wide)
or when the model is unsure.

The limits were chosen on MNIST's validation split, never the test split, with the reference model, and measured on
the test split and on generated non-digits by `python -m bench.trust` (docs/using-the-model.md has the figures).
"""

import numpy as np

# The lowest probability at which at most 5% of the validation split's right answers are flagged.
MIN_PROBABILITY = 0.86
# Cropped to its ink and fitted into 20x20, fewer than one validation digit in a thousand is wider than 5:3;
# two digits that touch, or a word, often are.
MAX_WIDTH_RATIO = 5 / 3
# Ink in pieces side by side, empty columns between them, two of them with at least this share of the ink each: two
# digits written apart. Fewer than one validation digit in a thousand is (a 5 with its bar apart, a broken stroke).
MIN_PIECE = 0.1


def doubt(image: np.ndarray, probability: float) -> str | None:
    """Why the answer for a 28x28 MNIST-form image should not be trusted, or None when nothing says so."""
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    if _pieces_side_by_side(image) > 1:
        return "the ink is in pieces side by side: two digits?"
    if width > MAX_WIDTH_RATIO * height:
        return f"wider than one digit ({width}x{height} pixels): two digits, or a word?"
    if probability < MIN_PROBABILITY:
        return f"the model is unsure (under {MIN_PROBABILITY})"
    return None


def _pieces_side_by_side(image: np.ndarray) -> int:
    """How many runs of inked columns, separated by empty ones, hold at least MIN_PIECE of the ink each."""
    columns = image.sum(axis=0, dtype=np.int64)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], (columns > 0).astype(np.int8), [0]])))
    return sum(
        columns[start:end].sum() >= MIN_PIECE * columns.sum()
        for start, end in zip(edges[::2], edges[1::2], strict=True)
    )
