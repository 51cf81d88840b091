"""Online TSM: a batch-1, one-frame model whose shift caches are named states.

A uni-directional TSM shifts channels only from the past, so it can run on a
live stream: each shifted block keeps the first `channels // shift_div`
channels of the current frame for the next one. `build_online_tsm` rebuilds
the clip model's backbone for a single frame, with a `CachedShift` in place of
every `TemporalShift` and one state input and output per shifted block, and
copies the weights layer by layer (the layer names are identical).

    online = tsm_tf.build_online_tsm(model)
    states = tsm_tf.initial_states(online)
    for frame in frames:                      # (1, H, W, 3) RGB in [0, 255]
        outputs = online({"frame": frame, **states})
        logits = outputs["logits"]
        states = {name: outputs[name] for name in states}
"""

import keras
import numpy as np

from tsm_tf.backbones import BACKBONES
from tsm_tf.layers.cached_shift import CachedShift
from tsm_tf.layers.image_normalization import ImageNormalization
from tsm_tf.models.tsm_classifier import CLASSIFIER_LAYER

FRAME_INPUT = "frame"
LOGITS_OUTPUT = "logits"
CONFIG_ATTRIBUTES = (
    "backbone",
    "num_classes",
    "num_segments",
    "image_size",
    "shift_div",
    "bidirectional",
    "width_multiplier",
    "dropout",
    "labels",
)


def state_name(index: int) -> str:
    """The name of the state of the `index`-th shifted block: `state_00`, ..."""
    return f"state_{index:02d}"


def model_config(model: keras.Model) -> dict:
    """The TSM configuration of a `TSMClassifier` (or an online model built from one)."""
    config = getattr(model, "tsm_config", None)
    if config is not None:
        return dict(config)
    missing = [name for name in CONFIG_ATTRIBUTES if not hasattr(model, name)]
    if missing:
        raise ValueError(
            "Expected a TSMClassifier from tsm_tf.build_tsm (or a .keras file "
            f"saved from one). Received: {type(model).__name__} {model.name!r}, "
            f"which lacks the attributes {missing}."
        )
    return {name: getattr(model, name) for name in CONFIG_ATTRIBUTES}


def build_online_tsm(model: keras.Model) -> keras.Model:
    """Builds the streaming (online) version of a uni-directional TSM.

    Args:
        model: a trained `TSMClassifier` with `bidirectional=False` and
            `shift_div >= 2`.

    Returns:
        A functional Keras model with batch size 1 and a copy of `model`'s
        weights. Inputs (a dict): `"frame"` `(1, image_size, image_size, 3)`,
        RGB values in [0, 255] (normalized inside, as in the clip model), and
        `"state_00"`, `"state_01"`, ... one per shifted block in block order,
        `(1, height, width, channels // shift_div)` holding the previous
        frame's shifted channels. Outputs (a dict): `"logits"`
        `(1, num_classes)` for this frame and the new states under the same
        names as the inputs they feed at the next frame. The model also
        carries `tsm_config`, the clip model's configuration.

    Raises:
        ValueError: for a bidirectional TSM (it needs future frames and
            cannot stream), a TSN (`shift_div=0`, no state to carry), or a
            model that is not a `TSMClassifier`.

    Example:

    >>> model = tsm_tf.build_tsm("mobilenet_v2", 10, bidirectional=False)
    >>> online = tsm_tf.build_online_tsm(model)
    >>> states = tsm_tf.initial_states(online)
    >>> outputs = online({"frame": frame, **states})
    """
    config = model_config(model)
    if config["shift_div"] == 0:
        raise ValueError(
            "build_online_tsm needs a TSM; this model is a TSN (shift_div=0) "
            "and has no temporal state to carry. Run it frame by frame with "
            "tsm_tf.models.online_tsm.build_frame_model instead."
        )
    if config["bidirectional"]:
        raise ValueError(
            "build_online_tsm needs a uni-directional TSM (bidirectional=False): "
            "a bidirectional TSM shifts channels from the next frame, which a "
            "live stream has not seen yet. Received: bidirectional=True. Train "
            "with tsm_tf.build_tsm(..., bidirectional=False) to stream."
        )
    return _build_single_frame_model(model, config, with_states=True)


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
    return _build_single_frame_model(model, model_config(model), with_states=False)


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


def _build_single_frame_model(model, config, with_states):
    state_inputs = {}
    state_outputs = {}
    shift_div = config["shift_div"]

    def shift(x, name):
        if not with_states:
            return x
        key = state_name(len(state_inputs))
        state = keras.Input(
            (*x.shape[1:-1], x.shape[-1] // shift_div), batch_size=1, name=key
        )
        shifted, new_state = CachedShift(shift_div, name=f"{name}_shift")(x, state)
        state_inputs[key] = state
        state_outputs[key] = new_state
        return shifted

    # === Functional model (layer names as in TSMClassifier) ===
    size = config["image_size"]
    frame = keras.Input((size, size, 3), batch_size=1, name=FRAME_INPUT)
    x = ImageNormalization(name="normalize")(frame)
    x = BACKBONES[config["backbone"]](x, shift, config["width_multiplier"])
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    logits = keras.layers.Dense(
        config["num_classes"], name=CLASSIFIER_LAYER, dtype="float32"
    )(x)
    suffix = "online" if with_states else "frame"
    online = keras.Model(
        {FRAME_INPUT: frame, **state_inputs},
        {LOGITS_OUTPUT: logits, **state_outputs},
        name=f"{model.name}_{suffix}",
    )
    _copy_weights(model, online)
    online.tsm_config = config
    return online


def _copy_weights(source, target):
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
