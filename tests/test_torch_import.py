"""PyTorch checkpoint import: Keras equals an independent PyTorch TSM, number for number.

Every checkpoint here is written by `tests/torch_reference.py` (random
weights, batch-norm statistics of forward passes on random clips) in the
layout the reference release uses, so no network is needed. Logits must
agree within 1e-4 (float32), and every comparison first checks that the
reference's logits move by far more than that when the clip changes, its
frames are reversed or (streamed) its states are zeroed. The planted-bug
tests show the comparisons fail when the import or the shift is wrong.
"""

import copy
import json
import os
import types

import numpy as np
import pytest

from tests.helpers import require

torch = require(
    "torch", "pip install -e '.[dev]' (or the CPU build alone: pip install torch==2.13.0)"
)
require("ai_edge_litert.interpreter", "pip install -e '.[dev]'")

import tsm_tf  # noqa: E402
from tests import torch_reference as ref  # noqa: E402
from tests.helpers import SENSITIVITY_FACTOR  # noqa: E402
from tests.helpers import assert_matches_reference  # noqa: E402
from tests.helpers import calibration_clips  # noqa: E402
from tests.helpers import random_clips  # noqa: E402
from tests.helpers import run_cli  # noqa: E402
from tests.helpers import run_python  # noqa: E402
from tests.helpers import seed_everything  # noqa: E402
from tests.streaming_helpers import stream_online  # noqa: E402
from tsm_tf.interop.torch_import import load_imagenet_weights  # noqa: E402
from tsm_tf.interop.torch_import import load_torch_checkpoint  # noqa: E402
from tsm_tf.lite.streaming import logits_of  # noqa: E402
from tsm_tf.lite.streaming import stream_tflite  # noqa: E402

ATOL = 1e-4
NUM_SEGMENTS = 4
IMAGE_SIZE = 32
RESNET_TINY_WIDTH = 0.125  # Keras width 0.125 = reference base width 8
RESNET_TINY_BASE = 8
RELEASE_NAME = "TSM_test_RGB_{backbone}_shift8_blockres_avg_segment4_e1.pth"
ANOTHER_CLIP_SEED = 99


def reference_logits(net, clips, per_frame=False, carry_states=True):
    """The PyTorch reference's logits on RGB clips `(clips, frames, H, W, 3)`:
    `(clips, classes)` for a TSM or TSN, `(clips, frames, classes)` with
    `per_frame` and for an ImageNet network (each frame alone) or the online
    network (streamed, states carried unless `carry_states=False`)."""
    tensor = ref.normalize_frames(clips)
    with torch.no_grad():
        if isinstance(net, ref.OnlineMobileNetV2):
            return net.stream(tensor, carry_states).numpy()
        if isinstance(net, ref.DataParallelLike):
            return (net.module.frame_logits(tensor) if per_frame else net(tensor)).numpy()
        each_frame = net(tensor.flatten(0, 1))
        return each_frame.view(*tensor.shape[:2], -1).numpy()


def assert_matches_torch(actual, net, clips, per_frame=False, atol=ATOL):
    """Keras's `actual` equals the reference on `clips`, and the reference is sensitive:
    another clip, the frames reversed and (online) zeroed states each move its
    logits by at least SENSITIVITY_FACTOR * atol. Every comparison with PyTorch
    goes through here."""
    changed = {
        "another clip": reference_logits(
            net, random_clips(*clips.shape[:3], seed=ANOTHER_CLIP_SEED), per_frame
        ),
        "reversed frames": reference_logits(net, clips[:, ::-1].copy(), per_frame),
    }
    if isinstance(net, ref.OnlineMobileNetV2):
        changed["zeroed states"] = reference_logits(net, clips, carry_states=False)
    assert_matches_reference(actual, reference_logits(net, clips, per_frame), changed, atol)


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


def clip_logits(model, clips):
    return model.predict(clips, verbose=0)


def frame_logits(model, clips):
    return tsm_tf.per_frame_model(model).predict(clips, verbose=0)


# ---------------------------------------------------------------- the compared models
# Each is a namespace: the reference `net`, its checkpoint `path` (as the
# release names it), `build(**kwargs)` for a fresh Keras model of the same
# architecture, `logits(model, clips)` for Keras's side, the `clips` compared
# on, and `model`, the Keras model with the checkpoint loaded.


