"""Online TSM: a batch-1, one-frame model whose shift caches are named states.

A uni-directional TSM shifts channels only from the past, so it can run on a
live stream: each shifted block keeps the first `channels // shift_div`
channels of the current frame for the next one. `OnlineTSM` is the clip
model's per-frame network with a `CachedShift` in place of every
`TemporalShift` and one state input and output per shifted block; the layer
names are the clip model's, so `build_online_tsm` copies the weights by name.

    online = tsm_tf.build_online_tsm(model)
    states = tsm_tf.initial_states(online)
    for frame in frames:                      # (1, H, W, 3) RGB in [0, 255]
        outputs = online({"frame": frame, **states})
        logits = outputs["logits"]
        states = {name: outputs[name] for name in states}
"""

import keras
import numpy as np

from tsm_tf.layers.cached_shift import CachedShift
from tsm_tf.models.builders import per_frame_model
from tsm_tf.models.classifier_head import apply_frame_classifier
from tsm_tf.models.tsm_classifier import TSMClassifier
from tsm_tf.models.tsm_classifier import set_config_attributes
from tsm_tf.models.tsm_config import TSMConfig
from tsm_tf.models.tsm_config import config_of

FRAME_INPUT = "frame"
LOGITS_OUTPUT = "logits"


def state_name(index: int) -> str:
    """The name of the state of the `index`-th shifted block: `state_00`, ..."""
    return f"state_{index:02d}"


def single_frame_graph(config: TSMConfig, with_states: bool):
    """`(inputs, outputs)` dicts of the batch-1 per-frame network, with or without states."""
    state_inputs = {}
    state_outputs = {}

    def shift(x, name):
        if not with_states:
            return x
        key = state_name(len(state_inputs))
        state = keras.Input(
            (*x.shape[1:-1], x.shape[-1] // config.shift_div), batch_size=1, name=key
        )
        shifted, new_state = CachedShift(config.shift_div, name=f"{name}_shift")(x, state)
        state_inputs[key] = state
        state_outputs[key] = new_state
        return shifted

    size = config.image_size
    frame = keras.Input((size, size, 3), batch_size=1, name=FRAME_INPUT)
    logits = apply_frame_classifier(frame, config, shift)
    return {FRAME_INPUT: frame, **state_inputs}, {LOGITS_OUTPUT: logits, **state_outputs}


@keras.saving.register_keras_serializable(package="tsm_tf")
class OnlineTSM(keras.Model):
    """The streaming form of a uni-directional TSM: one frame and the states in.

    Inputs (a dict): `"frame"` `(1, image_size, image_size, 3)`, RGB values
    in [0, 255] (normalized inside, as in the clip model), and `"state_00"`,
    `"state_01"`, ... one per shifted block in block order,
    `(1, height, width, channels // shift_div)` holding the previous frame's
    shifted channels. Outputs (a dict): `"logits"` `(1, num_classes)` for this
    frame and the new states under the same names as the inputs they feed at
    the next frame.

    The constructor arguments are the fields of `TSMConfig`, kept as
    `tsm_config` and saved in `.keras` files, so a reloaded online model
    exports. Build one from a trained clip model with
    `tsm_tf.build_online_tsm`.

    Raises:
        ValueError: for a bidirectional TSM (it needs future frames and
            cannot stream) or a TSN (`shift_div=0`, no state to carry).
    """

    def __init__(
        self,
        backbone,
        num_classes,
        num_segments=8,
        image_size=224,
        shift_div=8,
        bidirectional=False,
        width_multiplier=1.0,
        dropout=0.5,
        labels=None,
        **kwargs,
    ):
        config = TSMConfig(
            backbone=backbone,
            num_classes=num_classes,
            num_segments=num_segments,
            image_size=image_size,
            shift_div=shift_div,
            bidirectional=bidirectional,
            width_multiplier=width_multiplier,
            dropout=dropout,
            labels=labels,
        )
        check_streamable(config)
        inputs, outputs = single_frame_graph(config, with_states=True)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        set_config_attributes(self, config)

    def __call__(self, inputs, *args, **kwargs):
        # A stream feeds NumPy frames with the tensors the last step returned; Keras refuses such
        # a mix in one call, so everything becomes a tensor first.
        if isinstance(inputs, dict):
            inputs = {
                name: value
                if keras.ops.is_tensor(value) or isinstance(value, keras.KerasTensor)
                else keras.ops.convert_to_tensor(value)
                for name, value in inputs.items()
            }
        return super().__call__(inputs, *args, **kwargs)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, **self.tsm_config.to_dict()}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def check_streamable(config: TSMConfig) -> None:
    """Raises `ValueError` unless `config` is a uni-directional TSM."""
    if config.shift_div == 0:
        raise ValueError(
            "build_online_tsm needs a TSM; this model is a TSN (shift_div=0) "
            "and has no temporal state to carry. Run it frame by frame with "
            "tsm_tf.models.online_tsm.build_frame_model instead."
        )
    if config.bidirectional:
        raise ValueError(
            "build_online_tsm needs a uni-directional TSM (bidirectional=False): "
            "a bidirectional TSM shifts channels from the next frame, which a "
            "live stream has not seen yet. Received: bidirectional=True. Train "
            "with tsm_tf.build_tsm(..., bidirectional=False) or tsm-train "
            "--nobidirectional to stream."
        )


