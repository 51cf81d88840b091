"""Convolution and batch-norm helpers that reproduce PyTorch's padding and defaults."""

import keras

from tsm_tf.layers.fused_batch_normalization import FusedBatchNormalization

# PyTorch's BatchNorm2d: eps 1e-5, running stats updated with momentum 0.1
# (Keras counts the other way: 0.9 keeps 90% of the old statistic).
BATCH_NORM_EPSILON = 1e-5
BATCH_NORM_MOMENTUM = 0.9


def kaiming_normal_fan_out():
    """torchvision's convolution init (`kaiming_normal_(mode="fan_out")`).

    Keras' default Glorot init lets activations fade through 50 layers of
    inference-mode batch norm; He init keeps them at scale, as in PyTorch.
    """
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_out", distribution="untruncated_normal"
    )


def apply_conv(x, filters, kernel_size, stride, name, groups=1, use_bias=False):
    """A bias-free convolution padded symmetrically, as `nn.Conv2d(padding=k//2)`.

    TensorFlow's "same" padding puts the extra row on the bottom/right for
    stride 2, PyTorch pads both sides equally; explicit zero padding keeps the
    two frameworks equal number for number.
    """
    padding = kernel_size // 2
    if padding:
        x = keras.layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
    if groups == 1:
        return keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=stride,
            padding="valid",
            use_bias=use_bias,
            kernel_initializer=kaiming_normal_fan_out(),
            name=name,
        )(x)
    if groups != filters or groups != x.shape[-1]:
        raise ValueError(
            "Only plain (groups=1) and depthwise (groups=channels) convolutions "
            f"are supported. Received: groups={groups}, filters={filters}, "
            f"input channels={x.shape[-1]}"
        )
    return keras.layers.DepthwiseConv2D(
        kernel_size,
        strides=stride,
        padding="valid",
        use_bias=use_bias,
        depthwise_initializer=kaiming_normal_fan_out(),
        name=name,
    )(x)


def apply_batch_norm(x, name, batch_norm_class=FusedBatchNormalization):
    """`nn.BatchNorm2d` with PyTorch's epsilon and momentum (fused when training).

    `batch_norm_class` is any `keras.layers.BatchNormalization` (sub)class.
    """
    return batch_norm_class(epsilon=BATCH_NORM_EPSILON, momentum=BATCH_NORM_MOMENTUM, name=name)(x)
