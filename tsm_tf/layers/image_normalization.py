"""In-model normalization of RGB frames in [0, 255]."""

import keras
from keras import ops

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@keras.saving.register_keras_serializable(package="tsm_tf")
class ImageNormalization(keras.layers.Layer):
    """Maps RGB values in [0, 255] to `(value / 255 - mean) / std`.

    Normalization lives inside the model so that no client (the tf.data
    pipeline, the TFLite app) can get the value range or channel order wrong:
    every caller feeds plain RGB pixels. Integer inputs (uint8) are cast to
    the layer's compute dtype first.

    Args:
        mean: per-channel mean of the [0, 1] image, RGB order. Defaults to
            ImageNet's.
        std: per-channel standard deviation, RGB order. Defaults to
            ImageNet's.
        **kwargs: base layer keyword arguments.

    Input shape:
        `(..., 3)` RGB values in [0, 255], any real or integer dtype.

    Output shape:
        Same as the input, in the compute dtype.
    """

    def __init__(self, mean=IMAGENET_MEAN, std=IMAGENET_STD, **kwargs):
        super().__init__(**kwargs)
        if len(mean) != len(std):
            raise ValueError(
                "`mean` and `std` need one value per channel each. Received: "
                f"mean={mean}, std={std}"
            )
        if any(value <= 0 for value in std):
            raise ValueError(f"`std` must be positive. Received: std={std}")
        self.mean = tuple(float(value) for value in mean)
        self.std = tuple(float(value) for value in std)

    def build(self, input_shape):
        if input_shape[-1] != len(self.mean):
            raise ValueError(
                f"ImageNormalization expects {len(self.mean)} channels (RGB) "
                f"in the last axis. Received: input_shape={tuple(input_shape)}"
            )

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        scale = [1.0 / (255.0 * value) for value in self.std]
        offset = [-mean / std for mean, std in zip(self.mean, self.std)]
        return inputs * ops.cast(scale, self.compute_dtype) + ops.cast(offset, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"mean": list(self.mean), "std": list(self.std)})
        return config
