"""make_dataset: shapes, clip-consistent augmentation, determinism, evaluation rule, sharding."""

import os

import numpy as np
import pytest
import tensorflow as tf

from tests.data_helpers import falls_left_to_right
from tests.data_helpers import textured_frames
from tests.data_helpers import write_ramp_records
from tests.data_helpers import write_records
from tsm_tf.data import load_labels
from tsm_tf.data import make_dataset
from tsm_tf.data import read_videos

NUM_SEGMENTS = 4
IMAGE_SIZE = 32


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """4 shards of 3 videos each; video k has label k and 10-20 frames of 40x56."""
    folder = tmp_path_factory.mktemp("shards")
    for shard in range(4):
        videos = []
        for position in range(3):
            label = shard * 3 + position
            frames = textured_frames(10 + label % 11, 40, 56, seed=label)
            videos.append((frames, label, f"video-{label}"))
        write_records(folder / f"train-{shard:05d}-of-00004.tfrecord", videos)
    return str(folder / "train-*.tfrecord")


def labels_of(dataset):
    return sorted(int(label) for _, labels in dataset for label in labels.numpy())


def test_training_batches_have_the_documented_shapes(shards):
    dataset = make_dataset(shards, NUM_SEGMENTS, IMAGE_SIZE, training=True, batch_size=5, flip=True)
    clips_spec, labels_spec = dataset.element_spec
    assert clips_spec.shape.as_list() == [5, NUM_SEGMENTS, IMAGE_SIZE, IMAGE_SIZE, 3]
    assert clips_spec.dtype == tf.float32 and labels_spec.dtype == tf.int32
    clips, labels = next(iter(dataset))
    assert clips.shape == (5, NUM_SEGMENTS, IMAGE_SIZE, IMAGE_SIZE, 3) and labels.shape == (5,)
    assert 0.0 <= float(tf.reduce_min(clips)) and float(tf.reduce_max(clips)) <= 255.0
    assert float(tf.reduce_max(clips)) > 100.0  # real pixel values, not [0, 1]


def test_evaluation_covers_every_video_once(shards):
    dataset = make_dataset(shards, NUM_SEGMENTS, IMAGE_SIZE, training=False, batch_size=5)
    assert dataset.element_spec[0].shape.as_list() == [
        None,
        NUM_SEGMENTS,
        IMAGE_SIZE,
        IMAGE_SIZE,
        3,
    ]
    assert labels_of(dataset) == list(range(12))


def test_evaluation_views_are_clip_major(shards):
    dataset = make_dataset(
        shards, NUM_SEGMENTS, IMAGE_SIZE, training=False, batch_size=12, num_clips=2, num_crops=3
    )
    views, _ = next(iter(dataset))
    assert views.shape == (12, 6, NUM_SEGMENTS, IMAGE_SIZE, IMAGE_SIZE, 3)
    single = make_dataset(
        shards, NUM_SEGMENTS, IMAGE_SIZE, training=False, batch_size=12, num_clips=2
    )
    clips, _ = next(iter(single))
    # The centre crop of clip k is view k * 3 + 1.
    np.testing.assert_allclose(views[:, 1], clips[:, 0], atol=1e-4)
    np.testing.assert_allclose(views[:, 4], clips[:, 1], atol=1e-4)


def test_every_frame_of_a_clip_gets_the_same_crop_and_flip(tmp_path):
    # All frames of each video are the same image, so any per-frame difference
    # in crop, scale or flip would show.
    image = textured_frames(1, 60, 80, seed=5)[0]
    videos = [(np.repeat(image[None], 12, axis=0), index, f"v{index}") for index in range(8)]
    write_records(tmp_path / "same-00000-of-00001.tfrecord", videos)
    dataset = make_dataset(
        str(tmp_path / "same-*.tfrecord"), 6, IMAGE_SIZE, batch_size=8, flip=True, seed=1
    )
    for _ in range(3):
        clips, _ = next(iter(dataset))
        np.testing.assert_array_equal(clips, np.repeat(clips[:, :1], 6, axis=1))
    # ...while different clips do get different crops.
    assert len({clips[i].numpy().tobytes() for i in range(8)}) > 1


