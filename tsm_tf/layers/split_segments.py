"""Splitting a batch of frames back into clips."""

import keras
from keras import ops

from tsm_tf.utils.argument_checks import check_positive_int


@keras.saving.register_keras_serializable(package="tsm_tf")
class SplitSegments(keras.layers.Layer):
    """Reshapes frames `(batch * num_segments, ...)` to clips `(batch, num_segments, ...)`.

    The inverse of `MergeSegments`.

    Args:
        num_segments: int, frames per clip.
        **kwargs: base layer keyword arguments.

    Input shape:
        `(batch * num_segments, *feature_shape)`.

    Output shape:
        `(batch, num_segments, *feature_shape)`.
    """

    def __init__(self, num_segments, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("num_segments", num_segments)
        self.num_segments = num_segments

    def call(self, inputs):
        shape = ops.shape(inputs)
        return ops.reshape(inputs, (-1, self.num_segments, *shape[1:]))

    def compute_output_shape(self, input_shape):
        frames = input_shape[0]
        batch = None if frames is None else frames // self.num_segments
        return (batch, self.num_segments, *input_shape[1:])

    def get_config(self):
        config = super().get_config()
        config.update({"num_segments": self.num_segments})
        return config
