"""Stacking the frames of clips into the batch axis."""

import keras
from keras import ops

from tsm_tf.utils.argument_checks import check_positive_int


@keras.saving.register_keras_serializable(package="tsm_tf")
class MergeSegments(keras.layers.Layer):
    """Reshapes clips `(batch, num_segments, ...)` to frames `(batch * num_segments, ...)`.

    The frames of a clip stay consecutive, frame-major, which is the layout
    `TemporalShift` and `SplitSegments` expect.

    Args:
        num_segments: int or None, the frames a clip must have. Checked on
            every call, also where a traced function has relaxed the shape
            (Keras's `predict` does after its first batch): the layers after
            this one would otherwise regroup the frames into other clips.
        **kwargs: base layer keyword arguments.

    Input shape:
        `(batch, num_segments, *frame_shape)`.

    Output shape:
        `(batch * num_segments, *frame_shape)`.
    """

    def __init__(self, num_segments=None, **kwargs):
        super().__init__(**kwargs)
        if num_segments is not None:
            check_positive_int("num_segments", num_segments)
        self.num_segments = num_segments

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(
                "MergeSegments expects clips `(batch, num_segments, ...)`. "
                f"Received: input_shape={tuple(input_shape)}"
            )

    def call(self, inputs):
        shape = ops.shape(inputs)
        if self.num_segments is not None:
            inputs = _with_frame_count_checked(inputs, shape[1], self.num_segments)
        return ops.reshape(inputs, (-1, *shape[2:]))

    def compute_output_shape(self, input_shape):
        batch, num_segments = input_shape[0], input_shape[1]
        frames = None if batch is None or num_segments is None else batch * num_segments
        return (frames, *input_shape[2:])

    def get_config(self):
        config = super().get_config()
        config.update({"num_segments": self.num_segments})
        return config


def _with_frame_count_checked(clips, frame_count, num_segments):
    """`clips`, failing with a clear message unless `frame_count == num_segments`."""
    message = (
        f"Clips must have the model's num_segments={num_segments} frames, axis 1 of "
        f"(batch, num_segments, height, width, 3). Sample {num_segments} frames per clip "
        "(tsm_tf.data.make_dataset does), or build a model with another num_segments."
    )
    if isinstance(frame_count, int):
        if frame_count != num_segments:
            raise ValueError(f"{message} Received: {frame_count} frames.")
        return clips
    if keras.backend.backend() == "tensorflow":
        # A relaxed trace knows the frame count only when it runs.
        import tensorflow as tf

        check = tf.debugging.assert_equal(frame_count, num_segments, message=message)
        with tf.control_dependencies([check]):
            return tf.identity(clips)
    return clips
