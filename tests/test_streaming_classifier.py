"""StreamingClassifier and tsm-stream: raw frames in, smoothed predictions out, clear errors."""

import json
import os
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest

import tsm_tf
from tests.data_helpers import write_damaged_videos
from tests.helpers import fresh_process_environment
from tests.helpers import run_cli
from tests.helpers import seed_everything
from tests.streaming_helpers import streaming_tsm
from tsm_tf.cli import stream
from tsm_tf.lite.preprocessing import resize_and_center_crop
from tsm_tf.lite.streaming_classifier import mean_scores


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    seed_everything(1234)
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


def clip_model_logits(model, frames):
    """Independent reference: the clip model's causal per-frame logits (no states)."""
    return tsm_tf.causal_frame_logits(
        model, np.stack([resize_and_center_crop(f, 32) for f in frames])
    )


def test_predictions_follow_keras_with_smoothing(exported):
    model, path = exported
    classifier = tsm_tf.StreamingClassifier(path, num_threads=2, smoothing_window=3)
    frames = raw_frames(6)
    predictions = [classifier.classify(frame) for frame in frames]

    keras_logits = clip_model_logits(model, frames)
    # The reference sees the states: restarting it at frame 3 moves its logits far.
    restarted = clip_model_logits(model, frames[3:])
    assert np.abs(restarted - keras_logits[3:]).max() > 100 * 1e-3
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


def swap_paired_outputs(metadata):
    """Pairs two same-shape states the wrong way round: each output feeds the other's input."""
    states = metadata["states"]
    first, second = next(
        (a, b) for a in states for b in states if a is not b and a["shape"] == b["shape"]
    )
    first["output"], second["output"] = second["output"], first["output"]


def test_a_client_pairing_states_wrongly_no_longer_follows_the_clip_model(exported, tmp_path):
    model, path = exported
    frames = raw_frames(6)
    expected = clip_model_logits(model, frames)
    classifier = tsm_tf.StreamingClassifier(copy_model(path, str(tmp_path), swap_paired_outputs))
    logits = np.stack([classifier.classify(frame).logits for frame in frames])
    # The first frame starts from zero states either way; later ones carry the mix-up.
    np.testing.assert_allclose(logits[0], expected[0], atol=1e-3)
    assert np.abs(logits - expected).max() > 100 * 1e-3


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
        (np.zeros((48, 64, 3), np.float64), r"dtype float64.*astype\(np.float32\)"),
        ([[0, 0, 0]], r"NumPy array"),
        (np.full((48, 64, 3), np.nan, np.float32), r"NaN or infinite"),
        (np.pad(np.full((8, 8, 3), np.inf, np.float32), ((20, 20), (28, 28), (0, 0))), r"NaN"),
    ],
)
def test_bad_frames_are_refused(exported, frame, match):
    classifier = tsm_tf.StreamingClassifier(exported[1])
    with pytest.raises(ValueError, match=match):
        classifier.classify(frame)


