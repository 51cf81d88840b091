"""TemporalShift against an independent NumPy reference, plus the Keras layer checklist."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tsm_tf
from tests.helpers import run_python


def numpy_shift(frames, num_segments, shift_div, bidirectional):
    """Reference shift written frame by frame with explicit loops over time."""
    total, height, width, channels = frames.shape
    clips = frames.reshape(total // num_segments, num_segments, height, width, channels)
    out = np.array(clips, copy=True)
    fold = channels // shift_div
    for t in range(num_segments):
        previous = clips[:, t - 1] if t > 0 else np.zeros_like(clips[:, 0])
        following = clips[:, t + 1] if t + 1 < num_segments else np.zeros_like(clips[:, 0])
        if bidirectional:
            out[:, t, ..., :fold] = following[..., :fold]
            out[:, t, ..., fold : 2 * fold] = previous[..., fold : 2 * fold]
        else:
            out[:, t, ..., :fold] = previous[..., :fold]
    return out.reshape(frames.shape)


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize(
    "batch, num_segments, channels, shift_div",
    [(1, 8, 64, 8), (3, 4, 19, 8), (2, 3, 10, 4), (2, 1, 16, 8), (1, 5, 8, 8)],
)
def test_matches_numpy_reference(batch, num_segments, channels, shift_div, bidirectional):
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(batch * num_segments, 3, 2, channels)).astype("float32")
    layer = tsm_tf.TemporalShift(num_segments, shift_div=shift_div, bidirectional=bidirectional)
    expected = numpy_shift(frames, num_segments, shift_div, bidirectional)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(frames)), expected)


def test_direction_on_a_ramp():
    """Frame t holds the value t everywhere: the shifted channels must read t+1 and t-1."""
    num_segments, channels = 4, 8
    frames = np.repeat(np.arange(num_segments, dtype="float32"), 2 * 2 * channels)
    frames = frames.reshape(num_segments, 2, 2, channels) + 1.0  # values 1..4; 0 marks padding
    out = keras.ops.convert_to_numpy(tsm_tf.TemporalShift(num_segments)(frames))
    assert out[:, 0, 0, 0].tolist() == [2, 3, 4, 0]  # channel 0 comes from the future
    assert out[:, 0, 0, 1].tolist() == [0, 1, 2, 3]  # channel 1 comes from the past
    assert out[:, 0, 0, 2].tolist() == [1, 2, 3, 4]  # the rest stay
    online = tsm_tf.TemporalShift(num_segments, bidirectional=False)(frames)
    online = keras.ops.convert_to_numpy(online)
    assert online[:, 0, 0, 0].tolist() == [0, 1, 2, 3]
    assert online[:, 0, 0, 1].tolist() == [1, 2, 3, 4]


def test_batches_do_not_leak_across_clips():
    num_segments = 3
    frames = np.zeros((2 * num_segments, 1, 1, 8), "float32")
    frames[num_segments:] = 1.0  # the second clip is all ones
    out = keras.ops.convert_to_numpy(tsm_tf.TemporalShift(num_segments)(frames))
    assert out[num_segments - 1, 0, 0, 0] == 0.0  # last frame of clip 1 has no future
    assert out[num_segments, 0, 0, 1] == 0.0  # first frame of clip 2 has no past


def test_config_round_trip():
    layer = tsm_tf.TemporalShift(6, shift_div=4, bidirectional=False, name="shift")
    config = layer.get_config()
    assert config["num_segments"] == 6 and config["shift_div"] == 4
    assert config["bidirectional"] is False
    restored = tsm_tf.TemporalShift.from_config(config)
    assert restored.get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert isinstance(keras.saving.deserialize_keras_object(serialized), tsm_tf.TemporalShift)


def test_symbolic_and_eager_shapes_and_dtypes():
    layer = tsm_tf.TemporalShift(4)
    symbolic = layer(keras.Input((5, 5, 16), batch_size=8))
    assert tuple(symbolic.shape) == (8, 5, 5, 16)
    assert layer.compute_output_shape((None, 5, 5, 16)) == (None, 5, 5, 16)
    assert tuple(keras.Input((5, 5, 16)).shape) == tuple(
        tsm_tf.TemporalShift(4)(keras.Input((5, 5, 16))).shape
    )
    for dtype in ("float32", "float16", "bfloat16"):
        eager = tsm_tf.TemporalShift(4, dtype=dtype)(np.ones((8, 5, 5, 16), dtype))
        assert tuple(eager.shape) == (8, 5, 5, 16)
        assert keras.backend.standardize_dtype(eager.dtype) == dtype
    assert not layer.weights


def test_training_step_and_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    inputs = keras.Input((6, 6, 16))
    x = keras.layers.Conv2D(16, 3, padding="same")(inputs)
    x = tsm_tf.TemporalShift(4)(x)
    assert keras.backend.standardize_dtype(x.dtype) == "float16"
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(2, dtype="float32")(x)
    model = keras.Model(inputs, outputs)
    model.compile("sgd", "mse", jit_compile=True)
    rng = np.random.default_rng(0)
    history = model.fit(
        rng.normal(size=(8, 6, 6, 16)),
        rng.normal(size=(8, 2)),
        batch_size=8,
        epochs=2,
        shuffle=False,
        verbose=0,
    )
    assert np.all(np.isfinite(history.history["loss"]))


def numpy_shift_matrix(num_segments, channels, shift_div, bidirectional):
    """The shift of one pixel's clip as a dense matrix, one NumPy shift per basis vector."""
    size = num_segments * channels
    columns = [
        numpy_shift(
            basis.reshape(num_segments, 1, 1, channels), num_segments, shift_div, bidirectional
        )
        for basis in np.eye(size, dtype="float32")
    ]
    return np.stack([column.reshape(size) for column in columns], axis=1)


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("num_segments, channels, shift_div", [(4, 16, 8), (3, 10, 4), (5, 19, 8)])
@pytest.mark.parametrize("compile_mode", ["eager", "graph", "jit"])
def test_gradient_is_the_transposed_shift(
    num_segments, channels, shift_div, bidirectional, compile_mode
):
    """The shift is linear, so the gradient of `sum(shift(x) * w)` is `S^T w`, exactly."""
    rng = np.random.default_rng(1)
    batch, height, width = 2, 3, 2
    frames = tf.constant(
        rng.normal(size=(batch * num_segments, height, width, channels)), "float32"
    )
    weights = rng.normal(size=frames.shape).astype("float32")
    layer = tsm_tf.TemporalShift(num_segments, shift_div=shift_div, bidirectional=bidirectional)

    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x) * weights)
        return tape.gradient(loss, x)

    if compile_mode != "eager":
        signature = [tf.TensorSpec((None, None, None, channels))]
        gradient = tf.function(
            gradient, jit_compile=compile_mode == "jit", input_signature=signature
        )
    shift_matrix = numpy_shift_matrix(num_segments, channels, shift_div, bidirectional)
    # Per pixel, the weights as (clip, time * channels) vectors.
    pixel_weights = weights.reshape(batch, num_segments, height * width, channels)
    pixel_weights = pixel_weights.transpose(0, 2, 1, 3).reshape(-1, num_segments * channels)
    expected = pixel_weights @ shift_matrix
    expected = expected.reshape(batch, height * width, num_segments, channels).transpose(0, 2, 1, 3)
    expected = expected.reshape(frames.shape)
    np.testing.assert_array_equal(gradient(frames).numpy(), expected)
    # A gradient shifting the same way as the forward pass (a transposition bug) is far off.
    same_direction = pixel_weights @ shift_matrix.T
    same_direction = same_direction.reshape(batch, height * width, num_segments, channels)
    same_direction = same_direction.transpose(0, 2, 1, 3).reshape(frames.shape)
    assert np.abs(same_direction - expected).max() > 1.0


