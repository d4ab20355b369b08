"""mnist_dvc/apps/trust.py: which answers are flagged, and why."""

import numpy as np
from PIL import Image

from mnist_dvc.apps.images import to_mnist
from mnist_dvc.apps.trust import MIN_PROBABILITY, doubt
from tests.helpers.drawn import draw

SEVEN = to_mnist(draw("7"))


def test_a_confident_answer_for_one_digit_is_not_flagged():
    assert doubt(SEVEN, 0.99) is None
    assert doubt(SEVEN, MIN_PROBABILITY) is None


def test_an_unsure_answer_is_flagged():
    assert doubt(SEVEN, MIN_PROBABILITY - 0.01) == f"the model is unsure (under {MIN_PROBABILITY})"


def test_two_digits_written_apart_are_flagged_however_sure_the_model_is():
    pair = Image.new("L", (300, 200), 255)
    pair.paste(draw("1", box=(0.3, 0.15, 0.7, 0.85)), (0, 0))
    pair.paste(draw("7", box=(0.3, 0.15, 0.7, 0.85)), (100, 0))
    assert doubt(to_mnist(pair), 0.999) == "the ink is in pieces side by side: two digits?"


def test_ink_much_wider_than_tall_is_flagged_even_in_one_piece():
    wide = Image.new("L", (400, 100), 255)
    wide.paste(draw("0", size=(400, 100), box=(0.05, 0.1, 0.95, 0.9)))
    assert doubt(to_mnist(wide), 0.999).startswith("wider than one digit (20x")


def test_a_piece_apart_too_small_to_be_a_digit_is_no_reason():
    """A full stop beside a 7, or a bar of a 5 written apart: one digit, with a speck."""
    seven = np.asarray(draw("7")).copy()
    seven[100:106, 180:186] = 0  # a dot to the right of the 7, apart from it
    assert doubt(to_mnist(Image.fromarray(seven)), 0.99) is None


def test_a_one_is_narrow_not_wide():
    assert doubt(to_mnist(draw("1")), 0.99) is None and np.count_nonzero(to_mnist(draw("1"))) > 0
