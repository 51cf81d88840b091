"""ResNet101: torchvision's layout and size, the authors' every-other-block shift, parity with PyTorch."""

import numpy as np
import pytest

import tsm_tf
from tests.helpers import calibration_clips
from tests.helpers import random_clips
from tests.helpers import require

torch = require("torch", "pip install torch (or the [dev] extra)")

from tests import torch_reference as ref  # noqa: E402

ATOL = 5e-4  # 101 float32 layers: PyTorch in float32 is itself 1.3e-4 off its float64 result here
NUM_SEGMENTS = 4
IMAGE_SIZE = 32
TINY_WIDTH = 0.125  # Keras width 0.125 = reference base width 8
TINY_BASE = 8
RELEASE_NAME = "TSM_test_RGB_resnet101_shift8_blockres_avg_segment4_e1.pth"


def trainable_parameters(model):
    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


def shifted_blocks(model):
    return [
        layer.name[: -len("_shift")]
        for layer in model.layers
        if isinstance(layer, tsm_tf.TemporalShift)
    ]


def torch_logits(net, clips):
    with torch.no_grad():
        return net(ref.normalize_frames(clips)).numpy()


def test_resnet101_has_torchvision_parameter_count():
    """torchvision's resnet101: 44,549,160 parameters with 1000 classes (the
    reference module tree counts the same)."""
    reference = ref.ResNet(ref.RESNET_STAGE_BLOCKS["resnet101"])
    assert sum(parameter.numel() for parameter in reference.parameters()) == 44_549_160
    model = tsm_tf.build_tsm("resnet101", 1000, num_segments=1, image_size=32)
    assert trainable_parameters(model) == 44_549_160


def test_resnet101_shifts_every_other_block_and_resnet50_every_block():
    """make_temporal_shift's n_round = 2 once layer3 has >= 23 blocks: even indices only."""
    model = tsm_tf.build_tsm(
        "resnet101", 5, num_segments=2, image_size=32, width_multiplier=TINY_WIDTH
    )
    expected = (
        [f"layer1_{index}" for index in (0, 2)]
        + [f"layer2_{index}" for index in (0, 2)]
        + [f"layer3_{index}" for index in range(0, 23, 2)]
        + [f"layer4_{index}" for index in (0, 2)]
    )
    assert shifted_blocks(model) == expected
    assert len(expected) == 18
    resnet50 = tsm_tf.build_tsm(
        "resnet50", 5, num_segments=2, image_size=32, width_multiplier=TINY_WIDTH
    )
    assert len(shifted_blocks(resnet50)) == 16


@pytest.fixture(scope="module")
def release_resnet101(tmp_path_factory):
    torch.manual_seed(0)
    net = ref.randomize(
        ref.release_resnet_tsm("resnet101", 7, NUM_SEGMENTS, base_width=TINY_BASE),
        seed=11,
        calibration_clips=calibration_clips(NUM_SEGMENTS, IMAGE_SIZE),
    )
    path = tmp_path_factory.mktemp("resnet101") / RELEASE_NAME
    torch.save({"epoch": 1, "arch": "resnet101", "state_dict": net.state_dict()}, path)
    return net, path


def test_release_resnet101_matches_pytorch(release_resnet101):
    net, path = release_resnet101
    state = net.state_dict()
    assert "module.base_model.layer3.0.conv1.net.weight" in state
    assert "module.base_model.layer3.1.conv1.weight" in state  # odd blocks unshifted
    model = tsm_tf.build_tsm(
        "resnet101",
        7,
        num_segments=NUM_SEGMENTS,
        image_size=IMAGE_SIZE,
        width_multiplier=TINY_WIDTH,
    )
    summary = tsm_tf.load_torch_checkpoint(model, path)
    assert summary["backbone"] == "resnet101"
    assert summary["missing"] == summary["unused"] == []
    clips = random_clips(2, NUM_SEGMENTS, IMAGE_SIZE, seed=12)
    expected = torch_logits(net, clips)
    np.testing.assert_allclose(model.predict(clips, verbose=0), expected, atol=ATOL, rtol=0)

    # The reference is sensitive: another clip, and the same clip reversed in
    # time, move its logits far beyond the tolerance.
    other = random_clips(2, NUM_SEGMENTS, IMAGE_SIZE, seed=13)
    assert np.abs(torch_logits(net, other) - expected).max() > 100 * ATOL
    assert np.abs(torch_logits(net, clips[:, ::-1].copy()) - expected).max() > 100 * ATOL


def test_resnet101_checkpoint_with_every_block_shifted_is_refused(release_resnet101, tmp_path):
    """A file whose shift placement is not the authors' rule does not load silently."""
    base = ref.ResNet(ref.RESNET_STAGE_BLOCKS["resnet101"], base_width=TINY_BASE)
    ref.add_resnet_shift(base, NUM_SEGMENTS)  # every block, ResNet50's rule
    net = ref.DataParallelLike(ref.TSNWrapper(base, 7, NUM_SEGMENTS, "fc"))
    path = tmp_path / RELEASE_NAME
    torch.save({"state_dict": net.state_dict()}, path)
    model = tsm_tf.build_tsm(
        "resnet101",
        7,
        num_segments=NUM_SEGMENTS,
        image_size=IMAGE_SIZE,
        width_multiplier=TINY_WIDTH,
    )
    with pytest.raises(ValueError, match=r"checkpoint shifts 33 blocks.*the model 18 blocks"):
        tsm_tf.load_torch_checkpoint(model, path)