def test_flip_swaps_labels_by_the_map(tmp_path):
    write_ramp_records(
        tmp_path / "ramp-00000-of-00001.tfrecord", num_videos=16, num_frames=6, height=60
    )
    dataset = make_dataset(
        str(tmp_path / "ramp-*.tfrecord"),
        4,
        IMAGE_SIZE,
        batch_size=16,
        flip=True,
        flip_label_map={0: 1, 1: 0},
        seed=2,
    )
    clips, labels = next(iter(dataset))
    flipped = falls_left_to_right(clips)
    np.testing.assert_array_equal(labels.numpy(), flipped.astype(np.int32))
    assert 0 < flipped.sum() < 16


def test_reversal_and_flip_swap_labels_independently(tmp_path):
    # Frames rise in brightness left to right (a flip shows) and over time
    # (playing backwards shows). The flip map turns 0 into 1, the reversal
    # map 0 into 2 and 1 into 3, so a label tells what was applied.
    ramp = np.linspace(0, 150, 80)[None, :, None]
    frames = np.stack([np.tile(ramp + 15 * index, (48, 1, 3)) for index in range(6)]).astype(
        np.uint8
    )
    write_records(
        tmp_path / "both-00000-of-00001.tfrecord", [(frames, 0, f"v{index}") for index in range(32)]
    )
    dataset = make_dataset(
        str(tmp_path / "both-*.tfrecord"),
        4,
        IMAGE_SIZE,
        batch_size=32,
        train_crop="centre",
        seed=3,
        flip=True,
        flip_label_map={0: 1, 1: 0},
        reverse_time=True,
        reverse_label_map={0: 2, 2: 0, 1: 3, 3: 1},
    )
    clips, labels = next(iter(dataset))
    flipped = falls_left_to_right(clips)
    brightness = clips.numpy().mean(axis=(2, 3, 4))
    reversed_ = brightness[:, 0] > brightness[:, -1]
    assert np.all(np.abs(np.diff(brightness, axis=1)) > 5)  # every clip is monotonic in time
    np.testing.assert_array_equal(labels.numpy(), flipped + 2 * reversed_)
    assert 0 < reversed_.sum() < 32 and 0 < flipped.sum() < 32
    assert len(set(zip(flipped, reversed_))) == 4  # the two draws are independent


def test_reversal_leaves_the_crop_and_flip_draws_unchanged(tmp_path):
    write_ramp_records(
        tmp_path / "ramp-00000-of-00001.tfrecord", num_videos=16, num_frames=6, height=60
    )
    pattern = str(tmp_path / "ramp-*.tfrecord")
    plain, _ = next(
        iter(
            make_dataset(
                pattern, 4, IMAGE_SIZE, batch_size=16, flip=True, seed=2, deterministic=True
            )
        )
    )
    reversing, _ = next(
        iter(
            make_dataset(
                pattern,
                4,
                IMAGE_SIZE,
                batch_size=16,
                flip=True,
                seed=2,
                deterministic=True,
                reverse_time=True,
            )
        )
    )
    # The ramp is the same in every frame, so only the crop and the flip show.
    np.testing.assert_array_equal(plain.numpy(), reversing.numpy())


def test_a_bad_reverse_label_map_is_named(shards):
    with pytest.raises(ValueError, match="`reverse_label_map` maps class indices"):
        make_dataset(shards, NUM_SEGMENTS, IMAGE_SIZE, reverse_time=True, reverse_label_map={0: -1})


def test_autotuning_is_on_unless_turned_off(shards):
    assert make_dataset(shards, NUM_SEGMENTS, IMAGE_SIZE).options().autotune.enabled is not False
    off = make_dataset(shards, NUM_SEGMENTS, IMAGE_SIZE, autotune=False)
    assert off.options().autotune.enabled is False
    assert next(iter(off))[0].shape == (8, NUM_SEGMENTS, IMAGE_SIZE, IMAGE_SIZE, 3)


def test_deterministic_runs_repeat_exactly(shards):
    def run(seed):
        dataset = make_dataset(
            shards, NUM_SEGMENTS, IMAGE_SIZE, batch_size=4, flip=True, deterministic=True, seed=seed
        )
        return [(clips.numpy(), labels.numpy()) for clips, labels in dataset]

    first, second, other = run(3), run(3), run(4)
    for (clips_a, labels_a), (clips_b, labels_b) in zip(first, second, strict=True):
        np.testing.assert_array_equal(clips_a, clips_b)
        np.testing.assert_array_equal(labels_a, labels_b)
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(first, other))


