"""Training learns: a tiny TSM tells a bar moving right from one moving left; a TSN cannot.

The two classes are a clip and the same clip played backwards, so every single
frame is as likely in one class as in the other: only the order of the frames
says which way the bar moves. A TSN averages per-frame scores, so it gives a
clip and its reversal the same logits; on held-out clips that come in such
pairs it scores 50% whatever it learned. The TSM sees neighbouring frames
through its shifts and must learn the direction.
"""

import keras
import numpy as np
import pytest

import tsm_tf

NUM_FRAMES = 8
FRAME_SIZE = 32
BAR_WIDTH = 4
BAR_SPEEDS = (3, 4)  # pixels per frame: the bar crosses most of the frame
NUM_TRAIN_PAIRS = 64
NUM_HELD_OUT_PAIRS = 64
# Plain SGD: Adam learned more slowly here and costs more to trace.
RECIPE = dict(epochs=6, batch_size=16, learning_rate=0.1)
SEED = 0
# Chance is 0.5; the TSM reached 1.0 on every seed tried.
TSM_MIN_ACCURACY = 0.9
TSN_MAX_DISTANCE_FROM_CHANCE = 0.1
LABELS = ["right", "left"]


def moving_bar_pairs(num_pairs, rng):
    """Clips of a white vertical bar moving right (label 0) and the same clips reversed (label 1).

    Returns `(clips, labels)`: clips `(2 * num_pairs, NUM_FRAMES, FRAME_SIZE,
    FRAME_SIZE, 3)` float32 RGB in [0, 255], each rightward clip followed in
    the second half by its reversal.
    """
    clips = np.zeros((num_pairs, NUM_FRAMES, FRAME_SIZE, FRAME_SIZE, 3), np.float32)
    for clip in clips:
        speed = rng.choice(BAR_SPEEDS)
        start = rng.integers(0, FRAME_SIZE - BAR_WIDTH - speed * (NUM_FRAMES - 1) + 1)
        for frame_index, frame in enumerate(clip):
            left = start + speed * frame_index
            frame[:, left : left + BAR_WIDTH] = 255.0
    clips = np.concatenate([clips, clips[:, ::-1]])
    labels = np.repeat(np.array([0, 1], np.int32), num_pairs)
    return clips, labels


