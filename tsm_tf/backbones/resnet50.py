"""ResNet50 and ResNet101 as torchvision builds them (v1.5), with TSM's residual shift hook."""

import keras

from tsm_tf.layers.fused_batch_normalization import FusedBatchNormalization
from tsm_tf.layers.pytorch_style import apply_batch_norm
from tsm_tf.layers.pytorch_style import apply_conv

# (name, bottleneck width, stride of the first block) per stage.
STAGES = (
    ("layer1", 64, 1),
    ("layer2", 128, 2),
    ("layer3", 256, 2),
    ("layer4", 512, 2),
)
# Blocks per stage, torchvision's `resnet50` and `resnet101`.
STAGE_BLOCKS = {
    "resnet50": (3, 4, 6, 3),
    "resnet101": (3, 4, 23, 3),
}
EXPANSION = 4
# The authors' make_temporal_shift (ops/temporal_shift.py, place "blockres")
# shifts only every other block (index % 2 == 0, in every stage) once the
# third stage has 23 or more blocks, to keep deep networks' features intact.
SPARSE_SHIFT_MIN_BLOCKS = 23


def scaled_width(channels, width_multiplier):
    """Channel count scaled by `width_multiplier`, a multiple of 8, at least 8."""
    return max(8, int(round(channels * width_multiplier / 8)) * 8)


def shift_every(depth):
    """The authors' `n_round`: shift blocks whose index is a multiple of this."""
    return 2 if STAGE_BLOCKS[depth][2] >= SPARSE_SHIFT_MIN_BLOCKS else 1


def resnet_shift_blocks(depth):
    """Names of the blocks TSM shifts: every bottleneck of ResNet50 (16), every
    other one (even indices) of ResNet101 (18 of 33)."""
    every = shift_every(depth)
    return [
        f"{stage}_{index}"
        for (stage, _, _), num_blocks in zip(STAGES, STAGE_BLOCKS[depth])
        for index in range(num_blocks)
        if index % every == 0
    ]


def resnet50_shift_blocks():
    """Names of the blocks TSM shifts in ResNet50: every bottleneck (16)."""
    return resnet_shift_blocks("resnet50")


def resnet101_shift_blocks():
    """Names of the blocks TSM shifts in ResNet101: even block indices (18)."""
    return resnet_shift_blocks("resnet101")


def apply_bottleneck(x, width, stride, shift, name, batch_norm_class):
    """A torchvision `Bottleneck` (stride in the 3x3 conv), shift on the branch.

    `shift` is None for a block the placement rule leaves unshifted.
    """
    out_channels = width * EXPANSION
    shortcut = x
    if stride != 1 or x.shape[-1] != out_channels:
        shortcut = apply_conv(x, out_channels, 1, stride, f"{name}_downsample_0")
        shortcut = apply_batch_norm(shortcut, f"{name}_downsample_1", batch_norm_class)
    branch = x if shift is None else shift(x, name)
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


def apply_resnet(
    frames,
    shift,
    width_multiplier=1.0,
    depth="resnet50",
    batch_norm_class=FusedBatchNormalization,
):
    """Adds a torchvision ResNet to a functional graph; returns the `layer4` feature map.

    Args:
        frames: normalized frames `(batch * num_segments, H, W, 3)`.
        shift: `shift(x, name) -> x`, applied to the input of the residual
            branch (before `conv1`) of every bottleneck the authors' placement
            rule shifts (see `resnet_shift_blocks`).
        width_multiplier: scales every channel count (1.0 is torchvision's).
        depth: `"resnet50"` or `"resnet101"`.
        batch_norm_class: the normalization layer of every block.
    """
    every = shift_every(depth)
    x = apply_conv(frames, scaled_width(64, width_multiplier), 7, 2, "conv1")
    x = apply_batch_norm(x, "bn1", batch_norm_class)
    x = keras.layers.ReLU(name="relu")(x)
    # PyTorch pads max pooling with -inf; after a ReLU zeros are equivalent.
    x = keras.layers.ZeroPadding2D(1, name="maxpool_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="maxpool")(x)
    for (stage, width, first_stride), num_blocks in zip(STAGES, STAGE_BLOCKS[depth]):
        for index in range(num_blocks):
            x = apply_bottleneck(
                x,
                scaled_width(width, width_multiplier),
                first_stride if index == 0 else 1,
                shift if index % every == 0 else None,
                f"{stage}_{index}",
                batch_norm_class,
            )
    return x


def apply_resnet50(frames, shift, width_multiplier=1.0, batch_norm_class=FusedBatchNormalization):
    """Adds ResNet50 to a functional graph (see `apply_resnet`)."""
    return apply_resnet(frames, shift, width_multiplier, "resnet50", batch_norm_class)


def apply_resnet101(frames, shift, width_multiplier=1.0, batch_norm_class=FusedBatchNormalization):
    """Adds ResNet101 to a functional graph (see `apply_resnet`); shifts every other block."""
    return apply_resnet(frames, shift, width_multiplier, "resnet101", batch_norm_class)
