"""PyTorch checkpoint import: Keras equals an independent PyTorch TSM, number for number.

Every checkpoint here is written by `tests/torch_reference.py` (random
weights, random batch-norm statistics) in the layout the reference release
uses, so no network is needed. Logits must agree within 1e-4 (float32).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ai_edge_litert.interpreter import Interpreter  # noqa: E402

import tsm_tf  # noqa: E402
from tests import torch_reference as ref  # noqa: E402
from tests.helpers import random_clips  # noqa: E402
from tests.helpers import run_python  # noqa: E402
from tests.streaming_helpers import stream_online  # noqa: E402
from tsm_tf.interop.torch_import import load_imagenet_weights  # noqa: E402
from tsm_tf.interop.torch_import import load_torch_checkpoint  # noqa: E402

ATOL = 1e-4
NUM_SEGMENTS = 4
IMAGE_SIZE = 32
RESNET_TINY_WIDTH = 0.125  # Keras width 0.125 = reference base width 8
RESNET_TINY_BASE = 8
RELEASE_NAME = "TSM_test_RGB_{backbone}_shift8_blockres_avg_segment4_e1.pth"


def torch_logits(net, clips):
    with torch.no_grad():
        return net(ref.normalize_frames(clips)).numpy()


def save_release(net, path, backbone):
    """As the release's main.py saves: a training dict around the state dict."""
    torch.save(
        {
            "epoch": 1,
            "arch": backbone,
            "state_dict": net.state_dict(),
            "best_prec1": np.float64(71.2),  # a NumPy scalar, as metrics often are
        },
        path,
    )
    return path


@pytest.fixture(scope="module")
def release_resnet(tmp_path_factory):
    net = ref.randomize(
        ref.release_tsm("resnet50", 7, NUM_SEGMENTS, base_width=RESNET_TINY_BASE), seed=1
    )
    path = tmp_path_factory.mktemp("release") / RELEASE_NAME.format(backbone="resnet50")
    return net, save_release(net, path, "resnet50")


def tiny_resnet(num_classes=7, **kwargs):
    kwargs.setdefault("num_segments", NUM_SEGMENTS)
    return tsm_tf.build_tsm(
        "resnet50",
        num_classes,
        image_size=IMAGE_SIZE,
        width_multiplier=RESNET_TINY_WIDTH,
        **kwargs,
    )


def weights_of(model):
    return [np.array(weight) for weight in model.get_weights()]


def assert_unchanged(model, before):
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)


# ---------------------------------------------------------------- parity


def test_release_resnet50_matches_pytorch(release_resnet):
    net, path = release_resnet
    model = tiny_resnet()
    summary = load_torch_checkpoint(model, path)
    assert summary["layout"] == "tsm_release"
    assert summary["missing"] == summary["unused"] == []
    clips = random_clips(2, NUM_SEGMENTS, IMAGE_SIZE, seed=3)
    expected = torch_logits(net, clips)
    np.testing.assert_allclose(model.predict(clips, verbose=0), expected, atol=ATOL, rtol=0)

    # The comparison can see a shift bug: the same weights shifted the other
    # way (uni-directional) give clearly different logits.
    wrong = tiny_resnet(bidirectional=False)
    load_torch_checkpoint(wrong, path, strict=False)
    assert np.abs(wrong.predict(clips, verbose=0) - expected).max() > 100 * ATOL


def test_release_mobilenet_v2_width_1_matches_pytorch(tmp_path):
    """Released checkpoints are width 1.0; the reference MobileNetV2's own layout."""
    net = ref.randomize(ref.release_tsm("mobilenet_v2", 9, NUM_SEGMENTS), seed=2)
    path = save_release(
        net, tmp_path / RELEASE_NAME.format(backbone="mobilenetv2"), "mobilenetv2"
    )
    assert "module.base_model.features.3.conv.0.net.weight" in net.state_dict()
    model = tsm_tf.build_tsm("mobilenet_v2", 9, num_segments=NUM_SEGMENTS, image_size=IMAGE_SIZE)
    load_torch_checkpoint(model, path)
    clips = random_clips(2, NUM_SEGMENTS, IMAGE_SIZE, seed=4)
    np.testing.assert_allclose(
        model.predict(clips, verbose=0), torch_logits(net, clips), atol=ATOL, rtol=0
    )


