"""Golden vectors for the Android demo's Kotlin core: what the real interpreter saw and said.

Usage (the entry point is `tsm_tf/cli/golden.py`):

    python -m tsm_tf.cli.golden --output_dir /tmp/golden [--precision int8]

writes, for a tiny exported streaming model, `model.tflite`, `model.json` and
`golden.json`: a short sequence of raw RGB frames (not of the model's size),
the exact inputs (frame and states) fed to the TFLite signature at each step,
the outputs the real interpreter (ai-edge-litert) returned, and the smoothed
scores of the Python reference client `tsm_tf.StreamingClassifier` on the same
frames. The Kotlin tests (android_demo/core) replay them: same model inputs
from the same raw frames (within 1 unit), the states passed under the right
names, and the same smoothed scores and top-1 at every step.

The vectors are built to catch wrong clients, not only to agree with right ones:

- Each state output is renamed (`model.json`'s `states[i].output`): block i's
  state comes out as `next_state_{num_states - 1 - i}`, so a client that pairs
  outputs with inputs by name equality, by position in sorted order, or by
  the signature's order feeds the wrong state back. Step outputs are stored
  with the states in reverse block order.
- The model's batch norm is calibrated on frames like the golden ones and its
  logits are centred, and the frames change scene midway: the smoothed top-1
  changes during the stream (checked here; a constant one would let a client
  that ignores its inputs pass).
- The float32 interpreter's logits are checked against the clip model's
  causal per-frame logits (`tsm_tf.causal_frame_logits`, no states), so the
  vectors do not just repeat the library's own online model.
- `--precision int8` writes the full-integer set: int8 frame, states and logits
  with the scales and zero points of `model.json`.

`golden.json` (`golden_format_version` 1):

| key | meaning |
| --- | --- |
| `golden_format_version` | 1 |
| `model` | the model file beside it (`model.tflite`; `model.json` beside that) |
| `precision` | `"float32"` or `"int8"`: how `steps` values are stored |
| `signature` | `{inputs, outputs}`: name to shape, as the interpreter reports them |
| `reset_before` | index of the frame before which the stream restarts (states and smoothing), or null |
| `smoothing_window` | the window of the smoothed scores below |
| `default_smoothing_window` | `StreamingClassifier`'s default window |
| `frames` | `[{height, width, rgb}]`: raw uint8 RGB frames, row-major, flattened |
| `steps` | `[{inputs, outputs}]` per frame: name to the flattened tensor as fed and as returned (float32 values, or the stored int8 integers when `precision` is int8) |
| `smoothed` | `[{top1, scores}]` per frame: the Python client's smoothed top-1 and scores |
"""

import json
import logging
import os

import numpy as np

from tsm_tf.lite.metadata import SIGNATURE_KEY
from tsm_tf.lite.metadata import read_metadata
from tsm_tf.lite.metadata import write_metadata
from tsm_tf.lite.preprocessing import resize_and_center_crop
from tsm_tf.lite.streaming import logits_of
from tsm_tf.lite.streaming import stream_tflite
from tsm_tf.lite.streaming_classifier import DEFAULT_SMOOTHING_WINDOW
from tsm_tf.lite.streaming_classifier import StreamingClassifier
from tsm_tf.lite.tflite_model import TFLiteModel
from tsm_tf.utils.atomic_files import write_atomically
from tsm_tf.utils.batch_norm_statistics import calibrate_batch_norm
from tsm_tf.utils.hashing import file_sha256

GOLDEN_FILE = "golden.json"
MODEL_FILE = "model.tflite"
GOLDEN_FORMAT_VERSION = 1
LABELS = ["wave", "swipe_left", "swipe_right", "push", "no_gesture"]


def tiny_model(image_size: int = 32, seed: int = 0):
    """A tiny uni-directional MobileNetV2 TSM whose logits depend on its frames.

    Random weights, batch norm calibrated on frames like the golden ones
    (`moving_frames` of another seed; moving variances raised to at least
    their layer's median, so no near-constant channel is amplified hundreds of
    times), and a classifier rescaled to logits of about 1.5 standard
    deviations, centred per class over those frames.
    """
    import keras

    from tsm_tf.models.builders import build_tsm
    from tsm_tf.models.builders import per_frame_model

    num_segments = 4
    keras.utils.set_random_seed(seed)
    model = build_tsm(
        "mobilenet_v2",
        num_classes=len(LABELS),
        num_segments=num_segments,
        image_size=image_size,
        bidirectional=False,
        width_multiplier=0.35,
        dropout=0.0,
        labels=LABELS,
    )
    frames = _model_frames(moving_frames(8 * num_segments, 40, 52, seed + 1), image_size)
    clips = frames.reshape(-1, num_segments, *frames.shape[1:])
    calibrate_batch_norm(model, clips, variance_floor=1.0)
    classifier = model.get_layer("classifier")
    kernel, bias = classifier.get_weights()
    logits = np.asarray(per_frame_model(model)(clips, training=False)).reshape(-1, len(LABELS))
    scale = 1.5 / max(float(np.std(logits - bias)), 1e-12)
    classifier.set_weights([kernel * scale, -scale * (logits - bias).mean(0)])
    return model


