"""Stacking the frames of clips into the batch axis."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tsm_tf")
class MergeSegments(keras.layers.Layer):
    """Reshapes clips `(batch, num_segments, ...)` to frames `(batch * num_segments, ...)`.

    The frames of a clip stay consecutive, frame-major, which is the layout
    `TemporalShift` and `SplitSegments` expect.

    Input shape:
        `(batch, num_segments, *frame_shape)`.

    Output shape:
        `(batch * num_segments, *frame_shape)`.
    """

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(
                "MergeSegments expects clips `(batch, num_segments, ...)`. "
                f"Received: input_shape={tuple(input_shape)}"
            )

    def call(self, inputs):
        shape = ops.shape(inputs)
        return ops.reshape(inputs, (-1, *shape[2:]))

    def compute_output_shape(self, input_shape):
        batch, num_segments = input_shape[0], input_shape[1]
        frames = None if batch is None or num_segments is None else batch * num_segments
        return (frames, *input_shape[2:])
