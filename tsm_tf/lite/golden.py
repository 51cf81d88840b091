"""Golden vectors for the Android demo's Kotlin core: what the real interpreter saw and said.

Usage (the entry point is `tsm_tf/cli/golden.py`):

    python -m tsm_tf.cli.golden --output_dir /tmp/golden

writes, for a tiny exported streaming model, `model.tflite`, `model.json` and
`golden.json`: a short sequence of raw RGB frames (not of the model's size),
the exact inputs (frame and states) fed to the TFLite signature at each step,
the outputs the real interpreter (ai-edge-litert) returned, and the smoothed
scores of the Python reference client `tsm_tf.StreamingClassifier` on the same
frames. The Kotlin tests (android_demo/core) replay them: same model inputs
from the same raw frames (within 1 unit), the states passed under the right
names, and the same smoothed top-1 at the end.
"""

import json
import logging
import os

import numpy as np

from tsm_tf.lite.metadata import SIGNATURE_KEY
from tsm_tf.lite.preprocessing import resize_and_center_crop
from tsm_tf.lite.streaming import stream_tflite
from tsm_tf.lite.streaming_classifier import DEFAULT_SMOOTHING_WINDOW
from tsm_tf.lite.streaming_classifier import StreamingClassifier
from tsm_tf.lite.tflite_model import TFLiteModel
from tsm_tf.utils.atomic_files import write_atomically

GOLDEN_FILE = "golden.json"
MODEL_FILE = "model.tflite"
GOLDEN_FORMAT_VERSION = 1
LABELS = ["wave", "swipe_left", "swipe_right", "push", "no_gesture"]


def tiny_streaming_model(output_dir: str, image_size: int = 32, seed: int = 0) -> str:
    """Builds a tiny uni-directional MobileNetV2 TSM, exports it streaming, returns its path."""
    import keras

    from tsm_tf.lite.export import export_tflite
    from tsm_tf.models.builders import build_tsm

    keras.utils.set_random_seed(seed)
    model = build_tsm(
        "mobilenet_v2",
        num_classes=len(LABELS),
        num_segments=4,
        image_size=image_size,
        bidirectional=False,
        width_multiplier=0.35,
        labels=LABELS,
    )
    path = os.path.join(output_dir, MODEL_FILE)
    export_tflite(model, path, mode="streaming", precision="float32")
    return path


def moving_frames(num_frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Raw uint8 RGB frames `(num_frames, height, width, 3)`: a bright square moving
    across a colour gradient, with noise, so both resizing and the states matter."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    columns = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    background = np.stack([200 * rows + 0 * columns, 180 * columns + 0 * rows, 90 + 60 * rows * columns], -1)
    frames = []
    side = max(4, min(height, width) // 3)
    for index in range(num_frames):
        frame = background + rng.normal(0, 12, background.shape)
        top = (index * 5) % (height - side)
        left = (index * 7) % (width - side)
        frame[top : top + side, left : left + side] = [250, 240, 40]
        frames.append(np.clip(np.round(frame), 0, 255).astype(np.uint8))
    return np.stack(frames)


def replay_interpreter(model_path: str, frames: np.ndarray, reset_before: int | None) -> list[dict]:
    """Streams `frames` through the signature runner, carrying states by name.

    Returns one dict per step: the exact `inputs` fed and the `outputs` returned.
    """
    model = TFLiteModel(model_path, num_threads=1)
    preprocessing = model.metadata["preprocessing"]
    pixels = [
        resize_and_center_crop(raw, preprocessing["crop_size"], preprocessing["resize_shorter_side"])
        for raw in frames
    ]
    steps = stream_tflite(model, pixels, reset_before)
    return [{"inputs": step.inputs, "outputs": step.outputs} for step in steps]


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
    num_frames: int = 6,
    frame_height: int = 40,
    frame_width: int = 52,
    reset_before: int | None = 4,
    smoothing_window: int = 3,
    seed: int = 0,
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

    Returns:
        The path of `golden.json`.
    """
    os.makedirs(output_dir, exist_ok=True)
    model_path = tiny_streaming_model(output_dir, seed=seed)
    frames = moving_frames(num_frames, frame_height, frame_width, seed)
    steps = replay_interpreter(model_path, frames, reset_before)
    smoothed = reference_smoothing(model_path, frames, reset_before, smoothing_window)
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=model_path).get_signature_runner(SIGNATURE_KEY)
    golden = {
        "golden_format_version": GOLDEN_FORMAT_VERSION,
        "model": MODEL_FILE,
        "signature": {
            "inputs": {name: _shape(d) for name, d in runner.get_input_details().items()},
            "outputs": {name: _shape(d) for name, d in runner.get_output_details().items()},
        },
        "reset_before": reset_before,
        "smoothing_window": smoothing_window,
        "default_smoothing_window": DEFAULT_SMOOTHING_WINDOW,
        "frames": [
            {"height": int(frame.shape[0]), "width": int(frame.shape[1]), "rgb": frame.reshape(-1).tolist()}
            for frame in frames
        ],
        "steps": [
            {
                "inputs": {name: _flat(value) for name, value in step["inputs"].items()},
                "outputs": {name: _flat(value) for name, value in step["outputs"].items()},
            }
            for step in steps
        ],
        "smoothed": smoothed,
    }
    path = os.path.join(output_dir, GOLDEN_FILE)
    write_atomically(path, json.dumps(golden, separators=(",", ":")).encode("utf-8"))
    logging.info("Wrote %s (%d frames, %d states).", path, num_frames, len(steps[0]["inputs"]) - 1)
    return path


def _shape(details):
    return [int(size) for size in details["shape"]]


def _flat(value):
    # float32 values written as the shortest double repr round-trip exactly to float32.
    return np.asarray(value).reshape(-1).tolist()
