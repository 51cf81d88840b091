"""What a user who passes the wrong thing sees: a clear error, and nothing left behind."""

import os
import pathlib

import numpy as np
import pytest

import tsm_tf
from tests.data_helpers import textured_frames
from tests.data_helpers import write_records
from tests.data_helpers import write_video
from tests.helpers import require
from tests.helpers import run_cli
from tsm_tf.data import sources
from tsm_tf.data.dataset_writer import EncodeSettings
from tsm_tf.data.dataset_writer import prepare_dataset
from tsm_tf.training import TrainConfig
from tsm_tf.training.evaluation import evaluate
from tsm_tf.training.evaluation import summarize
from tsm_tf.training.trainer import train

ROOT = pathlib.Path(__file__).resolve().parent.parent

require("torch", "pip install -e '.[dev]'")
from tsm_tf.interop.torch_checkpoint import read_torch_checkpoint  # noqa: E402


def write_two_class_data(folder, label_names):
    """Four 6-frame 40 px videos labelled 0 and 1 in one shard, `label_names` as their labels.txt."""
    folder.mkdir(parents=True, exist_ok=True)
    videos = [
        (textured_frames(6, 40, 40, seed=index), index % 2, f"v{index}") for index in range(4)
    ]
    write_records(folder / "train-00000-of-00001.tfrecord", videos)
    (folder / "labels.txt").write_text("\n".join(label_names) + "\n")
    return str(folder / "train-*.tfrecord")


def small_model(num_classes, labels=None):
    return tsm_tf.build_tsm(
        "mobilenet_v2",
        num_classes,
        labels=labels,
        width_multiplier=0.35,
        image_size=32,
        num_segments=2,
    )


def small_train_config(train_pattern, run_dir, **overrides):
    """One epoch of a 0.35-width MobileNetV2 TSM on 2 frames of 32 px, batch 2."""
    return TrainConfig(
        train_pattern=train_pattern,
        run_dir=str(run_dir),
        backbone="mobilenet_v2",
        width_multiplier=0.35,
        image_size=32,
        num_segments=2,
        batch_size=2,
        epochs=1,
        **overrides,
    )


@pytest.mark.parametrize(
    "content",
    [b"epoch,loss\n1,0.5\n", bytes(np.random.default_rng(0).integers(1, 127, 512, np.uint8))],
)
def test_a_file_that_is_no_checkpoint_is_named_as_such(tmp_path, content):
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="is not a PyTorch checkpoint"):
        read_torch_checkpoint(str(path))


def test_a_failed_start_leaves_no_folder_that_refuses_the_corrected_command(tmp_path):
    train_pattern = write_two_class_data(tmp_path, ["left", "right"])
    run_dir = tmp_path / "run"
    config = small_train_config(
        train_pattern, run_dir, init_weights=str(tmp_path / "missing.keras")
    )
    with pytest.raises((FileNotFoundError, ValueError)):
        train(config)
    assert not (run_dir / "config.json").exists()


def test_evaluation_refuses_data_labelled_with_another_label_map(tmp_path):
    pattern = write_two_class_data(tmp_path / "data", ["left", "right"])
    report = evaluate(small_model(2, labels=["left", "right"]), pattern)
    assert report["num_videos"] == 4 and report["labels"] == ["left", "right"]
    with pytest.raises(ValueError, match=r"label map of .*\(2 classes: left, right\) is not"):
        evaluate(small_model(2, labels=["right", "left"]), pattern)
    with pytest.raises(ValueError, match=r"is not that of the model \(3 classes\)"):
        evaluate(small_model(3), pattern)
    # Data without a label map is checked against the model's class count as it is scored.
    with pytest.raises(ValueError, match=r"labelled class 2, but the model has 2 classes \(0-1\)"):
        summarize(np.full((2, 2), 0.5), np.array([0, 2]), ["a", "b"])


def test_training_refuses_validation_data_with_another_label_map(tmp_path):
    train_pattern = write_two_class_data(tmp_path / "train", ["left", "right"])
    validation_pattern = write_two_class_data(tmp_path / "validation", ["right", "left"])
    run_dir = tmp_path / "run"
    config = small_train_config(train_pattern, run_dir, validation_pattern=validation_pattern)
    with pytest.raises(ValueError, match=r"is not that of the training data in"):
        train(config)
    assert not run_dir.exists()


