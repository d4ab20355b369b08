"""Tiny trained models of each family, saved as the train stage saves them, for the tests of what uses a model file
(the exports): confident enough on the tiny dataset that no label is a near tie."""

from pathlib import Path

from tests.helpers.data import CLASSES, tiny_images, tiny_labels

CNN_BATCHNORM = (
    "model=cnn",
    "train.model.filters=[4,8]",
    "train.model.batch_norm=true",
    "train.model.hidden_units=[16]",
)
GELU = ("train.model.hidden_units=[16]", "train.model.hidden_activation=gelu")


def tiny_model(path: Path, *overrides: str, epochs: int = 8) -> Path:
    """A model of the params that `dvc exp run -S OVERRIDE...` would give, trained on the tiny dataset, saved at
    path by the project's save_model, with the ten digit classes; seconds to make."""
    import keras

    from mnist_dvc.model.network import build_model, save_model
    from mnist_dvc.model.training import seed_everything
    from tests.helpers.params import train_params

    labels = tiny_labels(200, seed=0)
    images = tiny_images(labels, seed=0)
    keras.backend.clear_session()
    seed_everything(0)
    model = build_model(train_params(*overrides).model, (28, 28), len(CLASSES))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(images, labels, batch_size=32, epochs=epochs, verbose=0)
    save_model(model, CLASSES, path)
    return path


def tiny_test_images() -> tuple:
    """The tiny dataset's test images and labels (uint8, n x 28 x 28)."""
    labels = tiny_labels(100, seed=1)
    return tiny_images(labels, seed=1), labels
