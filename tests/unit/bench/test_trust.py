"""bench/trust.py's non-digits: MNIST-form images, each kind as many as asked."""

import numpy as np

from bench.trust import LETTERS, letters, pairs, scribbles
from tests.helpers.drawn import drawn_dataset


def test_the_generated_non_digits_are_in_mnist_form():
    rng = np.random.default_rng(0)
    digits, _ = drawn_dataset(6, seed=0)
    made = {"pairs": pairs(digits, 4, rng), "letters": letters(), "scribbles": scribbles(3, rng)}
    assert {kind: len(images) for kind, images in made.items()} == {
        "pairs": 4,
        "letters": 6 * len(LETTERS),
        "scribbles": 3,
    }
    for images in made.values():
        assert images.shape[1:] == (28, 28) and images.dtype == np.uint8 and (images.max(axis=(1, 2)) == 255).all()
