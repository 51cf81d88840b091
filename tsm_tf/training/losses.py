"""Cross-entropy on integer labels with optional label smoothing."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tsm_tf")
class SparseCategoricalCrossentropyWithSmoothing(keras.losses.Loss):
    """Softmax cross-entropy from logits and integer labels, with label smoothing.

    Keras' sparse cross-entropy has no label smoothing; this one mixes the
    one-hot target with the uniform distribution by `label_smoothing`.

    Args:
        label_smoothing: float in [0, 1); 0 is plain cross-entropy.
    """

    def __init__(self, label_smoothing=0.0, name="cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"`label_smoothing` must be in [0, 1). Received: {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        num_classes = ops.shape(y_pred)[-1]
        labels = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), num_classes)
        labels = ops.cast(labels, y_pred.dtype)
        if self.label_smoothing:
            labels = labels * (1.0 - self.label_smoothing) + self.label_smoothing / ops.cast(
                num_classes, y_pred.dtype
            )
        return keras.losses.categorical_crossentropy(labels, y_pred, from_logits=True)

    def get_config(self):
        config = super().get_config()
        config.update({"label_smoothing": self.label_smoothing})
        return config
