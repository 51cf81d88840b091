"""Streams a video through an exported online TSM and prints what it sees.

Usage:
    tsm-stream --model=model.tflite --video=clip.mp4 [--every=second] [--top_k=3] \
        [--num_threads=2] [--smoothing_window=12]

Frames are decoded with PyAV, classified one at a time by
`tsm_tf.StreamingClassifier` (which resizes and crops them by the model's
metadata and carries the shift states), and the smoothed top-k is printed per
frame or once per second of video, followed by a latency summary.
"""

import os

from absl import app
from absl import flags
from absl import logging

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "A streaming .tflite with its .json metadata.", required=True)
flags.DEFINE_string("video", None, "The video file to classify (any format FFmpeg reads).", required=True)
flags.DEFINE_enum("every", "second", ["frame", "second"], "Print per frame or per second of video.")
flags.DEFINE_integer("top_k", 3, "Classes to print per line.", lower_bound=1)
flags.DEFINE_integer("num_threads", 2, "Interpreter threads.", lower_bound=1)
flags.DEFINE_integer("smoothing_window", 12, "Frames whose logits are averaged.", lower_bound=1)
flags.DEFINE_integer("max_frames", None, "Stop after this many frames (default: all).")


def decode_frames(path):
    """Yields `(timestamp_seconds, uint8 RGB frame)` and the frame rate first."""
    import av

    if not os.path.exists(path):
        raise app.UsageError(f"--video: no file at {path!r}.")
    try:
        container = av.open(path)
    except (av.FFmpegError, OSError) as error:
        raise app.UsageError(f"--video: cannot open {path!r}: {error}") from error
    if not container.streams.video:
        container.close()
        raise app.UsageError(f"--video: {path!r} has no video stream.")
    stream = container.streams.video[0]
    rate = float(stream.average_rate or stream.guessed_rate or 30)

    def frames():
        with container:
            for index, frame in enumerate(container.decode(stream)):
                yield index / rate, frame.to_ndarray(format="rgb24")

    return rate, frames()


def format_prediction(timestamp, prediction, top_k):
    """One output line: time, frame index, top-k labels with probabilities."""
    classes = "  ".join(f"{label} {score:.2f}" for label, score in prediction.top_k(top_k))
    return f"{timestamp:7.2f}s  frame {prediction.frame_index:5d}  {classes}"


def stream_video(classifier, frames, every, top_k, max_frames):
    """Classifies every frame; prints per frame or at each new second."""
    next_print = 0.0
    for timestamp, frame in frames:
        prediction = classifier.classify(frame)
        if every == "frame" or timestamp >= next_print:
            print(format_prediction(timestamp, prediction, top_k))
            next_print = float(int(timestamp) + 1)
        if max_frames is not None and prediction.frame_index + 1 >= max_frames:
            break


def main(argv):
    del argv
    from tsm_tf.lite.streaming_classifier import StreamingClassifier

    classifier = StreamingClassifier(
        FLAGS.model, num_threads=FLAGS.num_threads, smoothing_window=FLAGS.smoothing_window
    )
    rate, frames = decode_frames(FLAGS.video)
    logging.info("Streaming %s (%.1f fps) through %s.", FLAGS.video, rate, FLAGS.model)
    stream_video(classifier, frames, FLAGS.every, FLAGS.top_k, FLAGS.max_frames)
    print(f"latency: {classifier.latency().summary()}")
    print(f"state memory: {classifier.state_bytes()} bytes")


def run():
    """The `tsm-stream` console script."""
    app.run(main)


if __name__ == "__main__":
    run()
