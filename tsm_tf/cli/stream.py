"""Streams a video through an exported online TSM and prints what it sees.

Usage:
    tsm-stream --model=model.tflite --video=clip.mp4 [--every=second] [--top_k=3] \
        [--num_threads=2] [--smoothing_window=12] [--output=clip.jsonl]
    tsm-stream --preset=tsm_mobilenetv2_jester_online --video=clip.mp4

With --preset, the preset is downloaded (once), converted and exported to a
streaming .tflite in a temporary folder, parity-checked, and then streamed.

Frames are decoded as a player shows them (`tsm_tf.data.video_io.VideoReader`:
upright, with their timestamps), and those the model's frame rate asks for
(the metadata's `frame_rate`, picked by timestamp by `tsm_tf.FramePacer`;
every frame when it is null) are classified one at a time by
`tsm_tf.StreamingClassifier` (which resizes and crops them by the model's
metadata and carries the shift states). Printed per fed frame (its smoothed
top-k) or per second of video (the softmax of the mean logits of the frames
fed in that second); the frame column is the video frame's index. Then a
per-video summary: its top-k over every fed frame, the rate the frames were
fed at (a video slower than the model's rate has every frame fed, and the
output says so), and latency. --output writes the same as JSON lines: one
per frame or second, then one per video.

Data the decoder rejects part-way is skipped, with a warning naming the file
and the time; data it cannot get past ends the stream there, and Ctrl-C
too: either way the summary covers what was streamed.
"""

import contextlib
import json
import os
import signal
import sys
import threading

from absl import app
from absl import flags
from absl import logging

from tsm_tf.cli.tool import run_tool

FLAGS = flags.FLAGS


def define_flags() -> None:
    """Defines the command's flags (at start-up, never at import)."""
    flags.DEFINE_string("model", None, "A streaming .tflite with its .json metadata (or --preset).")
    flags.DEFINE_string(
        "preset", None, "An online preset name, e.g. tsm_mobilenetv2_jester_online."
    )
    flags.DEFINE_integer(
        "image_size", None, "--preset: frame size of the export (default: the preset's)."
    )
    flags.DEFINE_string(
        "video", None, "The video file to classify (any format FFmpeg reads).", required=True
    )
    flags.DEFINE_enum(
        "every", "second", ["frame", "second"], "Print per fed frame or per second of video."
    )
    flags.DEFINE_integer("top_k", 3, "Classes to print per line.", lower_bound=1)
    flags.DEFINE_integer("num_threads", 2, "Interpreter threads.", lower_bound=1)
    flags.DEFINE_integer("smoothing_window", 12, "Frames whose logits are averaged.", lower_bound=1)
    flags.DEFINE_integer(
        "max_frames", None, "Stop after this many video frames (default: all).", lower_bound=1
    )
    flags.DEFINE_string(
        "output",
        None,
        "Also write the lines as JSON lines to this .jsonl file (written when the stream ends).",
    )


def open_video(path):
    """The `VideoReader` of --video, or a usage error saying why it cannot be read."""
    from tsm_tf.data.video_io import SkipVideo
    from tsm_tf.data.video_io import VideoReader

    try:
        return VideoReader(path, skip_damaged=True)
    except SkipVideo as error:
        raise app.UsageError(f"--video: {error.detail}: {path!r}.") from error


def format_line(timestamp, frame_index, top_k):
    """One printed line: time, video frame index, top-k labels with probabilities."""
    classes = "  ".join(f"{label} {score:.2f}" for label, score in top_k)
    return f"{timestamp:7.2f}s  frame {frame_index:5d}  {classes}"


