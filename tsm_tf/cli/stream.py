"""Streams a video through an exported online TSM and prints what it sees.

Usage:
    tsm-stream --model=model.tflite --video=clip.mp4 [--every=second] [--top_k=3] \
        [--num_threads=2] [--smoothing_window=12]
    tsm-stream --preset=tsm_mobilenetv2_jester_online --video=clip.mp4

With --preset, the preset is downloaded (once), converted and exported to a
streaming .tflite in a temporary folder, parity-checked, and then streamed.

Frames are decoded with PyAV with their timestamps, and those the model's
frame rate asks for (the metadata's `frame_rate`, picked by timestamp by
`tsm_tf.FramePacer`; every frame when it is null) are classified one at a
time by `tsm_tf.StreamingClassifier` (which resizes and crops them by the
model's metadata and carries the shift states). The smoothed top-k is printed
per fed frame or once per second of video, followed by the rate the frames
were fed at, and a latency summary. A video slower than the model's rate has
every frame fed, and the output says so.
"""

import fractions
import os

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
        "every", "second", ["frame", "second"], "Print per frame or per second of video."
    )
    flags.DEFINE_integer("top_k", 3, "Classes to print per line.", lower_bound=1)
    flags.DEFINE_integer("num_threads", 2, "Interpreter threads.", lower_bound=1)
    flags.DEFINE_integer("smoothing_window", 12, "Frames whose logits are averaged.", lower_bound=1)
    flags.DEFINE_integer(
        "max_frames", None, "Stop after this many frames (default: all).", lower_bound=1
    )


def decode_frames(path):
    """The video's frame rate, and an iterator of `(timestamp, uint8 RGB frame)`.

    Timestamps are the frames' presentation times in seconds from the first
    frame, exact `Fraction`s (from the stream's time base), so frame choices
    follow the timestamps, not the frame count; frames without one are
    placed at `index / rate`.
    """
    import av

    if not os.path.exists(path):
        raise app.UsageError(f"--video: no file at {path!r}.")
    try:
        container = av.open(path)
    except (av.FFmpegError, OSError) as error:
        reason = getattr(error, "strerror", None) or error
        raise app.UsageError(f"--video: cannot open {path!r}: {reason}.") from error
    if not container.streams.video:
        container.close()
        raise app.UsageError(f"--video: {path!r} has no video stream.")
    stream = container.streams.video[0]
    rate = float(stream.average_rate or stream.guessed_rate or 30)

    def frames():
        start = None
        with container:
            for index, frame in enumerate(container.decode(stream)):
                if frame.pts is None or frame.time_base is None:
                    timestamp = fractions.Fraction(index) / fractions.Fraction(rate)
                else:
                    timestamp = frame.pts * fractions.Fraction(frame.time_base)
                start = timestamp if start is None else start
                yield timestamp - start, frame.to_ndarray(format="rgb24")

    return rate, frames()


def format_prediction(timestamp, prediction, top_k):
    """One output line: time, frame index, top-k labels with probabilities."""
    classes = "  ".join(f"{label} {score:.2f}" for label, score in prediction.top_k(top_k))
    return f"{timestamp:7.2f}s  frame {prediction.frame_index:5d}  {classes}"


def stream_video(classifier, frames, every, top_k, max_frames):
    """Classifies the frames the pacer takes; prints per frame or at each new second."""
    next_print = 0.0
    for timestamp, frame in frames:
        prediction = classifier.classify_at(frame, timestamp)
        if prediction is None:
            continue
        if every == "frame" or timestamp >= next_print:
            print(format_prediction(float(timestamp), prediction, top_k))
            next_print = float(int(timestamp) + 1)
        if max_frames is not None and prediction.frame_index + 1 >= max_frames:
            break


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
    rate, frames = decode_frames(FLAGS.video)  # first: a preset's export takes minutes
    with tempfile.TemporaryDirectory() as folder:
        model_path = FLAGS.model if FLAGS.preset is None else export_preset_to(folder)
        classifier = StreamingClassifier(
            model_path, num_threads=FLAGS.num_threads, smoothing_window=FLAGS.smoothing_window
        )
        logging.info("Streaming %s (%.1f fps) through %s.", FLAGS.video, rate, model_path)
        stream_video(classifier, frames, FLAGS.every, FLAGS.top_k, FLAGS.max_frames)
    print(f"frame rate: {classifier.pacer.summary()}; the video has {rate:.1f} fps")
    if classifier.pacer.source_is_slower():
        print(
            f"note: the video ({rate:.1f} fps) is slower than the model's "
            f"{classifier.frame_rate:.1f} fps, so every frame was fed and the model "
            "saw faster motion than it was trained on."
        )
    print(f"latency: {classifier.latency().summary()}")
    print(f"state memory: {classifier.state_bytes()} bytes")


def run():
    """The `tsm-stream` console script."""
    run_tool(main, define_flags)


if __name__ == "__main__":
    run()
