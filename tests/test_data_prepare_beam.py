"""tsm-prepare as an Apache Beam pipeline (direct runner, in process) against the local pool's output."""

import importlib
import json
import os
import sys

import numpy as np
import pytest

from tests.data_helpers import write_class_videos
from tests.helpers import run_cli

# Apache Beam is in tsm_tf[dev]; without it this import fails and says how to install it.
from tsm_tf.data import beam_prepare
from tsm_tf.data import read_videos
from tsm_tf.data import sources
from tsm_tf.data.dataset_writer import EncodeSettings
from tsm_tf.data.dataset_writer import prepare_dataset

LABELS = ["jump", "run"]
SETTINGS = EncodeSettings(shorter_side=32)
# The direct runner's batch engine, in this process: no Prism download, no worker start-up.
IN_PROCESS = ["--runner=FnApiRunner", "--direct_num_workers=1"]


@pytest.fixture(scope="module")
def video_tree(tmp_path_factory):
    """root/<class>/...: 2 mp4 + 1 webm per class, plus a corrupt, an empty and a
    truncated file, and a class the label map does not know."""
    root = tmp_path_factory.mktemp("videos")
    write_class_videos(root, LABELS)
    good_mp4 = (root / "run" / "clip0.mp4").read_bytes()
    (root / "run" / "truncated.mp4").write_bytes(good_mp4[: len(good_mp4) // 2])
    (root / "jump" / "corrupt.mp4").write_bytes(
        np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    )
    (root / "jump" / "empty.mp4").write_bytes(b"")
    return root


@pytest.fixture(scope="module")
def local_output(video_tree, tmp_path_factory):
    """The local pool's shards and report: the reference the pipeline must reproduce."""
    output = tmp_path_factory.mktemp("local")
    items, _ = sources.list_video_folders(str(video_tree))
    return output, prepare_dataset(
        items, LABELS, str(output), num_shards=3, num_workers=1, settings=SETTINGS
    )


def shard_contents(folder):
    """{shard file name: {video_id: (label, decoded frames)}}."""
    contents = {}
    for path in sorted(map(str, folder.glob("train-*.tfrecord"))):
        videos = [(video_id, (label, frames)) for frames, label, video_id in read_videos(path)]
        assert len(videos) == len({video_id for video_id, _ in videos}), (
            f"a video is stored twice in {path}"
        )
        contents[os.path.basename(path)] = dict(videos)
    return contents


def assert_same_shards(folder, reference_folder):
    contents, reference = shard_contents(folder), shard_contents(reference_folder)
    assert {name: sorted(videos) for name, videos in contents.items()} == {
        name: sorted(videos) for name, videos in reference.items()
    }
    for name, videos in reference.items():
        for video_id, (label, frames) in videos.items():
            assert contents[name][video_id][0] == label
            np.testing.assert_array_equal(contents[name][video_id][1], frames, err_msg=video_id)


def test_pipeline_writes_the_local_pools_shards_and_report(video_tree, local_output, tmp_path):
    reference_folder, reference = local_output
    items, _ = sources.list_video_folders(str(video_tree))
    report = beam_prepare.prepare_dataset_beam(
        items, LABELS, str(tmp_path), num_shards=3, settings=SETTINGS, pipeline_args=IN_PROCESS
    )
    assert_same_shards(tmp_path, reference_folder)
    contents = shard_contents(tmp_path)
    # The frame comparison can fail: two of the videos differ far beyond JPEG noise.
    [jump0] = [
        videos[os.path.join("jump", "clip0.mp4")][1]
        for videos in contents.values()
        if os.path.join("jump", "clip0.mp4") in videos
    ]
    [jump1] = [
        videos[os.path.join("jump", "clip1.mp4")][1]
        for videos in contents.values()
        if os.path.join("jump", "clip1.mp4") in videos
    ]
    assert np.abs(jump0.astype(float) - jump1).mean() > 20

    assert report["skipped"] == reference["skipped"]
    by_id = {entry["video_id"]: entry for entry in report["skipped"]}
    assert {video_id: entry["reason"] for video_id, entry in by_id.items()} == {
        os.path.join("swim", "clip0.mp4"): "unknown label",
        os.path.join("jump", "corrupt.mp4"): "unreadable",
        os.path.join("jump", "empty.mp4"): "unreadable",
        os.path.join("run", "truncated.mp4"): "unreadable",
    }
    assert "empty" in by_id[os.path.join("jump", "empty.mp4")]["detail"]
    for key in (
        "num_listed",
        "num_written",
        "num_skipped",
        "skipped_by_reason",
        "num_classes",
        "settings",
    ):
        assert report[key] == reference[key], key
    assert [(shard["num_videos"], shard["num_skipped"]) for shard in report["shards"]] == [
        (shard["num_videos"], shard["num_skipped"]) for shard in reference["shards"]
    ]
    assert report["beam_metrics"] == {
        "videos_written": 6,
        "skipped: unreadable": 3,
        "skipped: unknown label": 1,
        "shards_written": 3,
    }
    assert (
        json.loads((tmp_path / "train-report.json").read_text())["skipped"] == reference["skipped"]
    )
    assert (tmp_path / "labels.txt").read_text() == "jump\nrun\n"


def test_rerun_into_the_same_folder_neither_duplicates_nor_loses_videos(
    video_tree, local_output, tmp_path
):
    reference_folder, _ = local_output
    items, _ = sources.list_video_folders(str(video_tree))

    def run(settings=SETTINGS, overwrite=False):
        return beam_prepare.prepare_dataset_beam(
            items,
            LABELS,
            str(tmp_path),
            num_shards=3,
            settings=settings,
            overwrite=overwrite,
            pipeline_args=IN_PROCESS,
        )

    run()
    shards = sorted(tmp_path.glob("train-*.tfrecord"))
    before = {path: os.path.getmtime(path) for path in shards}
    os.remove(shards[1])
    report = run()
    assert [shard["resumed"] for shard in report["shards"]] == [True, False, True]
    assert report["beam_metrics"]["shards_written"] == 1 and report["num_written"] == 6
    assert [os.path.getmtime(path) == before[path] for path in shards] == [True, False, True]
    # Other settings replace the split only with overwrite; then back to the first settings.
    with pytest.raises(ValueError, match=r"shorter_side 32 then, 24 now.*--overwrite"):
        run(EncodeSettings(shorter_side=24))
    report = run(EncodeSettings(shorter_side=24), overwrite=True)
    assert [shard["resumed"] for shard in report["shards"]] == [False, False, False]
    assert {
        frames.shape[1] for frames, _, _ in read_videos(str(tmp_path / "train-*.tfrecord"))
    } == {24}
    report = run(overwrite=True)
    assert [shard["resumed"] for shard in report["shards"]] == [False, False, False]
    # Same shard names, each video once, nothing left over from the runs.
    assert_same_shards(tmp_path, reference_folder)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        ".prepare",
        "labels.txt",
        "train-00000-of-00003.tfrecord",
        "train-00001-of-00003.tfrecord",
        "train-00002-of-00003.tfrecord",
        "train-report.json",
    ]


def test_remote_file_system_path_gives_the_same_result(
    video_tree, local_output, tmp_path, monkeypatch
):
    """The gs:// / s3:// code (listing, copying each video to the worker, uploading
    shards with a rename), run on local paths through Beam's FileSystems."""
    reference_folder, reference = local_output
    monkeypatch.setattr(beam_prepare, "is_local", lambda path: False)
    items, classes = beam_prepare._AnyFileSystem.list_video_folders(str(video_tree))
    assert (items, classes) == sources.list_video_folders(str(video_tree))
    report = beam_prepare.prepare_dataset_beam(
        items, LABELS, str(tmp_path), num_shards=3, settings=SETTINGS, pipeline_args=IN_PROCESS
    )
    assert_same_shards(tmp_path, reference_folder)
    assert report["skipped"] == reference["skipped"]
    assert not [path for path in tmp_path.rglob("*") if ".tmp-" in path.name]


def test_cli_runner_flag_passes_beam_options_through(video_tree, local_output, tmp_path):
    reference_folder, _ = local_output
    labels = tmp_path / "labels.txt"
    labels.write_text("jump\nrun\n")
    output = tmp_path / "out"
    flags = [
        f"--videos_dir={video_tree}",
        f"--labels={labels}",
        f"--output_dir={output}",
        "--num_shards=3",
        "--shorter_side=32",
        # tsm-prepare's --runner, then an option only Beam knows.
        "--runner=FnApiRunner",
        "--direct_num_workers=1",
    ]
    result = run_cli("tsm_tf.cli.prepare", flags, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "wrote 6 of 10 videos" in result.stdout and "skipped 3 (unreadable)" in result.stdout
    assert_same_shards(output, reference_folder)
    without_runner = run_cli(
        "tsm_tf.cli.prepare", flags[:-2] + ["--direct_num_workers=1"], timeout=300
    )
    assert without_runner.returncode != 0 and "need --runner" in without_runner.stderr


def test_missing_beam_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "apache_beam", None)
    monkeypatch.delitem(sys.modules, "tsm_tf.data.beam_prepare")
    with pytest.raises(ImportError, match=r'pip install "tsm_tf\[beam\]"'):
        importlib.import_module("tsm_tf.data.beam_prepare")