def export_streaming(model, output_dir: str, precision: str = "float32", seed: int = 0) -> str:
    """Exports `model` streaming into `output_dir`, renames its state outputs
    (`rename_state_outputs`), and returns the path of `model.tflite`.

    int8 calibrates on 64 `moving_frames` of seed `seed + 2`.
    """
    from tsm_tf.lite.export import export_tflite

    image_size = model.image_size
    path = os.path.join(output_dir, MODEL_FILE)
    representative = None
    if precision == "int8":
        representative = _model_frames(moving_frames(64, 40, 52, seed + 2), image_size)
    export_tflite(
        model, path, mode="streaming", precision=precision, representative_data=representative
    )
    rename_state_outputs(path)
    return path


def rename_state_outputs(model_path: str) -> dict:
    """Renames block i's state output `next_state_{num_states - 1 - i}`, in the
    `.tflite` signature and in `model.json` alike; returns the new metadata."""
    from tensorflow.lite.tools import flatbuffer_utils

    metadata = read_metadata(model_path)
    states = metadata["states"]
    renames = {
        state["output"]: f"next_state_{len(states) - 1 - index:02d}"
        for index, state in enumerate(states)
    }
    with open(model_path, "rb") as file:
        flatbuffer = flatbuffer_utils.read_model_from_bytearray(bytearray(file.read()))
    for signature in flatbuffer.signatureDefs:
        for output in signature.outputs:
            name = output.name.decode("utf-8")
            output.name = renames.get(name, name).encode("utf-8")
    write_atomically(model_path, bytes(flatbuffer_utils.convert_object_to_bytearray(flatbuffer)))
    for state in states:
        state["output"] = renames[state["output"]]
    metadata["sha256"] = file_sha256(model_path)
    write_metadata(model_path, metadata)
    return metadata


