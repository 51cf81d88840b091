"""build_tsm, TSMClassifier and per_frame_model on both backbones."""

import keras
import numpy as np
import pytest

import tsm_tf
from tests.helpers import assert_loads_in_fresh_process
from tests.helpers import random_clips
from tests.helpers import tiny_tsm
from tsm_tf.utils.parameters import count_trainable_parameters

BACKBONES = ["mobilenet_v2", "resnet50"]


def shift_layers(model):
    return [layer for layer in model.layers if isinstance(layer, tsm_tf.TemporalShift)]


def test_paper_table_resnet50():
    """TSM-ResNet50, 8 frames at 224, 400 classes: 24.3M parameters, ~33G multiply-adds, as TSN."""
    tsm = tsm_tf.build_tsm("resnet50", 400, num_segments=8, image_size=224)
    tsn = tsm_tf.build_tsm("resnet50", 400, num_segments=8, image_size=224, shift_div=0)
    assert tsm.count_params() == tsn.count_params()
    assert count_trainable_parameters(tsm) == count_trainable_parameters(tsn) == 24_327_632
    assert tsm_tf.count_flops(tsm) == tsm_tf.count_flops(tsn)
    assert 32.5e9 < tsm_tf.count_flops(tsm) < 33.5e9
    assert len(shift_layers(tsm)) == 16
    assert not shift_layers(tsn)


def test_backbones_match_torchvision_sizes():
    """torchvision: ResNet50 25,557,032 parameters and 4.09G multiply-adds a frame;
    MobileNetV2 3,504,872 and 300.8M (1000 classes, 224 px)."""
    resnet = tsm_tf.build_tsm("resnet50", 1000, num_segments=1, image_size=224)
    assert count_trainable_parameters(resnet) == 25_557_032
    assert tsm_tf.count_flops(resnet) == 4_089_184_256
    mobilenet = tsm_tf.build_tsm("mobilenet_v2", 1000, num_segments=1, image_size=224)
    assert count_trainable_parameters(mobilenet) == 3_504_872
    assert tsm_tf.count_flops(mobilenet) == 300_774_272


def test_mobilenet_v2_shifts_the_ten_identity_blocks():
    model = tsm_tf.build_tsm("mobilenet_v2", 10, num_segments=8, image_size=224)
    expected = [f"features_{index}_shift" for index in (3, 5, 6, 8, 9, 10, 12, 13, 15, 16)]
    assert [layer.name for layer in shift_layers(model)] == expected


@pytest.mark.parametrize("backbone", BACKBONES)
def test_shift_sits_on_the_residual_branch(backbone):
    """The shift feeds the branch's first conv; the identity path keeps the unshifted input."""
    model = tiny_tsm(backbone)
    first_conv = {"resnet50": "{}_conv1", "mobilenet_v2": "{}_conv_0_0"}[backbone]
    for shift in shift_layers(model):
        block = shift.name[: -len("_shift")]
        assert model.get_layer(first_conv.format(block)).input is shift.output
        layer_names = {layer.name for layer in model.layers}
        if f"{block}_downsample_0" in layer_names:
            shortcut = model.get_layer(f"{block}_downsample_0").input
        else:
            shortcut = model.get_layer(f"{block}_add").input[0]
        assert shortcut is shift.input


@pytest.mark.parametrize("backbone", BACKBONES)
def test_tsm_and_tsn_have_identical_parameters_and_flops(backbone):
    tsm = tiny_tsm(backbone)
    tsn = tiny_tsm(backbone, shift_div=0)
    assert [w.shape for w in tsm.weights] == [w.shape for w in tsn.weights]
    assert tsm_tf.count_flops(tsm) == tsm_tf.count_flops(tsn)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_tsm_sees_frame_order_and_tsn_does_not(backbone):
    tsm = tiny_tsm(backbone, dropout=0.0)
    tsn = tiny_tsm(backbone, shift_div=0, dropout=0.0)
    tsn.set_weights(tsm.get_weights())
    clips = random_clips(2, 4, 32)
    reversed_clips = clips[:, ::-1]
    np.testing.assert_allclose(
        tsn.predict(clips, verbose=0), tsn.predict(reversed_clips, verbose=0), atol=1e-5
    )
    assert (
        np.abs(tsm.predict(clips, verbose=0) - tsm.predict(reversed_clips, verbose=0)).max() > 1e-4
    )