def compared(net, path, build, logits, clips):
    model = build()
    summary = load_torch_checkpoint(model, path)
    return types.SimpleNamespace(
        net=net,
        path=path,
        build=build,
        logits=logits,
        clips=clips,
        model=model,
        summary=summary,
    )


@pytest.fixture(scope="module")
def release_resnet(tmp_path_factory):
    seed_everything(1)
    net = ref.randomize(
        ref.release_tsm("resnet50", 7, NUM_SEGMENTS, base_width=RESNET_TINY_BASE),
        seed=1,
        calibration_clips=calibration_clips(NUM_SEGMENTS, IMAGE_SIZE),
    )
    path = tmp_path_factory.mktemp("release") / RELEASE_NAME.format(backbone="resnet50")
    save_release(net, path, "resnet50")
    return compared(
        net, path, tiny_resnet, clip_logits, random_clips(2, NUM_SEGMENTS, IMAGE_SIZE, seed=3)
    )


@pytest.fixture(scope="module")
def release_mobilenet_v2(tmp_path_factory):
    """Released checkpoints are width 1.0; the reference MobileNetV2's own layout."""
    seed_everything(2)
    net = ref.randomize(
        ref.release_tsm("mobilenet_v2", 9, NUM_SEGMENTS),
        seed=2,
        calibration_clips=calibration_clips(NUM_SEGMENTS, IMAGE_SIZE),
    )
    path = tmp_path_factory.mktemp("release") / RELEASE_NAME.format(backbone="mobilenetv2")
    save_release(net, path, "mobilenetv2")

    def build(**kwargs):
        return tsm_tf.build_tsm(
            "mobilenet_v2", 9, num_segments=NUM_SEGMENTS, image_size=IMAGE_SIZE, **kwargs
        )

    return compared(
        net, path, build, clip_logits, random_clips(2, NUM_SEGMENTS, IMAGE_SIZE, seed=4)
    )


ONLINE_IMAGE_SIZE = 64
ONLINE_NUM_FRAMES = 5


@pytest.fixture(scope="module")
def online_demo(tmp_path_factory):
    """The online demo's MobileNetV2 (explicit shift buffers), saved as the demo's
    plain state dict, compared frame by frame over a stream of one clip."""
    seed_everything(9)
    net = ref.randomize(
        ref.OnlineMobileNetV2(num_classes=27),
        seed=9,
        calibration_clips=calibration_clips(ONLINE_NUM_FRAMES, ONLINE_IMAGE_SIZE),
    )
    path = tmp_path_factory.mktemp("online") / "mobilenetv2_jester_online.pth.tar"
    torch.save(net.state_dict(), path)

    def build(**kwargs):
        kwargs.setdefault("bidirectional", False)
        return tsm_tf.build_tsm(
            "mobilenet_v2",
            27,
            num_segments=ONLINE_NUM_FRAMES,
            image_size=ONLINE_IMAGE_SIZE,
            **kwargs,
        )

    return compared(
        net,
        path,
        build,
        frame_logits,
        random_clips(1, ONLINE_NUM_FRAMES, ONLINE_IMAGE_SIZE, seed=10),
    )


# ---------------------------------------------------------------- parity


def test_release_resnet50_matches_pytorch(release_resnet):
    case = release_resnet
    assert case.summary["layout"] == "tsm_release"
    assert case.summary["missing"] == case.summary["unused"] == []
    assert_matches_torch(case.logits(case.model, case.clips), case.net, case.clips)


def test_release_mobilenet_v2_width_1_matches_pytorch(release_mobilenet_v2):
    case = release_mobilenet_v2
    assert "module.base_model.features.3.conv.0.net.weight" in case.net.state_dict()
    assert_matches_torch(case.logits(case.model, case.clips), case.net, case.clips)


def test_release_tsn_resnet50_matches_pytorch(tmp_path):
    """A TSN file of the release (no shift wrappers) loads into shift_div=0.

    Compared frame by frame: a TSN's clip logits are a mean over frames, the
    same for any frame order."""
    net = ref.randomize(
        ref.release_tsm("resnet50", 5, 3, shift_div=0, base_width=RESNET_TINY_BASE),
        seed=5,
        calibration_clips=calibration_clips(3, IMAGE_SIZE),
    )
    path = save_release(net, tmp_path / "TSM_test_RGB_resnet50_avg_segment3_e1.pth", "resnet50")
    model = tiny_resnet(5, num_segments=3, shift_div=0)
    load_torch_checkpoint(model, path)
    clips = random_clips(1, 3, IMAGE_SIZE, seed=6)
    assert_matches_torch(frame_logits(model, clips), net, clips, per_frame=True)


