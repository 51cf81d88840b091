"""tsm-prepare on videos and frame folders the tests write, with every kind of bad input."""

import json
import multiprocessing
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
import uuid

import numpy as np
import pytest

from tests.data_helpers import textured_frames
from tests.data_helpers import write_class_videos
from tests.data_helpers import write_frame_folder
from tests.data_helpers import write_video
from tests.helpers import fresh_process_environment
from tests.helpers import run_cli
from tsm_tf.data import load_labels
from tsm_tf.data import read_videos
from tsm_tf.data import sources
from tsm_tf.data.dataset_writer import EncodeSettings
from tsm_tf.data.dataset_writer import prepare_dataset
from tsm_tf.data.workers import WorkerDiedError
from tsm_tf.utils.label_files import read_label_file


@pytest.fixture(scope="module")
def video_tree(tmp_path_factory):
    """root/<class>/...: 2 mp4 + 1 webm per class, plus a truncated mp4, a truncated
    webm, an empty file, and a class the label map does not know."""
    root = tmp_path_factory.mktemp("videos")
    write_class_videos(root, ["jump", "run"])
    good_mp4 = (root / "run" / "clip0.mp4").read_bytes()
    (root / "run" / "truncated.mp4").write_bytes(good_mp4[: len(good_mp4) // 2])
    good_webm = (root / "jump" / "clip2.webm").read_bytes()
    (root / "jump" / "truncated.webm").write_bytes(good_webm[: len(good_webm) // 2])
    (root / "jump" / "empty.mp4").write_bytes(b"")
    labels = root.parent / "labels.txt"
    labels.write_text("jump\nrun\n")
    return root, labels


def run_prepare(*arguments):
    result = run_cli("tsm_tf.cli.prepare", arguments, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_prepare_cli_reports_every_bad_video_and_resumes(video_tree, tmp_path):
    root, labels = video_tree
    output = tmp_path / "out"
    arguments = [
        f"--videos_dir={root}",
        f"--labels={labels}",
        f"--output_dir={output}",
        "--num_shards=3",
        "--num_workers=2",
        "--shorter_side=32",
    ]
    stdout = run_prepare(*arguments)
    report = json.loads((output / "train-report.json").read_text())
    assert report["num_listed"] == 10 and report["num_written"] == 6 and report["num_skipped"] == 4
    assert report["skipped_by_reason"] == {"unknown label": 1, "unreadable": 3}
    by_id = {entry["video_id"]: entry for entry in report["skipped"]}
    assert by_id[os.path.join("swim", "clip0.mp4")]["reason"] == "unknown label"
    assert "empty" in by_id[os.path.join("jump", "empty.mp4")]["detail"]
    assert "truncated" in by_id[os.path.join("jump", "truncated.webm")]["detail"]
    assert os.path.join("run", "truncated.mp4") in by_id
    assert "wrote 6 of 10 videos" in stdout and "skipped 3 (unreadable)" in stdout
    assert load_labels(str(output)) == ["jump", "run"]

    videos = list(read_videos(str(output / "train-*.tfrecord")))
    assert sorted(video_id for _, _, video_id in videos) == sorted(
        os.path.join(name, f"clip{index}.{'webm' if index == 2 else 'mp4'}")
        for name in ("jump", "run")
        for index in range(3)
    )
    for frames, label, video_id in videos:
        assert label == ["jump", "run"].index(video_id.split(os.sep)[0])
        assert frames.shape == ((10 if video_id.endswith("webm") else 12), 32, 43, 3)
    # The 9 videos with known labels are dealt to the 3 shards in turn.
    assert [shard["num_videos"] + shard["num_skipped"] for shard in report["shards"]] == [3, 3, 3]

    before = {path: os.path.getmtime(path) for path in map(str, output.glob("train-*.tfrecord"))}
    os.remove(sorted(before)[1])
    stdout = run_prepare(*arguments)
    assert "(2 resumed)" in stdout
    after = {path: os.path.getmtime(path) for path in map(str, output.glob("train-*.tfrecord"))}
    assert set(after) == set(before)
    assert [after[path] == before[path] for path in sorted(before)] == [True, False, True]
    assert json.loads((output / "train-report.json").read_text())["num_written"] == 6


def test_record_round_trip_reproduces_the_frames(tmp_path):
    frames = textured_frames(7, 40, 56, seed=3)
    write_video(str(tmp_path / "videos" / "wave" / "a.mp4"), frames)
    items, labels = sources.list_video_folders(str(tmp_path / "videos"))
    report = prepare_dataset(
        items,
        [*labels, "other"],  # a classifier needs two classes
        str(tmp_path / "out"),
        settings=EncodeSettings(shorter_side=0, jpeg_quality=100),
    )
    assert report["num_written"] == 1
    [(decoded, label, video_id)] = list(read_videos(str(tmp_path / "out" / "train-*.tfrecord")))
    assert (label, video_id, decoded.dtype, decoded.shape) == (
        0,
        os.path.join("wave", "a.mp4"),
        np.uint8,
        frames.shape,
    )
    # Against the video's own frames as PyAV decodes them, only JPEG (quality 100) is lossy.
    import av

    with av.open(str(tmp_path / "videos" / "wave" / "a.mp4")) as container:
        reference = np.stack(
            [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
        )
    error = np.abs(decoded.astype(np.float64) - reference)
    psnr = 10 * np.log10(255.0**2 / np.mean(error**2))
    assert error.mean() < 3.0 and psnr > 35, (error.mean(), psnr)


def write_frame_list(root):
    frames_root = root / "frames"
    lines = []
    for index in range(4):
        write_frame_folder(
            str(frames_root / f"video{index}"), textured_frames(6, 40, 50, seed=index)
        )
        lines.append(f"video{index} 6 {index % 2}")
    os.remove(frames_root / "video1" / "img_00004.jpg")
    lines.append("video2 6 7")  # a label the map does not have
    lines.append("video3 0 1")  # zero frames
    (root / "list.txt").write_text("\n".join(lines) + "\n")
    (root / "classes.txt").write_text("open\nclose\n")
    return frames_root


def test_frame_folders_with_missing_frames_and_unknown_labels(tmp_path):
    frames_root = write_frame_list(tmp_path)
    items = sources.list_frame_folders(str(tmp_path / "list.txt"), str(frames_root))
    labels = read_label_file(str(tmp_path / "classes.txt"))
    report = prepare_dataset(
        items, labels, str(tmp_path / "out"), num_shards=2, settings=EncodeSettings(shorter_side=0)
    )
    assert (report["num_listed"], report["num_written"]) == (6, 3)
    assert report["skipped_by_reason"] == {
        "missing frames": 1,
        "unknown label": 1,
        "zero frames": 1,
    }
    missing = next(entry for entry in report["skipped"] if entry["reason"] == "missing frames")
    assert missing["video_id"] == "video1" and "img_00004.jpg" in missing["detail"]
    videos = {
        video_id: (frames, label)
        for frames, label, video_id in read_videos(str(tmp_path / "out" / "train-*.tfrecord"))
    }
    assert sorted(videos) == ["video0", "video2", "video3"]
    assert videos["video3"][1] == 1 and videos["video3"][0].shape == (6, 40, 50, 3)


def test_kinetics_csv_and_something_something_json(tmp_path):
    root = tmp_path / "videos"
    write_video(str(root / "abc_000010_000020.mp4"), textured_frames(5, 32, 32, seed=1))
    write_video(str(root / "sub" / "xyz_000000_000010.mp4"), textured_frames(5, 32, 32, seed=2))
    write_video(str(root / "1234.webm"), textured_frames(5, 32, 32, seed=3), "libvpx-vp9")
    kinetics = tmp_path / "kinetics.csv"
    kinetics.write_text(
        "label,youtube_id,time_start,time_end,split\n"
        "abseiling,abc,10,20,train\nair drumming,xyz,0,10,train\nabseiling,gone,0,10,train\n"
    )
    items = sources.list_annotations(str(kinetics), str(root))
    report = prepare_dataset(
        items,
        ["abseiling", "air drumming"],
        str(tmp_path / "kinetics"),
        settings=EncodeSettings(shorter_side=0),
    )
    assert report["num_written"] == 2
    assert [entry["detail"] for entry in report["skipped"]] == ["file not found"]

    something = tmp_path / "something.json"
    something.write_text(
        json.dumps(
            [
                {
                    "id": "1234",
                    "label": "pushing a cup from left to right",
                    "template": "Pushing [something] from left to right",
                    "placeholders": ["a cup"],
                },
            ]
        )
    )
    label_map = tmp_path / "something-labels.json"
    label_map.write_text(
        json.dumps(
            {
                "Pushing something from right to left": "1",
                "Pushing something from left to right": "0",
            }
        )
    )
    items = sources.list_annotations(str(something), str(root))
    labels = read_label_file(str(label_map))
    assert labels == [
        "Pushing something from left to right",
        "Pushing something from right to left",
    ]
    report = prepare_dataset(
        items, labels, str(tmp_path / "something"), settings=EncodeSettings(shorter_side=0)
    )
    [(frames, label, video_id)] = list(
        read_videos(str(tmp_path / "something" / "train-*.tfrecord"))
    )
    assert (label, video_id, frames.shape) == (0, "1234", (5, 32, 32, 3))


def processes_with_environment_marker(marker):
    """Process ids whose environment holds `marker` (workers inherit it from their parent)."""
    found = []
    for folder in pathlib.Path("/proc").iterdir():
        try:
            if folder.name.isdigit() and marker.encode() in (folder / "environ").read_bytes():
                found.append(int(folder.name))
        except OSError:  # gone, or another user's
            pass
    return found


@pytest.mark.parametrize(
    "stop, exit_code",
    [("kill", 128 + signal.SIGTERM), ("ctrl_c", 130)],
)
def test_stopped_prepare_stops_its_workers_and_leaves_no_partial_shard(stop, exit_code, tmp_path):
    """`kill` signals the parent alone; Ctrl-C signals the whole process group."""
    videos, output = tmp_path / "videos", tmp_path / "out"
    for index in range(8):
        write_video(
            str(videos / f"class{index % 2}" / f"clip{index}.mp4"),
            textured_frames(48, 120, 160, seed=index),
        )
    marker = f"TSM_TF_TEST_MARKER={uuid.uuid4().hex}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tsm_tf.cli.prepare",
            f"--videos_dir={videos}",
            f"--output_dir={output}",
            "--num_shards=2",
            "--num_workers=2",
        ],
        env=fresh_process_environment(dict([marker.split("=")])),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # A shell starts background jobs with SIGINT ignored, and the child would inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not list(output.glob(".tmp-*")):  # a worker has begun a shard
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.02)
    if stop == "kill":
        process.send_signal(signal.SIGTERM)
    else:
        os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == exit_code, stderr
    assert "Traceback" not in stderr, stderr
    assert processes_with_environment_marker(marker) == []
    assert list(output.glob(".tmp-*")) == [] and list(output.glob("*.tfrecord")) == []


def test_a_killed_worker_stops_prepare_with_an_error_naming_its_shard(tmp_path):
    """SIGKILL, as the out-of-memory killer sends it, to one of two workers mid-shard: the other
    is stopped, the error names the shard, and no temporary file is left."""
    videos, output = tmp_path / "videos", tmp_path / "out"
    for index in range(4):
        write_video(
            str(videos / f"class{index % 2}" / f"clip{index}.mp4"),
            textured_frames(32, 96, 128, seed=index),
        )
    items, labels = sources.list_video_folders(str(videos))

    def kill_a_worker_once_a_shard_is_begun():
        deadline = time.monotonic() + 120
        while not list(output.glob(".tmp-*")) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_a_worker_once_a_shard_is_begun, daemon=True)
    killer.start()
    with pytest.raises(WorkerDiedError, match=r"killed by SIGKILL.*the shard .*train-0000[01]"):
        prepare_dataset(items, labels, str(output), num_shards=2, num_workers=2)
    killer.join()
    assert multiprocessing.active_children() == []
    assert list(output.glob(".tmp-*")) == []
