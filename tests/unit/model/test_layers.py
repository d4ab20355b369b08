"""The layers the families build with: an MLP's first layer in two halves, batch normalisation through the fused
kernel, and the plain-Keras copy."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from mnist_dvc.model.layers import FusedBatchNormalization, SplitDense, plain_keras  # noqa: E402


def split_and_whole_layers(rng, inputs, units, activation, use_bias=True):
    """A SplitDense and a Keras Dense with the same random weights."""
    weights = [rng.normal(0, 0.1, (inputs, units)).astype("float32")]
    if use_bias:
        weights.append(rng.normal(size=units).astype("float32"))
    layers = []
    for layer_class in (SplitDense, keras.layers.Dense):
        layer = layer_class(units, activation=activation, use_bias=use_bias)
        layer.build((None, inputs))
        layer.set_weights(weights)
        layers.append(layer)
    return layers


def split_and_whole(batch, inputs, units, activation):
    """One training step's outputs and weight gradients, in a graph as fit runs it, of SplitDense and of Keras'
    Dense with the same weights."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    features = tf.constant(rng.random((batch, inputs)), tf.float32)
    weights = tf.constant(rng.normal(size=(batch, units)), tf.float32)
    results = []
    for layer in split_and_whole_layers(rng, inputs, units, activation):

        @tf.function
        def step(features, layer=layer):
            with tf.GradientTape() as tape:
                outputs = layer(features, training=True)
                loss = tf.reduce_sum(outputs * weights)
            return [outputs, *tape.gradient(loss, [layer.kernel, layer.bias])]

        results.append([np.asarray(value) for value in step(features)])
    return results


def test_split_dense_trains_the_reference_first_layer_to_the_last_bit():
    """The reference's 784x256 sigmoid layer on a batch of 2000: two multiplies side by side, the same bits."""
    for split, whole in zip(*split_and_whole(2000, 784, 256, "sigmoid"), strict=True):
        assert np.array_equal(split, whole)


@pytest.mark.parametrize(("units", "activation"), [(7, "relu"), (512, "tanh"), (1, None)])
def test_split_dense_trains_any_width_as_dense(units, activation):
    """Other widths, odd ones included: the same numbers but for the order of some sums."""
    for split, whole in zip(*split_and_whole(64, 30, units, activation), strict=True):
        np.testing.assert_allclose(split, whole, rtol=1e-5, atol=1e-6)


def split_and_whole_answers(batch, inputs, units, activation, use_bias=True):
    """The answers of SplitDense and of Keras' Dense with the same weights: in a graph, as fit validates, and
    eagerly."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    features = tf.constant(rng.random((batch, inputs)), tf.float32)
    in_a_graph, eagerly = [], []
    for layer in split_and_whole_layers(rng, inputs, units, activation, use_bias):
        in_a_graph.append(np.asarray(tf.function(lambda features, layer=layer: layer(features))(features)))
        eagerly.append(np.asarray(layer(features)))
    return in_a_graph, eagerly


def test_split_dense_answers_as_dense_to_the_last_bit():
    """The reference's first layer validates in halves, and answers as Keras' Dense does, whose multiply, bias and
    sigmoid TensorFlow fuses into one op in a graph."""
    in_a_graph, eagerly = split_and_whole_answers(2000, 784, 256, "sigmoid")
    if np.array_equal(in_a_graph[1], eagerly[1]):
        pytest.skip("TensorFlow fuses no sigmoid here (oneDNN off): nothing tells the two roads apart")
    assert np.array_equal(*in_a_graph)
    assert np.array_equal(*eagerly)  # eagerly SplitDense is Dense itself: a guard on that rule


@pytest.mark.parametrize(
    ("units", "activation", "use_bias"), [(7, "relu", True), (129, "tanh", True), (64, None, False)]
)
def test_split_dense_answers_as_dense_at_any_width(units, activation, use_bias):
    """Other widths and activations, and no bias: Dense's answers but for the order of some sums."""
    for answers in split_and_whole_answers(64, 30, units, activation, use_bias):
        np.testing.assert_allclose(*answers, rtol=1e-5, atol=1e-6)


def test_split_dense_refuses_an_activation_over_all_its_units():
    with pytest.raises(ValueError, match="softmax spans all the units"):
        SplitDense(4, activation="softmax")


def test_fused_batch_normalisation_trains_as_keras_batch_normalisation():
    """The fused kernel is a faster road to the same numbers: outputs, gradients and moving statistics."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    images = tf.constant(rng.normal(2.0, 3.0, (8, 5, 5, 3)), tf.float32)
    weights = tf.constant(rng.normal(size=(8, 5, 5, 3)), tf.float32)
    results = []
    for layer in (FusedBatchNormalization(momentum=0.5), keras.layers.BatchNormalization(momentum=0.5)):
        layer.build(images.shape)
        layer.gamma.assign([0.5, 1.0, 2.0])
        layer.beta.assign([0.1, -0.2, 0.3])
        with tf.GradientTape() as tape:
            tape.watch(images)
            outputs = layer(images, training=True)
            loss = tf.reduce_sum(outputs * weights)
        gradients = tape.gradient(loss, [images, layer.gamma, layer.beta])
        results.append([outputs, *gradients, layer.moving_mean, layer.moving_variance, layer(images, training=False)])
    for fused, plain in zip(*results, strict=True):
        np.testing.assert_allclose(np.asarray(fused), np.asarray(plain), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("settings", "shape", "message"),
    [
        ({"center": False}, (2, 4, 4, 3), "does not implement center"),
        ({"scale": False, "synchronized": True}, (2, 4, 4, 3), "does not implement scale, synchronized"),
        ({"axis": 1}, (2, 4, 4, 3), "normalises the last axis of (batch, height, width, channels) inputs; got axis 1"),
        ({}, (2, 3), "got axis -1 of inputs shaped (2, 3)"),
    ],
)
def test_fused_batch_normalisation_refuses_what_the_fused_kernel_does_not_do(settings, shape, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        FusedBatchNormalization(**settings).build(shape)


def test_the_plain_keras_copy_has_keras_own_layers_the_same_weights_and_the_same_answers():
    layers = [keras.layers.Conv2D(3, 3), FusedBatchNormalization(), keras.layers.Flatten(), SplitDense(4, name="dense")]
    model = keras.Sequential([keras.Input((4, 4, 2)), *layers])
    model.compile(optimizer="adam", loss="mse", metrics=["accuracy"])
    copy = plain_keras(model)
    kinds = [keras.layers.Conv2D, keras.layers.BatchNormalization, keras.layers.Flatten, keras.layers.Dense]
    assert [type(layer) for layer in copy.layers] == kinds
    assert [layer.name for layer in copy.layers] == [layer.name for layer in model.layers]
    assert len({id(layer.dtype_policy) for layer in copy.layers}) == 1, "one dtype policy, shared, as in the model"
    assert [type(layer) for layer in model.layers] == [type(layer) for layer in layers], "the model is left alone"
    assert copy.optimizer is model.optimizer and copy.get_compile_config()["metrics"] == ["accuracy"]
    images = np.random.default_rng(0).normal(size=(2, 4, 4, 2)).astype("float32")
    assert np.array_equal(copy.predict(images, verbose=0), model.predict(images, verbose=0))
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    assert plain_keras(plain) is plain, "a model of Keras' own layers alone is saved as it is"
