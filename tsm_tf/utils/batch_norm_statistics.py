"""Batch-norm moving statistics set from real inputs, for models with random weights."""

import numpy as np


def calibrate_batch_norm(model, clips, variance_floor: float = 0.0):
    """Sets every batch norm's moving statistics to those of `clips`; returns `model`.

    A freshly initialized network holds zero moving means and unit moving
    variances, not the statistics of its activations, so in inference it
    normalizes them wrongly and its logits are not those of a trained model.
    With the statistics of real inputs the activations are normalized as in a
    trained model.

    With `variance_floor > 0`, each layer's moving variances are raised to at
    least that fraction of the layer's median: channels that are nearly
    constant over the few calibration frames (common at a 1x1 resolution)
    would otherwise be amplified hundreds of times, which a trained network
    never does, and make the network chaotic (half a pixel unit of noise
    moving the logits by 3) and hopeless to quantize.

    Args:
        model: a Keras model; its `keras.layers.BatchNormalization` layers
            (and subclasses) are calibrated.
        clips: a batch the model takes, run once in training mode.
        variance_floor: the fraction of each layer's median moving variance
            below which no moving variance is left; 0 keeps them as measured.
    """
    import keras

    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    model(clips, training=True)
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum
        if variance_floor > 0:
            gamma, beta, mean, variance = layer.get_weights()
            floor = variance_floor * np.median(variance)
            layer.set_weights([gamma, beta, mean, np.maximum(variance, floor)])
    return model