@pytest.mark.parametrize(
    "backbone, width, make_net, atol",
    [
        ("mobilenet_v2", 0.35, lambda: ref.MobileNetV2(width=0.35, layout="torchvision"), ATOL),
        # 2000 logits of up to 8: float32 PyTorch is itself 2.6e-4 from float64 on them.
        ("resnet50", RESNET_TINY_WIDTH, lambda: ref.ResNet50(base_width=RESNET_TINY_BASE), 5e-4),
    ],
)
def test_torchvision_imagenet_weights(tmp_path, backbone, width, make_net, atol):
    net = ref.randomize(make_net(), seed=7, calibration_clips=calibration_clips(2, IMAGE_SIZE))
    path = tmp_path / f"{backbone}-imagenet.pth"
    torch.save(net.state_dict(), path)
    # 1000 classes: the whole network loads, so each frame's logits are ImageNet's.
    tsn = tsm_tf.build_tsm(
        backbone,
        1000,
        num_segments=2,
        image_size=IMAGE_SIZE,
        shift_div=0,
        width_multiplier=width,
        weights=str(path),
    )
    clips = random_clips(1, 2, IMAGE_SIZE, seed=8)
    assert_matches_torch(frame_logits(tsn, clips), net, clips, atol=atol)

    # Another class count: the backbone loads, the new classifier stays as built.
    tsm = tsm_tf.build_tsm(
        backbone, 10, num_segments=2, image_size=IMAGE_SIZE, width_multiplier=width
    )
    classifier_before = weights_of(tsm.get_layer("classifier"))
    summary = load_imagenet_weights(tsm, path)
    assert summary["layout"] == "torchvision"
    assert summary["missing"] == summary["unused"] == summary["warnings"] == []
    for old, new in zip(classifier_before, tsm.get_layer("classifier").get_weights()):
        np.testing.assert_array_equal(old, new)
    stem = "conv1" if backbone == "resnet50" else "features_0_0"
    np.testing.assert_allclose(
        tsm.get_layer(stem).kernel.numpy(),
        net.state_dict()[f"{stem.replace('_', '.')}.weight"].numpy().transpose(2, 3, 1, 0),
    )


def test_online_demo_matches_offline_uni_directional(online_demo):
    """Streamed PyTorch frame by frame == the clip model's per-frame logits."""
    case = online_demo
    assert_matches_torch(case.logits(case.model, case.clips), case.net, case.clips)


def test_online_demo_streams_in_keras_and_tflite(online_demo, tmp_path):
    """The same stream through build_online_tsm, then the real TFLite interpreter."""
    case = online_demo
    frames = case.clips[0]
    streamed = stream_online(tsm_tf.build_online_tsm(case.model), frames)
    assert_matches_torch(streamed[None], case.net, case.clips)

    tflite_path = tmp_path / "online.tflite"
    tsm_tf.export_tflite(case.model, tflite_path, mode="streaming")
    on_device = logits_of(stream_tflite(tflite_path, frames))
    assert_matches_torch(on_device[None], case.net, case.clips, atol=1e-3)


# ---------------------------------------------------------------- planted bugs
# Each test plants one bug, in a copy of the weights or in the compared graph,
# and asserts that the comparison above now fails by far: proof that it can.


def kernels_transposed(state, depthwise):
    """A copy of a state dict with every depthwise (one input channel per group)
    or every regular spatial kernel's height and width swapped, as an import
    that read `(out, in, height, width)` as `(out, in, width, height)` would."""
    changed = dict(state)
    for key, tensor in state.items():
        if tensor.ndim == 4 and tensor.shape[2] > 1 and (tensor.shape[1] == 1) == depthwise:
            changed[key] = tensor.transpose(2, 3).contiguous()
    assert changed.keys() == state.keys() and any(
        changed[key] is not state[key] for key in state
    ), "no kernel of that kind to transpose"
    return changed


def save_like(case, state, folder):
    """`state` saved as the case's checkpoint is, under the same file name."""
    path = folder / case.path.name
    torch.save({"state_dict": state} if isinstance(case.net, ref.DataParallelLike) else state, path)
    return path


