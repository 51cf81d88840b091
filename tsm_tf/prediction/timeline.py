"""When each action happens in a long video: a clip model on windows, merged into segments.

Windows of `window_seconds` start every `stride_seconds`; each gives one
clip of the model's `num_segments` frames (TSN's segment rule within the
window) and its scores. Consecutive windows whose top-1 is the same label
with a score of at least `score_threshold` merge into a segment `(label,
start, end, mean score)`. Each window stands for the time nearer its centre
than its neighbours' centres, so a segment starts halfway between the
centres of its first window and the window before it (0 for the first
window) and ends likewise (the video's end for the last): with a model that
is right about every window, boundaries fall within half a stride of the truth
(windows straddling a change can go either way, so allow a stride).
"""

import collections
import dataclasses

import numpy as np

from tsm_tf.utils.top_classes import top_classes

# Windows scored in one call of the model.
_BATCH_WINDOWS = 16


@dataclasses.dataclass(frozen=True)
class TimelineWindow:
    """One window: its time span in seconds and its top-k labels and scores."""

    start: float
    end: float
    labels: tuple[str, ...]
    scores: tuple[float, ...]
    all_scores: np.ndarray = dataclasses.field(repr=False, compare=False)


@dataclasses.dataclass(frozen=True)
class TimelineSegment:
    """Consecutive windows with the same confident top-1, merged."""

    label: str
    start: float
    end: float
    mean_score: float


@dataclasses.dataclass(frozen=True)
class Timeline:
    """A video's windows and segments (see the module docstring)."""

    windows: tuple[TimelineWindow, ...]
    segments: tuple[TimelineSegment, ...]
    duration: float

    def to_dict(self) -> dict:
        """JSON-ready: windows with their top-k, and segments."""
        return {
            "windows": [
                {
                    "start": round(window.start, 3),
                    "end": round(window.end, 3),
                    "labels": list(window.labels),
                    "scores": [round(float(score), 6) for score in window.scores],
                }
                for window in self.windows
            ],
            "segments": [
                {
                    "label": segment.label,
                    "start": round(segment.start, 3),
                    "end": round(segment.end, 3),
                    "mean_score": round(segment.mean_score, 6),
                }
                for segment in self.segments
            ],
        }


def video_timeline(
    path, score_clips, num_segments, labels, window_seconds, stride_seconds, score_threshold, top_k
):
    """Decodes a local video once and scores its windows; `score_clips(clips)` gives scores.

    Only the frames of the windows not yet scored are held, so memory does not
    grow with the video's length.

    Returns:
        (Timeline, frames decoded, frame rate, a note for a video shorter than
        one window or None).

    Raises:
        SkipVideo: the video cannot be decoded or has no frame rate.
    """
    from tsm_tf.data.sampling import sample_indices
    from tsm_tf.data.video_io import UNREADABLE
    from tsm_tf.data.video_io import SkipVideo
    from tsm_tf.data.video_io import iterate_video

    frames, frame_rate = iterate_video(path)
    if not frame_rate:
        frames.close()
        raise SkipVideo(UNREADABLE, "the container gives no frame rate to place windows in time")
    window_frames = max(1, round(window_seconds * frame_rate))
    stride_frames = max(1, round(stride_seconds * frame_rate))

    def clip_of(buffer, buffer_start, start, end):
        indices = sample_indices(end - start, num_segments, "segment", training=False)
        return np.stack([buffer[start - buffer_start + index] for index in indices.numpy()[0]])

    spans, clips, scores = [], [], []
    buffer, buffer_start, next_start, num_frames = collections.deque(), 0, 0, 0
    for index, frame in enumerate(frames):
        buffer.append(frame)
        num_frames = index + 1
        while next_start + window_frames == num_frames:
            spans.append((next_start, num_frames))
            clips.append(clip_of(buffer, buffer_start, next_start, num_frames))
            next_start += stride_frames
        # Kept: frames of windows to come, and the last window's worth for a final window.
        while buffer_start < min(next_start, num_frames - window_frames + 1):
            buffer.popleft()
            buffer_start += 1
        if len(clips) >= _BATCH_WINDOWS:
            scores.extend(score_clips(np.stack(clips)))
            clips = []
    note = None
    if not spans:
        note = (
            f"shorter than one window ({num_frames / frame_rate:.2f} s of "
            f"{window_seconds:g} s): one window over all of it"
        )
    if not spans or spans[-1][1] < num_frames:
        start = max(0, num_frames - window_frames)
        spans.append((start, num_frames))
        clips.append(clip_of(buffer, buffer_start, start, num_frames))
    if clips:
        scores.extend(score_clips(np.stack(clips)))
    windows = []
    for (start, end), window_scores in zip(spans, scores):
        best = top_classes(window_scores, labels, top_k)
        windows.append(
            TimelineWindow(
                start / frame_rate,
                end / frame_rate,
                tuple(label for label, _ in best),
                tuple(score for _, score in best),
                window_scores,
            )
        )
    duration = num_frames / frame_rate
    timeline = Timeline(
        tuple(windows), merge_segments(windows, score_threshold, duration), duration
    )
    return timeline, num_frames, frame_rate, note


