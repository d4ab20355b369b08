"""Layers the model families build with: the input scaling, the dense head and its first layer on two cores, batch
normalisation through TensorFlow's fused kernel; and the plain-Keras copy of a model that the saved file holds."""

import itertools
from collections.abc import Callable

import keras
import tensorflow as tf

from mnist_dvc.model.families.head import HeadParams


def pixel_scaling() -> keras.layers.Layer:
    """uint8 pixels to float32 in [0, 1], inside the model, so that whoever loads it feeds raw images.

    (x - 0) / sqrt(255 ** 2) is x / 255 to the last bit; Rescaling(1 / 255) multiplies, and
    rounds half of the 256 pixel values differently.
    """
    return keras.layers.Normalization(mean=0.0, variance=255.0**2, axis=None, name="pixel_scaling")


def dense_head(model: keras.Sequential, params: HeadParams, n_classes: int) -> None:
    """Flatten, then a dense hidden layer per entry of hidden_units (each followed by dropout, if any), then the
    output layer: the whole of an MLP, and the end of a CNN."""
    nothing_trains_before = not any(layer.trainable_weights for layer in model.layers)
    # Named as Keras names Dense layers in a new process, whatever this one built before.
    names = (f"dense_{index}" if index else "dense" for index in itertools.count())
    model.add(keras.layers.Flatten())
    for index, units in enumerate(params.hidden_units):
        dense = SplitDense if index == 0 and nothing_trains_before else keras.layers.Dense
        model.add(dense(units, activation=params.hidden_activation, name=next(names)))
        if params.dropout:
            model.add(keras.layers.Dropout(params.dropout))
    model.add(keras.layers.Dense(n_classes, activation=params.output_activation, name=next(names)))