def test_release_tsn_resnet50_matches_pytorch(tmp_path):
    """A TSN file of the release (no shift wrappers) loads into shift_div=0."""
    net = ref.randomize(
        ref.release_tsm("resnet50", 5, 3, shift_div=0, base_width=RESNET_TINY_BASE), seed=5
    )
    path = save_release(net, tmp_path / "TSM_test_RGB_resnet50_avg_segment3_e1.pth", "resnet50")
    model = tiny_resnet(5, num_segments=3, shift_div=0)
    load_torch_checkpoint(model, path)
    clips = random_clips(1, 3, IMAGE_SIZE, seed=6)
    np.testing.assert_allclose(
        model.predict(clips, verbose=0), torch_logits(net, clips), atol=ATOL, rtol=0
    )


@pytest.mark.parametrize(
    "backbone, width, make_net",
    [
        ("mobilenet_v2", 0.35, lambda: ref.MobileNetV2(width=0.35, layout="torchvision")),
        ("resnet50", RESNET_TINY_WIDTH, lambda: ref.ResNet50(base_width=RESNET_TINY_BASE)),
    ],
)
def test_torchvision_imagenet_weights(tmp_path, backbone, width, make_net):
    net = ref.randomize(make_net(), seed=7)
    path = tmp_path / f"{backbone}-imagenet.pth"
    torch.save(net.state_dict(), path)
    # 1000 classes: the whole network loads, so each frame's logits are ImageNet's.
    tsn = tsm_tf.build_tsm(
        backbone, 1000, num_segments=2, image_size=IMAGE_SIZE, shift_div=0,
        width_multiplier=width, weights=str(path),
    )
    clips = random_clips(1, 2, IMAGE_SIZE, seed=8)
    with torch.no_grad():
        expected = net(ref.normalize_frames(clips[0])).numpy()
    frame_logits = tsm_tf.per_frame_model(tsn).predict(clips, verbose=0)[0]
    np.testing.assert_allclose(frame_logits, expected, atol=ATOL, rtol=0)

    # Another class count: the backbone loads, the new classifier stays as built.
    tsm = tsm_tf.build_tsm(
        backbone, 10, num_segments=2, image_size=IMAGE_SIZE, width_multiplier=width
    )
    classifier_before = weights_of(tsm.get_layer("classifier"))
    summary = load_imagenet_weights(tsm, path)
    assert summary["layout"] == "torchvision"
    for old, new in zip(classifier_before, tsm.get_layer("classifier").get_weights()):
        np.testing.assert_array_equal(old, new)
    stem = "conv1" if backbone == "resnet50" else "features_0_0"
    np.testing.assert_allclose(
        tsm.get_layer(stem).kernel.numpy(),
        net.state_dict()[f"{stem.replace('_', '.')}.weight"].numpy().transpose(2, 3, 1, 0),
    )


ONLINE_IMAGE_SIZE = 64
ONLINE_NUM_FRAMES = 5


@pytest.fixture(scope="module")
def online_demo(tmp_path_factory):
    """The online demo's MobileNetV2 (explicit shift buffers), saved as the demo's
    plain state dict, its per-frame logits over a stream, and the Keras model."""
    net = ref.randomize(ref.OnlineMobileNetV2(num_classes=27), seed=9)
    path = tmp_path_factory.mktemp("online") / "mobilenetv2_jester_online.pth.tar"
    torch.save(net.state_dict(), path)
    frames = random_clips(1, ONLINE_NUM_FRAMES, ONLINE_IMAGE_SIZE, seed=10)[0]
    buffers = net.initial_buffers(ONLINE_IMAGE_SIZE)
    expected = []
    with torch.no_grad():
        for frame in frames:
            logits, *buffers = net(ref.normalize_frames(frame[None]), *buffers)
            expected.append(logits.numpy()[0])
    model = tsm_tf.build_tsm(
        "mobilenet_v2", 27, num_segments=ONLINE_NUM_FRAMES, image_size=ONLINE_IMAGE_SIZE,
        bidirectional=False,
    )
    load_torch_checkpoint(model, path)
    return model, frames, np.stack(expected)


