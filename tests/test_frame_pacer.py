"""The frame pacer, the metadata's frame_rate and the rate derived from training records."""

import fractions

import numpy as np
import pytest
import tensorflow as tf

from tsm_tf import FramePacer
from tsm_tf.data import records
from tsm_tf.data.frame_rate import sampled_frame_rate
from tsm_tf.lite.metadata import expected_frame_rate
from tsm_tf.lite.metadata import validate_metadata
from tsm_tf.lite.pacer_golden import golden_sequences


def taken(pacer, timestamps):
    return [index for index, timestamp in enumerate(timestamps) if pacer.accept(timestamp)]


def test_a_30_fps_source_at_10_fps_takes_every_third_frame():
    timestamps = [fractions.Fraction(index, 30) for index in range(30)]
    pacer = FramePacer(10)
    assert taken(pacer, timestamps) == list(range(0, 30, 3))
    assert pacer.taken_rate == 10.0 and abs(pacer.offered_rate - 30.0) < 1e-6
    assert pacer.summary() == "fed 10 of 30 frames, 10.0 fps (the model expects 10.0 fps)"
    single = FramePacer(None)
    single.accept(0.0)
    assert single.summary() == "fed 1 of 1 frame, - (the model takes every frame)"


def test_choices_follow_timestamps_not_counts():
    # 30 fps without the frames at 0.1 s and 0.133 s: 0.167 s is taken, the next is due
    # 0.1 s later less the quarter-period tolerance (0.242 s), so 0.233 s counts; by count
    # (every third frame received) frames 6 and 10 would follow.
    timestamps = [index / 30 for index in range(13) if index not in (3, 4)]
    assert [round(timestamps[index] * 30) for index in taken(FramePacer(10), timestamps)] == [
        0,
        5,
        7,
        10,
    ]


def test_jitter_keeps_the_average_rate_and_a_slow_source_is_taken_whole():
    rng = np.random.default_rng(0)
    jittery = np.arange(300) / 30 + rng.uniform(-0.004, 0.004, 300)
    jittery[0] = 0.0
    pacer = FramePacer(10)
    chosen = taken(pacer, jittery)
    assert len(chosen) == 100 and abs(pacer.taken_rate - 10.0) < 0.05
    assert np.all(np.diff(chosen) == 3)
    slow = FramePacer(10)
    assert taken(slow, np.arange(20) / 8) == list(range(20))
    assert slow.source_is_slower()


def test_every_frame_without_a_rate_and_a_clock_that_goes_back_restarts():
    assert taken(FramePacer(None), [0, 0.001, 0.002]) == [0, 1, 2]
    pacer = FramePacer(10)
    assert taken(pacer, [5.0, 5.01, 1.0, 1.01, 1.1]) == [0, 2, 4]


@pytest.mark.parametrize("bad", [0, -5, float("nan"), "10", True, 2000])
def test_bad_frame_rates_are_refused(bad):
    with pytest.raises(ValueError, match="frame_rate"):
        FramePacer(bad)


@pytest.mark.parametrize("bad", ["1.0", float("nan"), float("inf"), None, True])
def test_bad_timestamps_are_refused_and_the_pacer_goes_on(bad):
    pacer = FramePacer(10)
    assert pacer.accept(0.0)
    with pytest.raises(ValueError, match="timestamp"):
        pacer.accept(bad)
    assert pacer.accept(0.1) and pacer.num_offered == 2


def test_golden_sequences_are_what_the_pacer_chooses():
    cases = golden_sequences()
    names = {case["name"] for case in cases}
    assert {
        "jittery_30fps_camera_at_10fps",
        "fast_60fps_camera_at_15fps",
        "slow_8fps_camera_at_10fps",
    } <= names
    for case in cases:
        pacer = FramePacer(case["frame_rate"])
        chosen = [
            i for i, stamp in enumerate(case["timestamps_ns"]) if pacer.accept_nanoseconds(stamp)
        ]
        assert chosen == case["chosen"], case["name"]
        # Sensitive: the chosen frames are a proper subset unless the source is slower or unpaced.
        if case["name"].startswith(("jittery", "fast")):
            assert len(chosen) < len(case["timestamps_ns"]) / 2


def minimal_metadata(**changes):
    tensor = {
        "name": "frame",
        "shape": [1, 8, 8, 3],
        "dtype": "float32",
        "value_range": [0, 255],
        "color": "RGB",
    }
    metadata = {
        "format_version": 1,
        "tsm_tf_version": "0",
        "mode": "streaming",
        "precision": "float32",
        "backbone": "mobilenet_v2",
        "num_classes": 1,
        "num_segments": 8,
        "shift_div": 8,
        "bidirectional": False,
        "image_size": 8,
        "width_multiplier": 1.0,
        "labels": ["a"],
        "signature_key": "serving_default",
        "input": tensor,
        "output": {"name": "logits", "shape": [1, 1], "dtype": "float32"},
        "states": [
            {"input": "state_00", "output": "state_00", "shape": [1, 2], "dtype": "float32"}
        ],
        "preprocessing": {
            "resize_shorter_side": 9,
            "crop_size": 8,
            "crop": "center",
            "interpolation": "bilinear",
        },
        "sha256": "00",
    }
    metadata.update(changes)
    return metadata


def test_metadata_frame_rate_is_optional_and_checked():
    older = minimal_metadata()
    validate_metadata(older)
    assert expected_frame_rate(older) is None
    assert expected_frame_rate(minimal_metadata(frame_rate=None)) is None
    assert expected_frame_rate(minimal_metadata(frame_rate=12.5)) == 12.5
    for bad in (0, -1, "10", True):
        with pytest.raises(ValueError, match="frame_rate must be frames per second"):
            validate_metadata(minimal_metadata(frame_rate=bad))


def write_records(path, videos):
    with tf.io.TFRecordWriter(path) as writer:
        for index, (frame_rate, num_frames) in enumerate(videos):
            writer.write(
                records.serialize_video([b"x"] * num_frames, 0, f"v{index}", frame_rate, 8, 8)
            )


def test_sampled_frame_rate_from_records(tmp_path):
    same = str(tmp_path / "same.tfrecord")
    write_records(same, [(25.0, 8)] * 3)
    assert sampled_frame_rate(same, num_segments=8, sampling="segment") == 25.0
    assert sampled_frame_rate(same, num_segments=4, sampling="segment") == 12.5
    assert sampled_frame_rate(same, num_segments=8, sampling="dense") == 25.0 / 8
    assert sampled_frame_rate(same, num_segments=8, sampling="dense", dense_stride=2) == 12.5
    unknown = str(tmp_path / "unknown.tfrecord")
    write_records(unknown, [(0.0, 8)])
    with pytest.raises(ValueError, match="do not record a frame rate"):
        sampled_frame_rate(unknown, num_segments=8)
    lengths = str(tmp_path / "lengths.tfrecord")
    write_records(lengths, [(30.0, 64), (30.0, 300)])
    with pytest.raises(ValueError, match="64 to 300 frames"):
        sampled_frame_rate(lengths, num_segments=8, sampling="segment")
    assert sampled_frame_rate(lengths, num_segments=8, sampling="dense") == 30.0 / 8
