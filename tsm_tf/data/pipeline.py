"""`make_dataset`: TFRecord shards in, batches of `(clips, labels)` out, ready for `model.fit`.

The pipeline is small pure functions composed in one builder:
list shards -> (shard by worker) -> interleave records -> attach random seeds
-> parse and pick the sampled frames' JPEG bytes -> shuffle -> decode and
augment -> batch -> prefetch. Only the sampled frames are decoded, and with
the multi-scale crop only their crop window.
"""

from collections.abc import Mapping
from collections.abc import Sequence

import tensorflow as tf

from tsm_tf.data import records
from tsm_tf.data.augmentation import TRAIN_CROPS
from tsm_tf.data.augmentation import decode_frames
from tsm_tf.data.augmentation import eval_views
from tsm_tf.data.augmentation import train_clip
from tsm_tf.data.sampling import SAMPLING_MODES
from tsm_tf.data.sampling import sample_indices
from tsm_tf.lite.preprocessing import default_resize_shorter_side
from tsm_tf.utils.argument_checks import check_choice
from tsm_tf.utils.argument_checks import check_positive_int

AUTOTUNE = tf.data.AUTOTUNE
NUM_CROPS_CHOICES = (1, 3)
# Shards read at once; more only helps when shards sit on slow storage.
_CYCLE_LENGTH = 8


