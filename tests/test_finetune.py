"""Fine-tuning from a preset in one step: `build_tsm(weights=name)` and `tsm-train --init_weights=name`.

The preset is a tiny ResNet50 TSM with random weights and calibrated batch-norm
statistics, saved as the Kinetics release file and served by a local HTTP
server (tests/preset_server.py); the new classes are the motion dataset's nine.
"""

import csv

import keras
import numpy as np
import pytest

import tsm_tf
from tests.data_helpers import write_small_motion_dataset
from tests.helpers import calibration_clips
from tests.helpers import require
from tests.preset_server import LocalServer
from tests.preset_server import run_cli_served
from tsm_tf.models.classifier_head import CLASSIFIER_LAYER
from tsm_tf.presets import download

torch = require("torch", "pip install torch (or the [dev] extra)")

from tests import torch_reference as ref  # noqa: E402

KINETICS = "tsm_resnet50_kinetics400_8f"
KINETICS_FILE = "TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e50.pth"
TINY = {"width_multiplier": 0.125, "image_size": 32}  # reference base width 8
NUM_MOTIONS = 9


@pytest.fixture(scope="module")
def served_kinetics(tmp_path_factory):
    """The preset's folder, served; the Keras cache and base URL point at temporary ones."""
    folder = tmp_path_factory.mktemp("served")
    net = ref.randomize(
        ref.release_tsm("resnet50", 400, 8, base_width=8),
        seed=41,
        calibration_clips=calibration_clips(8, 32),
    )
    torch.save({"epoch": 50, "state_dict": net.state_dict()}, folder / KINETICS_FILE)
    server = LocalServer(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_HOME", str(tmp_path_factory.mktemp("keras_home")))
        patch.setenv(download.BASE_URL_VARIABLE, server.url)
        yield folder
    server.stop()


@pytest.fixture(scope="module")
def preset_model(served_kinetics):
    """The preset at its own 400 classes: the weights every fine-tuned model starts from."""
    return tsm_tf.TSMClassifier.from_preset(KINETICS, **TINY)


def backbone_weights(model):
    """Every weight but the classifier's, by layer and variable name."""
    return {
        weight.path: keras.ops.convert_to_numpy(weight)
        for layer in model.layers
        if layer.name != CLASSIFIER_LAYER
        for weight in layer.weights
    }


def test_build_tsm_from_a_preset_with_other_classes_keeps_the_backbone(preset_model, caplog):
    with caplog.at_level("INFO"):
        model = tsm_tf.build_tsm("resnet50", NUM_MOTIONS, weights=KINETICS, **TINY)
    # The shift settings are the preset's; the classifier is new.
    assert (model.num_segments, model.shift_div, model.bidirectional) == (8, 8, True)
    assert model.get_layer(CLASSIFIER_LAYER).kernel.shape[-1] == NUM_MOTIONS
    assert model.output.shape[-1] == NUM_MOTIONS and model.labels is None
    expected = backbone_weights(preset_model)
    loaded = backbone_weights(model)
    assert sorted(loaded) == sorted(expected) and len(loaded) > 200
    for path, value in expected.items():
        np.testing.assert_array_equal(loaded[path], value, err_msg=path)
    assert f"Preset {KINETICS}: loaded" in caplog.text
    assert "new: classifier/kernel, classifier/bias" in caplog.text


def test_a_preset_of_another_architecture_is_refused_naming_both(served_kinetics):
    with pytest.raises(
        ValueError, match=r"backbone='mobilenet_v2' \(the preset has backbone='resnet50'\)"
    ):
        tsm_tf.build_tsm("mobilenet_v2", NUM_MOTIONS, weights=KINETICS)
    with pytest.raises(
        ValueError, match=r"bidirectional=False \(the preset has bidirectional=True\)"
    ):
        tsm_tf.build_tsm("resnet50", NUM_MOTIONS, bidirectional=False, weights=KINETICS, **TINY)


def test_tsm_train_fine_tunes_a_preset_with_partial_batch_norm(
    served_kinetics, preset_model, tmp_path
):
    """One command: the preset's architecture, a new classifier, frozen statistics, a falling loss."""
    paths = write_small_motion_dataset(tmp_path / "motion", num_clips=36, seed=3, num_workers=1)
    run_dir = tmp_path / "run"
    result = run_cli_served(
        served_kinetics,
        "tsm_tf.cli.train",
        [
            f"--train_pattern={paths['train']}",
            f"--run_dir={run_dir}",
            f"--init_weights={KINETICS}",
            "--width_multiplier=0.125",
            "--image_size=32",
            "--partial_bn",
            "--dropout=0",
            "--train_crop=center",
            "--epochs=3",
            "--batch_size=8",
            "--learning_rate=0.005",
        ],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        f"--init_weights={KINETICS}: backbone='resnet50', num_segments=8, shift_div=8, "
        "bidirectional=True." in result.stderr
    )
    assert "new: classifier/kernel, classifier/bias" in result.stderr
    assert "buffer_size` is unspecified" not in result.stderr  # TensorFlow's note, now quiet
    with open(run_dir / "log.csv") as handle:
        losses = [float(row["loss"]) for row in csv.DictReader(handle)]
    assert losses[-1] < 0.9 * losses[0], losses

    trained = keras.models.load_model(run_dir / "last.keras", compile=False)
    batch_norms = [
        layer.name for layer in trained.layers if isinstance(layer, keras.layers.BatchNormalization)
    ]
    start, end = backbone_weights(preset_model), backbone_weights(trained)
    for name in batch_norms[1:]:  # partial BN: all but the first run on stored statistics
        for statistic in ("moving_mean", "moving_variance"):
            path = f"{name}/{statistic}"
            np.testing.assert_array_equal(end[path], start[path], err_msg=path)
    # The first batch norm trains, so its statistics move: the check above can fail.
    first = f"{batch_norms[0]}/moving_mean"
    assert np.abs(end[first] - start[first]).max() > 1e-3
