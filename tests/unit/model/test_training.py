"""Training: the optimizer, the schedule, the loss and the seed, from the train params."""

import contextlib
import signal

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from mnist_dvc.core import signals  # noqa: E402
from mnist_dvc.core.errors import ParamsError, TrainingError  # noqa: E402
from mnist_dvc.core.prepared import Split  # noqa: E402
from mnist_dvc.model import training  # noqa: E402
from mnist_dvc.model.batches import evaluation_batches, training_batches, validation_pairs  # noqa: E402
from mnist_dvc.model.network import build_model  # noqa: E402
from mnist_dvc.model.training import (  # noqa: E402
    as_saved,
    build_state,
    compile_for_scoring,
    compile_for_training,
    fit,
    learning_rate,
    make_optimizer,
    one_hot_classes,
    own_steps,
    seed_everything,
)
from tests.helpers.data import CLASSES, tiny_images, tiny_labels  # noqa: E402
from tests.helpers.params import train_params  # noqa: E402


@pytest.fixture(scope="module")
def reference():
    return train_params()


def test_reference_training_setup(reference):
    model = build_model(reference.model, (28, 28), 10)
    compile_for_training(model, reference, examples=48000)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.optimizer.learning_rate.numpy() == pytest.approx(0.001)
    assert isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy)
    assert model.steps_per_execution == 24, "one epoch of 48000 images in batches of 2000 per call"


def test_optimizers():
    sgd = make_optimizer(train_params("train.optimizer=sgd", "train.momentum=0.9"), 24)
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.momentum == pytest.approx(0.9)
    assert isinstance(make_optimizer(train_params("train.optimizer=rmsprop"), 24), keras.optimizers.RMSprop)
    adamw = make_optimizer(train_params("train.optimizer=adamw", "train.weight_decay=0.05"), 24)
    assert isinstance(adamw, keras.optimizers.AdamW) and adamw.weight_decay == pytest.approx(0.05)


def rates(schedule, steps):
    return [float(schedule(step)) for step in steps]


def test_the_default_learning_rate_is_a_constant(reference):
    assert learning_rate(reference, 24) == 0.001


def test_cosine_decays_from_the_learning_rate_to_zero_at_the_last_step():
    params = train_params("train.schedule=cosine", "train.learning_rate=0.1", "train.epochs=10")
    schedule = learning_rate(params, steps_per_epoch=5)
    assert rates(schedule, [0, 25, 50, 60]) == pytest.approx([0.1, 0.05, 0.0, 0.0], abs=1e-7)
    assert rates(schedule, [10]) == pytest.approx([0.05 * (1 + np.cos(np.pi * 10 / 50))])


def test_warm_up_rises_linearly_from_zero_then_decays_by_cosine():
    params = train_params(
        "train.schedule=cosine", "train.warmup_epochs=2", "train.learning_rate=0.1", "train.epochs=10"
    )
    schedule = learning_rate(params, steps_per_epoch=5)
    assert rates(schedule, [0, 5, 10]) == pytest.approx([0.0, 0.05, 0.1], abs=1e-7)
    assert rates(schedule, [30, 50]) == pytest.approx([0.05, 0.0], abs=1e-7), "half-way through the 40 decay steps"


def test_a_schedule_is_saved_with_the_model_and_loads_in_safe_mode(tmp_path):
    from mnist_dvc.model.network import load_model, save_model

    params = train_params(
        "train.model.hidden_units=[4]", "train.schedule=cosine", "train.warmup_epochs=1", "train.epochs=3"
    )
    model = build_model(params.model, (28, 28), 10)
    compile_for_training(model, params, examples=100)
    save_model(model, tuple("0123456789"), tmp_path / "m.keras")
    schedule = load_model(tmp_path / "m.keras")[0].optimizer._learning_rate
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    assert (schedule.warmup_steps, schedule.decay_steps, schedule.warmup_target) == (1, 2, 0.001)


def test_label_smoothing_trains_on_one_hot_labels_and_the_model_is_scored_on_plain_ones():
    params = train_params("train.label_smoothing=0.1")
    model = build_model(params.model, (28, 28), 10)
    compile_for_training(model, params, examples=100)
    assert isinstance(model.loss, keras.losses.CategoricalCrossentropy) and model.loss.label_smoothing == 0.1
    optimizer = model.optimizer
    compile_for_scoring(model)
    assert isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy)
    assert model.optimizer is optimizer and model.steps_per_execution == 1


def test_same_seed_same_weights(reference):
    seed_everything(7)
    first = build_model(reference.model, (28, 28), 10).get_weights()
    seed_everything(7)
    second = build_model(reference.model, (28, 28), 10).get_weights()
    seed_everything(8)
    third = build_model(reference.model, (28, 28), 10).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not np.array_equal(first[0], third[0])