def test_preparing_refuses_sizes_and_shard_counts_that_cannot_be(tmp_path):
    with pytest.raises(ValueError, match=r"shorter_side=-1"):
        EncodeSettings(shorter_side=-1)
    with pytest.raises(ValueError, match=r"num_shards=0"):
        prepare_dataset([], ["a"], str(tmp_path / "out"), num_shards=0)
    assert not (tmp_path / "out").exists()


def test_console_scripts_print_input_errors_without_a_traceback(tmp_path):
    flags = ["--videos_dir=/no/such/folder", f"--output_dir={tmp_path / 'out'}"]
    result = run_cli("tsm_tf.cli.prepare", flags, timeout=120)
    assert result.returncode == 1
    assert "error: --videos_dir '/no/such/folder' is not a folder" in result.stderr
    assert "Traceback" not in result.stderr
    verbose = run_cli("tsm_tf.cli.prepare", flags, environment={"TSM_TF_VERBOSE": "1"}, timeout=120)
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr


@pytest.mark.parametrize(
    "command, flags, message",
    [
        ("tsm_tf.cli.prepare", [], "--output_dir is required."),
        ("tsm_tf.cli.evaluate", ["--pattern=x"], "--model=model.keras and --preset=name"),
        ("tsm_tf.cli.train", ["--epochs=many"], "flag --epochs=many: invalid literal"),
    ],
)
def test_usage_errors_are_two_lines_without_the_flag_listing(command, flags, message):
    result = run_cli(command, flags, timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and message in lines[0] and "--help` for the flags" in lines[1], lines


def test_int8_export_without_calibration_data_names_the_flag_before_loading(tmp_path):
    flags = [f"--model={tmp_path / 'absent.keras'}", f"--output={tmp_path / 'm.tflite'}"]
    result = run_cli("tsm_tf.cli.export", [*flags, "--precision=int8"], timeout=120)
    assert result.returncode == 1
    assert "--precision=int8 calibrates on real frames: pass --representative_data" in (
        result.stderr
    )


def test_stream_names_why_a_file_is_not_a_video(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    result = run_cli("tsm_tf.cli.stream", ["--model=m.tflite", f"--video={text}"], timeout=120)
    assert result.returncode == 1 and "Errno" not in result.stderr, result.stderr
    assert "cannot open" in result.stderr and "Invalid data found" in result.stderr


def test_a_missing_optional_dependency_names_its_extra(tmp_path):
    shadow = tmp_path / "shadow" / "ai_edge_litert"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('as if not installed')\n")
    result = run_cli(
        "tsm_tf.cli.web",
        [f"--model={tmp_path / 'model.tflite'}"],
        # The shadow first, then this checkout (as an installed or a PYTHONPATH tsm_tf).
        environment={"PYTHONPATH": os.pathsep.join([str(shadow.parent), str(ROOT)])},
        timeout=120,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "needs ai-edge-litert" in result.stderr and "pip install 'tsm_tf[litert]'" in (
        result.stderr
    )


def test_help_succeeds():
    result = run_cli("tsm_tf.cli.export", ["-h"], timeout=120)
    assert result.returncode == 0 and "--output" in result.stdout, result.stderr


def test_export_refuses_an_output_that_is_not_a_tflite_file(tmp_path):
    output = tmp_path / "model.keras"
    result = run_cli(
        "tsm_tf.cli.export",
        [f"--model={tmp_path / 'any.keras'}", f"--output={output}"],
        timeout=120,
    )
    assert result.returncode == 1
    assert "--output must end in .tflite" in result.stderr
    assert not output.exists()


def test_one_class_and_classes_without_videos_are_refused_at_prepare_and_train(tmp_path):
    videos = tmp_path / "videos"
    for name in ("run", "walk"):
        (videos / name).mkdir(parents=True)
    write_video(str(videos / "jump" / "a.mp4"), textured_frames(6, 40, 40, seed=0))
    with pytest.raises(ValueError, match=r"Class folders with no videos in .*videos'?: run, walk"):
        sources.list_video_folders(str(videos))
    items = [sources.SourceItem("jump/a.mp4", str(videos / "jump" / "a.mp4"), "jump")]
    with pytest.raises(ValueError, match=r"at least 2 classes. Received 1: \['jump'\]"):
        prepare_dataset(items, ["jump"], str(tmp_path / "one"))
    assert not (tmp_path / "one").exists()
    one_class = write_two_class_data(tmp_path / "one_class", ["only"])
    with pytest.raises(ValueError, match=r"at least 2 classes"):
        train(small_train_config(one_class, tmp_path / "run"))

    # A label map naming a class no video was written for (from --labels, or a folder whose
    # videos were all unreadable): the report counts it, and training names it.
    write_video(str(videos / "run" / "b.mp4"), textured_frames(6, 40, 40, seed=1))
    items = [*items, sources.SourceItem("run/b.mp4", str(videos / "run" / "b.mp4"), "run")]
    report = prepare_dataset(items, ["jump", "run", "walk"], str(tmp_path / "data"), num_shards=1)
    assert report["videos_per_class"] == {"jump": 1, "run": 1, "walk": 0}
    with pytest.raises(ValueError, match=r"No training video of the classes walk in .*report"):
        train(small_train_config(str(tmp_path / "data" / "train-*.tfrecord"), tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_a_video_or_another_file_given_for_shards_says_what_is_accepted(tmp_path):
    from tsm_tf.data import make_dataset
    from tsm_tf.lite.export import load_representative_frames

    video = tmp_path / "bikes.mp4"
    write_video(str(video), textured_frames(4, 32, 32))
    (tmp_path / "notes.tfrecord").write_text("these are notes, not records\n")
    expected = r"is a video: expected TFRecord shards such as .*tsm-prepare --videos_dir"
    with pytest.raises(ValueError, match=rf"'.*bikes.mp4' {expected}"):
        make_dataset(str(video), num_segments=2, image_size=32, batch_size=1)
    with pytest.raises(ValueError, match=expected):
        load_representative_frames(str(video), image_size=32, max_frames=4)
    with pytest.raises(ValueError, match=r"notes.tfrecord' is not a TFRecord file: expected"):
        make_dataset(str(tmp_path / "notes.tfrecord"), num_segments=2, image_size=32, batch_size=1)


def test_preparing_a_split_again_from_other_videos_or_settings_needs_overwrite(tmp_path):
    def listed(folder):
        for index, name in enumerate(("left", "right")):
            write_video(str(folder / name / "a.mp4"), textured_frames(4, 32, 32, seed=index))
        return sources.list_video_folders(str(folder))

    items, labels = listed(tmp_path / "videos")
    output = str(tmp_path / "out")
    small = EncodeSettings(shorter_side=32)
    prepare_dataset(items, labels, output, num_shards=1, settings=small)
    report = prepare_dataset(items, labels, output, num_shards=1, settings=small)
    assert [shard["resumed"] for shard in report["shards"]] == [True]  # the same run resumes
    with pytest.raises(
        ValueError, match=r"prepared otherwise \(shorter_side 32 then, 0 now.*--overwrite"
    ):
        prepare_dataset(
            items, labels, output, num_shards=1, settings=EncodeSettings(shorter_side=0)
        )
    other_items, _ = listed(tmp_path / "other_videos")
    with pytest.raises(ValueError, match=r"source_folder '.*videos' then, '.*other_videos' now"):
        prepare_dataset(other_items, labels, output, num_shards=1, settings=small)
    report = prepare_dataset(
        other_items, labels, output, num_shards=1, settings=small, overwrite=True
    )
    assert report["source_folder"] == str(tmp_path / "other_videos")


@pytest.mark.parametrize(
    "command, flags, message",
    [
        # Stray words were ignored: this streamed a.mp4 alone and exited 0.
        ("tsm_tf.cli.stream", ["--model=m.tflite", "--video", "a.mp4", "b.mp4"], "b.mp4"),
        (
            "tsm_tf.cli.evaluate",
            ["--model=x.tflite", "--pattern=data/validation-*.tfrecord"],
            "scores a Keras model, the .keras file",
        ),
        (
            "tsm_tf.cli.train",
            ["--train_pattern=/no/such/train-*.tfrecord", "--run_dir=never"],
            "No record files match '/no/such/train-*.tfrecord'",
        ),
    ],
)
def test_stray_arguments_and_data_errors_are_the_tools_one_line_error(command, flags, message):
    result = run_cli(command, flags, timeout=120)
    program = command.rsplit(".", 1)[-1] + ".py"  # as `python -m` names it
    assert result.returncode == 1, result.stderr
    assert f"{program}: error: " in result.stderr and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "TFSMLayer" not in result.stderr
