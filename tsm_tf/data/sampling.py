"""Which frames of a video make a clip: TSN's segment rule and dense sampling, in graph.

All functions take the video's frame count as a scalar tensor and return int32
frame indices of shape `(num_clips, num_segments)`. Training randomness is
stateless (`seed` is a shape-`(2,)` integer tensor), so a pipeline with a fixed
seed samples the same frames every run. Position arithmetic is float64, the
same operations as the NumPy reference code of TSN, so evaluation indices
match it exactly.
"""

import tensorflow as tf

SAMPLING_MODES = ("segment", "dense")

# TSM's dense sampling covers a 64-frame window (stride 8 for 8 segments).
DENSE_WINDOW = 64


def default_dense_stride(num_segments: int) -> int:
    """TSM's dense stride: `64 // num_segments`, at least 1."""
    return max(1, DENSE_WINDOW // num_segments)


def segment_indices(
    num_frames: tf.Tensor,
    num_segments: int,
    training: bool,
    seed: tf.Tensor | None = None,
    num_clips: int = 1,
) -> tf.Tensor:
    """TSN's segment sampling.

    The video is cut into `num_segments` equal segments of
    `num_frames // num_segments` frames. Training takes a uniformly random
    frame of each segment; evaluation takes `int(tick / 2 + tick * i)` with
    `tick = num_frames / num_segments` (the middle of each segment); for
    `num_clips > 1` clip `k` takes `int(tick * (k + 0.5) / num_clips + tick * i)`,
    spreading the clips evenly through each segment. A video shorter than
    `num_segments` uses the evaluation rule in training too, which repeats
    frames in order (e.g. 3 frames, 8 segments: 0 0 0 1 1 2 2 2).

    Args:
        num_frames: scalar integer tensor, frames in the video (>= 1).
        num_segments: segments per clip.
        training: random (True) or central (False) frames.
        seed: shape-`(2,)` integer tensor for the stateless random draw; required
            when training.
        num_clips: clips per video (evaluation).

    Returns:
        int32 `(num_clips, num_segments)` frame indices.
    """
    num_frames = tf.maximum(tf.cast(num_frames, tf.int32), 1)
    positions = tf.range(num_segments, dtype=tf.float64)
    tick = tf.cast(num_frames, tf.float64) / num_segments
    clip_offsets = (tf.range(num_clips, dtype=tf.float64) + 0.5) / num_clips
    centred = tf.cast(tick[None] * clip_offsets[:, None] + tick * positions[None], tf.int32)
    if not training:
        return centred
    if seed is None:
        raise ValueError("`segment_indices` needs a `seed` tensor when training=True.")
    average_duration = num_frames // num_segments
    random_offsets = tf.random.stateless_uniform(
        [num_clips, num_segments],
        seed,
        minval=0,
        maxval=tf.maximum(average_duration, 1),
        dtype=tf.int32,
    )
    random = tf.range(num_segments, dtype=tf.int32)[None] * average_duration + random_offsets
    return tf.where(average_duration > 0, random, centred)


def dense_indices(
    num_frames: tf.Tensor,
    num_segments: int,
    training: bool,
    seed: tf.Tensor | None = None,
    num_clips: int = 1,
    stride: int | None = None,
) -> tf.Tensor:
    """Dense sampling: `num_segments` frames `stride` apart (the Kinetics/I3D rule).

    The window spans `stride * num_segments` frames; indices wrap around
    (modulo `num_frames`) in videos shorter than that. Training starts the
    window at a uniformly random frame of `0 .. num_frames - window`;
    evaluation centres it (`(num_frames - window) // 2`), or for `num_clips > 1`
    starts clip `k` at `np.linspace(0, num_frames - window, num_clips)` cast to
    int, as TSM's multi-clip test.

    Args:
        num_frames: scalar integer tensor, frames in the video (>= 1).
        num_segments: frames per clip.
        training: random (True) or central (False) window.
        seed: shape-`(2,)` integer tensor; required when training.
        num_clips: clips per video (evaluation).
        stride: frame step; defaults to `64 // num_segments`.

    Returns:
        int32 `(num_clips, num_segments)` frame indices.
    """
    stride = default_dense_stride(num_segments) if stride is None else stride
    num_frames = tf.maximum(tf.cast(num_frames, tf.int32), 1)
    last_start = tf.maximum(num_frames - stride * num_segments, 0)
    if training:
        if seed is None:
            raise ValueError("`dense_indices` needs a `seed` tensor when training=True.")
        starts = tf.random.stateless_uniform(
            [num_clips], seed, minval=0, maxval=last_start + 1, dtype=tf.int32
        )
    elif num_clips == 1:
        starts = tf.reshape(last_start // 2, [1])
    else:
        step = tf.cast(last_start, tf.float64) / (num_clips - 1)
        starts = tf.cast(tf.range(num_clips, dtype=tf.float64) * step, tf.int32)
        # np.linspace sets its last value to the end point exactly.
        starts = tf.concat([starts[:-1], [last_start]], axis=0)
    offsets = tf.range(num_segments, dtype=tf.int32) * stride
    return (starts[:, None] + offsets[None]) % num_frames


def sample_indices(
    num_frames: tf.Tensor,
    num_segments: int,
    sampling: str,
    training: bool,
    seed: tf.Tensor | None = None,
    num_clips: int = 1,
    dense_stride: int | None = None,
) -> tf.Tensor:
    """Frame indices `(num_clips, num_segments)` by `sampling` ("segment" or "dense")."""
    if sampling == "segment":
        return segment_indices(num_frames, num_segments, training, seed, num_clips)
    if sampling == "dense":
        return dense_indices(num_frames, num_segments, training, seed, num_clips, dense_stride)
    raise ValueError(f"`sampling` must be one of {SAMPLING_MODES}. Received: sampling={sampling!r}")