def tiny_split(count, seed):
    labels = tiny_labels(count, seed)
    return Split(tiny_images(labels, seed), labels, CLASSES)


def fit_tiny(*overrides, callbacks=()):
    params = train_params("train.model.hidden_units=[32,16]", "train.batch_size=32", "train.epochs=3", *overrides)
    seed_everything(42)
    model = build_model(params.model, (28, 28), 10)
    compile_for_training(model, params, examples=200)
    epochs = []
    logged = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: epochs.append(epoch))
    return fit(model, params, 42, tiny_split(200, 0), tiny_split(50, 1), [logged, *callbacks]), epochs


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_diverging_run_fails_at_the_first_epoch_whose_loss_is_not_finite(optimizer):
    """A finite learning rate passes the params check, but one this large overflows the weights to NaN."""
    with pytest.raises(TrainingError) as raised:
        fit_tiny(f"train.optimizer={optimizer}", "train.learning_rate=1e38")
    message = str(raised.value)
    assert message.startswith("the training diverged: loss is ") and "after epoch 1;" in message
    assert message.endswith("lower train.learning_rate (now 1e+38)") and "\n" not in message


def test_a_run_with_finite_losses_is_not_stopped():
    assert fit_tiny("train.learning_rate=0.01") == (3, [0, 1, 2])


SMOOTHED_ADAMW_CNN = (
    "model=cnn",
    "train.model.filters=[4]",
    "train.model.batch_norm=true",
    "train.model.hidden_units=[8]",
    "train.optimizer=adamw",
    "train.weight_decay=0.01",
    "train.label_smoothing=0.1",
)


@pytest.mark.parametrize("overrides", [(), SMOOTHED_ADAMW_CNN], ids=["mlp", "cnn"])
def test_fit_traces_its_step_once_and_trains_as_when_keras_builds_the_state_itself(monkeypatch, overrides):
    """The optimizer's slots and the metrics exist before the first step is traced, so TensorFlow traces it once;
    left to Keras, they are made inside that trace, which is then traced again. The weights come out the same."""
    params = train_params("train.batch_size=32", "train.epochs=2", *overrides)

    def trained(build_state_first):
        seed_everything(42)
        model = build_model(params.model, (28, 28), 10)
        compile_for_training(model, params, examples=100)
        traces = []
        step = model.train_step
        monkeypatch.setattr(model, "train_step", lambda data: traces.append(1) or step(data))
        if not build_state_first:
            monkeypatch.setattr("mnist_dvc.model.training.build_state", lambda model, batches: None)
        fit(model, params, 42, tiny_split(100, 0), tiny_split(20, 1), [])
        monkeypatch.undo()
        return len(traces), model.get_weights()

    traces, weights = trained(build_state_first=True)
    keras_traces, keras_weights = trained(build_state_first=False)
    assert (traces, keras_traces) == (1, 2)
    assert all(np.array_equal(a, b) for a, b in zip(weights, keras_weights, strict=True))


@pytest.mark.parametrize("overrides", [("model=cnn", "train.model.filters=[4]"), SMOOTHED_ADAMW_CNN])
def test_validating_two_batches_at_once_gives_the_bits_of_keras_own_validation(overrides):
    """25 images in batches of 4: three pairs, then the last batch alone; integer labels, and one-hot for smoothing."""
    params = train_params("train.batch_size=4", *overrides)
    seed_everything(42)
    model = build_model(params.model, (28, 28), 10)
    compile_for_training(model, params, examples=100)
    classes = one_hot_classes(model, params)
    val = tiny_split(25, 1)
    keras_own = model.evaluate(evaluation_batches(val, 4, classes), verbose=0)
    with own_steps(model, test_step=training.paired_test_step):
        in_pairs = model.evaluate(validation_pairs(val, 4, classes), verbose=0)
    assert in_pairs == keras_own
    assert "test_step" not in vars(model)
    assert model.evaluate(evaluation_batches(val, 4, classes), verbose=0) == keras_own


def test_a_cnn_validates_two_batches_at_once_and_an_mlp_as_keras_does(monkeypatch):
    """An MLP's first layer already answers in halves on both cores (SplitDense): it validates as Keras does."""
    original, traced = training.paired_test_step, []
    monkeypatch.setattr(
        training, "paired_test_step", lambda model, pair: traced.append(model.name) or original(model, pair)
    )
    assert fit_tiny()[0] == 3
    assert fit_tiny("model=cnn", "train.model.filters=[4]")[0] == 3
    assert set(traced) == {"cnn"}


def fit_once(*overrides):
    """A model fitted on 44 tiny images for one epoch: six batches of 7, halved as 3 and 4, then a last batch of 2."""
    params = train_params("train.batch_size=7", "train.epochs=1", *overrides)
    seed_everything(42)
    model = build_model(params.model, (28, 28), 10)
    compile_for_training(model, params, examples=44)
    logs = []
    logged = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, epoch_logs: logs.append(epoch_logs))
    fit(model, params, 42, tiny_split(44, 0), tiny_split(10, 1), [logged])
    return model.get_weights(), logs[0]


