"""The summary's digits: how many significant digits two values share, where dvc metrics diff shows 0.0."""

import pytest

from tools.summary import describe, same_digits


@pytest.mark.parametrize(
    ("old", "new", "digits"),
    [
        (0.0925188809633255, 0.0925188884139061, 6),
        (0.972000002861023, 0.972000002861023, 17),
        (0.9720, 0.9731, 2),
        (0.5, 0.6, 0),
        (50, 49, 1),
        (None, 0.5, 0),
    ],
)
def test_significant_digits_in_common(old, new, digits):
    assert same_digits(old, new) == digits


def test_a_new_or_gone_metric_says_so_and_numbers_their_digits_in_common():
    assert describe(None, 0.95) == "0.95 (new)"
    assert describe(0.95, None) == "0.95 (gone)"
    assert describe(0.0925188884, 0.0925188810) == "0.0925188884 -> 0.092518881 (the same to 6 significant digits)"
