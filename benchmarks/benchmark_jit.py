"""XLA (`jit_compile=True`) against TensorFlow's own kernels, inference and training, in one run.

Usage:
    python benchmarks/benchmark_jit.py [--backbones=mobilenet_v2,resnet50] \
        [--cases=inference,training] [--image_size=224] \
        [--inference_batch_size=1] [--training_batch_size=2] [--threads=0] [--repeats=5]

For each backbone (TSM, 8 frames, random weights: speed does not depend on
them), two cases, each timed with XLA on and off alternately in one process
(median of `repeats` runs after a warm-up), so noise on a shared machine hits
both alike:

- inference: the clip forward pass as a `tf.function(jit_compile=...)`;
- training: `model.compile(jit_compile=...)` and `train_on_batch` (SGD with
  momentum, the paper's optimizer), as `tsm-train --jit_compile` runs it.

The first call (tracing, and XLA's compilation) is reported apart. A
jit/no-jit ratio above 1 means XLA is slower; `tsm-train` warns when
`--jit_compile` is on and no GPU or TPU is visible.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import time

import keras
import numpy as np
import tensorflow as tf
from absl import app
from absl import flags
from alternating import alternating_medians
from alternating import print_table_header

import tsm_tf

_BACKBONES = flags.DEFINE_list("backbones", ["mobilenet_v2", "resnet50"], "Backbones.")
_CASES = flags.DEFINE_list("cases", ["inference", "training"], "Cases to time.")
_NUM_SEGMENTS = flags.DEFINE_integer("num_segments", 8, "Frames per clip.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 224, "Frame size.")
_WIDTH = flags.DEFINE_float("width_multiplier", 1.0, "Backbone width multiplier.")
_NUM_CLASSES = flags.DEFINE_integer("num_classes", 400, "Classes (Kinetics-400).")
_INFERENCE_BATCH_SIZE = flags.DEFINE_integer("inference_batch_size", 1, "Clips per forward pass.")
_TRAINING_BATCH_SIZE = flags.DEFINE_integer("training_batch_size", 2, "Clips per training step.")
_THREADS = flags.DEFINE_integer("threads", 0, "TensorFlow threads (0: all cores).")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed runs per case and setting.")


def build(backbone):
    """The benchmark's TSM."""
    return tsm_tf.build_tsm(
        backbone,
        _NUM_CLASSES.value,
        num_segments=_NUM_SEGMENTS.value,
        image_size=_IMAGE_SIZE.value,
        width_multiplier=_WIDTH.value,
    )


def random_clips(batch_size, seed):
    """RGB [0, 255] clips and labels."""
    rng = np.random.default_rng(seed)
    size = _IMAGE_SIZE.value
    clips = rng.uniform(0, 255, (batch_size, _NUM_SEGMENTS.value, size, size, 3)).astype("float32")
    return clips, rng.integers(0, _NUM_CLASSES.value, batch_size)


def first_call_seconds(run):
    """Seconds of `run`'s first call (tracing and compiling included)."""
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def time_inference(backbone):
    """(first-call seconds, median seconds) of the compiled clip forward, XLA on then off."""
    model = build(backbone)
    clips = tf.constant(random_clips(_INFERENCE_BATCH_SIZE.value, 0)[0])
    runs = []
    for jit_compile in (True, False):
        forward = tf.function(lambda x: model(x, training=False), jit_compile=jit_compile)
        runs.append(lambda forward=forward: forward(clips).numpy())
    first = [first_call_seconds(run) for run in runs]
    jit_logits, plain_logits = runs[0](), runs[1]()
    # XLA may sum in another order: the same function within float32 rounding of the logits' scale.
    assert np.max(np.abs(jit_logits - plain_logits)) <= 1e-3 * (np.max(np.abs(plain_logits)) + 1)
    return first, alternating_medians(runs, _REPEATS.value)


def time_training(backbone):
    """(first-call seconds, median seconds) of a training step, XLA on then off."""
    clips, labels = random_clips(_TRAINING_BATCH_SIZE.value, 1)
    runs = []
    for jit_compile in (True, False):
        model = build(backbone)
        model.compile(
            keras.optimizers.SGD(0.01, momentum=0.9),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=jit_compile,
        )
        runs.append(lambda model=model: model.train_on_batch(clips, labels))
    first = [first_call_seconds(run) for run in runs]
    for run in runs:
        run()  # a second warm-up step: the optimizer's slots exist from here on
    return first, alternating_medians(runs, _REPEATS.value)


def main(argv):
    del argv
    unknown = set(_CASES.value) - {"inference", "training"}
    if unknown:
        raise app.UsageError(
            f"--cases takes inference and/or training. Received: {','.join(_CASES.value)}"
        )
    if _THREADS.value:
        tf.config.threading.set_intra_op_parallelism_threads(_THREADS.value)
        tf.config.threading.set_inter_op_parallelism_threads(_THREADS.value)
    devices = ", ".join(device.name for device in tf.config.list_logical_devices())
    print(
        f"TSM, {_NUM_SEGMENTS.value} frames at {_IMAGE_SIZE.value}px, width {_WIDTH.value:g}, "
        f"{_NUM_CLASSES.value} classes, threads {_THREADS.value or os.cpu_count()} "
        f"({devices}), median of {_REPEATS.value} runs, XLA on and off alternately"
    )
    header = (
        "backbone",
        "case",
        "batch",
        "first call jit / no-jit (s)",
        "jit ms",
        "no-jit ms",
        "jit/no-jit",
    )
    print_table_header(header)
    for backbone in _BACKBONES.value:
        cases = {
            "inference": (_INFERENCE_BATCH_SIZE.value, time_inference),
            "training": (_TRAINING_BATCH_SIZE.value, time_training),
        }
        for case in _CASES.value:
            batch_size, timer = cases[case]
            (jit_first, plain_first), (jit_time, plain_time) = timer(backbone)
            cells = (
                backbone,
                case,
                batch_size,
                f"{jit_first:.1f} / {plain_first:.1f}",
                f"{jit_time * 1e3:.0f}",
                f"{plain_time * 1e3:.0f}",
                f"{jit_time / plain_time:.2f}",
            )
            print("| " + " | ".join(str(cell) for cell in cells) + " |", flush=True)


if __name__ == "__main__":
    app.run(main)