class SplitDense(keras.layers.Dense):
    """Keras' Dense with an elementwise activation, computed as two halves of its units side by side: the first layer
    of an MLP, so that both cores share the network's largest multiplies.

    The project runs each op on one thread (mnist_dvc/core/runtime.py), so one large multiply keeps one core busy.
    Each half is still one op on one thread, so the results stay the same on every machine; for the reference's
    784x256 layer they are also the whole layer's to the last bit (tests/unit/model/test_layers.py), while for
    other shapes oneDNN may order a half's sums unlike the whole's. Only where nothing before the layer trains: the
    input gradient, which such a layer does not need, would be added up from the halves in another order.
    In a graph, answers (validation during fit) come in halves too, each fused as TensorFlow fuses a Dense that
    answers, with the same caveat on other shapes; called eagerly outside training, the layer is Keras' own. It is
    saved as Keras' Dense (plain_keras).
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(units, **kwargs)
        if self.activation in (keras.activations.softmax, keras.activations.log_softmax):
            raise ValueError(f"SplitDense: {self.activation.__name__} spans all the units; expected one that does not")

    def call(self, inputs, training=None):
        # Eagerly nothing is fused, neither Dense nor the halves' function below: Keras' own answers.
        if self.units < 2 or (not training and tf.executing_eagerly()):
            return super().call(inputs, training=training)
        # tf.split, not slices: its gradient joins the halves' gradients, where a slice's fills a zero kernel.
        sizes = (self.units // 2, self.units - self.units // 2)
        kernel = tf.convert_to_tensor(self.kernel)
        bias = None if self.bias is None else tf.convert_to_tensor(self.bias)
        apart = _units_apart if training else _units_apart_as_dense_answers
        return tf.concat(apart(inputs, kernel, bias, sizes, self.activation), axis=-1)


def _units_apart(
    inputs: tf.Tensor,
    kernel: tf.Tensor,
    bias: tf.Tensor | None,
    sizes: tuple[int, ...],
    activation: Callable[[tf.Tensor], tf.Tensor],
) -> list[tf.Tensor]:
    """The layer's outputs in groups of units, each group one multiply, its bias and its activation (Keras' linear
    where the layer has none)."""
    biases = [None] * len(sizes) if bias is None else tf.split(bias, sizes)
    groups = []
    for kernel_part, bias_part in zip(tf.split(kernel, sizes, axis=1), biases, strict=True):
        outputs = tf.matmul(inputs, kernel_part)
        if bias_part is not None:
            outputs = keras.ops.add(outputs, bias_part)  # a BiasAdd, as Dense's
        groups.append(activation(outputs))
    return groups


# Answers (validation during fit) to the last bit of Keras' Dense in a graph. There TensorFlow fuses a Dense's
# multiply, bias and activation into one oneDNN op, whose activation rounds unlike TensorFlow's own; it does not
# fuse an activation that a concat follows. A function that is not inlined returns the groups before they are
# joined, so each is fused as Dense is. `_noinline` is TensorFlow's own attribute for that, not a public option:
# tests/unit/model/test_layers.py fails if a TensorFlow release inlines the function again.
_units_apart_as_dense_answers = tf.function(_units_apart, autograph=False, experimental_attributes={"_noinline": True})


class FusedBatchNormalization(keras.layers.BatchNormalization):
    """Keras' BatchNormalization of channels-last images, trained through TensorFlow's fused kernel.

    Keras 3 normalises a training batch in a dozen elementwise ops, and as many again for the
    gradient; the fused kernel (oneDNN's on CPU) does each in one. A profile of the CNN's training
    step (bench/profile_step.py) found batch normalisation taking more time than the convolutions.
    Outside training the layer is Keras' own; plain_keras() copies a model with Keras' own in its place.
    The kernel normalises the last axis of 4-D inputs with both a shift and a scale, and nothing else.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        unsupported = {
            "center": not self.center,
            "scale": not self.scale,
            "renorm": getattr(self, "renorm", False),
            "synchronized": getattr(self, "synchronized", False),
        }
        refused = [name for name, value in unsupported.items() if value]
        if refused:
            raise ValueError(f"FusedBatchNormalization does not implement {', '.join(refused)}")

    def build(self, input_shape):
        if len(input_shape) != 4 or self.axis not in (-1, 3):
            raise ValueError(
                f"FusedBatchNormalization normalises the last axis of (batch, height, width, channels) inputs; "
                f"got axis {self.axis} of inputs shaped {tuple(input_shape)}"
            )
        super().build(input_shape)

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable) or mask is not None:
            return super().call(inputs, training=training, mask=mask)
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, self.gamma, self.beta, epsilon=self.epsilon, is_training=True
        )
        # The kernel's variance has Bessel's correction; Keras' moving variance averages the plain one.
        count = tf.cast(tf.size(inputs) // tf.shape(inputs)[-1], variance.dtype)
        variance *= (count - 1.0) / count
        for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
            moving.assign(moving * self.momentum + batch * (1.0 - self.momentum))
        return outputs


# The project's layers, which compute as Keras' own do by another road, and the Keras layer each is saved as.
KERAS_OWN = {SplitDense: keras.layers.Dense, FusedBatchNormalization: keras.layers.BatchNormalization}


def plain_keras(model: keras.Model) -> keras.Model:
    """The model with every layer Keras' own, so that a file saved from it loads with Keras alone.

    A model without the project's layers is returned as it is; otherwise a copy: the same config, with Keras'
    Dense and BatchNormalization in place of the project's, the same weights, compiled alike.
    """
    if not any(type(layer) in KERAS_OWN for layer in model.layers):
        return model

    def keras_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
        # The layer's own dtype policy, not a copy: one object shared by the layers, as in the model, and so in
        # the saved file.
        config = layer.get_config() | {"dtype": layer.dtype_policy}
        return KERAS_OWN.get(type(layer), type(layer)).from_config(config)

    copy = keras.models.clone_model(model, clone_function=keras_layer)
    copy.set_weights(model.get_weights())
    if model.compiled:
        copy.compile(**model.get_compile_config() | {"optimizer": model.optimizer, "loss": model.loss})
    return copy