def merge_segments(
    windows: list[TimelineWindow], score_threshold: float, duration: float
) -> tuple[TimelineSegment, ...]:
    """Runs of windows with the same top-1 scoring at least `score_threshold`, as segments."""
    centres = [(window.start + window.end) / 2 for window in windows]
    edges = [0.0] + [(left + right) / 2 for left, right in zip(centres, centres[1:])] + [duration]
    segments, run = [], []

    def close_run():
        if run:
            segments.append(
                TimelineSegment(
                    windows[run[0]].labels[0],
                    edges[run[0]],
                    edges[run[-1] + 1],
                    float(np.mean([windows[index].scores[0] for index in run])),
                )
            )
            run.clear()

    for index, window in enumerate(windows):
        confident = window.scores[0] >= score_threshold
        if run and (not confident or window.labels[0] != windows[run[-1]].labels[0]):
            close_run()
        if confident:
            run.append(index)
    close_run()
    return tuple(segments)


def save_timeline_png(timeline: Timeline, path: str, title: str = "", num_lines: int = 5) -> None:
    """Draws the timeline: time on x, the top labels' scores as lines, segments as bands.

    The lines are the `num_lines` labels with the highest score in any window;
    each segment is a band in its label's colour, named at its top.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    from matplotlib import pyplot

    from tsm_tf.utils.atomic_files import atomic_path

    best = {}
    for window in timeline.windows:
        for label, score in zip(window.labels, window.scores):
            best[label] = max(best.get(label, 0.0), score)
    shown = sorted(best, key=lambda label: -best[label])[:num_lines]
    for segment in timeline.segments:
        if segment.label not in shown:
            shown.append(segment.label)
    colours = {label: pyplot.get_cmap("tab10")(index % 10) for index, label in enumerate(shown)}
    centres = [(window.start + window.end) / 2 for window in timeline.windows]
    figure, axes = pyplot.subplots(figsize=(10, 3.5), dpi=100)
    try:
        for segment in timeline.segments:
            axes.axvspan(segment.start, segment.end, color=colours[segment.label], alpha=0.18)
            axes.text(
                (segment.start + segment.end) / 2,
                1.02,
                segment.label,
                ha="center",
                va="bottom",
                fontsize=8,
                color=colours[segment.label],
            )
        for label in shown:
            values = [
                dict(zip(window.labels, window.scores)).get(label, np.nan)
                for window in timeline.windows
            ]
            axes.plot(centres, values, marker=".", color=colours[label], label=label)
        axes.set_xlim(0, max(timeline.duration, 1e-3))
        axes.set_ylim(0, 1.12)
        axes.set_xlabel("time (s), each point at its window's centre")
        axes.set_ylabel("score (top-k only)")
        if title:
            axes.set_title(title, fontsize=10, pad=16)
        axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
        figure.tight_layout()
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format="png")
    finally:
        pyplot.close(figure)
