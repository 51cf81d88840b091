"""tsm_tf.predict_videos and tsm-predict: video files in, per-video results out.

The reference is tsm-eval's loop (`score_records`, what `evaluate` runs) on
the held-out motion records; the videos are the same clips, written without
loss (FFV1), so the two must agree to float precision.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import tsm_tf
from tests.data_helpers import textured_frames
from tests.data_helpers import write_video
from tests.helpers import assert_matches_reference
from tests.helpers import fresh_process_environment
from tests.helpers import require
from tests.helpers import run_cli
from tests.helpers import seed_everything
from tests.helpers import tiny_tsm

NUM_SEGMENTS = 4
IMAGE_SIZE = 32
PROTOCOL = dict(num_clips=2, num_crops=3)
# Averaged softmax scores from the same frames through the same code.
SCORE_TOLERANCE = 1e-5
FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


@pytest.fixture(scope="module")
def motion_videos(tmp_path_factory):
    """Held-out motion clips as lossless video files, a model, and tsm-eval's scores on the clips."""
    require("av", "pip install 'tsm_tf[video]'")
    from tsm_tf.data import read_videos
    from tsm_tf.data import write_motion_dataset
    from tsm_tf.training.evaluation import score_records
    from tsm_tf.utils.batch_norm_statistics import calibrate_batch_norm

    seed_everything(7)
    folder = tmp_path_factory.mktemp("motion")
    paths = write_motion_dataset(
        str(folder / "records"),
        num_clips=20,
        num_frames=12,
        frame_size=64,
        num_shards=2,  # one validation shard: tsm-eval reads its videos in order
        num_workers=1,
    )
    videos, clips = [], []
    for frames, _, video_id in read_videos(paths["validation"]):
        videos.append(str(folder / "videos" / f"{video_id}.mkv"))
        write_video(videos[-1], frames, codec="ffv1", pix_fmt="bgr0")
        clips.append(frames[:NUM_SEGMENTS, :IMAGE_SIZE, :IMAGE_SIZE])
    model = tiny_tsm(num_classes=9, num_segments=NUM_SEGMENTS, image_size=IMAGE_SIZE, dropout=0.0)
    # Real-scale activations, so that scores differ from video to video.
    calibrate_batch_norm(model, np.stack(clips).astype("float32"), variance_floor=0.1)
    scores, _ = score_records(model, paths["validation"], **PROTOCOL)
    return videos, model, scores


def test_predictions_equal_tsm_evals(motion_videos):
    videos, model, eval_scores = motion_videos
    results = list(tsm_tf.predict_videos(model, videos, top_k=3, **PROTOCOL))
    assert [result.video for result in results] == videos
    assert all(result.error is None for result in results), results
    scores = np.stack([result.all_scores for result in results])
    np.testing.assert_array_equal(scores.argmax(axis=1), eval_scores.argmax(axis=1))
    assert_matches_reference(
        scores,
        eval_scores,
        {"the videos in another order": np.roll(eval_scores, 1, axis=0)},
        SCORE_TOLERANCE,
    )
    assert results[0].protocol == {**PROTOCOL, "sampling": "segment"}
    assert results[0].num_frames == 12 and results[0].seconds == pytest.approx(12 / 25)
    assert list(results[0].scores) == sorted(results[0].scores, reverse=True)


def test_bad_videos_are_rows_with_their_reason(motion_videos, tmp_path):
    videos, model, _ = motion_videos
    good = open(videos[0], "rb").read()
    (tmp_path / "truncated.mp4").write_bytes(good[: len(good) // 2])
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mp4").write_text("not a video")
    bad = [str(tmp_path / name) for name in ("truncated.mp4", "empty.mp4", "notes.mp4", "gone.mp4")]
    results = list(tsm_tf.predict_videos(model, [bad[0], videos[0], *bad[1:]]))
    assert [result.video for result in results] == [bad[0], videos[0], *bad[1:]]
    assert [result.error for result in results] == [
        "unreadable",
        None,
        "unreadable",
        "unreadable",
        "unreadable",
    ]
    assert "empty" in results[2].detail and "not found" in results[4].detail
    assert results[0].labels == () and results[1].labels


def test_a_wrong_model_is_refused_before_any_video_is_decoded():
    def videos():
        raise AssertionError("a video was asked for before the model was checked")
        yield

    with pytest.raises(ValueError, match="TFLite model.*clip model.*tsm-stream"):
        next(tsm_tf.predict_videos(os.path.join(FIXTURES, "streaming_float32.tflite"), videos()))
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3))
    image_model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match=r"clip model.*\(batch, num_segments, size, size, 3\)"):
        next(tsm_tf.predict_videos(image_model, videos()))
    with pytest.raises(FileNotFoundError, match="No model file"):
        next(tsm_tf.predict_timelines("missing.keras", videos()))


