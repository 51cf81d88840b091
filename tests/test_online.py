"""Online TSM: CachedShift, build_online_tsm and initial_states against the clip model."""

import keras
import numpy as np
import pytest

import tsm_tf
from tests.helpers import random_clips
from tests.helpers import tiny_tsm
from tests.streaming_helpers import stream_online
from tests.streaming_helpers import streaming_tsm
from tsm_tf.backbones import SHIFT_BLOCKS
from tsm_tf.backbones.mobilenet_v2 import mobilenet_v2_shift_blocks


def numpy_cached_shift(features, state, shift_div):
    """Independent reference: the previous frame's first channels replace this frame's."""
    fold = features.shape[-1] // shift_div
    shifted = features.copy()
    shifted[..., :fold] = state
    return shifted, features[..., :fold].copy()


def test_cached_shift_matches_numpy_and_round_trips_config():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(1, 5, 6, 16)).astype("float32")
    state = rng.normal(size=(1, 5, 6, 2)).astype("float32")
    layer = tsm_tf.CachedShift(shift_div=8)
    shifted, new_state = layer(features, state)
    expected_shifted, expected_state = numpy_cached_shift(features, state, 8)
    np.testing.assert_array_equal(np.asarray(shifted), expected_shifted)
    np.testing.assert_array_equal(np.asarray(new_state), expected_state)
    clone = tsm_tf.CachedShift.from_config(layer.get_config())
    assert clone.shift_div == 8
    assert layer.compute_output_shape((1, 5, 6, 16), (1, 5, 6, 2)) == ((1, 5, 6, 16), (1, 5, 6, 2))


@pytest.mark.parametrize("shift_div", [1, 0, 2.0, True])
def test_cached_shift_rejects_bad_shift_div(shift_div):
    with pytest.raises(ValueError, match="shift_div"):
        tsm_tf.CachedShift(shift_div=shift_div)


def test_cached_shift_rejects_a_state_of_the_wrong_shape():
    with pytest.raises(ValueError, match="state"):
        tsm_tf.CachedShift(8)(np.zeros((1, 4, 4, 16), "float32"), np.zeros((1, 4, 4, 3), "float32"))


@pytest.mark.parametrize("backbone", ["mobilenet_v2", "resnet50"])
def test_online_equals_per_frame_logits_and_keeps_going(backbone):
    num_segments = 4
    model = streaming_tsm(backbone, num_segments=num_segments)
    online = tsm_tf.build_online_tsm(model)
    frames = random_clips(1, 3 * num_segments, 32, seed=5)[0]

    # Frames 1..T from zero states equal the clip model's per-frame logits.
    expected = np.asarray(
        tsm_tf.per_frame_model(model).predict(frames[None, :num_segments], verbose=0)
    )[0]
    actual = stream_online(online, frames)
    scale = np.abs(expected).max()
    assert scale > 1.0  # logits of a real scale
    # One frame at a time and T frames in a batch pick different float32
    # kernels; through ResNet50's 50 layers their rounding reaches 1e-5 to
    # 3e-5 of the largest logit (measured over seeds). A wrong state or shift
    # is off by whole units.
    tolerance = 5e-5 * scale
    np.testing.assert_allclose(actual[:num_segments], expected, atol=tolerance, rtol=0)

    # Beyond T frames: the same weights in a clip model of 3T frames.
    long_model = tiny_tsm(backbone, num_segments=3 * num_segments, bidirectional=False, dropout=0.0)
    long_model.set_weights(model.get_weights())
    expected_long = np.asarray(tsm_tf.per_frame_model(long_model).predict(frames[None], verbose=0))[
        0
    ]
    np.testing.assert_allclose(actual, expected_long, atol=tolerance, rtol=0)


@pytest.mark.parametrize("backbone", ["mobilenet_v2", "resnet50"])
def test_online_model_names_and_shapes(backbone):
    model = tiny_tsm(backbone, bidirectional=False)
    online = tsm_tf.build_online_tsm(model)
    blocks = (
        SHIFT_BLOCKS[backbone](model.width_multiplier)
        if backbone == "mobilenet_v2"
        else SHIFT_BLOCKS[backbone]()
    )
    state_names = [f"state_{index:02d}" for index in range(len(blocks))]
    assert list(online.input) == ["frame", *state_names]
    assert list(online.output) == ["logits", *state_names]
    assert tuple(online.input["frame"].shape) == (1, 32, 32, 3)
    assert tuple(online.output["logits"].shape) == (1, 5)
    states = tsm_tf.initial_states(online)
    assert list(states) == state_names
    for name, block in zip(state_names, blocks):
        # A state holds 1/shift_div of the channels of its block's input.
        block_input = online.get_layer(f"{block}_shift").input[0]
        assert states[name].shape == (*block_input.shape[:-1], block_input.shape[-1] // 8)
        assert not states[name].any()
        assert tuple(online.output[name].shape) == states[name].shape


def test_mobilenet_state_count_matches_the_paper():
    assert len(mobilenet_v2_shift_blocks(1.0)) == 10


def test_bidirectional_model_is_rejected():
    with pytest.raises(ValueError, match=r"bidirectional=True.*tsm-train --nobidirectional"):
        tsm_tf.build_online_tsm(tiny_tsm(bidirectional=True))


def test_numpy_frames_mix_with_the_states_a_step_returns():
    model = tiny_tsm(bidirectional=False)
    online = tsm_tf.build_online_tsm(model)
    frames = np.random.default_rng(5).uniform(0, 255, (3, 1, 32, 32, 3)).astype("float32")
    states = tsm_tf.initial_states(online)
    logits = []
    for frame in frames:  # NumPy frame, tensor states from the second step on
        outputs = online({"frame": frame, **states})
        states = {name: outputs[name] for name in states}
        logits.append(np.asarray(outputs["logits"])[0])
    expected = tsm_tf.causal_frame_logits(model, frames[:, 0])
    np.testing.assert_allclose(np.stack(logits), expected, atol=1e-4)


def test_tsn_is_rejected():
    with pytest.raises(ValueError, match="TSN"):
        tsm_tf.build_online_tsm(tiny_tsm(shift_div=0, bidirectional=False))


def test_other_models_are_rejected():
    inputs = keras.Input((8,))
    with pytest.raises(ValueError, match="TSMClassifier"):
        tsm_tf.build_online_tsm(keras.Model(inputs, keras.layers.Dense(2)(inputs)))
    with pytest.raises(ValueError, match="build_online_tsm"):
        tsm_tf.initial_states(keras.Model(inputs, inputs))


def test_online_model_loads_in_a_fresh_process(tmp_path):
    online = tsm_tf.build_online_tsm(tiny_tsm(bidirectional=False))
    states = tsm_tf.initial_states(online)
    model_path = tmp_path / "online.keras"
    online.save(model_path)
    from tests.helpers import run_python

    output = run_python(
        f"""
        import keras, numpy as np
        import tsm_tf  # registers the custom classes
        model = keras.models.load_model({str(model_path)!r})
        states = tsm_tf.initial_states(model)
        frame = np.full((1, 32, 32, 3), 100.0, "float32")
        print(sorted(model.input), sorted(model.output))
        print(repr(np.asarray(model({{"frame": frame, **states}})["logits"]).tolist()))
        """
    )
    assert f"{sorted(['frame', *states])}" in output
    frame = np.full((1, 32, 32, 3), 100.0, "float32")
    expected = np.asarray(online({"frame": frame, **states})["logits"])
    loaded = np.array(eval(output.strip().splitlines()[-1]))
    np.testing.assert_allclose(loaded, expected, atol=1e-6)
