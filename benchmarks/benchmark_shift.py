"""What the temporal shifts of a TSM cost, layer by layer, against a plain copy.

Usage:
    python benchmarks/benchmark_shift.py [--backbones=mobilenet_v2,resnet50] [--repeats=20]

For every `TemporalShift` in the model (at its input shape, for one clip of
`num_segments` frames), four things are timed alternately in one process:
the shift's forward pass, a plain copy of the same tensor (the least that any
formulation must write), the forward and backward pass with the layer's own
gradient (the opposite shift), and the forward and backward pass when
TensorFlow differentiates the ops of a shift instead (`split_shift`, the
layer's formulation before it had its own gradient: of those tried, the one
whose automatic gradient was cheapest).
The totals over all shifts compare with a clip's forward pass in
`benchmark_backbones.py`.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from absl import app
from absl import flags
from alternating import alternating_medians
from alternating import print_table_header

import tsm_tf
from tsm_tf.layers.temporal_shift import TemporalShift

_BACKBONES = flags.DEFINE_list("backbones", ["mobilenet_v2", "resnet50"], "Backbones.")
_NUM_SEGMENTS = flags.DEFINE_integer("num_segments", 8, "Frames per clip.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 224, "Frame size.")
_REPEATS = flags.DEFINE_integer("repeats", 20, "Timed runs of each variant per shape.")


def shift_layers(backbone):
    """The model's `TemporalShift` layers with their input shapes for one clip."""
    model = tsm_tf.build_tsm(
        backbone, 10, num_segments=_NUM_SEGMENTS.value, image_size=_IMAGE_SIZE.value
    )
    layers = [layer for layer in model._flatten_layers() if isinstance(layer, TemporalShift)]
    return [(layer, (_NUM_SEGMENTS.value, *layer.input.shape[1:])) for layer in layers]


def split_shift(frames, layer):
    """The bidirectional shift as split, pad and concatenate, differentiated by TensorFlow."""
    _, height, width, channels = frames.shape
    fold = channels // layer.shift_div
    clips = tf.reshape(frames, (-1, layer.num_segments, height, width, channels))
    # Splitting first makes the gradient a concatenation rather than full-size pads per slice.
    to_future, to_past, rest = tf.split(clips, [fold, fold, channels - 2 * fold], axis=-1)
    no_padding = [0, 0]
    from_future = tf.pad(to_future[:, 1:], [no_padding, [0, 1], no_padding, no_padding, no_padding])
    from_past = tf.pad(to_past[:, :-1], [no_padding, [1, 0], no_padding, no_padding, no_padding])
    return tf.reshape(tf.concat([from_future, from_past, rest], axis=-1), tf.shape(frames))


def gradient_of(shift):
    """A compiled `x -> d sum(shift(x) * x) / dx`."""

    @tf.function
    def gradient(frames):
        with tf.GradientTape() as tape:
            tape.watch(frames)
            loss = tf.reduce_sum(shift(frames) * frames)
        return tape.gradient(loss, frames)

    return gradient


def time_layer(layer, shape, repeats):
    """Median milliseconds of: shift, copy, shift with its gradient, shift differentiated by TensorFlow."""
    frames = tf.random.normal(shape)
    variants = [
        tf.function(layer),
        tf.function(lambda x: tf.raw_ops.DeepCopy(x=x)),
        gradient_of(layer),
        gradient_of(lambda x: split_shift(x, layer)),
    ]
    np.testing.assert_array_equal(variants[0](frames), split_shift(frames, layer))
    np.testing.assert_array_equal(variants[2](frames), variants[3](frames))
    for variant in variants:
        variant(frames)  # trace and warm up
    medians = alternating_medians(
        [lambda variant=variant: variant(frames).numpy() for variant in variants], repeats
    )
    return [median * 1e3 for median in medians]


def main(argv):
    del argv
    print(
        f"One clip of {_NUM_SEGMENTS.value} frames at {_IMAGE_SIZE.value}px, "
        f"{os.cpu_count()} CPU cores, median of {_REPEATS.value} runs, milliseconds"
    )
    header = (
        "backbone",
        "shift input",
        "shift",
        "copy",
        "fwd+bwd (own gradient)",
        "fwd+bwd (autodiff)",
    )
    print_table_header(header)
    for backbone in _BACKBONES.value:
        totals = np.zeros(4)
        for layer, shape in shift_layers(backbone):
            times = time_layer(layer, shape, _REPEATS.value)
            totals += times
            cells = (backbone, "x".join(map(str, shape)), *(f"{value:.2f}" for value in times))
            print("| " + " | ".join(cells) + " |", flush=True)
        cells = (backbone, "all shifts", *(f"**{value:.1f}**" for value in totals))
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    app.run(main)