def reference_eval_clip(frames, indices, image_size, resize_shorter_side):
    """docs/metadata.md's rule, written from the spec with tf.image.resize on single frames."""
    height, width = frames.shape[1:3]
    scale = resize_shorter_side / min(height, width)
    size = [int(np.floor(height * scale + 0.5)), int(np.floor(width * scale + 0.5))]
    top, left = (size[0] - image_size) // 2, (size[1] - image_size) // 2
    out = []
    for index in indices:
        resized = tf.image.resize(
            frames[index].astype(np.float32), size, "bilinear", antialias=False
        ).numpy()
        out.append(resized[top : top + image_size, left : left + image_size])
    return np.stack(out)


def test_evaluation_follows_the_metadata_resize_and_crop_rule(tmp_path):
    frames = textured_frames(9, 45, 70, seed=9)
    write_records(tmp_path / "eval-00000-of-00001.tfrecord", [(frames, 0, "v")])
    pattern = str(tmp_path / "eval-*.tfrecord")
    decoded = next(read_videos(pattern))[0]  # the JPEG-decoded frames the pipeline sees
    clip = next(iter(make_dataset(pattern, 3, 28, training=False, batch_size=1)))[0][0].numpy()
    tick = 9 / 3
    indices = [int(tick / 2 + tick * x) for x in range(3)]
    np.testing.assert_allclose(
        clip, reference_eval_clip(decoded, indices, 28, 28 * 256 // 224), atol=1e-3
    )


def test_centre_training_crop_is_the_evaluation_view(tmp_path):
    # 6 frames, 6 segments: training samples every frame in order, so with
    # train_crop="centre" the clip is exactly what evaluation sees, every time.
    frames = textured_frames(6, 45, 70, seed=6)
    write_records(tmp_path / "centre-00000-of-00001.tfrecord", [(frames, 0, "v")])
    pattern = str(tmp_path / "centre-*.tfrecord")
    decoded = next(read_videos(pattern))[0]
    expected = reference_eval_clip(decoded, range(6), 28, 28 * 256 // 224)
    dataset = make_dataset(
        pattern,
        6,
        28,
        training=True,
        train_crop="centre",
        batch_size=1,
        drop_remainder=False,
        repeat=3,
    )
    clips = [clip[0].numpy() for clip, _ in dataset]
    assert len(clips) == 3
    for clip in clips:
        np.testing.assert_allclose(clip, expected, atol=1e-3)


def test_evaluation_matches_the_numpy_client_rule(tmp_path):
    from tsm_tf.lite import preprocessing  # part of tsm_tf: it must import, never skip

    frames = textured_frames(4, 50, 37, seed=4)  # portrait: the height is the longer side
    write_records(tmp_path / "eval-00000-of-00001.tfrecord", [(frames, 0, "v")])
    pattern = str(tmp_path / "eval-*.tfrecord")
    decoded = next(read_videos(pattern))[0]
    clip = next(iter(make_dataset(pattern, 4, 30, training=False, batch_size=1)))[0][0].numpy()
    side = preprocessing.default_resize_shorter_side(30)
    height, width = preprocessing.resized_size(50, 37, side)
    top, left = (height - 30) // 2, (width - 30) // 2
    for index in range(4):
        resized = preprocessing.resize_bilinear(decoded[index], height, width)
        np.testing.assert_allclose(
            clip[index], resized[top : top + 30, left : left + 30], atol=1e-3
        )


def test_three_crops_span_the_longer_side(tmp_path):
    frames = textured_frames(4, 40, 90, seed=3)
    write_records(tmp_path / "wide-00000-of-00001.tfrecord", [(frames, 0, "v")])
    pattern = str(tmp_path / "wide-*.tfrecord")
    decoded = next(read_videos(pattern))[0]
    views = next(
        iter(
            make_dataset(
                pattern, 4, 32, training=False, batch_size=1, num_crops=3, resize_shorter_side=40
            )
        )
    )[0][0]
    # Shorter side already 40: the resize keeps the frames as they are.
    expected = [decoded[:, 4:36, left : left + 32] for left in (0, 29, 58)]
    np.testing.assert_allclose(views.numpy(), np.stack(expected).astype(np.float32), atol=1e-3)


def test_only_sampled_frames_are_decoded(tmp_path):
    from tsm_tf.data.video_io import encode_frame

    frames = textured_frames(8, 40, 40, seed=1)
    # Evaluation with 4 segments of 8 frames takes frames 1, 3, 5, 7; the others are not JPEGs.
    jpegs = [
        encode_frame(frame, None, 95) if index % 2 else b"not a jpeg"
        for index, frame in enumerate(frames)
    ]
    write_records(tmp_path / "sparse-00000-of-00001.tfrecord", [(jpegs, 0, "v")])
    clips, _ = next(
        iter(make_dataset(str(tmp_path / "sparse-*.tfrecord"), 4, 32, training=False, batch_size=1))
    )
    assert clips.shape == (1, 4, 32, 32, 3)


@pytest.mark.parametrize("num_files", [4, 1])
def test_input_context_gives_each_worker_its_own_part(shards, tmp_path, num_files):
    pattern = shards if num_files == 4 else sorted(tf.io.gfile.glob(shards))[:1]
    parts = []
    for pipeline_id in range(2):
        context = tf.distribute.InputContext(
            num_input_pipelines=2, input_pipeline_id=pipeline_id, num_replicas_in_sync=2
        )
        dataset = make_dataset(
            pattern, NUM_SEGMENTS, IMAGE_SIZE, training=False, batch_size=4, input_context=context
        )
        assert dataset.element_spec[0].shape[0] is None
        parts.append(labels_of(dataset))
    assert not set(parts[0]) & set(parts[1])
    assert sorted(parts[0] + parts[1]) == list(range(12 if num_files == 4 else 3))


def test_clear_errors(tmp_path, shards):
    with pytest.raises(FileNotFoundError, match="No record files match"):
        make_dataset(str(tmp_path / "missing-*.tfrecord"))
    with pytest.raises(ValueError, match="num_clips=2"):
        make_dataset(shards, num_clips=2, training=True)
    with pytest.raises(ValueError, match="sampling"):
        make_dataset(shards, sampling="random")
    with pytest.raises(
        ValueError,
        match="train_crop.*'multi_scale', 'center', 'centre'.*Received: train_crop='random'",
    ):
        make_dataset(shards, train_crop="random")
    with pytest.raises(ValueError, match="resize_shorter_side"):
        make_dataset(shards, image_size=64, resize_shorter_side=48, training=False)


def test_a_model_trains_on_the_dataset(shards):
    from tests.helpers import tiny_tsm

    model = tiny_tsm(num_classes=12, num_segments=NUM_SEGMENTS, image_size=IMAGE_SIZE)
    model.compile("sgd", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    dataset = make_dataset(
        shards, NUM_SEGMENTS, IMAGE_SIZE, batch_size=4, sampling="dense", dense_stride=2
    )
    history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_shards_and_labels_on_another_file_system(shards):
    # TensorFlow's in-memory file system stands in for gs://, s3:// or hdfs://.
    folder = "ram://tsm_tf_test_shards"
    tf.io.gfile.makedirs(folder)
    for path in tf.io.gfile.glob(shards):
        tf.io.gfile.copy(path, f"{folder}/{os.path.basename(path)}", overwrite=True)
    names = [f"class {index}" for index in range(12)]
    with tf.io.gfile.GFile(f"{folder}/labels.txt", "w") as file:
        file.write("\n".join(names) + "\n")
    pattern = f"{folder}/{os.path.basename(shards)}"
    assert load_labels(pattern) == load_labels(folder) == names
    remote = make_dataset(pattern, num_segments=4, image_size=32, training=False, batch_size=2)
    here = make_dataset(shards, num_segments=4, image_size=32, training=False, batch_size=2)
    for (remote_clips, remote_labels), (clips, labels) in zip(remote, here):
        np.testing.assert_array_equal(remote_clips.numpy(), clips.numpy())
        np.testing.assert_array_equal(remote_labels.numpy(), labels.numpy())