def test_a_video_shorter_than_a_window_gets_one_window(motion_videos):
    videos, model, _ = motion_videos
    (result,) = tsm_tf.predict_timelines(model, videos[:1], window_seconds=2.0, stride_seconds=1.0)
    assert len(result.timeline.windows) == 1
    assert result.timeline.windows[0].end == pytest.approx(12 / 25)
    assert "shorter than one window" in result.detail


def test_tsm_predict_stopped_by_sigterm_continues_where_it_stopped(tmp_path):
    require("av", "pip install 'tsm_tf[video]'")
    seed_everything(3)
    model_path = str(tmp_path / "model.keras")
    tiny_tsm(
        num_classes=3, num_segments=NUM_SEGMENTS, image_size=IMAGE_SIZE, labels=["a", "b", "c"]
    ).save(model_path)
    videos = tmp_path / "videos"
    write_video(str(videos / "clip000.mp4"), textured_frames(8, 32, 32, seed=1))
    (videos / "sub").mkdir()
    for index in range(1, 60):
        shutil.copy(videos / "clip000.mp4", videos / "sub" / f"clip{index:03d}.mp4")
    (videos / "sub" / "zz_broken.mp4").write_text("not a video")  # last: in the second run
    output = tmp_path / "predictions.jsonl"
    flags = [
        f"--model={model_path}",
        f"--videos={videos}",
        f"--output={output}",
        "--noprogress",
        "--top_k=2",
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "tsm_tf.cli.predict", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=fresh_process_environment(),
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if output.exists() and output.read_text().count("\n") >= 3:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    first_output = process.communicate(timeout=120)[0]
    assert process.returncode == 143, first_output
    assert "Stopped: run the same command again" in first_output
    first_lines = output.read_text().splitlines()
    assert 3 <= len(first_lines) < 61, f"the run was not stopped part-way: {len(first_lines)} lines"
    # A process killed while writing leaves a line without its end: the next run drops it.
    with open(output, "a") as file:
        file.write('{"video": "' + str(videos / "sub" / "clip059.mp4"))

    second = run_cli("tsm_tf.cli.predict", flags)
    assert second.returncode == 0, second.stdout + second.stderr
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    names = sorted(os.path.relpath(row["video"], videos) for row in rows)
    expected = sorted(
        [
            "clip000.mp4",
            "sub/zz_broken.mp4",
            *(f"sub/clip{index:03d}.mp4" for index in range(1, 60)),
        ]
    )
    assert names == expected
    assert f"{len(first_lines)} already in" in second.stdout
    assert "1 error (unreadable 1)" in second.stdout
    assert [row["error"] for row in rows].count("unreadable") == 1


@pytest.mark.slow
def test_beam_direct_and_dask_runners_give_the_local_results(motion_videos, tmp_path):
    """tsm-predict's Beam pipeline on the direct runner and on a Dask cluster of 2 worker processes."""
    require("apache_beam", "pip install 'tsm_tf[beam]'")
    distributed = require("distributed", "pip install 'tsm_tf[beam]'")
    from tsm_tf.prediction.beam_predict import run_beam_prediction

    videos, model, _ = motion_videos
    model_path = str(tmp_path / "model.keras")
    model.save(model_path)
    (tmp_path / "notes.mp4").write_text("not a video")
    videos = [*videos, str(tmp_path / "notes.mp4")]
    expected = {
        result.video: result.to_dict()
        for result in tsm_tf.predict_videos(model, videos, top_k=3, **PROTOCOL)
    }
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        runners = {
            "DirectRunner": ["--runner=DirectRunner"],
            "DaskRunner": [
                "--runner=DaskRunner",
                f"--dask_client_address={cluster.scheduler_address}",
            ],
        }
        for name, beam_args in runners.items():
            shards = run_beam_prediction(
                model_path,
                videos,
                str(tmp_path / name / "out"),
                beam_args,
                top_k=3,
                num_shards=8,  # more shards than videos: some are always empty
                **PROTOCOL,
            )
            rows = [json.loads(line) for shard in shards for line in open(shard)]
            assert sorted(row["video"] for row in rows) == sorted(videos), name
            for row in rows:
                local = expected[row["video"]]
                assert (row["labels"], row["error"]) == (local["labels"], local["error"]), name
                np.testing.assert_allclose(row["scores"], local["scores"], atol=2e-6, err_msg=name)