def train(shift_div, seed, train_data):
    """A tiny MobileNetV2 TSM (or TSN with shift_div=0) trained on `train_data` with `RECIPE`."""
    keras.utils.set_random_seed(seed)
    model = tsm_tf.build_tsm(
        "mobilenet_v2",
        num_classes=2,
        num_segments=NUM_FRAMES,
        image_size=FRAME_SIZE,
        shift_div=shift_div,
        width_multiplier=0.35,
        dropout=0.0,
        labels=LABELS,
    )
    model.compile(
        keras.optimizers.SGD(RECIPE["learning_rate"]),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    # Built here, Keras creates no variables while tracing the training step,
    # so it traces once instead of twice (about 10 s less on a CPU).
    model.optimizer.build(model.trainable_variables)
    model.fit(
        *train_data,
        epochs=RECIPE["epochs"],
        batch_size=RECIPE["batch_size"],
        shuffle=True,
        verbose=0,
    )
    return model


def accuracy(model, held_out):
    clips, labels = held_out
    predictions = np.argmax(model.predict(clips, batch_size=64, verbose=0), axis=-1)
    return float(np.mean(predictions == labels))


@pytest.fixture(scope="module")
def bar_data():
    rng = np.random.default_rng(SEED)
    return moving_bar_pairs(NUM_TRAIN_PAIRS, rng), moving_bar_pairs(NUM_HELD_OUT_PAIRS, rng)


@pytest.fixture(scope="module")
def trained_models(bar_data):
    """The TSM and the TSN (shift removed), trained once for this module's tests."""
    return {"tsm": train(8, SEED, bar_data[0]), "tsn": train(0, SEED, bar_data[0])}


def test_single_frames_carry_no_direction(bar_data):
    """Each leftward held-out clip is its rightward pair played backwards: the same frames, another order."""
    clips, labels = bar_data[1]
    right, left = clips[labels == 0], clips[labels == 1]
    np.testing.assert_array_equal(right[:, ::-1], left)
    assert not np.array_equal(right, left)


def test_tsm_learns_direction_tsn_stays_at_chance(bar_data, trained_models):
    tsm_accuracy = accuracy(trained_models["tsm"], bar_data[1])
    tsn_accuracy = accuracy(trained_models["tsn"], bar_data[1])
    assert tsm_accuracy >= TSM_MIN_ACCURACY, (
        f"a TSM trained on moving bars scored {tsm_accuracy:.3f} on held-out clips "
        f"(chance 0.5; it reached 1.0 on seeds 0-7 when this test was written)"
    )
    assert abs(tsn_accuracy - 0.5) <= TSN_MAX_DISTANCE_FROM_CHANCE, (
        f"a TSN (no shift) scored {tsn_accuracy:.3f} on clips paired with their "
        "reversals; without temporal mixing it must score 0.5"
    )


# A long video of known parts: the bar sweeps right, then left, then right,
# one sweep (NUM_FRAMES frames) a second. Each sweep starts with a jump back
# that no training clip has, so the windows are the sweeps: a second each,
# a second apart.
TIMELINE_PARTS = (("right", 3), ("left", 3), ("right", 3))
TIMELINE_STRIDE_SECONDS = 1.0


def write_parts_video(path, rng):
    """Writes TIMELINE_PARTS as an mp4 at NUM_FRAMES fps; returns the true segments (label, start, end)."""
    from tests.data_helpers import write_video

    clips, _ = moving_bar_pairs(sum(seconds for _, seconds in TIMELINE_PARTS), rng)
    sweeps, truth, start = [], [], 0
    for label, seconds in TIMELINE_PARTS:
        for clip in clips[start : start + seconds]:
            sweeps.append(clip if label == "right" else clip[::-1])
        truth.append((label, start, start + seconds))
        start += seconds
    write_video(path, np.concatenate(sweeps).astype(np.uint8), frame_rate=NUM_FRAMES)
    return truth


def matches(segments, truth, tolerance):
    """Whether `segments` are the true parts, in order, each boundary within `tolerance` seconds."""
    return len(segments) == len(truth) and all(
        segment.label == label
        and abs(segment.start - start) <= tolerance
        and abs(segment.end - end) <= tolerance
        for segment, (label, start, end) in zip(segments, truth)
    )


def test_timeline_finds_the_parts_of_a_long_video_tsn_does_not(trained_models, tmp_path):
    """tsm_tf.predict_timelines on a video file: the TSM's segments are the true parts within a stride."""
    path = str(tmp_path / "parts.mp4")
    truth = write_parts_video(path, np.random.default_rng(SEED + 1))
    segments = {}
    for name, model in trained_models.items():
        (result,) = tsm_tf.predict_timelines(
            model,
            [path],
            window_seconds=TIMELINE_STRIDE_SECONDS,
            stride_seconds=TIMELINE_STRIDE_SECONDS,
            score_threshold=0.6,
            # The frames are the training clips' size: no resize before the crop.
            resize_shorter_side=FRAME_SIZE,
        )
        assert result.error is None, result
        segments[name] = result.timeline.segments
    assert matches(segments["tsm"], truth, TIMELINE_STRIDE_SECONDS), (
        f"the TSM's segments {segments['tsm']} are not the parts {truth} within "
        f"{TIMELINE_STRIDE_SECONDS} s"
    )
    assert not matches(segments["tsn"], truth, TIMELINE_STRIDE_SECONDS), (
        f"the TSN (no shift) found the parts {segments['tsn']}: the video's direction "
        "changes should be invisible to it"
    )