def mirrored(net):
    """A copy of the reference whose two-way shifts all run the other way."""
    net = copy.deepcopy(net)
    wrappers = [module for module in net.modules() if isinstance(module, ref.TemporalShiftWrapper)]
    assert wrappers, "the reference has no shift to mirror"
    for wrapper in wrappers:
        wrapper.mirrored = True
    return net


def assert_comparison_fails(actual, net, clips):
    """The guarded comparison rejects `actual`, past its guard, and by far."""
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        assert_matches_torch(actual, net, clips)
    difference = np.max(np.abs(actual - reference_logits(net, clips)))
    assert difference > SENSITIVITY_FACTOR * ATOL, difference


@pytest.mark.parametrize(
    "case_name, bug",
    [
        ("release_mobilenet_v2", "depthwise kernels transposed"),
        ("release_mobilenet_v2", "regular kernels transposed"),
        ("release_mobilenet_v2", "shift direction mirrored"),
        ("online_demo", "depthwise kernels transposed"),
        ("online_demo", "regular kernels transposed"),
        ("release_resnet", "regular kernels transposed"),
        ("release_resnet", "shift direction mirrored"),
        ("release_resnet", "one-way shift instead of two-way"),
    ],
)
def test_planted_bug_fails_the_comparison(request, tmp_path, case_name, bug):
    case = request.getfixturevalue(case_name)
    net = case.net
    if bug == "shift direction mirrored":
        # The reference's shift runs the other way; Keras's is unchanged.
        net = mirrored(case.net)
        model = case.model
    elif bug == "one-way shift instead of two-way":
        model = case.build(bidirectional=False)
        load_torch_checkpoint(model, case.path, strict=False)
    else:
        state = kernels_transposed(case.net.state_dict(), depthwise=bug.startswith("depthwise"))
        model = case.build()
        load_torch_checkpoint(model, save_like(case, state, tmp_path))
    assert_comparison_fails(case.logits(model, case.clips), net, case.clips)


# ---------------------------------------------------------------- errors


def test_wrong_backbone_fails_and_loads_nothing(release_resnet):
    path = release_resnet.path
    model = tsm_tf.build_tsm(
        "mobilenet_v2",
        7,
        num_segments=NUM_SEGMENTS,
        image_size=IMAGE_SIZE,
        width_multiplier=0.35,
    )
    before = weights_of(model)
    with pytest.raises(ValueError, match=r"holds a resnet50 but the model is a mobilenet_v2"):
        load_torch_checkpoint(model, path)
    assert_unchanged(model, before)


def test_wrong_class_count_fails_and_loads_nothing(release_resnet):
    path = release_resnet.path
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
    path = release_resnet.path
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
    path = release_resnet.path
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
    net = release_resnet.net
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
    net = release_resnet.net
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
    path = release_resnet.path
    model = tsm_tf.build_tsm(
        "resnet50", 7, num_segments=NUM_SEGMENTS, image_size=IMAGE_SIZE, width_multiplier=0.25
    )
    before = weights_of(model)
    with pytest.raises(
        ValueError, match=r"(?s)shapes differ.*conv1.weight has shape \(8, 3, 7, 7\)"
    ):
        load_torch_checkpoint(model, path, strict=False)
    assert_unchanged(model, before)


def test_torch_stays_optional(release_resnet, tmp_path):
    """tsm_tf imports and runs without torch; only reading a checkpoint needs it."""
    path = release_resnet.path
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
    net, path = release_resnet.net, release_resnet.path
    output = tmp_path / "converted.keras"
    result = run_cli(
        "tsm_tf.cli.convert",
        [f"--checkpoint={path}", f"--output={output}", "--image_size=32"],
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert str(output) in result.stdout
    clips = random_clips(2, NUM_SEGMENTS, IMAGE_SIZE, seed=11)
    np.save(tmp_path / "clips.npy", clips)
    logits = (
        run_python(
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
        )
        .strip()
        .splitlines()
    )
    assert json.loads(logits[-2]) == {
        "backbone": "resnet50",
        "num_segments": 4,
        "shift_div": 8,
        "bidirectional": True,
        "width_multiplier": RESNET_TINY_WIDTH,
    }
    assert_matches_torch(np.array(json.loads(logits[-1]), np.float32), net, clips)