def test_frames_scaled_to_unit_range_are_flagged(exported):
    classifier = tsm_tf.StreamingClassifier(exported[1])
    frame = np.random.default_rng(0).uniform(0, 1, (48, 64, 3)).astype(np.float32)
    with pytest.warns(UserWarning, match=r"expects RGB values in \[0, 255\].*Multiply by 255"):
        classifier.classify(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        classifier.classify(frame * 255)


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
    with pytest.raises(ValueError, match="is a Keras model. Export it first: tsm-export"):
        tsm_tf.StreamingClassifier(tmp_path / "model.keras")


def write_video(path, rate, frame_numbers, seed=3, rotation=None):
    """An mpeg4 video whose frames are shown at `frame_number / rate` seconds (gaps allowed),
    turned `rotation` degrees counter-clockwise for display, if given."""
    import fractions

    import av

    with av.open(path, "w") as container:
        stream = container.add_stream("mpeg4", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for number, frame in zip(frame_numbers, raw_frames(len(frame_numbers), seed=seed)):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts, video_frame.time_base = number, fractions.Fraction(1, rate)
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def run_tsm_stream(model_path, video, *flags):
    result = run_cli(
        "tsm_tf.cli.stream",
        [f"--model={model_path}", f"--video={video}", "--every=frame", "--top_k=2", *flags],
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if "frame" in line and "s  " in line]
    return result.stdout, lines


def read_json_lines(path):
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file]


def with_frame_rate(frame_rate):
    def change(metadata):
        metadata["frame_rate"] = frame_rate

    return change


def test_ctrl_c_ends_tsm_stream_with_the_summary_of_what_was_streamed(exported, tmp_path):
    """A real SIGINT once the first second is printed: the summary, the JSON lines, status 130."""
    video = write_video(str(tmp_path / "long.mp4"), 25, range(1000))
    output = tmp_path / "long.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "tsm_tf.cli.stream", f"--model={exported[1]}", f"--video={video}"]
        + ["--top_k=2", f"--output={output}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=fresh_process_environment(),
    )
    first_line = process.stdout.readline()
    process.send_signal(signal.SIGINT)
    rest, stderr = process.communicate(timeout=120)
    stdout = first_line + rest
    assert process.returncode == 130, stdout + stderr[-3000:]
    assert first_line.split()[:3] == ["0.00s", "frame", "0"], stdout
    video_record = read_json_lines(output)[-1]
    assert video_record["kind"] == "video" and video_record["interrupted"] is True
    streamed = video_record["num_frames"]
    assert 25 <= streamed < 1000 and video_record["num_fed"] == streamed
    assert f"interrupted at {video_record['seconds']:.2f} s of {video}" in stderr
    assert f"streamed {video_record['seconds']:.2f} s, {streamed} frames" in stdout
    assert f"fed {streamed} of {streamed} frames, 25.0 fps (the model takes every frame)" in stdout
    assert f"latency: {streamed} frames" in stdout and "state memory:" in stdout


def test_tsm_stream_feeds_a_30_fps_video_at_the_models_10_fps_by_timestamp(exported, tmp_path):
    model_path = copy_model(exported[1], str(tmp_path), with_frame_rate(10))
    # 30 fps with the frame at 0.5 s missing: by timestamp the pacer takes the
    # next frame (0.533 s) and then returns to the 0.1 s grid (0.6 s); every
    # third decoded frame would be 0.533 s and 0.633 s.
    frame_numbers = [number for number in range(31) if number != 15]
    video = write_video(str(tmp_path / "clip30.mp4"), 30, frame_numbers)
    output, lines = run_tsm_stream(model_path, video, f"--output={tmp_path / 'clip30.jsonl'}")
    timestamps = [line.split()[0] for line in lines]
    assert timestamps == [
        "0.00s",
        "0.10s",
        "0.20s",
        "0.30s",
        "0.40s",
        "0.53s",
        "0.60s",
        "0.70s",
        "0.80s",
        "0.90s",
        "1.00s",
    ]
    # The frame column is the video frame's index (frame 15 is missing: 0.53 s is index 15).
    video_frames = [0, 3, 6, 9, 12, 15, 17, 20, 23, 26, 29]
    assert [int(line.split()[2]) for line in lines] == video_frames
    records = read_json_lines(tmp_path / "clip30.jsonl")
    assert [record["frame"] for record in records[:-1]] == video_frames
    assert [f"{record['start']:.2f}s" for record in records[:-1]] == timestamps
    assert records[-1]["kind"] == "video" and records[-1]["num_frames"] == 30
    assert records[-1]["num_fed"] == 11 and records[-1]["error"] is None
    assert "fed 11 of 30 frames, 10.0 fps (the model expects 10.0 fps)" in output
    assert "latency: 11 frames" in output and "slower" not in output


def test_tsm_stream_feeds_every_frame_of_a_slower_video_and_says_so(exported, tmp_path):
    model_path = copy_model(exported[1], str(tmp_path), with_frame_rate(10))
    video = write_video(str(tmp_path / "clip5.mp4"), 5, range(8))
    output, lines = run_tsm_stream(model_path, video)
    assert [line.split()[0] for line in lines] == [f"{index / 5:.2f}s" for index in range(8)]
    assert "fed 8 of 8 frames, 5.0 fps (the model expects 10.0 fps)" in output
    assert (
        "the video (5.0 fps) is slower than the model's 10.0 fps, so every frame was fed" in output
    )


def test_classify_at_follows_the_metadata_frame_rate(exported, tmp_path):
    paced = tsm_tf.StreamingClassifier(copy_model(exported[1], str(tmp_path), with_frame_rate(10)))
    every = tsm_tf.StreamingClassifier(exported[1])
    frames = raw_frames(7, seed=4)
    assert paced.frame_rate == 10.0 and every.frame_rate is None
    fed = [paced.classify_at(frame, index / 30) for index, frame in enumerate(frames)]
    assert [prediction is not None for prediction in fed] == [
        True,
        False,
        False,
        True,
        False,
        False,
        True,
    ]
    # The fed frames are frames 0, 3 and 6, as if only they had been streamed.
    for prediction, frame in zip([fed[0], fed[3], fed[6]], frames[[0, 3, 6]]):
        np.testing.assert_allclose(prediction.logits, every.classify(frame).logits, atol=1e-6)
    assert paced.pacer.taken_rate == 10.0
    paced.reset()
    assert paced.pacer.num_offered == 0 and paced.classify_at(frames[1], 5.0) is not None


def test_metadata_without_a_frame_rate_feeds_every_frame(exported, tmp_path):
    def drop_frame_rate(metadata):
        del metadata["frame_rate"]

    classifier = tsm_tf.StreamingClassifier(copy_model(exported[1], str(tmp_path), drop_frame_rate))
    assert classifier.frame_rate is None
    assert all(
        classifier.classify_at(frame, index / 120) for index, frame in enumerate(raw_frames(4))
    )


def decoded_frames(path):
    """The frames as stored, decoded with PyAV alone (the reference ignores display matrices)."""
    import av

    with av.open(path) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_each_second_is_that_seconds_prediction_of_the_upright_video(exported, tmp_path):
    model_path = copy_model(exported[1], str(tmp_path), with_frame_rate(10))
    # A portrait video as a phone stores it: 64 x 48 frames, shown turned a quarter to the left.
    video = write_video(str(tmp_path / "portrait.mp4"), 30, range(75), rotation=90)
    classifier = tsm_tf.StreamingClassifier(model_path)
    records = []
    stream.stream_video(classifier, stream.open_video(video), "second", 5, None, records.append)

    # Independently: turn each stored frame as the player does (np.rot90: a quarter to the
    # left), feed every third (10 of 30 fps), and average each second's logits.
    stored = decoded_frames(video)
    reference = tsm_tf.StreamingClassifier(model_path)
    logits = [reference.classify(np.rot90(frame)).logits for frame in stored[::3]]
    seconds = [logits[0:10], logits[10:20], logits[20:25]]
    *per_second, per_video = records
    assert [
        (record["start"], record["end"], record["frame"], record["num_frames"], record["num_fed"])
        for record in per_second
    ] == [(0.0, 1.0, 0, 30, 10), (1.0, 2.0, 30, 30, 10), (2.0, 2.5, 60, 15, 5)]
    for record, window in [*zip(per_second, seconds), (per_video, logits)]:
        expected = dict(zip(classifier.labels, mean_scores(window)))
        for entry in record["top_k"]:
            assert abs(entry["score"] - expected[entry["label"]]) < 1e-5, (record, expected)
    assert (per_video["num_frames"], per_video["num_fed"], per_video["seconds"]) == (75, 25, 2.5)

    # The reference can tell: what was printed before for second 1 (the scores smoothed over
    # the last 12 fed frames at its first frame, fed frames 0-10) and the frames left sideways
    # both move the scores far beyond the tolerance.
    sideways = tsm_tf.StreamingClassifier(model_path)
    sideways_logits = [sideways.classify(frame).logits for frame in stored[::3]]
    for moved in (mean_scores(logits[0:11]), mean_scores(sideways_logits[10:20])):
        assert np.abs(moved - mean_scores(seconds[1])).max() > 100 * 1e-5


def test_tsm_stream_goes_past_damaged_data_naming_the_file_and_time(exported, tmp_path, capsys):
    video, cut_video = write_damaged_videos(str(tmp_path))
    classifier = tsm_tf.StreamingClassifier(exported[1])
    records = []
    record = stream.stream_video(
        classifier, stream.open_video(video), "second", 2, None, records.append
    )
    stream.print_summary(record, classifier)
    printed = capsys.readouterr()
    for seconds in ("2.00", "2.04"):
        assert f"{video}: skipped data the decoder rejected at {seconds} s" in printed.err
    assert "damaged: skipped 2 packets the decoder rejected (at 2.00 s, 2.04 s)" in printed.out
    # The 98 frames left are streamed to the end: second 2 lost two.
    assert [record["num_frames"] for record in records[:-1]] == [25, 25, 23, 25]
    assert record["num_frames"] == 98 and record["error"] is None and not record["interrupted"]
    assert [entry["time"] for entry in record["damaged"]] == [2.0, 2.04]

    # Data that ends early ends the stream with the summary of what came before.
    records = []
    record = stream.stream_video(
        classifier, stream.open_video(cut_video), "second", 2, None, records.append
    )
    assert (
        record["error"] == "truncated: decoded 49 of the 100 frames it declares (it ends at 1.92 s)"
    )
    assert [record["num_frames"] for record in records[:-1]] == [25, 24]
    assert record["num_frames"] == 49 and not record["interrupted"]