@pytest.mark.parametrize("backbone", BACKBONES)
def test_per_frame_model_shares_weights_and_averages_to_logits(backbone):
    model = tiny_tsm(backbone, dropout=0.0)
    frame_model = tsm_tf.per_frame_model(model)
    clips = random_clips(2, 4, 32)
    frame_logits = frame_model.predict(clips, verbose=0)
    assert frame_logits.shape == (2, 4, 5)
    np.testing.assert_allclose(
        frame_logits.mean(axis=1), model.predict(clips, verbose=0), atol=1e-5
    )
    assert {id(w) for w in frame_model.weights} == {id(w) for w in model.weights}


def test_clips_of_another_length_or_frame_shape_are_refused_also_after_a_good_batch():
    """Keras's `predict` relaxes its traced shapes after a first batch; without
    the check the frames of 8-frame clips were regrouped into two 4-frame clips each,
    and grey clips or other frame sizes were classified without a word."""
    import tensorflow as tf

    model = tiny_tsm(bidirectional=False)
    assert model.predict(random_clips(2, 4, 32), verbose=0).shape == (2, 5)
    for num_frames in (8, 2):
        with pytest.raises(
            (ValueError, tf.errors.InvalidArgumentError), match=r"num_segments=4 frames"
        ):
            model.predict(random_clips(2, num_frames, 32), verbose=0)
    grey = random_clips(2, 4, 32)[..., :1]
    for clips in (grey, random_clips(2, 4, 48)):
        with pytest.raises(
            (ValueError, tf.errors.InvalidArgumentError),
            match=r"Frames must be 32x32 with 3 channels \(RGB\)",
        ):
            model.predict(clips, verbose=0)
    with pytest.raises(ValueError, match=r"num_segments=4 frames.*Received: 8 frames"):
        tsm_tf.MergeSegments(4)(random_clips(1, 8, 32))
    with pytest.raises(ValueError, match=r"Frames must be 32x32.*Received: 1 channels"):
        tsm_tf.MergeSegments(4, frame_shape=(32, 32, 3))(grey)
    assert model.predict(random_clips(3, 4, 32), verbose=0).shape == (3, 5)


def test_uint8_and_float_inputs_agree():
    model = tiny_tsm()
    clips = random_clips(1, 4, 32).round()
    np.testing.assert_allclose(
        model.predict(clips.astype("uint8"), verbose=0), model.predict(clips, verbose=0), atol=1e-5
    )


