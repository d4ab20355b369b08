import numpy as np
import pytest

keras = pytest.importorskip("keras")

from mnist_dvc.model.inference import load_classifier  # noqa: E402
from tests.helpers.drawn import CLASSES, drawn_dataset, train_drawn_model  # noqa: E402


@pytest.fixture(scope="module")
def images():
    return drawn_dataset(30, seed=7)[0]


def test_a_sigmoid_model_gives_the_softmax_of_its_logits(drawn_model, images):
    """Keras trains a sigmoid output layer with softmax cross-entropy on its logits: that softmax is the
    model's probability, and the sigmoids, which do not sum to 1, are not."""
    classifier = load_classifier(drawn_model)
    assert classifier.classes == CLASSES
    features = keras.Model(classifier.trained.inputs, classifier.trained.layers[-2].output).predict(images, verbose=0)
    kernel, bias = classifier.trained.layers[-1].get_weights()
    logits = features.astype(np.float64) @ kernel + bias
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)

    probabilities = classifier.probabilities(images)
    assert np.allclose(probabilities, expected, atol=1e-6)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-6)
    sigmoids = classifier.trained.predict(images, verbose=0)
    assert not np.allclose(sigmoids.sum(axis=1), 1, atol=1e-3)
    assert np.array_equal(probabilities.argmax(axis=1), sigmoids.argmax(axis=1))


def test_a_softmax_model_is_used_as_it_is(tmp_path, images):
    classifier = load_classifier(train_drawn_model(tmp_path / "softmax.keras", output_activation="softmax"))
    assert classifier.probability_model is classifier.trained
    assert np.allclose(classifier.probabilities(images), classifier.trained.predict(images, verbose=0), atol=1e-6)


def test_the_batch_size_changes_nothing_but_speed(drawn_model, images):
    classifier = load_classifier(drawn_model)
    whole, in_sevens = classifier.probabilities(images), classifier.probabilities(images, batch_size=7)
    assert whole.shape == (len(images), len(CLASSES))
    assert np.allclose(whole, in_sevens, atol=1e-6)


def test_a_cnn_with_a_sigmoid_head_gives_the_softmax_of_its_logits(tmp_path, images):
    """load_classifier takes the logits of the last Dense layer whatever comes before it."""
    from mnist_dvc.model.network import build_model, save_model
    from tests.helpers.params import train_params

    params = train_params("model=cnn", "train.model.filters=[4]", "train.model.output_activation=sigmoid")
    model = build_model(params.model, (28, 28), len(CLASSES))
    model.compile(loss="sparse_categorical_crossentropy")
    save_model(model, CLASSES, tmp_path / "cnn.keras")
    classifier = load_classifier(tmp_path / "cnn.keras")
    features = keras.Model(model.inputs, model.layers[-2].output).predict(images, verbose=0)
    kernel, bias = model.layers[-1].get_weights()
    logits = features.astype(np.float64) @ kernel + bias
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    assert np.allclose(classifier.probabilities(images), expected / expected.sum(axis=1, keepdims=True), atol=1e-6)


def test_no_images_give_no_rows_and_no_model_call(drawn_model):
    probabilities = load_classifier(drawn_model).probabilities(np.zeros((0, 28, 28), np.uint8))
    assert probabilities.shape == (0, len(CLASSES))


def one_batch_after_another(classifier, images: np.ndarray, batch_size: int) -> np.ndarray:
    """The probability model's answers batch by batch through Keras' own predict_on_batch."""
    return np.concatenate(
        [
            classifier.probability_model.predict_on_batch(images[start : start + batch_size])
            for start in range(0, len(images), batch_size)
        ]
    )


@pytest.fixture(scope="module")
def cnn_classifier(tmp_path_factory):
    from mnist_dvc.model.network import build_model, save_model
    from tests.helpers.params import train_params

    params = train_params("model=cnn", "train.model.filters=[4,8]", "train.model.batch_norm=true")
    model = build_model(params.model, (28, 28), len(CLASSES))
    model.compile(loss="sparse_categorical_crossentropy")
    path = tmp_path_factory.mktemp("cnn") / "cnn.keras"
    save_model(model, CLASSES, path)
    return load_classifier(path)


@pytest.mark.parametrize("family", ["mlp", "cnn"])
def test_sets_scored_side_by_side_give_the_bits_of_one_batch_after_another(family, drawn_model, cnn_classifier, images):
    """Sets of 30, 8 and 0 images in batches of 7: seven batches of 7 or fewer, two at a time, the last alone."""
    classifier = load_classifier(drawn_model) if family == "mlp" else cnn_classifier
    image_sets = [images, images[:8][::-1], images[:0]]
    answers = classifier.probabilities_of(image_sets, batch_size=7)
    assert [len(answer) for answer in answers] == [30, 8, 0]
    for image_set, answer in zip(image_sets[:2], answers, strict=False):
        assert np.array_equal(answer, one_batch_after_another(classifier, image_set, 7))
    assert np.array_equal(classifier.probabilities(images, batch_size=7), answers[0])


def test_no_sets_give_no_answers(drawn_model):
    assert load_classifier(drawn_model).probabilities_of([]) == []
