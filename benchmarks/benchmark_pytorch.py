"""tsm_tf against the authors' architecture in PyTorch, side by side in one process.

Usage:
    python benchmarks/benchmark_pytorch.py [--backbones=mobilenet_v2,resnet50] [--image_size=224] \
        [--threads=2] [--repeats=10] [--num_frames=50] [--output_dir=/tmp/tsm_pytorch_benchmark]

The PyTorch side is the independent reference the tests use
(`tests/torch_reference.py`, written after the authors' release and online
demo); each pair gets the same clip (batch 1, `num_segments` frames) and the
same number of threads (PyTorch's and TensorFlow's intra- and inter-op
threads, TFLite's `num_threads`):

- clip forward, MobileNetV2 and ResNet50 TSM: tsm_tf's model as a compiled
  `tf.function` against the release's `TSN(TemporalShift(...))` in eval
  mode under `torch.inference_mode` (eager);
- streaming step, one frame: tsm_tf's streaming TFLite MobileNetV2 in
  float32 and full int8 against the online demo's MobileNetV2, which takes
  and returns its shift buffers.

PyTorch runs in both memory layouts (`torch_layouts.py`, which holds the PyTorch side): contiguous NCHW, as
the authors run it, and channels_last (model and input converted), PyTorch's
faster path on a CPU. The three runs of a case are timed alternately (median
of `repeats` runs, or `num_frames` frames, after a warm-up), so noise on a
shared machine hits all alike; each ratio tsm_tf / PyTorch is below 1 where
tsm_tf is faster. Weights are random
(speed does not depend on them), but the same on both sides: the PyTorch
model's weights (batch-norm statistics measured on the clip) are loaded into
tsm_tf with `tsm_tf.load_torch_checkpoint`, and the last column is the
largest logit difference over the largest logit, to show that both compute
the same function (int8: the fraction of frames with the same top-1 as the
reference). tsm_tf's models take RGB in [0, 255] and normalize inside; the
PyTorch models get the frames normalized beforehand, untimed.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import sys

import numpy as np
import tensorflow as tf
import torch
from absl import app
from absl import flags
from alternating import alternating_medians
from alternating import print_table_header
from torch_layouts import DESCRIPTIONS
from torch_layouts import LAYOUTS
from torch_layouts import TorchClip
from torch_layouts import TorchStream

# The PyTorch reference lives with the tests (their independent model), not in the package.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tsm_tf  # noqa: E402
from tests import torch_reference as reference  # noqa: E402
from tsm_tf.lite.tflite_model import TFLiteModel  # noqa: E402

_BACKBONES = flags.DEFINE_list("backbones", ["mobilenet_v2", "resnet50"], "Clip-model backbones.")
_NUM_SEGMENTS = flags.DEFINE_integer("num_segments", 8, "Frames per clip.")
_IMAGE_SIZE = flags.DEFINE_integer(
    "image_size",
    224,
    "Frame size (at least 64: the reference's batch-norm calibration needs more than one "
    "value per channel in the last feature map).",
    lower_bound=64,
)
_NUM_CLASSES = flags.DEFINE_integer("num_classes", 400, "Classes of the clip models (Kinetics).")
_ONLINE_CLASSES = 27  # the online demo's Jester classes
_THREADS = flags.DEFINE_integer("threads", 2, "Threads for PyTorch, TensorFlow and TFLite.")
_REPEATS = flags.DEFINE_integer("repeats", 10, "Timed clip forward passes per side.")
_NUM_FRAMES = flags.DEFINE_integer("num_frames", 50, "Timed streaming frames per model.")
_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", "/tmp/tsm_pytorch_benchmark", "Where the checkpoints and .tflite files go."
)


def relative_difference(actual, expected):
    """max |actual - expected| / max |expected|."""
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def clip_row(backbone, clip):
    """([tsm_tf ms, PyTorch ms per layout], relative logit difference) of one clip forward."""
    net = reference.randomize(
        reference.release_tsm(backbone, _NUM_CLASSES.value, _NUM_SEGMENTS.value),
        seed=0,
        calibration_clips=clip,
    )
    # The release's file name carries the shift settings the importer checks.
    arch = {"mobilenet_v2": "mobilenetv2"}.get(backbone, backbone)
    path = os.path.join(
        _OUTPUT_DIR.value,
        f"TSM_benchmark_RGB_{arch}_shift8_blockres_avg_segment{_NUM_SEGMENTS.value}_e1.pth",
    )
    torch.save({"state_dict": net.state_dict()}, path)
    model = tsm_tf.build_tsm(
        backbone, _NUM_CLASSES.value, num_segments=_NUM_SEGMENTS.value, image_size=_IMAGE_SIZE.value
    )
    tsm_tf.load_torch_checkpoint(model, path)

    clip_tf = tf.constant(clip)
    forward = tf.function(lambda x: model(x, training=False))
    runs = [lambda: forward(clip_tf).numpy()]
    clip_torch = reference.normalize_frames(clip)
    for layout in LAYOUTS:
        runs.append(TorchClip(net, clip_torch, layout))

    tsm_tf_logits = runs[0]()
    difference = max(relative_difference(tsm_tf_logits, run()) for run in runs[1:])
    for _ in range(3):
        for run in runs:
            run()  # warm up: first calls are slower on every side
    times = alternating_medians(runs, _REPEATS.value)
    return [seconds * 1e3 for seconds in times], difference


class LiteStream:
    """A streaming `.tflite` run frame by frame through `TFLiteModel` (states carried)."""

    def __init__(self, path, frames):
        self.model = TFLiteModel(path, num_threads=_THREADS.value)
        self.frames = frames
        self.reset()

    def reset(self):
        self.model.reset()
        self.index = 0

    def __call__(self):
        logits = self.model(self.frames[self.index])
        self.index = (self.index + 1) % len(self.frames)
        return logits


def streaming_rows(frames):
    """(name, [tsm_tf ms, PyTorch ms per layout], agreement cell) for the float32 and int8
    streaming steps."""
    net = reference.randomize(
        reference.OnlineMobileNetV2(num_classes=_ONLINE_CLASSES), seed=1, calibration_clips=[frames]
    )
    checkpoint = os.path.join(_OUTPUT_DIR.value, "mobilenetv2_jester_online.pth.tar")
    torch.save(net.state_dict(), checkpoint)
    model = tsm_tf.build_tsm(
        "mobilenet_v2",
        _ONLINE_CLASSES,
        num_segments=_NUM_SEGMENTS.value,
        image_size=_IMAGE_SIZE.value,
        bidirectional=False,
    )
    tsm_tf.load_torch_checkpoint(model, checkpoint)
    normalized = reference.normalize_frames(frames)
    reference_streams = [TorchStream(net, normalized, layout) for layout in LAYOUTS]
    expected = np.stack([reference_streams[0]() for _ in frames])
    layouts_differ = relative_difference(
        np.stack([reference_streams[1]() for _ in frames]), expected
    )
    rows = []
    for precision in ("float32", "int8"):
        path = os.path.join(_OUTPUT_DIR.value, f"tsm_streaming_{precision}.tflite")
        tsm_tf.export_tflite(model, path, precision=precision, representative_data=frames)
        stream = LiteStream(path, frames)
        actual = np.stack([stream() for _ in frames])
        if precision == "float32":
            agreement = f"{max(relative_difference(actual, expected), layouts_differ):.1e}"
        else:
            same = np.mean(np.argmax(actual, -1) == np.argmax(expected, -1))
            agreement = f"top-1 {same:.0%} of {len(frames)} frames"
        runners = [stream, *reference_streams]
        for runner in runners:
            runner.reset()
            for _ in range(3):
                runner()  # warm up
        times = alternating_medians(runners, _NUM_FRAMES.value)
        rows.append(
            (f"streaming step, {precision}", [seconds * 1e3 for seconds in times], agreement)
        )
    return rows


def main(argv):
    del argv
    threads = _THREADS.value
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(threads)
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    os.makedirs(_OUTPUT_DIR.value, exist_ok=True)
    rng = np.random.default_rng(0)
    size = _IMAGE_SIZE.value
    clip = rng.uniform(0, 255, (1, _NUM_SEGMENTS.value, size, size, 3)).astype("float32")

    rows = []
    for backbone in _BACKBONES.value:
        times, difference = clip_row(backbone, clip)
        rows.append((f"clip forward, {backbone}", times, f"{difference:.1e}"))
    rows += streaming_rows(clip[0])

    print(
        f"{_NUM_SEGMENTS.value} frames at {size}px, batch 1, {threads} threads each "
        f"(torch {torch.__version__}, TensorFlow {tf.__version__}), medians of {_REPEATS.value} "
        f"clip forwards and {_NUM_FRAMES.value} streamed frames, taken alternately. PyTorch "
        + "; ".join(f"{layout}: {DESCRIPTIONS[layout]}" for layout in LAYOUTS)
    )
    header = (
        "case",
        "tsm_tf ms",
        *(f"PyTorch {layout} ms" for layout in LAYOUTS),
        *(f"tsm_tf / PyTorch {layout}" for layout in LAYOUTS),
        "same function (max abs difference / max abs logit, all three)",
    )
    print_table_header(header)
    for case, (tf_ms, *torch_ms), agreement in rows:
        cells = [f"{tf_ms:.2f}", *(f"{ms:.2f}" for ms in torch_ms)]
        cells += [f"{tf_ms / ms:.2f}" for ms in torch_ms]
        print(f"| {case} | " + " | ".join(cells) + f" | {agreement} |")


if __name__ == "__main__":
    app.run(main)
