"""Layers the model families build with: the input scaling, the dense head, batch normalisation through
TensorFlow's fused kernel; and the plain-Keras copy of a model that the saved file holds."""

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
    model.add(keras.layers.Flatten())
    for units in params.hidden_units:
        model.add(keras.layers.Dense(units, activation=params.hidden_activation))
        if params.dropout:
            model.add(keras.layers.Dropout(params.dropout))
    model.add(keras.layers.Dense(n_classes, activation=params.output_activation))


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


def plain_keras(model: keras.Model) -> keras.Model:
    """The model with every layer Keras' own, so that a file saved from it loads with Keras alone.

    A model without the project's layers is returned as it is; otherwise a copy: the same config, with Keras'
    BatchNormalization in place of the fused one, the same weights, compiled alike.
    """
    if not any(isinstance(layer, FusedBatchNormalization) for layer in model.layers):
        return model

    def keras_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
        plain = keras.layers.BatchNormalization if isinstance(layer, FusedBatchNormalization) else type(layer)
        return plain.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=keras_layer)
    copy.set_weights(model.get_weights())
    if model.compiled:
        copy.compile(**model.get_compile_config() | {"optimizer": model.optimizer, "loss": model.loss})
    return copy
