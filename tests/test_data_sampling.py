"""Frame sampling against NumPy references of TSN's and TSM's rules."""

import numpy as np
import pytest
import tensorflow as tf

from tsm_tf.data.sampling import dense_indices
from tsm_tf.data.sampling import segment_indices

NUM_SEGMENTS = 8
# Long, exact (== num_segments), short, and one-frame videos.
FRAME_COUNTS = [300, 97, 17, 8, 5, 3, 1]


def tsn_test_indices(num_frames, num_segments):
    """TSN/TSM `_get_test_indices` (new_length=1), as in the reference code."""
    tick = (num_frames - 1 + 1) / float(num_segments)
    return np.array([int(tick / 2.0 + tick * x) for x in range(num_segments)])


def tsn_train_segments(num_frames, num_segments):
    """The frames TSN's `_sample_indices` may pick for each segment (long videos)."""
    average_duration = num_frames // num_segments
    return [
        set(range(i * average_duration, (i + 1) * average_duration)) for i in range(num_segments)
    ]


@pytest.mark.parametrize("num_frames", FRAME_COUNTS)
def test_evaluation_segment_indices_match_tsn(num_frames):
    indices = segment_indices(tf.constant(num_frames), NUM_SEGMENTS, training=False).numpy()
    np.testing.assert_array_equal(indices, tsn_test_indices(num_frames, NUM_SEGMENTS)[None])


def test_evaluation_matches_tsn_for_many_lengths():
    for num_segments in (3, 8, 16):
        for num_frames in range(1, 120):
            indices = segment_indices(
                tf.constant(num_frames), num_segments, training=False
            ).numpy()[0]
            np.testing.assert_array_equal(indices, tsn_test_indices(num_frames, num_segments))


def test_short_videos_repeat_frames_in_order():
    indices = segment_indices(tf.constant(3), NUM_SEGMENTS, training=False).numpy()[0]
    np.testing.assert_array_equal(indices, [0, 0, 0, 1, 1, 2, 2, 2])
    train = segment_indices(
        tf.constant(3), NUM_SEGMENTS, training=True, seed=tf.constant([1, 2])
    ).numpy()[0]
    np.testing.assert_array_equal(train, indices)


@pytest.mark.parametrize("num_frames", [300, 97, 17, 8])
def test_training_takes_one_random_frame_per_segment(num_frames):
    allowed = tsn_train_segments(num_frames, NUM_SEGMENTS)
    seen = [set() for _ in range(NUM_SEGMENTS)]
    for step in range(200):
        indices = segment_indices(
            tf.constant(num_frames), NUM_SEGMENTS, training=True, seed=tf.constant([step, 7])
        ).numpy()[0]
        for segment, index in enumerate(indices):
            assert index in allowed[segment], (segment, index)
            seen[segment].add(int(index))
    # Uniform over each segment: with 200 draws every frame of a short segment shows up.
    if num_frames // NUM_SEGMENTS <= 12:
        assert seen == allowed


def test_training_is_a_function_of_the_seed():
    first = segment_indices(tf.constant(300), NUM_SEGMENTS, True, seed=tf.constant([3, 4]))
    second = segment_indices(tf.constant(300), NUM_SEGMENTS, True, seed=tf.constant([3, 4]))
    other = segment_indices(tf.constant(300), NUM_SEGMENTS, True, seed=tf.constant([5, 4]))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_several_evaluation_clips_spread_through_segments():
    num_frames, num_clips = 80, 2
    indices = segment_indices(
        tf.constant(num_frames), NUM_SEGMENTS, False, num_clips=num_clips
    ).numpy()
    tick = num_frames / NUM_SEGMENTS
    expected = [
        [int(tick * (k + 0.5) / num_clips + tick * x) for x in range(NUM_SEGMENTS)]
        for k in range(num_clips)
    ]
    np.testing.assert_array_equal(indices, expected)


def tsm_dense_reference(num_frames, num_segments, start):
    stride = 64 // num_segments
    return np.array([(start + i * stride) % num_frames for i in range(num_segments)])


@pytest.mark.parametrize("num_frames", [300, 64, 30])
def test_dense_evaluation_is_centred(num_frames):
    last_start = max(0, num_frames - 64)
    indices = dense_indices(tf.constant(num_frames), NUM_SEGMENTS, training=False).numpy()[0]
    np.testing.assert_array_equal(
        indices, tsm_dense_reference(num_frames, NUM_SEGMENTS, last_start // 2)
    )


def test_dense_evaluation_clips_follow_linspace():
    num_frames, num_clips = 300, 10
    indices = dense_indices(
        tf.constant(num_frames), NUM_SEGMENTS, False, num_clips=num_clips
    ).numpy()
    starts = np.linspace(0, num_frames - 64, num=num_clips, dtype=int)
    expected = np.stack([tsm_dense_reference(num_frames, NUM_SEGMENTS, start) for start in starts])
    np.testing.assert_array_equal(indices, expected)


def test_dense_training_windows_stay_inside_the_video():
    num_frames = 100
    starts = set()
    for step in range(300):
        indices = dense_indices(
            tf.constant(num_frames), NUM_SEGMENTS, True, seed=tf.constant([step, 1])
        ).numpy()[0]
        start = int(indices[0])
        np.testing.assert_array_equal(indices, tsm_dense_reference(num_frames, NUM_SEGMENTS, start))
        starts.add(start)
    assert starts == set(range(num_frames - 64 + 1))