def test_online_demo_matches_offline_uni_directional(online_demo):
    """Streamed PyTorch frame by frame == the clip model's per-frame logits."""
    model, frames, expected = online_demo
    per_frame = tsm_tf.per_frame_model(model).predict(frames[None], verbose=0)[0]
    np.testing.assert_allclose(per_frame, expected, atol=ATOL, rtol=0)


def test_online_demo_streams_in_keras_and_tflite(online_demo, tmp_path):
    """The same stream through build_online_tsm, then the real TFLite interpreter."""
    model, frames, expected = online_demo
    streamed = stream_online(tsm_tf.build_online_tsm(model), frames)
    np.testing.assert_allclose(streamed, expected, atol=ATOL, rtol=0)

    tflite_path = tmp_path / "online.tflite"
    metadata = tsm_tf.export_tflite(model, tflite_path, mode="streaming")
    runner = Interpreter(model_path=str(tflite_path)).get_signature_runner(
        metadata["signature_key"]
    )
    states = {
        state["input"]: np.zeros(state["shape"], np.float32) for state in metadata["states"]
    }
    on_device = []
    for frame in frames:
        outputs = runner(**{metadata["input"]["name"]: frame[None]}, **states)
        on_device.append(outputs[metadata["output"]["name"]][0])
        states = {state["input"]: outputs[state["output"]] for state in metadata["states"]}
    np.testing.assert_allclose(np.stack(on_device), expected, atol=1e-3, rtol=0)


# ---------------------------------------------------------------- errors


def test_wrong_backbone_fails_and_loads_nothing(release_resnet):
    _, path = release_resnet
    model = tsm_tf.build_tsm(
        "mobilenet_v2", 7, num_segments=NUM_SEGMENTS, image_size=IMAGE_SIZE,
        width_multiplier=0.35,
    )
    before = weights_of(model)
    with pytest.raises(ValueError, match=r"holds a resnet50 but the model is a mobilenet_v2"):
        load_torch_checkpoint(model, path)
    assert_unchanged(model, before)


def test_wrong_class_count_fails_and_loads_nothing(release_resnet):
    _, path = release_resnet
    model = tiny_resnet(num_classes=6)
    before = weights_of(model)
    classifier_before = weights_of(model.get_layer("classifier"))
    stem_before = model.get_layer("conv1").kernel.numpy().copy()
    with pytest.raises(ValueError, match=r"classifies 7 classes, the model 6.*num_classes=7"):
        load_torch_checkpoint(model, path)
    assert_unchanged(model, before)
    # strict=False: everything but the classifier, as for fine-tuning.
    summary = load_torch_checkpoint(model, path, strict=False)
    assert any("7 classes" in warning for warning in summary["warnings"])
    for old, new in zip(classifier_before, model.get_layer("classifier").get_weights()):
        np.testing.assert_array_equal(old, new)
    assert not np.array_equal(model.get_layer("conv1").kernel.numpy(), stem_before)


def test_shift_settings_are_checked(release_resnet):
    _, path = release_resnet
    for kwargs, message in [
        ({"shift_div": 0}, r"shift_div=8 \(a TSM\)"),
        ({"bidirectional": False}, r"build with bidirectional=True"),
        ({"shift_div": 4}, r"file name says shift8"),
        ({"num_segments": 8}, r"file name says segment4"),
    ]:
        model = tiny_resnet(**kwargs)
        before = weights_of(model)
        with pytest.raises(ValueError, match=message):
            load_torch_checkpoint(model, path)
        assert_unchanged(model, before)


def test_truncated_file_fails_clearly(release_resnet, tmp_path):
    _, path = release_resnet
    truncated = tmp_path / "truncated.pth"
    data = path.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    model = tiny_resnet()
    before = weights_of(model)
    with pytest.raises(ValueError, match=r"truncated or corrupt"):
        load_torch_checkpoint(model, truncated)
    assert_unchanged(model, before)


class NotATensor:
    """Pickled by value into a checkpoint: loading it would run this module's code."""


