"""`make demo` end to end, on a few clips and one epoch (the figures are not checked, the pipeline is)."""

import json
import os

import pytest

from tests.helpers import run_cli


def test_demo_trains_both_models_exports_and_streams(tmp_path):
    out_dir = tmp_path / "demo"
    result = run_cli("tsm_tf.demo", [f"--out_dir={out_dir}", "--num_clips=45", "--epochs=1"])
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out_dir / "summary.json").read_text())
    tsm, tsn = summary["tsm"], summary["tsn"]
    assert tsm["parameters"] == tsn["parameters"] > 0
    assert tsm["flops"] == tsn["flops"] > 0
    assert summary["streaming"]["num_clips"] == 9
    assert summary["streaming"]["num_frames"] == 9 * 8
    for path in (
        tsm["model"],
        tsn["model"],
        out_dir / "export" / "tsm_streaming.tflite",
        out_dir / "export" / "tsm_streaming.json",
    ):
        assert os.path.getsize(path) > 0, path
    # The motion records say 25 fps and the model samples all 8 frames of each clip.
    assert json.loads((out_dir / "export" / "tsm_streaming.json").read_text())["frame_rate"] == 25.0
    # The one table, with the comparison and the streaming figures.
    assert "| held-out top-1 (Keras, 8 frames) |" in result.stdout
    assert "streaming top-1 (TFLite, frame by frame)" in result.stdout
    assert "TSM epoch 1/1" in result.stdout


def test_a_failing_run_stops_the_others_and_names_its_log(tmp_path):
    from tsm_tf.training import TrainConfig
    from tsm_tf.training.side_by_side import train_side_by_side

    configs = {
        name: TrainConfig(
            train_pattern=str(tmp_path / "missing-*.tfrecord"),
            run_dir=str(tmp_path / name),
            backbone="mobilenet_v2",
            image_size=32,
            epochs=1,
        )
        for name in ("first", "second")
    }
    with pytest.raises(
        RuntimeError, match=r"Training (first|second) failed \(exit code 1\); see .*console.log"
    ):
        train_side_by_side(configs)
    logs = "".join((tmp_path / name / "console.log").read_text() for name in configs)
    assert "missing-*.tfrecord" in logs