def build_online_tsm(model: keras.Model) -> OnlineTSM:
    """Builds the streaming (online) version of a uni-directional TSM.

    Args:
        model: a trained `TSMClassifier` with `bidirectional=False` and
            `shift_div >= 2`.

    Returns:
        An `OnlineTSM` (see there for its inputs and outputs) with the same
        configuration and a copy of `model`'s weights.

    Raises:
        ValueError: for a bidirectional TSM, a TSN, or a model that is not a
            `TSMClassifier`.

    Example:

    >>> model = tsm_tf.build_tsm("mobilenet_v2", 10, bidirectional=False)
    >>> online = tsm_tf.build_online_tsm(model)
    >>> states = tsm_tf.initial_states(online)
    >>> outputs = online({"frame": frame, **states})
    """
    config = config_of(model)
    check_streamable(config)
    online = OnlineTSM(**config.to_dict(), name=f"{model.name}_online")
    copy_weights_by_name(model, online)
    return online


def build_frame_model(model: keras.Model) -> keras.Model:
    """A batch-1 model of `model`'s 2D backbone alone, shifts removed.

    For a TSN (`shift_div=0`) this is exactly its per-frame network; for a TSM
    it is the same network without temporal context (a baseline for latency:
    the online TSM costs this plus the copies of its caches).

    Args:
        model: a `TSMClassifier`.

    Returns:
        A functional model: `{"frame": (1, H, W, 3)}` in, `{"logits":
        (1, num_classes)}` out, with a copy of `model`'s weights.
    """
    inputs, outputs = single_frame_graph(config_of(model), with_states=False)
    frame_model = keras.Model(inputs, outputs, name=f"{model.name}_frame")
    copy_weights_by_name(model, frame_model)
    return frame_model


def initial_states(online_model: keras.Model) -> dict[str, np.ndarray]:
    """The zero states that start (or restart) a stream.

    Args:
        online_model: a model from `build_online_tsm`.

    Returns:
        A dict from state name (`"state_00"`, ...) to a float32 zero array of
        that state's shape.
    """
    inputs = online_model.input
    if not isinstance(inputs, dict) or FRAME_INPUT not in inputs:
        raise ValueError(
            "initial_states expects a model from tsm_tf.build_online_tsm (dict "
            f"inputs with {FRAME_INPUT!r} and state_00, ...). Received: "
            f"{type(online_model).__name__} {online_model.name!r} with inputs "
            f"{inputs!r}."
        )
    return {
        name: np.zeros(tensor.shape, "float32")
        for name, tensor in inputs.items()
        if name != FRAME_INPUT
    }


def causal_frame_logits(model: keras.Model, frames: np.ndarray) -> np.ndarray:
    """The logits a stream from zero states must give, computed without states.

    Runs `frames` as one clip through the clip model's graph (`TemporalShift`,
    no caches) with `num_segments=len(frames)` and `model`'s weights. A
    uni-directional shift only looks back, so frame t's logits depend on
    frames 0..t alone: an independent reference for the online model and
    every streaming export, which a mix-up of state names cannot fool.

    Args:
        model: a uni-directional `TSMClassifier`, or a model from
            `build_online_tsm` (its weights are copied by layer name).
        frames: `(num_frames, image_size, image_size, 3)` RGB in [0, 255].

    Returns:
        float32 logits `(num_frames, num_classes)`.
    """
    config = config_of(model)
    if config.bidirectional:
        raise ValueError(
            "causal_frame_logits needs a uni-directional TSM: a bidirectional "
            "one looks at the next frame. Received: bidirectional=True."
        )
    frames = np.asarray(frames, "float32")
    size = config.image_size
    if frames.ndim != 4 or frames.shape[1:] != (size, size, 3):
        raise ValueError(
            f"Expected frames (num_frames, {size}, {size}, 3). Received: shape {frames.shape}."
        )
    clip_model = TSMClassifier(**config.replace(num_segments=len(frames)).to_dict())
    copy_weights_by_name(model, clip_model)
    logits = per_frame_model(clip_model).predict(frames[None], verbose=0, batch_size=1)
    return np.asarray(logits, "float32")[0]


def is_online(model: keras.Model) -> bool:
    """Whether `model` takes one frame and named states (an online model)."""
    return isinstance(model.input, dict) and FRAME_INPUT in model.input


def copy_weights_by_name(source: keras.Model, target: keras.Model) -> None:
    """Copies weights layer by layer, matched by name."""
    for layer in target.layers:
        if not layer.weights:
            continue
        try:
            source_layer = source.get_layer(layer.name)
        except ValueError as error:
            raise ValueError(
                f"The clip model has no layer {layer.name!r} to copy into the "
                "single-frame model: it was not built by this version of "
                "tsm_tf.build_tsm."
            ) from error
        layer.set_weights(source_layer.get_weights())