def stream_video(classifier, video, every, top_k, max_frames=None, write_record=None):
    """Streams `video` (a `VideoReader`) through `classifier` from a reset, printing as it goes.

    Each line (per fed frame, or per second of video) is printed and passed
    to `write_record` as a dict. Ctrl-C stops the stream after the frame in
    hand, and data the decoder cannot get past stops it there; either way
    the record of what was streamed is returned.

    Returns:
        The per-video record: the video's top-k over every fed frame, the
        frames decoded and fed, the seconds streamed, the damaged data
        skipped, and `interrupted` / `error` when it ended early.
    """
    from tsm_tf.data.video_io import SkipVideo

    classifier.reset()
    lines = PrintedLines(video.path, classifier.labels, every, top_k, write_record)
    fed_logits, num_frames, last_timestamp, num_warned = [], 0, None, 0
    interrupted, error = False, None
    try:
        with ctrl_c_requests() as stop_requests:
            for frame_index, (timestamp, frame) in enumerate(video):
                prediction = classifier.classify_at(frame, timestamp)
                num_frames, last_timestamp = frame_index + 1, timestamp
                num_warned = warn_of_damage(video, num_warned)
                lines.add(frame_index, timestamp, prediction)
                if prediction is not None:
                    fed_logits.append(prediction.logits)
                interrupted = bool(stop_requests)
                if interrupted or (max_frames is not None and num_frames >= max_frames):
                    break
    except SkipVideo as stopped:
        error = stopped.detail
    finally:
        video.close()
    warn_of_damage(video, num_warned)
    frame_seconds = 1 / (video.frame_rate or 30)
    seconds_streamed = 0.0 if last_timestamp is None else float(last_timestamp) + frame_seconds
    lines.finish(seconds_streamed)
    record = {
        "kind": "video",
        "video": video.path,
        "top_k": [
            {"label": label, "score": score} for label, score in lines.mean_top_k(fed_logits)
        ],
        "num_frames": num_frames,
        "num_fed": len(fed_logits),
        "seconds": round(seconds_streamed, 6),
        "frame_rate": video.frame_rate,
        "fed_frame_rate": classifier.pacer.taken_rate,
        "damaged": [{"time": seconds, "error": reason} for seconds, reason in video.damaged],
        "interrupted": interrupted,
        "error": error,
    }
    lines.write_record(record)
    return record


class PrintedLines:
    """The lines of a stream: one per fed frame (its smoothed top-k), or one per second of
    video (the softmax of the mean logits of the frames fed in that second), each printed
    and passed to `write_record` as a dict."""

    def __init__(self, video_path, labels, every, top_k, write_record=None):
        self.video_path = video_path
        self.labels = labels
        self.every = every
        self.top_k = top_k
        self.write_record = write_record or (lambda record: None)
        self._second = None  # the second being gathered

    def add(self, frame_index, timestamp, prediction):
        """Takes the next video frame and its prediction (None: not fed)."""
        if self.every == "frame":
            if prediction is not None:
                fields = {"start": float(timestamp), "frame": frame_index}
                self._emit("frame", fields, prediction.top_k(self.top_k))
            return
        if self._second is not None and int(timestamp) != self._second["start"]:
            self._end_second(self._second["start"] + 1)
        if self._second is None:
            self._second = {"start": int(timestamp), "frame": frame_index, "num_frames": 0}
            self._logits = []
        self._second["num_frames"] += 1
        if prediction is not None:
            self._logits.append(prediction.logits)

    def finish(self, end_seconds):
        """Prints the last second, which ends at `end_seconds` or its full second."""
        if self._second is not None:
            self._end_second(min(self._second["start"] + 1, end_seconds))

    def mean_top_k(self, logits):
        """The top-k `(label, score)` of the softmax of the mean of `logits` (none for none)."""
        from tsm_tf.lite.streaming_classifier import mean_scores
        from tsm_tf.utils.top_classes import top_classes

        return top_classes(mean_scores(logits), self.labels, self.top_k) if logits else []

    def _end_second(self, end):
        second, self._second = self._second, None
        if self._logits:
            fields = {
                "start": float(second["start"]),
                "end": float(end),
                "frame": second["frame"],
                "num_frames": second["num_frames"],
                "num_fed": len(self._logits),
            }
            self._emit("second", fields, self.mean_top_k(self._logits))

    def _emit(self, kind, fields, top_k):
        print(format_line(fields["start"], fields["frame"], top_k), flush=True)
        entries = [{"label": label, "score": score} for label, score in top_k]
        self.write_record({"kind": kind, "video": self.video_path, **fields, "top_k": entries})


def warn_of_damage(video, num_warned):
    """Warns of the damaged data `video` skipped since the first `num_warned`; returns the count."""
    for seconds, reason in video.damaged[num_warned:]:
        warn(f"{video.path}: skipped data the decoder rejected at {seconds:.2f} s: {reason}")
    return len(video.damaged)


