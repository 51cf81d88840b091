"""Quantization of a trained streaming TSM: held-out accuracy, agreement, latency and size.

Usage:
    python -m tsm_tf.demo            # trains the demo's model into demo_output/ (once)
    python benchmarks/benchmark_quantization.py [--model=demo_output/tsm/last.keras] \
        [--data=demo_output/data] [--image_sizes=trained,224] [--num_threads=2] [--max_clips=0]

Exports the trained uni-directional TSM (by default the built-in demo's) as a
streaming TFLite model in float32, float16, dynamic int8 and full int8
(`tsm_tf.export_tflite`; full int8 is calibrated on the training records,
`--num_representative_frames` frames read by the library's evaluation
pipeline), then streams every held-out clip (`validation-*.tfrecord` in
`--data`, read with `tsm_tf.data.read_videos`) frame by frame through all
four, states carried and reset between clips, and reports per precision:

- held-out top-1: the prediction after the clip's last frame, the logits of
  the last `DEFAULT_SMOOTHING_WINDOW` frames averaged, as the demo reports
  streaming top-1 with `StreamingClassifier`;
- top-1 agreement with float32 over every frame (each frame's own logits),
  and how many of int8's disagreements are near-ties in float32;
- latency per frame, median: the interpreter's step alone (the signature
  runner on the exact feed), and the client's (`TFLiteModel`: the frame
  quantized where the model is int8, the logits dequantized); the frame is
  resized and cropped once, beforehand, and the four precisions take each
  frame in turn, so noise hits them alike;
- file size.

`--image_sizes` lists the sizes to export at: `trained` (the model's own)
and pixel sizes. At another size the same weights are rebuilt at that size
and the frames resized up by the metadata's rule, so accuracy there is
informative only; latency is the point. The issue's goals are printed next
to the figures: int8 / float32 latency <= 0.6, agreement >= 97%.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import time

import keras
import numpy as np
import tensorflow as tf
from absl import app
from absl import flags

import tsm_tf
from tsm_tf.data import read_videos
from tsm_tf.lite.export import DEFAULT_NUM_REPRESENTATIVE_FRAMES
from tsm_tf.lite.preprocessing import resize_and_center_crop
from tsm_tf.lite.streaming_classifier import DEFAULT_SMOOTHING_WINDOW
from tsm_tf.lite.tflite_model import TFLiteModel
from tsm_tf.models.tsm_classifier import TSMClassifier
from tsm_tf.models.tsm_config import config_of

PRECISIONS = ("float32", "float16", "dynamic_int8", "int8")
LATENCY_GOAL = 0.6  # int8 / float32
AGREEMENT_GOAL = 0.97

_MODEL = flags.DEFINE_string(
    "model", "demo_output/tsm/last.keras", "Trained uni-directional TSM (.keras)."
)
_DATA = flags.DEFINE_string(
    "data", "demo_output/data", "Records folder: train-*.tfrecord, validation-*.tfrecord."
)
_IMAGE_SIZES = flags.DEFINE_list(
    "image_sizes", ["trained", "224"], "Export sizes: 'trained' (the model's own) or pixels."
)
_NUM_THREADS = flags.DEFINE_integer("num_threads", 2, "Interpreter threads.")
_NUM_REPRESENTATIVE_FRAMES = flags.DEFINE_integer(
    "num_representative_frames", DEFAULT_NUM_REPRESENTATIVE_FRAMES, "int8 calibration frames."
)
_MAX_CLIPS = flags.DEFINE_integer("max_clips", 0, "Held-out clips to stream (0: all).")
_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", "/tmp/tsm_quantization_benchmark", "Where the .tflite files go."
)


def records(split):
    """The shard pattern of `split` in --data; refuses a folder without it."""
    pattern = os.path.join(_DATA.value, f"{split}-*.tfrecord")
    if not tf.io.gfile.glob(pattern):
        raise app.UsageError(
            f"No {split} records match {pattern!r}. Pass --data=<folder with train-*.tfrecord "
            "and validation-*.tfrecord>, e.g. demo_output/data after `python -m tsm_tf.demo`."
        )
    return pattern


def load_model():
    """The trained TSM; refuses a bidirectional one (it cannot stream)."""
    if not os.path.exists(_MODEL.value):
        raise app.UsageError(
            f"No model at --model={_MODEL.value!r}. Train the demo's with `python -m tsm_tf.demo` "
            "or pass a uni-directional TSM saved as .keras."
        )
    model = keras.models.load_model(_MODEL.value, compile=False)
    if config_of(model).bidirectional:
        raise app.UsageError(
            f"{_MODEL.value} is bidirectional and cannot stream: pass a TSM trained with "
            "bidirectional=False (tsm-train --nobidirectional)."
        )
    return model


def at_size(model, image_size):
    """The same weights in a TSM built for `image_size` (the backbones pool globally)."""
    config = config_of(model)
    if image_size == config.image_size:
        return model
    resized = TSMClassifier(**config.replace(image_size=image_size).to_dict())
    resized.set_weights(model.get_weights())
    return resized


def export_all(model, folder, calibration_pattern):
    """Every precision's streaming `.tflite`; returns {precision: path}."""
    os.makedirs(folder, exist_ok=True)
    paths = {}
    for precision in PRECISIONS:
        paths[precision] = os.path.join(folder, f"tsm_streaming_{precision}.tflite")
        tsm_tf.export_tflite(
            model,
            paths[precision],
            mode="streaming",
            precision=precision,
            representative_data=calibration_pattern if precision == "int8" else None,
            num_representative_frames=_NUM_REPRESENTATIVE_FRAMES.value,
        )
    return paths


