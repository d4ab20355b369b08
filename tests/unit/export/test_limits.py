"""The changed images of the card's known limits, and how an answer to images of nothing is summed up."""

import numpy as np

from mnist_dvc.export.limits import answer, half_size, inverted, shifted


def test_the_changes_move_shrink_and_invert_the_images():
    image = np.zeros((1, 28, 28), np.uint8)
    image[0, 10:18, 12:16] = 200
    moved = shifted(image)
    assert moved.sum() == image.sum() and moved[0, 13:21, 15:19].min() == 200
    small = half_size(image)
    assert small.dtype == np.uint8 and small.shape == image.shape
    assert np.argwhere(small[0]).min(axis=0).tolist() == [12, 13] and np.argwhere(small[0]).max(axis=0).tolist() == [
        15,
        14,
    ]
    assert inverted(image)[0, 0, 0] == 255 and inverted(image)[0, 12, 13] == 55


def test_an_answer_names_the_commonest_class_its_share_and_mean_probability():
    probabilities = np.array([[0.1, 0.9, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.0, 0.5, 0.5]])
    found = answer(probabilities)
    assert (found.images, found.commonest, found.share) == (4, 1, 0.75)
    assert np.isclose(found.mean_probability, (0.9 + 0.7 + 0.6 + 0.5) / 4)