@pytest.mark.parametrize("overrides", [(), ("model=cnn", "train.model.filters=[4]")], ids=["mlp", "cnn"])
def test_a_batch_in_halves_trains_as_the_whole_batch_but_for_rounding(overrides):
    """Without batch normalisation the halves' gradients are the whole batch's: the same weights after an epoch of
    plain SGD to rounding, and the same reported loss and accuracy."""
    whole, whole_logs = fit_once("train.optimizer=sgd", "train.learning_rate=0.5", *overrides)
    halves, halves_logs = fit_once(
        "train.optimizer=sgd", "train.learning_rate=0.5", "train.batch_in_halves=true", *overrides
    )
    assert all(np.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(whole, halves, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(whole, halves, strict=True)), "the halves' own sums"
    assert halves_logs == pytest.approx(whole_logs, rel=1e-5)


def test_batches_in_halves_give_the_same_bits_on_every_run_with_batch_normalisation():
    first, _ = fit_once("train.batch_in_halves=true", *SMOOTHED_ADAMW_CNN)
    second, _ = fit_once("train.batch_in_halves=true", *SMOOTHED_ADAMW_CNN)
    whole, _ = fit_once(*SMOOTHED_ADAMW_CNN)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, whole, strict=True)), "per-half statistics"


def test_only_a_run_that_asks_trains_in_halves(monkeypatch):
    original, traced = training.halved_train_step, []
    monkeypatch.setattr(
        training, "halved_train_step", lambda model, batch: traced.append(model.name) or original(model, batch)
    )
    fit_tiny()
    assert not traced
    fit_tiny("train.batch_in_halves=true")
    assert set(traced) == {"mlp"}


def test_a_last_batch_of_one_image_is_refused_before_training_in_halves():
    params = train_params("train.batch_size=8", "train.batch_in_halves=true")
    model = build_model(params.model, (28, 28), 10)
    compile_for_training(model, params, examples=17)
    with pytest.raises(ParamsError) as raised:
        fit(model, params, 42, tiny_split(17, 0), tiny_split(10, 1), [])
    assert str(raised.value) == (
        "train.batch_in_halves = true: 17 training images in batches of 8 leave a last batch of one image, which "
        "cannot be halved; expected another train.batch_size"
    )


def test_building_the_training_state_leaves_the_metrics_empty():
    params = train_params("train.model.hidden_units=[8]")
    model = build_model(params.model, (28, 28), 10)
    compile_for_training(model, params, examples=100)
    build_state(model, training_batches(tiny_split(40, 0), 8, seed=0))
    assert model.optimizer.built
    assert all(float(variable.numpy().sum()) == 0.0 for variable in model.metrics_variables)


def test_a_stop_signal_whose_exception_was_swallowed_stops_training_before_its_next_steps(monkeypatch):
    """Python runs a signal handler wherever the main thread is; in a finalizer, what it raises is lost."""
    monkeypatch.setattr(signals, "_received", None)
    ended = []

    def stop_swallowed_as_the_second_epoch_begins(epoch, logs):
        if epoch == 1:
            with contextlib.suppress(BaseException):
                signals._on_stop_signal(signal.SIGINT, None)

    watcher = keras.callbacks.LambdaCallback(
        on_epoch_begin=stop_swallowed_as_the_second_epoch_begins, on_epoch_end=lambda epoch, logs: ended.append(epoch)
    )
    with pytest.raises(KeyboardInterrupt):
        fit_tiny(callbacks=[watcher])
    assert ended == [0]


def test_without_test_time_augmentation_the_trained_model_is_saved_with_its_last_epoch_metrics(reference):
    model = build_model(reference.model, (28, 28), 10)
    compile_for_training(model, reference, examples=100)
    labels = tiny_labels(20, seed=1)
    saved, val = as_saved(model, reference, Split(tiny_images(labels, seed=1), labels, CLASSES))
    assert saved is model and val is None


def test_with_test_time_augmentation_the_averaged_model_is_saved_and_scored_on_val_again():
    params = train_params(
        "model=cnn", "train.model.filters=[4]", "train.model.hidden_units=[8]", "train.model.tta_shifts=4"
    )
    labels = tiny_labels(20, seed=1)
    split = Split(tiny_images(labels, seed=1), labels, CLASSES)
    model = build_model(params.model, (28, 28), len(CLASSES))
    compile_for_training(model, params, examples=20)
    saved, val = as_saved(model, params, split)
    assert isinstance(saved.get_layer("averaged"), keras.layers.Average)
    loss, accuracy = saved.evaluate(split.images, split.labels, verbose=0)
    assert val == pytest.approx({"loss": loss, "accuracy": accuracy})
