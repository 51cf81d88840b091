"""FusedBatchNormalization against Keras's own BatchNormalization."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tsm_tf
from tests.helpers import assert_loads_in_fresh_process
from tests.helpers import random_clips
from tests.helpers import tiny_tsm


def _twin_layers(shape, **kwargs):
    """A Keras batch norm and a fused one with the same (non-trivial) weights."""
    layers = [keras.layers.BatchNormalization(**kwargs), tsm_tf.FusedBatchNormalization(**kwargs)]
    rng = np.random.default_rng(7)
    channels = shape[-1]
    values = {
        "gamma": rng.uniform(0.5, 1.5, channels),
        "beta": rng.normal(size=channels),
        "moving_mean": rng.normal(size=channels),
        "moving_variance": rng.uniform(0.5, 2.0, channels),
    }
    for layer in layers:
        layer.build(shape)
        for name, value in values.items():
            if getattr(layer, name, None) is not None:
                getattr(layer, name).assign(value)
    return layers


def _step(layer, inputs, weights, training):
    """Outputs and the gradients of a weighted sum wrt inputs and trainable weights."""
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = layer(inputs, training=training)
        loss = tf.reduce_sum(tf.cast(outputs, "float32") * weights)
    gradients = tape.gradient(loss, [inputs] + layer.trainable_weights)
    return outputs, gradients


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"epsilon": 1e-5, "momentum": 0.9},
        {"center": False},
        {"scale": False},
    ],
)
@pytest.mark.parametrize("training", [True, False])
def test_matches_keras_batch_norm(kwargs, training):
    shape = (6, 5, 7, 4)
    rng = np.random.default_rng(0)
    # Statistics far from 0 and 1, so that an error in them would show.
    inputs = tf.constant(rng.normal(3.0, 2.0, shape).astype("float32"))
    weights = tf.constant(rng.normal(size=shape).astype("float32"))
    keras_layer, fused_layer = _twin_layers(shape, **kwargs)
    for _ in range(2):  # the second step starts from updated moving statistics
        expected, expected_gradients = _step(keras_layer, inputs, weights, training)
        actual, actual_gradients = _step(fused_layer, inputs, weights, training)
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)
        for got, want in zip(actual_gradients, expected_gradients, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
        for name in ("moving_mean", "moving_variance"):
            np.testing.assert_allclose(
                getattr(fused_layer, name).numpy(),
                getattr(keras_layer, name).numpy(),
                rtol=1e-5,
                atol=1e-6,
            )
    moved = not np.allclose(
        fused_layer.moving_mean.numpy(), _twin_layers(shape, **kwargs)[1].moving_mean.numpy()
    )
    assert moved == training, "moving statistics must update in training only"


def test_training_graph_uses_the_fused_kernel():
    layer = tsm_tf.FusedBatchNormalization()
    layer.build((2, 3, 3, 4))
    graph = (
        tf.function(lambda x: layer(x, training=True))
        .get_concrete_function(tf.TensorSpec((2, 3, 3, 4), "float32"))
        .graph
    )
    operation_types = {operation.type for operation in graph.get_operations()}
    assert "FusedBatchNormV3" in operation_types
    assert "SquaredDifference" not in operation_types


def test_falls_back_to_keras_where_it_cannot_fuse():
    """Frozen layers, other ranks and masks take Keras's path (and still agree)."""
    rng = np.random.default_rng(1)
    inputs_3d = tf.constant(rng.normal(2.0, 3.0, (4, 5, 6)).astype("float32"))
    keras_layer, fused_layer = _twin_layers((4, 5, 6))
    np.testing.assert_allclose(
        fused_layer(inputs_3d, training=True),
        keras_layer(inputs_3d, training=True),
        rtol=1e-5,
        atol=1e-5,
    )
    mask = tf.constant(rng.uniform(size=(4, 5)) > 0.3)
    np.testing.assert_allclose(
        fused_layer(inputs_3d, training=True, mask=mask),
        keras_layer(inputs_3d, training=True, mask=mask),
        rtol=1e-5,
        atol=1e-5,
    )
    frozen = tsm_tf.FusedBatchNormalization()
    frozen.build((2, 3, 3, 4))
    frozen.trainable = False
    before = frozen.moving_mean.numpy().copy()
    frozen(tf.fill((2, 3, 3, 4), 5.0), training=True)
    np.testing.assert_array_equal(frozen.moving_mean.numpy(), before)


@pytest.mark.parametrize("dtype", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_normalizes_in_float32(dtype):
    shape = (4, 3, 3, 8)
    inputs = tf.constant(np.random.default_rng(2).normal(1.0, 2.0, shape).astype("float32"))
    layers = _twin_layers(shape, dtype=dtype)
    outputs = [layer(tf.cast(inputs, layer.compute_dtype), training=True) for layer in layers]
    assert outputs[1].dtype == outputs[0].dtype
    np.testing.assert_allclose(
        tf.cast(outputs[1], "float32"), tf.cast(outputs[0], "float32"), rtol=2e-2, atol=2e-2
    )
    np.testing.assert_allclose(
        layers[1].moving_variance.numpy(), layers[0].moving_variance.numpy(), rtol=1e-3
    )


def test_backbones_use_it_and_give_keras_gradients():
    """A tiny TSM's gradients and statistics are Keras's with the fused layer.

    Fifty-odd normalizations in float32 round differently, so the gradients
    are compared as a whole (relative error of their norm; 2e-4 when written).
    """
    from tsm_tf.models.tsm_classifier import clip_graph

    config = tsm_tf.TSMConfig(
        "mobilenet_v2", 5, num_segments=4, image_size=32, width_multiplier=0.35, dropout=0.0
    )
    clips = tf.constant(random_clips(2, 4, 32))
    labels = tf.constant([1, 3])
    loss_function = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    results = []
    for layer_class in (keras.layers.BatchNormalization, tsm_tf.FusedBatchNormalization):
        keras.utils.set_random_seed(3)
        model = keras.Model(*clip_graph(config, layer_class))
        fused_layers = [
            layer
            for layer in model._flatten_layers()
            if isinstance(layer, tsm_tf.FusedBatchNormalization)
        ]
        assert bool(fused_layers) == (layer_class is tsm_tf.FusedBatchNormalization)
        with tf.GradientTape() as tape:
            loss = loss_function(labels, model(clips, training=True))
        gradients = tape.gradient(loss, model.trainable_weights)
        statistics = [weight.numpy() for weight in model.non_trainable_weights]
        results.append(([gradient.numpy() for gradient in gradients], statistics))
    (plain_gradients, plain_statistics), (fused_gradients, fused_statistics) = results
    assert len(fused_gradients) > 100
    # As one vector: some gradients are zero but for rounding (a bias that the
    # next normalization cancels), so weight-by-weight ratios would be noise.
    fused_vector = np.concatenate([gradient.ravel() for gradient in fused_gradients])
    plain_vector = np.concatenate([gradient.ravel() for gradient in plain_gradients])
    assert np.linalg.norm(fused_vector - plain_vector) <= 2e-3 * np.linalg.norm(plain_vector)
    for fused, plain in zip(fused_statistics, plain_statistics, strict=True):
        np.testing.assert_allclose(fused, plain, rtol=1e-4, atol=1e-5)


def test_saves_and_loads_in_a_fresh_process(tmp_path):
    model = tiny_tsm()
    clips = random_clips(2, 4, 32)
    model.compile(
        keras.optimizers.SGD(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.train_on_batch(clips, np.array([0, 1]))  # moves the batch-norm statistics
    assert_loads_in_fresh_process(model, clips, tmp_path)
