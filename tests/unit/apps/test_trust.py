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


def test_two_digits_side_by_side_are_flagged_however_sure_the_model_is():
    pair = Image.new("L", (400, 200), 255)
    pair.paste(draw("1", box=(0.2, 0.2, 0.8, 0.8)), (0, 0))
    pair.paste(draw("0", box=(0.2, 0.2, 0.8, 0.8)), (200, 0))
    assert doubt(to_mnist(pair), 0.999).startswith("wider than one digit (20x")


def test_a_one_is_narrow_not_wide():
    assert doubt(to_mnist(draw("1")), 0.99) is None and np.count_nonzero(to_mnist(draw("1"))) > 0
