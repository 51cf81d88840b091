"""Parameter counts."""

import math


def count_trainable_parameters(model) -> int:
    """The number of trainable scalars of a Keras model or layer."""
    return sum(math.prod(weight.shape) for weight in model.trainable_weights)