def print_summary(record, classifier):
    """The per-video lines: top-k, what was streamed, how it was fed, how fast."""
    rate = record["frame_rate"] or 0.0
    classes = "  ".join(f"{entry['label']} {entry['score']:.2f}" for entry in record["top_k"])
    print(f"video: {record['video']}: {classes or 'no frame classified'}")
    print(
        f"streamed {record['seconds']:.2f} s, {record['num_frames']} frames; "
        f"frame rate: {classifier.pacer.summary()}; the video has {rate:.1f} fps"
    )
    if classifier.pacer.source_is_slower():
        print(
            f"note: the video ({rate:.1f} fps) is slower than the model's "
            f"{classifier.frame_rate:.1f} fps, so every frame was fed and the model "
            "saw faster motion than it was trained on."
        )
    if record["damaged"]:
        times = ", ".join(f"{entry['time']:.2f} s" for entry in record["damaged"][:10])
        more = " ..." if len(record["damaged"]) > 10 else ""
        print(
            f"damaged: skipped {len(record['damaged'])} packets the decoder rejected "
            f"(at {times}{more})"
        )
    if record["num_fed"]:
        print(f"latency: {classifier.latency().summary()}")
    print(f"state memory: {classifier.state_bytes()} bytes")


@contextlib.contextmanager
def ctrl_c_requests():
    """Yields a list that Ctrl-C appends to, instead of raising KeyboardInterrupt mid-frame.

    So the stream stops between frames, with every count in step. Only the main thread
    receives signals; elsewhere Ctrl-C keeps its default.
    """
    requests = []
    if threading.current_thread() is not threading.main_thread():
        yield requests
        return
    previous = signal.signal(signal.SIGINT, lambda number, frame: requests.append(number))
    try:
        yield requests
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def json_lines(path):
    """Yields `write(record)`, which adds a JSON line to `path` (renamed into place at the end)."""
    from tsm_tf.utils.atomic_files import atomic_path

    if path is None:
        yield lambda record: None
        return
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as file:
        yield lambda record: file.write(json.dumps(record) + "\n")


def warn(message):
    """A line on stderr, in the tool's name."""
    print(f"{os.path.basename(sys.argv[0])}: {message}", file=sys.stderr, flush=True)


def export_preset_to(folder):
    """--preset: a parity-checked streaming .tflite of the preset, in `folder`."""
    from tsm_tf.presets.export import export_preset

    overrides = {} if FLAGS.image_size is None else {"image_size": FLAGS.image_size}
    path = os.path.join(folder, f"{FLAGS.preset}.tflite")
    try:
        _, _, report = export_preset(FLAGS.preset, path, **overrides)
    except ValueError as error:
        raise app.UsageError(str(error)) from error
    logging.info("Exported %s: %s", FLAGS.preset, report.summary())
    return path


def main(argv):
    del argv
    import tempfile

    from tsm_tf.lite.streaming_classifier import StreamingClassifier

    if (FLAGS.preset is None) == (FLAGS.model is None):
        raise app.UsageError("Pass exactly one of --model=model.tflite and --preset=name.")
    video = open_video(FLAGS.video)  # first: a preset's export takes minutes
    with tempfile.TemporaryDirectory() as folder:
        model_path = FLAGS.model if FLAGS.preset is None else export_preset_to(folder)
        classifier = StreamingClassifier(
            model_path, num_threads=FLAGS.num_threads, smoothing_window=FLAGS.smoothing_window
        )
        logging.info(
            "Streaming %s (%.1f fps) through %s.", FLAGS.video, video.frame_rate, model_path
        )
        with json_lines(FLAGS.output) as write_record:
            record = stream_video(
                classifier, video, FLAGS.every, FLAGS.top_k, FLAGS.max_frames, write_record
            )
    print_summary(record, classifier)
    if record["error"]:
        warn(f"error: {record['video']}: {record['error']}")
        sys.exit(1)
    if record["interrupted"]:
        warn(f"interrupted at {record['seconds']:.2f} s of {record['video']}")
        sys.exit(130)


def run():
    """The `tsm-stream` console script."""
    run_tool(main, define_flags)


if __name__ == "__main__":
    run()
