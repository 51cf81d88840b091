"""`FusedBatchNormalization`: Keras batch norm that trains with TensorFlow's fused kernel."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tsm_tf")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` with a fused training step.

    Keras 3 normalizes a batch with separate mean, variance, subtract,
    multiply and add operations, and their gradients: on a CPU, a third of a
    small MobileNetV2's training step. In training mode this layer computes
    the same function with TensorFlow's `FusedBatchNormV3` kernel and its
    fused gradient instead (`benchmarks/benchmark_batch_norm.py` measures
    the difference). The outputs, the gradients and the moving statistics
    equal Keras's to float rounding; the moving variance is the biased batch
    variance, as in Keras (the fused kernel's Bessel correction is undone).

    Everything else is Keras's own code path: inference (so exported models
    and TFLite conversion are unchanged), frozen layers, masks, renorm,
    synchronized batch norm, and inputs that are not 4-D with channels last.
    The layer has the weights, arguments and config of
    `keras.layers.BatchNormalization`.
    """

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable) or not self._can_fuse(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        # Keras normalizes float16 and bfloat16 inputs in float32; so does this.
        inputs = tf.cast(inputs, "float32")
        channels = inputs.shape[-1]
        scale = tf.cast(self.gamma, "float32") if self.scale else tf.ones([channels])
        offset = tf.cast(self.beta, "float32") if self.center else tf.zeros([channels])
        outputs, mean, unbiased_variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, scale, offset, epsilon=self.epsilon, data_format="NHWC", is_training=True
        )
        count = tf.cast(tf.size(inputs) // channels, "float32")
        variance = unbiased_variance * tf.maximum(count - 1.0, 0.0) / count
        momentum = self.momentum
        self.moving_mean.assign(
            self.moving_mean * momentum + tf.cast(mean, self.moving_mean.dtype) * (1.0 - momentum)
        )
        self.moving_variance.assign(
            self.moving_variance * momentum
            + tf.cast(variance, self.moving_variance.dtype) * (1.0 - momentum)
        )
        return tf.cast(outputs, self.compute_dtype)

    def _can_fuse(self, inputs, mask):
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and not self.renorm
            and not self.synchronized
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
            and inputs.shape[-1] is not None
        )