def moving_frames(num_frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Raw uint8 RGB frames `(num_frames, height, width, 3)`: a bright square moving
    across a colour gradient, with noise, so both resizing and the states matter;
    from frame `num_frames // 3` on the gradient is reversed (a change of scene)."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    columns = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    background = np.stack(
        [200 * rows + 0 * columns, 180 * columns + 0 * rows, 90 + 60 * rows * columns], -1
    )
    frames = []
    side = max(4, min(height, width) // 3)
    for index in range(num_frames):
        scene = background if index < num_frames // 3 else 255 - background[::-1, ::-1]
        frame = scene + rng.normal(0, 12, background.shape)
        top = (index * 5) % (height - side)
        left = (index * 7) % (width - side)
        frame[top : top + side, left : left + side] = [250, 240, 40]
        frames.append(np.clip(np.round(frame), 0, 255).astype(np.uint8))
    return np.stack(frames)


def replay_interpreter(model_path: str, frames: np.ndarray, reset_before: int | None) -> list:
    """Streams `frames` through the signature runner, carrying states by name.

    Returns one `tsm_tf.lite.stream_step.StreamStep` per frame: the exact
    `inputs` fed and the `outputs` returned (quantized tensors as stored).
    """
    model = TFLiteModel(model_path, num_threads=1)
    preprocessing = model.metadata["preprocessing"]
    pixels = [
        resize_and_center_crop(
            raw, preprocessing["crop_size"], preprocessing["resize_shorter_side"]
        )
        for raw in frames
    ]
    return stream_tflite(model, pixels, reset_before)


def reference_smoothing(
    model_path: str, frames: np.ndarray, reset_before: int | None, smoothing_window: int
) -> list[dict]:
    """The Python reference client's smoothed scores after each frame."""

    classifier = StreamingClassifier(model_path, num_threads=1, smoothing_window=smoothing_window)
    results = []
    for index, raw in enumerate(frames):
        if index == reset_before:
            classifier.reset()
        scores = np.asarray(classifier.classify(raw).scores, np.float64)
        results.append({"top1": int(np.argmax(scores)), "scores": scores.tolist()})
    return results


def write_golden_vectors(
    output_dir: str,
    num_frames: int = 9,
    frame_height: int = 40,
    frame_width: int = 52,
    reset_before: int | None = 6,
    smoothing_window: int = 3,
    seed: int = 0,
    precision: str = "float32",
) -> str:
    """Exports the tiny model into `output_dir` and writes `golden.json` beside it.

    Args:
        output_dir: directory for `model.tflite`, `model.json`, `golden.json`.
        num_frames: frames in the stream.
        frame_height: raw frame height (not the model's size, so resizing is exercised).
        frame_width: raw frame width.
        reset_before: the step before which the stream is reset (states and
            smoothing), or None for no reset.
        smoothing_window: the reference client's window; shorter than the
            stream so that frames leave the window before the reset.
        seed: seeds the model's weights and the frames.
        precision: `"float32"` or `"int8"` (full integer).

    Returns:
        The path of `golden.json`.

    Raises:
        RuntimeError: the vectors would not discriminate: the float32
            interpreter does not follow the clip model's causal logits, or the
            smoothed top-1 never changes within a stream.
    """
    if precision not in ("float32", "int8"):
        raise ValueError(
            f"precision must be 'float32' or 'int8'. Received: precision={precision!r}"
        )
    os.makedirs(output_dir, exist_ok=True)
    model = tiny_model(seed=seed)
    model_path = export_streaming(model, output_dir, precision, seed)
    metadata = read_metadata(model_path)
    frames = moving_frames(num_frames, frame_height, frame_width, seed)
    steps = replay_interpreter(model_path, frames, reset_before)
    smoothed = reference_smoothing(model_path, frames, reset_before, smoothing_window)
    if precision == "float32":
        _check_against_clip_model(model, metadata, frames, steps, reset_before)
    _check_top1_changes(smoothed, reset_before)
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=model_path).get_signature_runner(SIGNATURE_KEY)
    # Logits first, then the states in reverse block order: not the inputs' order.
    output_order = [
        metadata["output"]["name"],
        *(state["output"] for state in metadata["states"][::-1]),
    ]
    golden = {
        "golden_format_version": GOLDEN_FORMAT_VERSION,
        "model": MODEL_FILE,
        "precision": precision,
        "signature": {
            "inputs": {name: _shape(d) for name, d in runner.get_input_details().items()},
            "outputs": {name: _shape(d) for name, d in runner.get_output_details().items()},
        },
        "reset_before": reset_before,
        "smoothing_window": smoothing_window,
        "default_smoothing_window": DEFAULT_SMOOTHING_WINDOW,
        "frames": [
            {
                "height": int(frame.shape[0]),
                "width": int(frame.shape[1]),
                "rgb": frame.reshape(-1).tolist(),
            }
            for frame in frames
        ],
        "steps": [
            {
                "inputs": {name: _flat(value) for name, value in step.inputs.items()},
                "outputs": {name: _flat(step.outputs[name]) for name in output_order},
            }
            for step in steps
        ],
        "smoothed": smoothed,
    }
    path = os.path.join(output_dir, GOLDEN_FILE)
    write_atomically(path, json.dumps(golden, separators=(",", ":")).encode("utf-8"))
    logging.info(
        "Wrote %s (%s, %d frames, %d states, smoothed top-1 %s).",
        path,
        precision,
        num_frames,
        len(metadata["states"]),
        [item["top1"] for item in smoothed],
    )
    return path


def _check_against_clip_model(model, metadata, frames, steps, reset_before):
    """The interpreter's logits equal the clip model's causal logits, stream by stream."""
    from tsm_tf.models.online_tsm import causal_frame_logits

    preprocessing = metadata["preprocessing"]
    pixels = np.stack(
        [
            resize_and_center_crop(
                raw, preprocessing["crop_size"], preprocessing["resize_shorter_side"]
            )
            for raw in frames
        ]
    )
    split = [reset_before] if reset_before else []
    expected = np.concatenate(
        [causal_frame_logits(model, part) for part in np.split(pixels, split)]
    )
    actual = logits_of(steps)
    gap = float(np.abs(actual - expected).max())
    if gap > 1e-3:
        raise RuntimeError(
            f"The exported model's streamed logits are {gap:.3g} away from the clip model's "
            "causal per-frame logits (limit 1e-3): the export or its state pairing is wrong."
        )


def _model_frames(frames, image_size):
    return np.stack([resize_and_center_crop(frame, image_size) for frame in frames])


def _check_top1_changes(smoothed, reset_before):
    top1 = [item["top1"] for item in smoothed]
    changes = [
        index
        for index in range(1, len(top1))
        if index != reset_before and top1[index] != top1[index - 1]
    ]
    if not changes:
        raise RuntimeError(
            f"The smoothed top-1 is {top1}: it never changes within a stream, so a client "
            "that ignored its frames would replay it. Pick other frames or another seed."
        )


def _shape(details):
    return [int(size) for size in details["shape"]]


def _flat(value):
    # float32 values written as the shortest double repr round-trip exactly to float32.
    return np.asarray(value).reshape(-1).tolist()