def stream_all(paths, validation_pattern):
    """Streams the held-out clips through every model in lock step.

    Each frame runs through `TFLiteModel` (what a client pays: the input
    quantized where the model is int8, the logits dequantized), then its
    exact feed once more through a bare interpreter (the step alone).

    Returns:
        {precision: (per-frame logits `(clips, frames, classes)`, interpreter
        seconds per frame, client seconds per frame)} and the labels.
    """
    from ai_edge_litert.interpreter import Interpreter

    models, runners = {}, {}
    for precision, path in paths.items():
        models[precision] = TFLiteModel(path, num_threads=_NUM_THREADS.value)
        runners[precision] = Interpreter(
            model_path=path, num_threads=_NUM_THREADS.value
        ).get_signature_runner(models[precision].metadata["signature_key"])
    preprocessing = models["float32"].metadata["preprocessing"]
    results = {precision: ([], [], []) for precision in models}
    labels = []
    for index, (frames, label, _) in enumerate(read_videos(validation_pattern)):
        if _MAX_CLIPS.value and index >= _MAX_CLIPS.value:
            break
        labels.append(label)
        inputs = [
            resize_and_center_crop(
                frame, preprocessing["crop_size"], preprocessing["resize_shorter_side"]
            )
            for frame in frames
        ]
        states = {precision: model.zero_states() for precision, model in models.items()}
        clip_logits = {precision: [] for precision in models}
        for frame in inputs:
            for precision, model in models.items():
                _, interpreter_seconds, client_seconds = results[precision]
                start = time.perf_counter()
                step, states[precision] = model.run_frame(frame, states[precision])
                client_seconds.append(time.perf_counter() - start)
                start = time.perf_counter()
                runners[precision](**step.inputs)
                interpreter_seconds.append(time.perf_counter() - start)
                clip_logits[precision].append(step.logits)
        for precision in models:
            results[precision][0].append(clip_logits[precision])
    return {
        precision: tuple(np.array(values) for values in result)
        for precision, result in results.items()
    }, np.array(labels)


def report(image_size, paths, results, labels):
    """Prints one size's table and the goals."""
    reference_predictions = np.argmax(results["float32"][0], -1)
    base_latency = np.median(results["float32"][1])
    base_client = np.median(results["float32"][2])
    num_clips, num_frames = reference_predictions.shape
    print(
        f"\n{image_size} px, {num_clips} held-out clips x {num_frames} frames, "
        f"{_NUM_THREADS.value} interpreter threads, median latency per frame"
    )
    print(
        "| precision | held-out top-1 | top-1 agreement with float32 | ms / frame | "
        "vs float32 | client ms / frame | vs float32 | file size (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    figures = {}
    for precision, (logits, seconds, client_seconds) in results.items():
        smoothed = logits[:, -DEFAULT_SMOOTHING_WINDOW:].mean(axis=1)
        top1 = np.mean(np.argmax(smoothed, -1) == labels)
        agreement = np.mean(np.argmax(logits, -1) == reference_predictions)
        latency, client = np.median(seconds), np.median(client_seconds)
        figures[precision] = (agreement, latency / base_latency)
        print(
            f"| {precision} | {top1:.1%} | {agreement:.1%} | {latency * 1e3:.2f} | "
            f"{latency / base_latency:.2f} | {client * 1e3:.2f} | {client / base_client:.2f} | "
            f"{os.path.getsize(paths[precision]) / 1e6:.2f} |"
        )
    agreement, ratio = figures["int8"]
    print(
        f"int8: latency / float32 {ratio:.2f} (goal <= {LATENCY_GOAL}), "
        f"top-1 agreement {agreement:.1%} (goal >= {AGREEMENT_GOAL:.0%})"
    )
    report_near_ties(results["float32"][0], results["int8"][0])


def report_near_ties(float_logits, int8_logits):
    """Where int8 disagrees: how close float32's top two logits were on those frames."""
    float_logits = float_logits.reshape(-1, float_logits.shape[-1])
    top_two = np.sort(float_logits, axis=-1)[:, -2:]
    margins = top_two[:, 1] - top_two[:, 0]
    disagree = np.argmax(float_logits, -1) != np.argmax(int8_logits.reshape(float_logits.shape), -1)
    print("int8 disagreements by float32's margin between its top two logits:")
    for margin in (0.2, 0.5, 1.0):
        near = margins < margin
        print(
            f"  margin < {margin}: {near.mean():.1%} of frames, {np.mean(near[disagree]):.1%} of "
            f"the disagreements; agreement on the other frames {1 - np.mean(disagree[~near]):.1%}"
        )


def main(argv):
    del argv
    calibration_pattern, validation_pattern = records("train"), records("validation")
    model = load_model()
    trained_size = config_of(model).image_size
    print(f"{_MODEL.value}: {config_of(model)}")
    for size in _IMAGE_SIZES.value:
        image_size = trained_size if size == "trained" else int(size)
        folder = os.path.join(_OUTPUT_DIR.value, f"{image_size}px")
        paths = export_all(at_size(model, image_size), folder, calibration_pattern)
        results, labels = stream_all(paths, validation_pattern)
        report(image_size, paths, results, labels)


if __name__ == "__main__":
    app.run(main)
