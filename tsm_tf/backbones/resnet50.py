"""ResNet50 as torchvision builds it (v1.5), with TSM's residual shift hook."""

import keras

from tsm_tf.layers.fused_batch_normalization import FusedBatchNormalization
from tsm_tf.layers.pytorch_style import apply_batch_norm
from tsm_tf.layers.pytorch_style import apply_conv

# (name, bottleneck width, number of blocks, stride of the first block)
STAGES = (
    ("layer1", 64, 3, 1),
    ("layer2", 128, 4, 2),
    ("layer3", 256, 6, 2),
    ("layer4", 512, 3, 2),
)
EXPANSION = 4


def scaled_width(channels, width_multiplier):
    """Channel count scaled by `width_multiplier`, a multiple of 8, at least 8."""
    return max(8, int(round(channels * width_multiplier / 8)) * 8)


def resnet50_shift_blocks():
    """Names of the blocks TSM shifts: every bottleneck (16)."""
    return [
        f"{stage}_{index}"
        for stage, _, num_blocks, _ in STAGES
        for index in range(num_blocks)
    ]


def apply_bottleneck(x, width, stride, shift, name, batch_norm_class):
    """A torchvision `Bottleneck` (stride in the 3x3 conv), shift on the branch."""
    out_channels = width * EXPANSION
    shortcut = x
    if stride != 1 or x.shape[-1] != out_channels:
        shortcut = apply_conv(x, out_channels, 1, stride, f"{name}_downsample_0")
        shortcut = apply_batch_norm(shortcut, f"{name}_downsample_1", batch_norm_class)
    branch = shift(x, name)
    branch = apply_conv(branch, width, 1, 1, f"{name}_conv1")
    branch = apply_batch_norm(branch, f"{name}_bn1", batch_norm_class)
    branch = keras.layers.ReLU(name=f"{name}_relu1")(branch)
    branch = apply_conv(branch, width, 3, stride, f"{name}_conv2")
    branch = apply_batch_norm(branch, f"{name}_bn2", batch_norm_class)
    branch = keras.layers.ReLU(name=f"{name}_relu2")(branch)
    branch = apply_conv(branch, out_channels, 1, 1, f"{name}_conv3")
    branch = apply_batch_norm(branch, f"{name}_bn3", batch_norm_class)
    x = keras.layers.Add(name=f"{name}_add")([shortcut, branch])
    return keras.layers.ReLU(name=f"{name}_out")(x)


def apply_resnet50(frames, shift, width_multiplier=1.0, batch_norm_class=FusedBatchNormalization):
    """Adds ResNet50 to a functional graph; returns the `layer4` feature map.

    Args:
        frames: normalized frames `(batch * num_segments, H, W, 3)`.
        shift: `shift(x, name) -> x`, applied to the input of every
            bottleneck's residual branch (before `conv1`).
        width_multiplier: scales every channel count (1.0 is torchvision's).
        batch_norm_class: the normalization layer of every block.
    """
    x = apply_conv(frames, scaled_width(64, width_multiplier), 7, 2, "conv1")
    x = apply_batch_norm(x, "bn1", batch_norm_class)
    x = keras.layers.ReLU(name="relu")(x)
    # PyTorch pads max pooling with -inf; after a ReLU zeros are equivalent.
    x = keras.layers.ZeroPadding2D(1, name="maxpool_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="maxpool")(x)
    for stage, width, num_blocks, first_stride in STAGES:
        for index in range(num_blocks):
            x = apply_bottleneck(
                x,
                scaled_width(width, width_multiplier),
                first_stride if index == 0 else 1,
                shift,
                f"{stage}_{index}",
                batch_norm_class,
            )
    return x
