"""TSM vs TSN: forward time, parameters and FLOPs, measured in one run.

Usage:
    python benchmarks/benchmark_backbones.py [--batch_sizes=1,8] [--repeats=5]

Both models of a pair are timed alternately in the same process (median of
`repeats` runs each, after a warm-up), so machine noise hits both alike and
the ratio is meaningful even where absolute times are not.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf
from absl import app
from absl import flags
from alternating import alternating_medians
from alternating import print_table_header

import tsm_tf
from tsm_tf.utils.parameters import count_trainable_parameters

_BACKBONES = flags.DEFINE_list("backbones", ["mobilenet_v2", "resnet50"], "Backbones to compare.")
_BATCH_SIZES = flags.DEFINE_list("batch_sizes", ["1", "8"], "Clip batch sizes.")
_NUM_SEGMENTS = flags.DEFINE_integer("num_segments", 8, "Frames per clip.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 224, "Frame size.")
_NUM_CLASSES = flags.DEFINE_integer("num_classes", 400, "Classes (Kinetics-400).")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed runs per model and batch size.")


def time_pair(models, clips, repeats):
    """Median seconds per forward pass of each model, timed alternately."""
    forwards = [tf.function(lambda x, m=model: m(x, training=False)) for model in models]
    for forward in forwards:
        forward(clips)  # trace and warm up
    return alternating_medians(
        [lambda forward=forward: forward(clips).numpy() for forward in forwards], repeats
    )


def main(argv):
    del argv
    rows = []
    for backbone in _BACKBONES.value:
        kwargs = dict(num_segments=_NUM_SEGMENTS.value, image_size=_IMAGE_SIZE.value)
        tsm = tsm_tf.build_tsm(backbone, _NUM_CLASSES.value, **kwargs)
        tsn = tsm_tf.build_tsm(backbone, _NUM_CLASSES.value, shift_div=0, **kwargs)
        for batch_size in map(int, _BATCH_SIZES.value):
            clips = tf.random.uniform(
                (batch_size, _NUM_SEGMENTS.value, _IMAGE_SIZE.value, _IMAGE_SIZE.value, 3), 0, 255
            )
            tsm_time, tsn_time = time_pair([tsm, tsn], clips, _REPEATS.value)
            rows.append(
                (
                    backbone,
                    batch_size,
                    f"{count_trainable_parameters(tsm) / 1e6:.2f}M / {count_trainable_parameters(tsn) / 1e6:.2f}M",
                    f"{tsm_tf.count_flops(tsm) / 1e9:.2f}G / {tsm_tf.count_flops(tsn) / 1e9:.2f}G",
                    f"{tsm_time * 1e3:.0f}",
                    f"{tsn_time * 1e3:.0f}",
                    f"{tsm_time / tsn_time:.3f}",
                )
            )
    header = (
        "backbone",
        "batch",
        "params TSM / TSN",
        "FLOPs/clip TSM / TSN",
        "TSM ms",
        "TSN ms",
        "TSM/TSN",
    )
    print(
        f"{_NUM_SEGMENTS.value} frames at {_IMAGE_SIZE.value}px, {_NUM_CLASSES.value} classes, "
        f"{os.cpu_count()} CPU cores, median of {_REPEATS.value} forward passes"
    )
    print_table_header(header)
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


if __name__ == "__main__":
    app.run(main)