def test_unsafe_pickle_is_refused(release_resnet, tmp_path):
    net, _ = release_resnet
    unsafe = tmp_path / "unsafe.pth"
    torch.save({"state_dict": net.state_dict(), "extra": NotATensor()}, unsafe)
    model = tiny_resnet()
    before = weights_of(model)
    with pytest.raises(ValueError, match=r"cannot be read safely.*arbitrary code"):
        load_torch_checkpoint(model, unsafe)
    assert_unchanged(model, before)
    # A pickle whose unpickling would run a command is refused the same way.
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pth"
    torch.save({"state_dict": Payload()}, evil)
    with pytest.raises(ValueError, match=r"cannot be read safely"):
        load_torch_checkpoint(model, evil)
    assert not marker.exists()
    assert_unchanged(model, before)


def test_strict_names_every_missing_and_unused_key(release_resnet, tmp_path):
    net, _ = release_resnet
    state = net.state_dict()
    del state["module.base_model.layer2.1.bn2.running_var"]
    state["module.base_model.extra.weight"] = torch.zeros(3)
    path = tmp_path / RELEASE_NAME.format(backbone="resnet50")
    torch.save({"state_dict": state}, path)
    model = tiny_resnet()
    before = weights_of(model)
    with pytest.raises(ValueError) as error:
        load_torch_checkpoint(model, path)
    assert "layer2.1.bn2.running_var (Keras layer2_1_bn2/moving_variance)" in str(error.value)
    assert "unused checkpoint tensor: module.base_model.extra.weight" in str(error.value)
    assert_unchanged(model, before)
    summary = load_torch_checkpoint(model, path, strict=False)
    assert summary["unused"] == ["module.base_model.extra.weight"]
    assert len(summary["missing"]) == 1


def test_shape_mismatch_fails_even_when_not_strict(release_resnet):
    _, path = release_resnet
    model = tsm_tf.build_tsm(
        "resnet50", 7, num_segments=NUM_SEGMENTS, image_size=IMAGE_SIZE, width_multiplier=0.25
    )
    before = weights_of(model)
    with pytest.raises(ValueError, match=r"(?s)shapes differ.*conv1.weight has shape \(8, 3, 7, 7\)"):
        load_torch_checkpoint(model, path, strict=False)
    assert_unchanged(model, before)


def test_torch_stays_optional(release_resnet, tmp_path):
    """tsm_tf imports and runs without torch; only reading a checkpoint needs it."""
    _, path = release_resnet
    output = run_python(
        f"""
        import sys
        sys.modules["torch"] = None  # as if torch were not installed
        import tsm_tf
        model = tsm_tf.build_tsm("resnet50", 7, num_segments=4, image_size=32,
                                 width_multiplier=0.125)
        try:
            tsm_tf.load_torch_checkpoint(model, {str(path)!r})
        except ImportError as error:
            print("ImportError:", error)
        """
    )
    assert "pip install tsm_tf[torch]" in output


def test_convert_cli_writes_a_model_that_runs_without_torch(release_resnet, tmp_path):
    net, path = release_resnet
    output = tmp_path / "converted.keras"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [sys.executable, "-m", "tsm_tf.cli.convert", f"--checkpoint={path}",
         f"--output={output}", "--image_size=32"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert str(output) in result.stdout
    clips = random_clips(2, NUM_SEGMENTS, IMAGE_SIZE, seed=11)
    np.save(tmp_path / "clips.npy", clips)
    logits = run_python(
        f"""
        import sys, json
        sys.modules["torch"] = None
        import numpy as np, keras
        import tsm_tf
        model = keras.models.load_model({str(output)!r})
        config = {{k: getattr(model, k) for k in ("backbone", "num_segments", "shift_div",
                                                 "bidirectional", "width_multiplier")}}
        print(json.dumps(config))
        print(json.dumps(model.predict(np.load({str(tmp_path / "clips.npy")!r}), verbose=0).tolist()))
        """
    ).strip().splitlines()
    assert json.loads(logits[-2]) == {
        "backbone": "resnet50", "num_segments": 4, "shift_div": 8,
        "bidirectional": True, "width_multiplier": RESNET_TINY_WIDTH,
    }
    np.testing.assert_allclose(
        np.array(json.loads(logits[-1])), torch_logits(net, clips), atol=ATOL, rtol=0
    )
