"""Refusing, with the way out, what only the TensorFlow backend can do."""

import keras


def require_tensorflow_backend(what: str, remedy: str) -> None:
    """Raises a `RuntimeError` naming `what` and `remedy` unless Keras runs on TensorFlow.

    The models run on JAX and PyTorch too (docs/models.md); TFLite export and
    tf.distribute training trace the model as a TensorFlow graph, which fails
    deep inside on another backend's tensors.
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise RuntimeError(
            f"{what} needs the TensorFlow backend, and Keras runs on {backend!r} "
            f"(KERAS_BACKEND={backend}). {remedy}"
        )