def make_dataset(
    file_pattern: str | Sequence[str],
    num_segments: int = 8,
    image_size: int = 224,
    training: bool = True,
    batch_size: int = 8,
    sampling: str = "segment",
    train_crop: str = "multi_scale",
    num_clips: int = 1,
    num_crops: int = 1,
    flip: bool = False,
    flip_label_map: Mapping[int, int] | None = None,
    reverse_time: bool = False,
    reverse_label_map: Mapping[int, int] | None = None,
    resize_shorter_side: int | None = None,
    shuffle_buffer: int = 256,
    deterministic: bool = False,
    seed: int | None = None,
    repeat: bool | int | None = None,
    input_context: tf.distribute.InputContext | None = None,
    dense_stride: int | None = None,
    drop_remainder: bool | None = None,
    autotune: bool = True,
) -> tf.data.Dataset:
    """A `tf.data.Dataset` of `(clips, labels)` from TFRecord shards.

    Args:
        file_pattern: glob pattern (or list of patterns) of shards, e.g.
            `"data/train-*.tfrecord"`.
        num_segments: frames per clip.
        image_size: side of the square output frames.
        training: random sampling, multi-scale crop, optional flip, shuffling
            (True); or central sampling and the evaluation resize/crop (False).
        batch_size: clips per batch; with `input_context`, the global batch,
            split evenly between replicas.
        sampling: `"segment"` (TSN: one frame per equal segment) or
            `"dense"` (frames `dense_stride` apart); see `tsm_tf.data.sampling`.
        train_crop: training only: `"multi_scale"` (TSN's multi-scale crop,
            the paper's augmentation) or `"centre"` (the evaluation resize and
            centre crop, so no spatial augmentation: where a random crop's
            scale and aspect would change what the model must learn, such as
            the speed of the motion in the built-in demo).
        num_clips: clips per video in evaluation (spread through the video).
        num_crops: crops per clip in evaluation: 1 (centre) or 3 (start,
            centre and end of the longer side).
        flip: training only: flip each clip horizontally with probability 1/2.
        flip_label_map: labels that change under a flip, e.g.
            `{3: 4, 4: 3}` for "left to right" and "right to left"; give both
            directions. Labels not in the map keep their value.
        reverse_time: training only: play each clip backwards (its sampled
            frames in reverse order) with probability 1/2, drawn
            independently of the flip. Use it where every class reversed is
            a class: itself (still, waving) or a partner given in
            `reverse_label_map`.
        reverse_label_map: labels that change when a clip plays backwards,
            e.g. `{0: 1, 1: 0}` for "pan left" and "pan right"; give both
            directions. Labels not in the map keep their value.
        resize_shorter_side: evaluation (and `train_crop="centre"`): the
            shorter side before the centre crop; defaults to
            `image_size * 256 // 224` (docs/metadata.md).
        shuffle_buffer: training shuffle buffer, in clips (only the sampled
            frames' JPEG bytes are buffered).
        deterministic: same order and same augmentation on every run (uses
            `seed`, or 0 when `seed` is None). Evaluation order is always
            deterministic.
        seed: seed of shuffling and augmentation.
        repeat: `None`/`False`: one pass per iteration (Keras `fit` iterates
            once per epoch); `True`: forever; an int: that many passes.
        input_context: a `tf.distribute.InputContext`; each input pipeline
            reads its own shards (or every n-th video when there are fewer
            shards than pipelines). Use inside the function given to
            `strategy.distribute_datasets_from_function`.
        dense_stride: frame step of `"dense"` sampling; default `64 // num_segments`.
        drop_remainder: drop the last partial batch; defaults to `training`.
        autotune: tf.data's autotuning (`AUTOTUNE` parallelism and buffers
            tuned as it runs). False keeps their starting values; `tsm-train`
            turns it off, because releasing a long-lived iterator with it on
            stalled for up to a minute in Keras `fit` (see
            `tsm_tf.training.trainer`).

    Returns:
        A dataset of `(clips, labels)`: clips float32
        `(batch, num_segments, image_size, image_size, 3)` RGB in [0, 255], or
        `(batch, num_clips * num_crops, num_segments, image_size, image_size, 3)`
        in evaluation with several views (view `k` is clip `k // num_crops`,
        crop `k % num_crops`); labels int32 `(batch,)`.

    Example:

    >>> train = make_dataset("data/train-*.tfrecord", num_segments=8, image_size=112)
    >>> model.fit(train, epochs=10)
    """
    _check_arguments(
        num_segments,
        image_size,
        batch_size,
        sampling,
        num_clips,
        num_crops,
        training,
        shuffle_buffer,
    )
    check_choice("train_crop", train_crop, TRAIN_CROPS)
    resize_shorter_side = resize_shorter_side or default_resize_shorter_side(image_size)
    if resize_shorter_side < image_size:
        raise ValueError(
            "`resize_shorter_side` must be at least `image_size` so the centre "
            f"crop fits. Received: resize_shorter_side={resize_shorter_side}, "
            f"image_size={image_size}"
        )
    deterministic = deterministic or not training
    if deterministic and seed is None:
        seed = 0
    files = records.list_shards(file_pattern)
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)

    dataset = _read_records(files, training, deterministic, seed, input_context)
    dataset = _repeat(dataset, repeat)
    dataset = tf.data.Dataset.zip(
        dataset, tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=training).batch(4)
    )
    select = _make_select(num_segments, sampling, training, num_clips, dense_stride)
    dataset = dataset.map(select, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed)
        transform = _make_train_transform(
            num_segments,
            image_size,
            flip,
            flip_label_map,
            reverse_time,
            reverse_label_map,
            train_crop,
            resize_shorter_side,
        )
    else:
        transform = _make_eval_transform(
            num_segments, image_size, resize_shorter_side, num_clips, num_crops
        )
    dataset = dataset.map(transform, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    if drop_remainder is None:
        drop_remainder = training
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    options = tf.data.Options()
    options.deterministic = deterministic
    options.autotune.enabled = autotune
    return dataset.with_options(options).prefetch(AUTOTUNE)


def _check_arguments(
    num_segments, image_size, batch_size, sampling, num_clips, num_crops, training, shuffle_buffer
):
    for name, value in (
        ("num_segments", num_segments),
        ("image_size", image_size),
        ("batch_size", batch_size),
        ("num_clips", num_clips),
        ("shuffle_buffer", shuffle_buffer),
    ):
        check_positive_int(name, value)
    check_choice("sampling", sampling, SAMPLING_MODES)
    check_choice("num_crops", num_crops, NUM_CROPS_CHOICES)
    if training and num_clips * num_crops > 1:
        raise ValueError(
            "Several clips or crops per video are an evaluation protocol; training "
            f"takes one random clip. Received: num_clips={num_clips}, "
            f"num_crops={num_crops} with training=True. Pass training=False."
        )


def _read_records(files, training, deterministic, seed, input_context):
    """Serialized examples, interleaved from the shards (this worker's part only)."""
    num_pipelines = input_context.num_input_pipelines if input_context else 1
    pipeline_id = input_context.input_pipeline_id if input_context else 0
    shard_files = num_pipelines > 1 and len(files) >= num_pipelines
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shard_files:
        dataset = dataset.shard(num_pipelines, pipeline_id)
    if training:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.interleave(
        records.read_records,
        cycle_length=min(len(files), _CYCLE_LENGTH),
        num_parallel_calls=AUTOTUNE,
        deterministic=deterministic,
    )
    if num_pipelines > 1 and not shard_files:
        dataset = dataset.shard(num_pipelines, pipeline_id)
    return dataset


def _repeat(dataset, repeat):
    if repeat is None or repeat is False:
        return dataset
    if repeat is True:
        return dataset.repeat()
    check_positive_int("repeat", repeat)
    return dataset.repeat(repeat)


def _make_select(num_segments, sampling, training, num_clips, dense_stride):
    """Parses an example and keeps the JPEG bytes of the sampled frames only."""

    def select(serialized, seeds):
        features = records.parse_video(serialized)
        num_frames = tf.shape(features[records.FRAMES], out_type=tf.int32)[0]
        indices = sample_indices(
            num_frames, num_segments, sampling, training, seeds[:2], num_clips, dense_stride
        )
        frames = tf.gather(features[records.FRAMES], tf.reshape(indices, [-1]))
        label = tf.cast(features[records.LABEL], tf.int32)
        return frames, label, seeds[2:]

    return select


def _make_train_transform(
    num_segments,
    image_size,
    flip,
    flip_label_map,
    reverse_time,
    reverse_label_map,
    crop,
    resize_shorter_side,
):
    flip_table = _label_swap_table("flip_label_map", flip_label_map)
    reverse_table = _label_swap_table("reverse_label_map", reverse_label_map)

    def transform(frames, label, seed):
        clip, flipped = train_clip(
            frames, num_segments, image_size, seed, flip, crop, resize_shorter_side
        )
        label = _swap_labels(label, flip_table, flipped)
        if reverse_time:
            # A seed of its own, so the crop and flip draws are those of a run without reversal.
            reverse_seed = tf.random.experimental.stateless_fold_in(seed, 1)
            reversed_ = tf.random.stateless_uniform([], reverse_seed) < 0.5
            clip = tf.cond(reversed_, lambda: tf.reverse(clip, axis=[0]), lambda: clip)
            label = _swap_labels(label, reverse_table, reversed_)
        return clip, label

    return transform


def _swap_labels(label, table, applied):
    """`table[label]` where `applied` (labels past the table keep their value)."""
    if table is None:
        return label
    swapped = tf.where(
        label < tf.size(table), tf.gather(table, tf.minimum(label, tf.size(table) - 1)), label
    )
    return tf.where(applied, swapped, label)


def _make_eval_transform(num_segments, image_size, resize_shorter_side, num_clips, num_crops):
    def transform(frames, label, seed):
        del seed  # evaluation is deterministic
        decoded = decode_frames(frames, num_clips * num_segments)
        views = eval_views(
            decoded, num_segments, image_size, resize_shorter_side, num_clips, num_crops
        )
        return (views[0] if num_clips * num_crops == 1 else views), label

    return transform


def _label_swap_table(name, label_map):
    """A dense int32 table `new_label = table[label]` from a `{label: label}` map."""
    if not label_map:
        return None
    for key, value in label_map.items():
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (key, value)):
            raise ValueError(
                f"`{name}` maps class indices to class indices (non-negative "
                f"ints). Received the entry {key!r}: {value!r}"
            )
    table = list(range(max(max(label_map), max(label_map.values())) + 1))
    for key, value in label_map.items():
        table[key] = value
    return tf.constant(table, tf.int32)
