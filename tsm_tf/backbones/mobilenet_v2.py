"""MobileNetV2 as torchvision builds it, with TSM's residual shift hook."""

import keras

from tsm_tf.layers.fused_batch_normalization import FusedBatchNormalization
from tsm_tf.layers.pytorch_style import apply_batch_norm
from tsm_tf.layers.pytorch_style import apply_conv

# (expansion ratio t, output channels c, repeats n, first stride s)
INVERTED_RESIDUAL_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
STEM_CHANNELS = 32
LAST_CHANNELS = 1280


def make_divisible(value, divisor=8):
    """torchvision's `_make_divisible`: round to a multiple of 8, never -10%."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def _block_plan(width_multiplier):
    """(feature index, in channels, out channels, stride, expansion) per block."""
    plan = []
    in_channels = make_divisible(STEM_CHANNELS * width_multiplier)
    index = 1
    for expansion, channels, repeats, first_stride in INVERTED_RESIDUAL_SETTING:
        out_channels = make_divisible(channels * width_multiplier)
        for repeat in range(repeats):
            stride = first_stride if repeat == 0 else 1
            plan.append((index, in_channels, out_channels, stride, expansion))
            in_channels = out_channels
            index += 1
    return plan


def mobilenet_v2_shift_blocks(width_multiplier=1.0):
    """Names of the blocks TSM shifts: those with an identity shortcut (10)."""
    return [
        f"features_{index}"
        for index, in_channels, out_channels, stride, _ in _block_plan(width_multiplier)
        if stride == 1 and in_channels == out_channels
    ]


def apply_conv_bn_relu6(x, filters, kernel_size, stride, name, batch_norm_class, groups=1):
    """torchvision's `Conv2dNormActivation`: conv `{name}_0`, BN `{name}_1`, ReLU6."""
    x = apply_conv(x, filters, kernel_size, stride, f"{name}_0", groups=groups)
    x = apply_batch_norm(x, f"{name}_1", batch_norm_class)
    return keras.layers.ReLU(6.0, name=f"{name}_2")(x)


def apply_inverted_residual(x, out_channels, stride, expansion, shift, name, batch_norm_class):
    """An `InvertedResidual`; the shift sits before the expansion conv."""
    in_channels = x.shape[-1]
    hidden = int(round(in_channels * expansion))
    use_residual = stride == 1 and in_channels == out_channels
    branch = shift(x, name) if use_residual else x
    layer = 0
    if expansion != 1:
        branch = apply_conv_bn_relu6(branch, hidden, 1, 1, f"{name}_conv_0", batch_norm_class)
        layer = 1
    branch = apply_conv_bn_relu6(
        branch, hidden, 3, stride, f"{name}_conv_{layer}", batch_norm_class, groups=hidden
    )
    branch = apply_conv(branch, out_channels, 1, 1, f"{name}_conv_{layer + 1}")
    branch = apply_batch_norm(branch, f"{name}_conv_{layer + 2}", batch_norm_class)
    if not use_residual:
        return branch
    return keras.layers.Add(name=f"{name}_add")([x, branch])


def apply_mobilenet_v2(
    frames, shift, width_multiplier=1.0, batch_norm_class=FusedBatchNormalization
):
    """Adds MobileNetV2 to a functional graph; returns the last feature map.

    Args:
        frames: normalized frames `(batch * num_segments, H, W, 3)`.
        shift: `shift(x, name) -> x`, applied to the input of the residual
            branch of every block that has an identity shortcut.
        width_multiplier: torchvision's `width_mult`.
        batch_norm_class: the normalization layer of every block.
    """
    stem = make_divisible(STEM_CHANNELS * width_multiplier)
    x = apply_conv_bn_relu6(frames, stem, 3, 2, "features_0", batch_norm_class)
    for index, _, out_channels, stride, expansion in _block_plan(width_multiplier):
        x = apply_inverted_residual(
            x, out_channels, stride, expansion, shift, f"features_{index}", batch_norm_class
        )
    last = make_divisible(LAST_CHANNELS * max(1.0, width_multiplier))
    last_index = len(_block_plan(width_multiplier)) + 1
    return apply_conv_bn_relu6(x, last, 1, 1, f"features_{last_index}", batch_norm_class)
