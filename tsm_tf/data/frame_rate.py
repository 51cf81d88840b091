"""The frame rate a model was trained at, from its records and sampling rule.

The records store each video's frame rate (`video/frame_rate`, 0 when
unknown) and frame count; the sampling rule says how far apart the frames of a
clip are. Together they give the rate, in frames per second, at which the
model saw frames, which a streaming client must reproduce
(`export_tflite(..., frame_rate=...)`, docs/metadata.md).
"""

import glob
import statistics

import numpy as np

from tsm_tf.data import records
from tsm_tf.data.sampling import default_dense_stride

DEFAULT_MAX_VIDEOS = 256


def sampled_frame_rate(
    pattern: str,
    num_segments: int,
    sampling: str = "segment",
    dense_stride: int | None = None,
    max_videos: int = DEFAULT_MAX_VIDEOS,
) -> float:
    """Frames per second between the frames of a training clip.

    Dense sampling takes every `dense_stride`-th frame, so the rate is the
    videos' rate divided by the stride. Segment sampling spreads the
    `num_segments` frames over the whole video, a step of
    `num_frames / num_segments` frames, so the rate is fixed only when every
    video has the same length (as the built-in motion dataset's clips).

    Args:
        pattern: the training record files (a glob pattern).
        num_segments: frames per clip.
        sampling: `"segment"` or `"dense"` (`TrainConfig.sampling`).
        dense_stride: the dense step; defaults to `64 // num_segments`.
        max_videos: videos read (the first ones of the sorted files).

    Returns:
        Frames per second.

    Raises:
        ValueError: the records do not record a frame rate, or the sampling
            gives each video a different rate; the message says to pass
            `frame_rate` explicitly.
    """
    files = sorted(glob.glob(pattern))
    if not files:
        raise ValueError(f"No record files match {pattern!r}.")
    rates, lengths = [], []
    for serialized in _first_records(files, max_videos):
        video = records.parse_video(serialized)
        rates.append(float(video[records.FRAME_RATE]))
        lengths.append(int(video[records.NUM_FRAMES]))
    if min(rates) <= 0:
        raise ValueError(
            f"The records {pattern!r} do not record a frame rate (video/frame_rate "
            "is 0), so the rate the model was trained at is unknown. Pass "
            "frame_rate explicitly (frames per second), or None to feed every frame."
        )
    if max(rates) - min(rates) > 1e-3 * max(rates):
        raise ValueError(
            f"The videos of {pattern!r} have frame rates from {min(rates):g} to "
            f"{max(rates):g} fps, so no single rate describes the training frames. "
            f"Pass frame_rate explicitly (e.g. the median, {statistics.median(rates):g} "
            "divided by the sampling step)."
        )
    video_rate = float(np.mean(rates))
    if sampling == "dense":
        stride = default_dense_stride(num_segments) if dense_stride is None else dense_stride
        return video_rate / stride
    if sampling != "segment":
        raise ValueError(
            f"`sampling` must be 'segment' or 'dense'. Received: sampling={sampling!r}"
        )
    if min(lengths) != max(lengths):
        raise ValueError(
            f"Segment sampling spreads {num_segments} frames over each whole video, "
            f"and the videos of {pattern!r} have {min(lengths)} to {max(lengths)} "
            "frames, so each was seen at a different rate. Pass frame_rate "
            "explicitly (frames per second)."
        )
    return video_rate * num_segments / max(lengths[0], num_segments)


def _first_records(files, max_videos):

    count = 0
    for path in files:
        for serialized in records.read_records(path):
            yield serialized
            count += 1
            if count >= max_videos:
                return
