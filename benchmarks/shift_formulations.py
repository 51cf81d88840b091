"""Ways to write the bidirectional temporal shift in TensorFlow, timed side by side.

Usage:
    python benchmarks/shift_formulations.py [--backbones=mobilenet_v2,resnet50] [--repeats=20]

(The flags are benchmark_shift.py's.)

Each formulation is checked equal to `tsm_tf.TemporalShift` (forward and
gradient), then every shift of the model, at its input shape for one clip, is
timed alternately: the forward pass alone, and the forward and backward pass.
The table gives each formulation's total over the model's shifts relative to
the first (split, pad, concatenate, differentiated by TensorFlow), which
docs/benchmarks.md lists with the reasons the faster ones were not taken.
"""

import os
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from absl import app
from absl import flags
from alternating import alternating_medians
from benchmark_shift import gradient_of
from benchmark_shift import shift_layers
from benchmark_shift import split_shift


def layer_shift(frames, layer):
    """The layer itself: direct slices, pads, one concatenation, its own gradient."""
    return layer(frames)


def xla_cluster(frames, layer):
    """The split formulation compiled as one XLA cluster inside the graph."""
    return _compiled_split(frames, layer.num_segments, layer.shift_div)


@tf.function(jit_compile=True)
def _compiled_split(frames, num_segments, shift_div):
    return split_shift(
        frames, types.SimpleNamespace(num_segments=num_segments, shift_div=shift_div)
    )


def gathered_groups(frames, layer):
    """One gather of channel groups (`fold` channels each) from a flattened tensor plus a zero row."""
    total, height, width, channels = frames.shape
    fold = channels // layer.shift_div
    groups = channels // fold
    rows = tf.reshape(frames[..., : groups * fold], (-1, fold))
    rows = tf.concat([rows, tf.zeros((1, fold), frames.dtype)], axis=0)
    zero_row = total * height * width * groups
    index = tf.reshape(tf.range(zero_row), (total, height * width, groups))
    frame = (tf.range(total) % layer.num_segments)[:, None, None]
    group = tf.range(groups)[None, None, :]
    step = height * width * groups
    from_future = tf.where(frame < layer.num_segments - 1, index + step, zero_row)
    from_past = tf.where(frame > 0, index - step, zero_row)
    index = tf.where(group == 0, from_future, tf.where(group == 1, from_past, index))
    shifted = tf.reshape(tf.gather(rows, tf.reshape(index, [-1])), (*frames.shape[:3], -1))
    return tf.concat([shifted, frames[..., groups * fold :]], axis=-1)


def strided_slice_update(frames, layer):
    """The two shifted parts written into the input with `TensorStridedSliceUpdate`."""
    _, height, width, channels = frames.shape
    fold = channels // layer.shift_div
    clips = tf.reshape(frames, (-1, layer.num_segments, height, width, channels))
    no_padding = [0, 0]
    shifted = tf.concat(
        [
            tf.pad(clips[:, 1:, ..., :fold], [no_padding, [0, 1], *[no_padding] * 3]),
            tf.pad(clips[:, :-1, ..., fold : 2 * fold], [no_padding, [1, 0], *[no_padding] * 3]),
        ],
        axis=-1,
    )
    updated = tf.raw_ops.TensorStridedSliceUpdate(
        input=clips,
        begin=[0, 0, 0, 0, 0],
        end=[0, 0, 0, 0, 2 * fold],
        strides=[1, 1, 1, 1, 1],
        value=shifted,
        begin_mask=15,
        end_mask=15,
    )
    return tf.reshape(updated, tf.shape(frames))


def depthwise_along_time(frames, layer):
    """A depthwise convolution over (time, pixels) with one-hot kernels (adds multiply-adds)."""
    _, height, width, channels = frames.shape
    fold = channels // layer.shift_div
    image = tf.reshape(frames, (-1, layer.num_segments, height * width, channels))
    kernel = np.zeros((3, 1, channels, 1), "float32")
    kernel[2, 0, :fold] = 1.0  # from the next frame
    kernel[0, 0, fold : 2 * fold] = 1.0  # from the previous frame
    kernel[1, 0, 2 * fold :] = 1.0
    shifted = tf.nn.depthwise_conv2d(image, tf.constant(kernel), [1, 1, 1, 1], "SAME")
    return tf.reshape(shifted, tf.shape(frames))


FORMULATIONS = {
    "split, pad, concatenate (TensorFlow's gradient)": split_shift,
    "TemporalShift (direct slices, own gradient)": layer_shift,
    "split as one XLA cluster": xla_cluster,
    "gather of channel groups": gathered_groups,
    "TensorStridedSliceUpdate": strided_slice_update,
    "depthwise convolution along time": depthwise_along_time,
}


def main(argv):
    del argv
    for backbone in flags.FLAGS.backbones:
        totals = np.zeros((2, len(FORMULATIONS)))
        for layer, shape in shift_layers(backbone):
            frames = tf.random.normal(shape)
            expected_forward = layer(frames)
            expected_gradient = gradient_of(layer)(frames)
            forwards, gradients = [], []
            for formulation in FORMULATIONS.values():
                forward = tf.function(lambda x, f=formulation, layer=layer: f(x, layer))
                gradient = gradient_of(lambda x, f=formulation, layer=layer: f(x, layer))
                np.testing.assert_array_equal(forward(frames), expected_forward)
                np.testing.assert_array_equal(gradient(frames), expected_gradient)
                forwards.append(lambda forward=forward, x=frames: forward(x).numpy())
                gradients.append(lambda gradient=gradient, x=frames: gradient(x).numpy())
            totals[0] += alternating_medians(forwards, flags.FLAGS.repeats)
            totals[1] += alternating_medians(gradients, flags.FLAGS.repeats)
        print(f"{backbone}: all shifts of one clip, median of {flags.FLAGS.repeats} runs each")
        print("| formulation | forward ms | vs first | forward + backward ms | vs first |")
        print("|---|---|---|---|---|")
        for index, name in enumerate(FORMULATIONS):
            forward, both = totals[0, index], totals[1, index]
            print(
                f"| {name} | {forward * 1e3:.1f} | {forward / totals[0, 0]:.2f} | "
                f"{both * 1e3:.1f} | {both / totals[1, 0]:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    app.run(main)
