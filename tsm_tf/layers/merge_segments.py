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
        frame_shape: `(height, width, channels)` or None, what each frame
            must be (None in it: any), checked the same way: convolutions and
            the normalization's broadcasting would otherwise take a grey clip
            or another frame size without a word.
        **kwargs: base layer keyword arguments.

    Input shape:
        `(batch, num_segments, *frame_shape)`.

    Output shape:
        `(batch * num_segments, *frame_shape)`.
    """

    def __init__(self, num_segments=None, frame_shape=None, **kwargs):
        super().__init__(**kwargs)
        if num_segments is not None:
            check_positive_int("num_segments", num_segments)
        if frame_shape is not None:
            if len(frame_shape) != 3:
                raise ValueError(
                    "`frame_shape` must be (height, width, channels). "
                    f"Received: frame_shape={frame_shape!r}"
                )
            for name, size in zip(("height", "width", "channels"), frame_shape):
                if size is not None:
                    check_positive_int(f"frame_shape's {name}", size)
            frame_shape = tuple(frame_shape)
        self.num_segments = num_segments
        self.frame_shape = frame_shape

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(
                "MergeSegments expects clips `(batch, num_segments, ...)`. "
                f"Received: input_shape={tuple(input_shape)}"
            )

    def call(self, inputs):
        shape = ops.shape(inputs)
        if self.num_segments is not None:
            message = (
                f"Clips must have the model's num_segments={self.num_segments} frames, axis 1 "
                "of (batch, num_segments, height, width, 3). Sample "
                f"{self.num_segments} frames per clip (tsm_tf.data.make_dataset does), or "
                "build a model with another num_segments."
            )
            inputs = _with_size_checked(inputs, shape[1], self.num_segments, message, "frames")
        if self.frame_shape is not None:
            height, width, channels = self.frame_shape
            message = (
                f"Frames must be {height}x{width} with {channels} channels (RGB), the model's "
                f"clips (batch, num_segments, {height}, {width}, {channels}). Resize and crop "
                f"them to {height}x{width} (tsm_tf.data.make_dataset(image_size={height}) "
                "does; a grey video needs its one channel repeated), or build a model with "
                "another image_size."
            )
            for axis, (size, expected) in enumerate(zip(shape[2:], self.frame_shape)):
                if expected is not None:
                    unit = ("rows", "columns", "channels")[axis]
                    inputs = _with_size_checked(inputs, size, expected, message, unit)
        return ops.reshape(inputs, (-1, *shape[2:]))

    def compute_output_shape(self, input_shape):
        batch, num_segments = input_shape[0], input_shape[1]
        frames = None if batch is None or num_segments is None else batch * num_segments
        return (frames, *input_shape[2:])

    def get_config(self):
        config = super().get_config()
        config.update({"num_segments": self.num_segments, "frame_shape": self.frame_shape})
        return config


def _with_size_checked(clips, size, expected, message, unit):
    """`clips`, failing with `message` unless `size == expected` (at run time where unknown)."""
    if isinstance(size, int):
        if size != expected:
            raise ValueError(f"{message} Received: {size} {unit}.")
        return clips
    if keras.backend.backend() == "tensorflow":
        # A relaxed trace knows the size only when it runs.
        import tensorflow as tf

        check = tf.debugging.assert_equal(size, expected, message=message)
        with tf.control_dependencies([check]):
            return tf.identity(clips)
    return clips
