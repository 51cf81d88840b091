"""Counting multiply-adds and parameters, to check the paper's table."""

import math

import keras


def _layer_multiply_adds(layer):
    """Multiply-adds of one layer for one frame (batch axis excluded)."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        _, height, width, channels = layer.output.shape
        kernel_height, kernel_width = layer.kernel_size
        return height * width * channels * kernel_height * kernel_width
    if isinstance(layer, keras.layers.Conv2D):
        _, height, width, filters = layer.output.shape
        kernel_height, kernel_width = layer.kernel_size
        in_channels = layer.input.shape[-1] // layer.groups
        return height * width * filters * kernel_height * kernel_width * in_channels
    if isinstance(layer, keras.layers.Dense):
        positions = math.prod(layer.output.shape[1:-1])
        return positions * layer.input.shape[-1] * layer.units
    return 0


def count_flops(model: keras.Model) -> int:
    """Multiply-adds of one forward pass of one clip (or one frame, for a frame model).

    Counts convolutions (plain and depthwise) and dense layers, the layers
    that carry the cost; batch norm, activations, pooling and the shift itself
    (which only moves memory) are not counted, as in the paper. For a clip
    model, the per-frame count is multiplied by `num_segments`.

    Example: TSM-ResNet50 with 8 frames at 224 and 400 classes counts about
    33e9, exactly as the TSN baseline.
    """
    total = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        total += _layer_multiply_adds(layer)
    input_shape = model.inputs[0].shape
    if len(input_shape) == 5:
        total *= input_shape[1]
    return int(total)
