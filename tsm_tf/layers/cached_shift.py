"""The online temporal shift: the past frame's channels come from a cached state."""

import keras
from keras import ops

from tsm_tf.utils.argument_checks import check_shift_div


@keras.saving.register_keras_serializable(package="tsm_tf")
class CachedShift(keras.layers.Layer):
    """The uni-directional temporal shift for one frame at a time.

    Online TSM sees one frame per call. Where the offline, uni-directional
    `TemporalShift` gives channels `[0, fold)` of frame `t` the values of
    frame `t - 1`, this layer takes them from `state`, the cache that the
    previous call returned, and returns this frame's channels `[0, fold)` as
    the cache for the next call. With `fold = channels // shift_div`:

        shifted = concatenate([state, inputs[..., fold:]])
        new_state = inputs[..., :fold]

    Zeros as the first state reproduce the offline shift's zero padding, so a
    stream of frames gives exactly the per-frame outputs of the clip model.
    The layer has no weights and does no arithmetic (slice and concatenate).

    Args:
        shift_div: int, the reciprocal of the fraction of channels shifted.
            Defaults to 8.
        **kwargs: base layer keyword arguments, such as `name`.

    Input shape:
        `inputs`: `(batch, height, width, channels)`;
        `state`: `(batch, height, width, channels // shift_div)`.

    Output shape:
        A tuple `(shifted, new_state)` with the shapes of `inputs` and `state`.

    Example:

    >>> frame_features = np.random.rand(1, 7, 7, 64).astype("float32")
    >>> state = np.zeros((1, 7, 7, 8), "float32")
    >>> shifted, state = tsm_tf.CachedShift(shift_div=8)(frame_features, state)

    Reference:
        Lin, Gan, Han. "TSM: Temporal Shift Module for Efficient Video
        Understanding", ICCV 2019, section 4 (online models).
        https://arxiv.org/abs/1811.08383
    """

    def __init__(self, shift_div=8, **kwargs):
        super().__init__(**kwargs)
        check_shift_div(shift_div)
        self.shift_div = shift_div

    def build(self, inputs_shape, state_shape):
        if len(inputs_shape) != 4 or len(state_shape) != 4:
            raise ValueError(
                "CachedShift expects 4D `inputs` and `state`, `(batch, "
                "height, width, channels)`. Received: inputs_shape="
                f"{tuple(inputs_shape)}, state_shape={tuple(state_shape)}"
            )
        channels = inputs_shape[-1]
        if channels is None or channels < self.shift_div:
            raise ValueError(
                f"CachedShift with shift_div={self.shift_div} needs a known "
                f"channel count of at least {self.shift_div}. Received: "
                f"inputs_shape={tuple(inputs_shape)}"
            )
        expected = (*inputs_shape[:-1], channels // self.shift_div)
        for axis in (1, 2, 3):
            if state_shape[axis] is not None and state_shape[axis] != expected[axis]:
                raise ValueError(
                    "The state holds the shifted channels of the previous "
                    f"frame: shape {expected} for inputs "
                    f"{tuple(inputs_shape)} with shift_div={self.shift_div}. "
                    f"Received: state_shape={tuple(state_shape)}"
                )

    def call(self, inputs, state):
        fold = inputs.shape[-1] // self.shift_div
        shifted = ops.concatenate([ops.cast(state, inputs.dtype), inputs[..., fold:]], axis=-1)
        return shifted, inputs[..., :fold]

    def compute_output_shape(self, inputs_shape, state_shape):
        fold = inputs_shape[-1] // self.shift_div
        return tuple(inputs_shape), (*inputs_shape[:-1], fold)

    def get_config(self):
        config = super().get_config()
        config.update({"shift_div": self.shift_div})
        return config