def test_graph_and_jit():
    layer = tsm_tf.TemporalShift(4, bidirectional=False)
    frames = np.random.default_rng(0).normal(size=(8, 3, 3, 16)).astype("float32")
    expected = numpy_shift(frames, 4, 8, False)
    compiled = tf.function(layer, jit_compile=True)
    np.testing.assert_array_equal(compiled(frames).numpy(), expected)
    dynamic = tf.function(layer, input_signature=[tf.TensorSpec((None, None, None, 16))])
    np.testing.assert_array_equal(dynamic(frames).numpy(), expected)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_segments": 0}, "num_segments=0"),
        ({"num_segments": -3}, "num_segments=-3"),
        ({"num_segments": 2.5}, "num_segments=2.5"),
        ({"num_segments": 8, "shift_div": 1}, "shift_div=1"),
        ({"num_segments": 8, "shift_div": 0}, "shift_div=0"),
    ],
)
def test_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tsm_tf.TemporalShift(**kwargs)


def test_input_errors():
    with pytest.raises(ValueError, match="at least 8 channels.*Received: 4 channels"):
        tsm_tf.TemporalShift(2)(np.zeros((2, 3, 3, 4), "float32"))
    with pytest.raises(ValueError, match="multiple of 4.*batch size 6"):
        tsm_tf.TemporalShift(4)(np.zeros((6, 3, 3, 16), "float32"))
    with pytest.raises(ValueError, match="multiple of 4.*batch size 6"):
        tsm_tf.TemporalShift(4)(keras.Input((3, 3, 16), batch_size=6))
    with pytest.raises(ValueError, match="4D input"):
        tsm_tf.TemporalShift(4)(np.zeros((4, 16), "float32"))


def test_loads_in_a_fresh_process(tmp_path):
    inputs = keras.Input((4, 4, 16))
    model = keras.Model(inputs, tsm_tf.TemporalShift(2, shift_div=4, bidirectional=False)(inputs))
    path = tmp_path / "shift.keras"
    model.save(path)
    frames = np.random.default_rng(0).normal(size=(4, 4, 4, 16)).astype("float32")
    np.save(tmp_path / "frames.npy", frames)
    out = run_python(
        f"""
        import numpy as np, keras
        import tsm_tf  # registers the custom classes; no custom_objects needed
        model = keras.models.load_model({str(path)!r})
        layer = model.layers[-1]
        print(type(layer).__name__, layer.num_segments, layer.shift_div, layer.bidirectional)
        np.save({str(tmp_path / "out.npy")!r}, np.asarray(model(np.load({str(tmp_path / "frames.npy")!r}))))
        """
    )
    assert out.strip().splitlines()[-1] == "TemporalShift 2 4 False"
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), numpy_shift(frames, 2, 4, False))
