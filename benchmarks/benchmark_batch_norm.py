"""Training step time with Keras's batch norm vs tsm_tf's fused one, in one run.

Usage:
    python benchmarks/benchmark_batch_norm.py [--backbones=mobilenet_v2] \
        [--width_multiplier=0.35] [--image_size=32] [--batch_size=16] [--threads=1]

The defaults are the demo's model and batch (MobileNetV2 x0.35, 8 frames of
32 px, 16 clips, AdamW). For each backbone the same TSM is built twice, once
with `keras.layers.BatchNormalization` in place of
`tsm_tf.FusedBatchNormalization`; the two take alternate training steps on
the same random clips, after warm-up steps that trace the graphs. The ratio
of the median step times is the speed-up (noise on a shared machine hits
both alike).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app
from absl import flags
from alternating import alternating_training_steps

_BACKBONES = flags.DEFINE_list("backbones", ["mobilenet_v2", "resnet50"], "Backbones.")
_WIDTH = flags.DEFINE_float("width_multiplier", 0.35, "Backbone width multiplier.")
_NUM_SEGMENTS = flags.DEFINE_integer("num_segments", 8, "Frames per clip.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 32, "Frame size.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 16, "Clips per step.")
_THREADS = flags.DEFINE_integer("threads", 0, "TensorFlow threads (0: all cores).")
_REPEATS = flags.DEFINE_integer("repeats", 20, "Timed steps per model.")


def build(backbone, batch_norm_class):
    """The TSM of the benchmark, with `batch_norm_class` in every backbone block."""
    import keras

    from tsm_tf.models.tsm_classifier import clip_graph
    from tsm_tf.models.tsm_config import TSMConfig

    config = TSMConfig(
        backbone,
        9,
        num_segments=_NUM_SEGMENTS.value,
        image_size=_IMAGE_SIZE.value,
        shift_div=4,
        bidirectional=False,
        width_multiplier=_WIDTH.value,
        dropout=0.0,
    )
    keras.utils.set_random_seed(0)
    model = keras.Model(*clip_graph(config, batch_norm_class))
    model.compile(
        keras.optimizers.AdamW(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model


def main(argv):
    del argv
    import keras
    import numpy as np
    import tensorflow as tf

    import tsm_tf

    if _THREADS.value:
        tf.config.threading.set_intra_op_parallelism_threads(_THREADS.value)
        tf.config.threading.set_inter_op_parallelism_threads(_THREADS.value)
    rng = np.random.default_rng(0)
    size = _IMAGE_SIZE.value
    clips = rng.uniform(0, 255, (_BATCH_SIZE.value, _NUM_SEGMENTS.value, size, size, 3)).astype(
        "float32"
    )
    labels = rng.integers(0, 9, _BATCH_SIZE.value)
    print(
        f"{_NUM_SEGMENTS.value} frames at {size}px, width {_WIDTH.value:g}, batch {_BATCH_SIZE.value}, "
        f"threads {_THREADS.value or os.cpu_count()}, median of {_REPEATS.value} training steps"
    )
    print("| backbone | Keras BN step (ms) | fused BN step (ms) | Keras/fused |")
    print("|---|---|---|---|")
    for backbone in _BACKBONES.value:
        models = [
            build(backbone, keras.layers.BatchNormalization),
            build(backbone, tsm_tf.FusedBatchNormalization),
        ]
        keras_time, fused_time = (
            seconds * 1000
            for seconds in alternating_training_steps(
                models, clips, labels, _REPEATS.value, warmup_steps=3
            )
        )
        print(
            f"| {backbone} | {keras_time:.1f} | {fused_time:.1f} | {keras_time / fused_time:.2f} |"
        )


if __name__ == "__main__":
    app.run(main)
