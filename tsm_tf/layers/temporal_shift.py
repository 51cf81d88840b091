"""The temporal shift: moving a fraction of the channels one step in time."""

import keras
from keras import ops

from tsm_tf.utils.argument_checks import check_positive_int
from tsm_tf.utils.argument_checks import check_shift_div


@keras.saving.register_keras_serializable(package="tsm_tf")
class TemporalShift(keras.layers.Layer):
    """Shifts part of the channels one step along the time axis.

    The input holds the frames of a clip stacked in the batch axis,
    `(batch * num_segments, height, width, channels)`, frame-major within
    each clip. With `fold = channels // shift_div`:

    - bidirectional (the offline TSM): channels `[0, fold)` of frame `t` take
      the values of frame `t + 1`, channels `[fold, 2 * fold)` take the values
      of frame `t - 1`;
    - uni-directional (the online TSM): channels `[0, fold)` of frame `t` take
      the values of frame `t - 1`.

    All other channels stay, and a missing neighbour (before the first frame,
    after the last) contributes zeros. The layer has no weights and does no
    arithmetic: it is built from reshape, slice and concatenate only. This is
    the channel convention of the reference TSM release, which the checkpoint
    import relies on.

    Args:
        num_segments: int, the number of frames per clip.
        shift_div: int, the reciprocal of the fraction of channels shifted in
            each direction. Defaults to 8 (1/8 back and 1/8 forward).
        bidirectional: bool, shift from both the past and the future
            (offline) or from the past only (online, streamable).
            Defaults to `True`.
        **kwargs: base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch * num_segments, height, width, channels)`.

    Output shape:
        Same as the input.

    Example:

    >>> frames = np.random.rand(2 * 8, 7, 7, 64).astype("float32")
    >>> shifted = tsm_tf.TemporalShift(num_segments=8)(frames)
    >>> shifted.shape
    TensorShape([16, 7, 7, 64])

    Reference:
        Lin, Gan, Han. "TSM: Temporal Shift Module for Efficient Video
        Understanding", ICCV 2019. https://arxiv.org/abs/1811.08383
    """

    def __init__(self, num_segments, shift_div=8, bidirectional=True, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("num_segments", num_segments)
        check_shift_div(shift_div)
        self.num_segments = num_segments
        self.shift_div = shift_div
        self.bidirectional = bool(bidirectional)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "TemporalShift expects 4D input `(batch * num_segments, height, "
                f"width, channels)`. Received: input_shape={tuple(input_shape)}"
            )
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                "TemporalShift needs a known channel count. Received: "
                f"input_shape={tuple(input_shape)}"
            )
        if channels < self.shift_div:
            raise ValueError(
                f"TemporalShift with shift_div={self.shift_div} needs at least "
                f"{self.shift_div} channels (so that at least one channel "
                f"moves). Received: {channels} channels, input_shape="
                f"{tuple(input_shape)}. Lower shift_div or shift a wider tensor."
            )
        self._check_batch(input_shape[0])

    def _check_batch(self, batch):
        if batch is not None and batch % self.num_segments != 0:
            raise ValueError(
                "The batch axis of TemporalShift's input holds whole clips of "
                f"num_segments={self.num_segments} frames, so its size must be "
                f"a multiple of {self.num_segments}. Received: batch size "
                f"{batch}. Reshape clips (batch, num_segments, H, W, C) to "
                "(batch * num_segments, H, W, C) before the shift."
            )

    def call(self, inputs):
        self._check_batch(inputs.shape[0])

        # The shift is a linear map whose transpose is the opposite shift, so
        # the backward pass runs one shift, cheaper than differentiating the
        # slices, pads and concatenation (benchmarks/benchmark_shift.py).
        @ops.custom_gradient
        def shift(frames):
            def gradient(*args, upstream=None):
                if upstream is None:
                    (upstream,) = args
                return self._move(upstream, reverse=True)

            return self._move(frames, reverse=False), gradient

        return shift(inputs)

    def _move(self, frames, reverse):
        """The shift (`reverse=False`) or its transpose, the opposite shift."""
        _, height, width, channels = ops.shape(frames)
        fold = frames.shape[-1] // self.shift_div
        clips = ops.reshape(frames, (-1, self.num_segments, height, width, channels))
        if self.bidirectional:
            parts = [
                from_neighbour(clips[..., :fold], step=-1 if reverse else 1),
                from_neighbour(clips[..., fold : 2 * fold], step=1 if reverse else -1),
                clips[..., 2 * fold :],
            ]
        else:
            parts = [
                from_neighbour(clips[..., :fold], step=1 if reverse else -1),
                clips[..., fold:],
            ]
        return ops.reshape(ops.concatenate(parts, axis=-1), ops.shape(frames))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_segments": self.num_segments,
                "shift_div": self.shift_div,
                "bidirectional": self.bidirectional,
            }
        )
        return config


def from_neighbour(clips, step):
    """Each frame takes the values of frame `t + step` (`step` is 1 or -1), zeros past the ends.

    `clips` is `(batch, num_segments, height, width, channels)`.
    """
    no_padding = [0, 0]
    if step == 1:
        return ops.pad(clips[:, 1:], [no_padding, [0, 1], no_padding, no_padding, no_padding])
    return ops.pad(clips[:, :-1], [no_padding, [1, 0], no_padding, no_padding, no_padding])
