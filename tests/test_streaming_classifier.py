"""StreamingClassifier and tsm-stream: raw frames in, smoothed predictions out, clear errors."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tsm_tf
from tests.streaming_helpers import streaming_tsm
from tsm_tf.lite.preprocessing import resize_and_center_crop


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = streaming_tsm("mobilenet_v2")
    path = str(tmp_path_factory.mktemp("stream") / "model.tflite")
    tsm_tf.export_tflite(model, path, labels=["a", "b", "c", "d", "e"])
    return model, path


def raw_frames(num_frames, seed=0):
    """uint8 camera-like frames of another size than the model's (48 x 64)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (num_frames, 48, 64, 3), dtype=np.uint8)


def copy_model(path, folder, metadata_change=None):
    """A copy of the model and its metadata, the metadata edited by `metadata_change`."""
    target = os.path.join(folder, "copy.tflite")
    with open(path, "rb") as source, open(target, "wb") as file:
        file.write(source.read())
    with open(os.path.splitext(path)[0] + ".json", encoding="utf-8") as file:
        metadata = json.load(file)
    if metadata_change:
        metadata_change(metadata)
    with open(os.path.splitext(target)[0] + ".json", "w", encoding="utf-8") as file:
        json.dump(metadata, file)
    return target


def test_predictions_follow_keras_with_smoothing(exported):
    model, path = exported
    classifier = tsm_tf.StreamingClassifier(path, num_threads=2, smoothing_window=3)
    frames = raw_frames(6)
    predictions = [classifier.classify(frame) for frame in frames]

    online = tsm_tf.build_online_tsm(model)
    states = tsm_tf.initial_states(online)
    keras_logits = []
    for frame in frames:
        outputs = online({"frame": resize_and_center_crop(frame, 32)[None], **states})
        keras_logits.append(np.asarray(outputs["logits"])[0])
        states = {name: np.asarray(outputs[name]) for name in states}
    for index, prediction in enumerate(predictions):
        assert prediction.frame_index == index
        np.testing.assert_allclose(prediction.logits, keras_logits[index], atol=1e-3)
        window = np.mean(keras_logits[max(0, index - 2) : index + 1], axis=0)
        expected = np.exp(window - window.max()) / np.exp(window - window.max()).sum()
        np.testing.assert_allclose(prediction.scores, expected, atol=1e-4)
        assert prediction.label == "abcde"[int(np.argmax(expected))]
        top = prediction.top_k(2)
        assert [label for label, _ in top] == ["abcde"[i] for i in np.argsort(-expected)[:2]]
        assert prediction.latency_ms > 0
    stats = classifier.latency()
    assert stats.count == 6 and stats.max_ms >= stats.median_ms > 0
    assert classifier.state_bytes() == sum(
        4 * int(np.prod(state["shape"])) for state in classifier.metadata["states"]
    )


def test_reset_restarts_the_stream(exported):
    _, path = exported
    classifier = tsm_tf.StreamingClassifier(path)
    frames = raw_frames(4, seed=1)
    first = [classifier.classify(frame).scores for frame in frames]
    classifier.reset()
    second = [classifier.classify(frame).scores for frame in frames]
    np.testing.assert_array_equal(np.stack(first), np.stack(second))
    # Without the reset the states (and history) of the first pass would show.
    third = classifier.classify(frames[0])
    assert third.frame_index == 4
    assert not np.allclose(third.logits, classifier.__class__(path).classify(frames[0]).logits)


@pytest.mark.parametrize(
    "frame, match",
    [
        (np.zeros((48, 64), np.uint8), r"\(height, width, 3\)"),
        (np.zeros((1, 48, 64, 3), np.uint8), r"one RGB frame"),
        (np.zeros((48, 64, 4), np.uint8), r"RGB"),
        (np.zeros((48, 64, 3), np.int64), r"dtype int64"),
        ([[0, 0, 0]], r"NumPy array"),
    ],
)
def test_bad_frames_are_refused(exported, frame, match):
    classifier = tsm_tf.StreamingClassifier(exported[1])
    with pytest.raises(ValueError, match=match):
        classifier.classify(frame)


def drop_state(metadata):
    metadata["states"].pop()


def rename_state(metadata):
    metadata["states"][0]["output"] = "state_99"


def reshape_input(metadata):
    metadata["input"]["shape"] = [1, 64, 64, 3]


def drop_labels(metadata):
    del metadata["labels"]


@pytest.mark.parametrize(
    "change, match",
    [
        (drop_state, r"lists the inputs"),
        (rename_state, r"lists the outputs"),
        (reshape_input, r"says input 'frame' is float32 \[1, 64, 64, 3\]"),
        (drop_labels, r"missing keys \['labels'\]"),
    ],
)
def test_wrong_metadata_is_refused(exported, tmp_path, change, match):
    path = copy_model(exported[1], str(tmp_path), change)
    with pytest.raises(ValueError, match=match):
        tsm_tf.StreamingClassifier(path)


def test_missing_or_stale_metadata_is_refused(exported, tmp_path):
    path = copy_model(exported[1], str(tmp_path))
    with open(path, "ab") as file:
        file.write(b"\0")
    with pytest.raises(ValueError, match="sha256"):
        tsm_tf.StreamingClassifier(path)
    os.remove(os.path.splitext(path)[0] + ".json")
    with pytest.raises(FileNotFoundError, match="no metadata file"):
        tsm_tf.StreamingClassifier(path)


def test_clip_models_and_bad_arguments_are_refused(exported, tmp_path):
    clip_path = str(tmp_path / "clip.tflite")
    tsm_tf.export_tflite(exported[0], clip_path, mode="clip")
    with pytest.raises(ValueError, match="mode='clip'"):
        tsm_tf.StreamingClassifier(clip_path)
    with pytest.raises(ValueError, match="smoothing_window=0"):
        tsm_tf.StreamingClassifier(exported[1], smoothing_window=0)
    with pytest.raises(ValueError, match="num_threads=0"):
        tsm_tf.StreamingClassifier(exported[1], num_threads=0)


def test_tsm_stream_cli_prints_top_k_and_latency(exported, tmp_path):
    import av

    video = str(tmp_path / "clip.mp4")
    with av.open(video, "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for frame in raw_frames(25, seed=3):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    result = subprocess.run(
        [sys.executable, "-m", "tsm_tf.cli.stream", f"--model={exported[1]}", f"--video={video}",
         "--every=frame", "--top_k=2"],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES=""),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if "frame" in line and "s  " in line]
    assert len(lines) == 25
    assert lines[0].split()[1:3] == ["frame", "0"]
    assert "latency: 25 frames" in result.stdout and "state memory:" in result.stdout