# ResNet50's ops (stem, max pooling, a projection and an identity bottleneck,
# each with its residual shift) in 5 bottlenecks instead of 16: XLA's compile
# time grows with the graph, and the extra blocks repeat the same ops.
SHORT_RESNET_BLOCKS = (2, 1, 1, 1)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_fit_lowers_the_loss_with_jit(backbone, monkeypatch):
    from tsm_tf.backbones import resnet50

    monkeypatch.setitem(resnet50.STAGE_BLOCKS, "resnet50", SHORT_RESNET_BLOCKS)
    model = tiny_tsm(backbone, dropout=0.0, bidirectional=backbone == "resnet50")
    if backbone == "resnet50":
        assert len(shift_layers(model)) == sum(SHORT_RESNET_BLOCKS)
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
    )
    clips = random_clips(4, 4, 32)
    labels = np.array([0, 1, 2, 3])
    history = model.fit(clips, labels, batch_size=4, epochs=6, shuffle=False, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.7 * losses[0], losses


@pytest.mark.parametrize("backbone", BACKBONES)
def test_saves_and_loads_in_a_fresh_process(backbone, tmp_path):
    """Also FusedBatchNormalization's test: its moving statistics, moved off
    their initial values by a training step, come back in a fresh process."""
    model = tiny_tsm(backbone, bidirectional=False, labels=list("abcde"))
    clips = random_clips(2, 4, 32)
    model(clips, training=True)
    fused_layers = [
        layer
        for layer in model._flatten_layers()
        if isinstance(layer, tsm_tf.FusedBatchNormalization)
    ]
    assert fused_layers and np.any(fused_layers[0].moving_mean.numpy() != 0)
    assert_loads_in_fresh_process(model, clips, tmp_path)
    restored = keras.models.load_model(tmp_path / "model.keras")
    assert isinstance(restored, tsm_tf.TSMClassifier)
    assert restored.get_config() == model.get_config()
    assert restored.labels == list("abcde") and restored.bidirectional is False


def test_mixed_precision_keeps_float32_logits():
    keras.config.set_dtype_policy("mixed_float16")
    model = tiny_tsm()
    assert (
        keras.backend.standardize_dtype(model.get_layer("features_3_shift").compute_dtype)
        == "float16"
    )
    logits = model(random_clips(1, 4, 32))
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


def test_weights_from_a_file(tmp_path):
    source = tiny_tsm()
    source.save(tmp_path / "source.keras")
    source.save_weights(tmp_path / "source.weights.h5")
    clips = random_clips(1, 4, 32)
    expected = source.predict(clips, verbose=0)
    for path in ("source.keras", "source.weights.h5"):
        model = tiny_tsm(weights=str(tmp_path / path))
        np.testing.assert_allclose(model.predict(clips, verbose=0), expected, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"backbone": "vgg16"}, "backbone='vgg16'"),
        ({"num_classes": 0}, "num_classes=0"),
        ({"num_segments": 0}, "num_segments=0"),
        ({"image_size": 16}, "image_size=16"),
        ({"shift_div": 1}, "shift_div=1"),
        ({"shift_div": -8}, "shift_div=-8"),
        ({"width_multiplier": 0}, "width_multiplier=0"),
        ({"dropout": 1.5}, "dropout=1.5"),
        ({"labels": ["a", "b"]}, "num_classes=5.*2 labels"),
        ({"weights": "/no/such/file.keras"}, "weights='/no/such/file.keras'"),
    ],
)
def test_build_errors(kwargs, message):
    arguments = {"backbone": "mobilenet_v2", "num_classes": 5, "num_segments": 4, "image_size": 32}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        tsm_tf.build_tsm(**arguments)


def test_keras_weights_of_other_classes_keep_all_but_the_classifier(tmp_path):
    source = tiny_tsm(num_classes=3)
    path = str(tmp_path / "source.keras")
    source.save(path)
    model = tiny_tsm(num_classes=2, weights=path)
    for layer in model.layers:
        for target, saved in zip(layer.get_weights(), source.get_layer(layer.name).get_weights()):
            if layer.name == "classifier":
                assert target.shape != saved.shape
            else:
                np.testing.assert_array_equal(target, saved)
    # The backbone weights are the saved model's, not a fresh draw: another seed differs.
    fresh = tiny_tsm(num_classes=2).get_layer("features_0_0").get_weights()[0]
    assert not np.array_equal(model.get_layer("features_0_0").get_weights()[0], fresh)
    with pytest.raises(ValueError, match=r"do not fit this model at layer"):
        tiny_tsm(num_classes=2, width_multiplier=0.5, weights=path)
    with pytest.raises(ValueError, match=r"come from another architecture"):
        tiny_tsm(backbone="resnet50", num_classes=2, weights=path)


def test_too_few_channels_for_the_shift():
    with pytest.raises(ValueError, match="shift_div=64 needs at least 64 channels"):
        tiny_tsm(shift_div=64)


def test_per_frame_model_rejects_other_models():
    inputs = keras.Input((3,))
    with pytest.raises(ValueError, match="needs a model from tsm_tf.build_tsm"):
        tsm_tf.per_frame_model(keras.Model(inputs, keras.layers.Dense(2)(inputs)))
