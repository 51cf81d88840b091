"""TSM vs TSN training step time, and training clips per second, in one run.

Usage:
    python benchmarks/benchmark_training.py [--image_size=224] [--batch_size=4] [--repeats=3]

For each backbone, the TSM and the TSN (the same network with the shift off)
take alternate training steps on the same random clips (SGD with momentum,
the paper's optimizer), after a warm-up step that traces the graph. The
median step times give the TSM/TSN ratio; noise on a shared machine hits
both alike.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
from absl import app
from absl import flags
from alternating import alternating_training_steps

import tsm_tf

_BACKBONES = flags.DEFINE_list("backbones", ["mobilenet_v2", "resnet50"], "Backbones.")
_NUM_SEGMENTS = flags.DEFINE_integer("num_segments", 8, "Frames per clip.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 224, "Frame size.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 4, "Clips per step.")
_NUM_CLASSES = flags.DEFINE_integer("num_classes", 400, "Classes.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed steps per model.")


def compiled(model):
    model.compile(
        keras.optimizers.SGD(0.01, momentum=0.9),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def main(argv):
    del argv
    rng = np.random.default_rng(0)
    shape = (_BATCH_SIZE.value, _NUM_SEGMENTS.value, _IMAGE_SIZE.value, _IMAGE_SIZE.value, 3)
    clips = rng.uniform(0, 255, shape).astype("float32")
    labels = rng.integers(0, _NUM_CLASSES.value, _BATCH_SIZE.value)
    print(
        f"{_NUM_SEGMENTS.value} frames at {_IMAGE_SIZE.value}px, batch {_BATCH_SIZE.value}, "
        f"{os.cpu_count()} CPU cores, median of {_REPEATS.value} training steps"
    )
    print("| backbone | TSM step (s) | TSN step (s) | TSM/TSN | TSM clips/s | TSN clips/s |")
    print("|---|---|---|---|---|---|")
    for backbone in _BACKBONES.value:
        kwargs = dict(num_segments=_NUM_SEGMENTS.value, image_size=_IMAGE_SIZE.value)
        models = [
            compiled(tsm_tf.build_tsm(backbone, _NUM_CLASSES.value, **kwargs)),
            compiled(tsm_tf.build_tsm(backbone, _NUM_CLASSES.value, shift_div=0, **kwargs)),
        ]
        tsm_time, tsn_time = alternating_training_steps(models, clips, labels, _REPEATS.value)
        batch = _BATCH_SIZE.value
        print(
            f"| {backbone} | {tsm_time:.3f} | {tsn_time:.3f} | {tsm_time / tsn_time:.3f} | "
            f"{batch / tsm_time:.2f} | {batch / tsn_time:.2f} |"
        )


if __name__ == "__main__":
    app.run(main)
