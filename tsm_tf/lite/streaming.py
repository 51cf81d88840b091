"""The one streaming loop: frames in, states carried by name, logits out.

Every streamed comparison runs through `carry_states`: parity (Keras against
the interpreter), the exporter's int8 calibration, the golden vectors of the
Android core, the benchmarks and the tests. `stream_keras` drives an online
Keras model, `stream_tflite` an exported model on the real interpreter.
"""

import os
from collections.abc import Callable
from collections.abc import Iterable

import numpy as np

from tsm_tf.lite.stream_step import StreamStep
from tsm_tf.lite.tflite_model import TFLiteModel


def carry_states(
    run_frame: Callable[[np.ndarray, dict], tuple[StreamStep, dict]],
    frames: Iterable[np.ndarray],
    zero_states: Callable[[], dict],
    reset_before: int | None = None,
) -> list[StreamStep]:
    """Streams `frames`, feeding each frame the states the previous one returned.

    Args:
        run_frame: `run_frame(frame, states) -> (step, new_states)` for one frame.
        frames: the frames, in order, as `run_frame` takes them.
        zero_states: returns the states that start (or restart) a stream.
        reset_before: the index of the frame before which the states restart,
            or None.

    Returns:
        One `StreamStep` per frame.
    """
    states = zero_states()
    steps = []
    for index, frame in enumerate(frames):
        if index == reset_before:
            states = zero_states()
        step, states = run_frame(frame, states)
        steps.append(step)
    return steps


def stream_keras(online_model, frames: Iterable[np.ndarray]) -> list[StreamStep]:
    """Streams float RGB frames `(H, W, 3)` through an online Keras model (`build_online_tsm`)."""
    # Keras loads only here, so that interpreter-only clients stay light.
    from tsm_tf.models.online_tsm import FRAME_INPUT
    from tsm_tf.models.online_tsm import LOGITS_OUTPUT
    from tsm_tf.models.online_tsm import initial_states

    def run_frame(frame, states):
        inputs = {FRAME_INPUT: np.asarray(frame, "float32")[None], **states}
        outputs = online_model(inputs, training=False)
        outputs = {name: np.asarray(value) for name, value in outputs.items()}
        new_states = {name: outputs[name] for name in states}
        return StreamStep(inputs, outputs, outputs[LOGITS_OUTPUT][0]), new_states

    return carry_states(run_frame, frames, lambda: initial_states(online_model))


def stream_tflite(
    model, frames: Iterable[np.ndarray], reset_before: int | None = None
) -> list[StreamStep]:
    """Streams model-sized float RGB frames through an exported streaming model.

    Args:
        model: a `TFLiteModel` or the path of a streaming `.tflite` (metadata beside it).
        frames: `(image_size, image_size, 3)` frames with values in [0, 255].
        reset_before: the index of the frame before which the states restart, or None.
    """
    if isinstance(model, (str, os.PathLike)):
        model = TFLiteModel(model, num_threads=1)
    return carry_states(model.run_frame, frames, model.zero_states, reset_before)


def logits_of(steps: list[StreamStep]) -> np.ndarray:
    """`(num_frames, num_classes)` logits of a stream."""
    return np.stack([step.logits for step in steps])
