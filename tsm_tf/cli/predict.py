"""tsm-predict: classify video files with a trained clip model; results as data.

Usage:
    tsm-predict --model=runs/motion/best.keras --videos=my_videos/ --output=predictions.jsonl
    tsm-predict --preset=tsm_resnet50_kinetics400_8f --videos='clips/*.mp4' \
        --output=predictions.csv --num_clips=10 --num_crops=3 --top_k=5
    tsm-predict --model=best.keras --videos=long.mp4 --output=timeline.jsonl \
        --timeline --window_seconds=2 --stride_seconds=1 --timeline_png=timeline.png
    tsm-predict --model=gs://bucket/best.keras --videos='gs://bucket/videos/**' \
        --output=gs://bucket/predictions.jsonl --runner=DaskRunner \
        --dask_client_address=tcp://scheduler:8786 --num_shards=16

--videos is a folder (searched recursively for video files), a glob (local or
any tf.io.gfile path), a .txt or .csv list of paths, or one video. Each video
is one line of --output: its top-k labels and scores with the paper's test
protocol (`tsm_tf.predict_videos`, the sampling and views of tsm-eval), or
with --timeline its windows and merged segments (`tsm_tf.predict_timelines`).
A video that cannot be read is a line with its reason. Stopped (Ctrl-C,
SIGTERM) and run again with the same --output, it continues: the videos
already written are skipped, and no line is left half-written. The end prints
a summary: videos, errors by reason, videos per second.

With --runner, the same per-video results come from an Apache Beam pipeline
(`tsm_tf.prediction.beam_predict`: decoding on workers, Beam's RunInference,
shards `<output>-SSSSS-of-NNNNN.jsonl`); flags tsm-predict does not define go to
Beam. A Beam run starts over when run again.
"""

import collections
import json
import logging
import os
import signal
import sys
import time

from absl import app
from absl import flags

from tsm_tf.cli.tool import define_progress_flag
from tsm_tf.cli.tool import parse_known_flags
from tsm_tf.cli.tool import run_tool

FLAGS = flags.FLAGS


def define_flags() -> None:
    """Defines the command's flags (at start-up, never at import)."""
    flags.DEFINE_string("model", None, "A .keras clip model from tsm-train (or --preset).")
    flags.DEFINE_string(
        "preset", None, "A preset name (tsm_tf.presets.PRESETS) instead of --model."
    )
    flags.DEFINE_string(
        "videos", None, "A folder, a glob, a .txt/.csv list of paths, or a video.", required=True
    )
    flags.DEFINE_string(
        "output", None, "Results file, .jsonl or .csv; an existing one is continued.", required=True
    )
    flags.DEFINE_integer("top_k", 5, "Classes kept per video (per window with --timeline).")
    flags.DEFINE_integer("num_clips", 1, "Clips per video.", lower_bound=1)
    flags.DEFINE_enum("num_crops", "1", ["1", "3"], "Crops per clip (3: full-resolution protocol).")
    flags.DEFINE_enum("sampling", "segment", ["segment", "dense"], "Frame sampling.")
    flags.DEFINE_integer(
        "resize_shorter_side",
        0,
        "Shorter side before the crop; 0: the model's image_size * 256 // 224, as tsm-eval.",
        lower_bound=0,
    )
    flags.DEFINE_bool("timeline", False, "Classify windows through each video (needs .jsonl).")
    flags.DEFINE_float("window_seconds", 2.0, "--timeline: seconds of video per window.")
    flags.DEFINE_float("stride_seconds", 1.0, "--timeline: seconds from one window to the next.")
    flags.DEFINE_float(
        "score_threshold", 0.5, "--timeline: lowest top-1 score a window needs to join a segment."
    )
    flags.DEFINE_string(
        "timeline_png",
        None,
        "--timeline: draw each timeline; a .png path for one video, else a folder.",
    )
    flags.DEFINE_string(
        "runner",
        None,
        "Run on Apache Beam with this runner (DirectRunner, DaskRunner, DataflowRunner, "
        "FlinkRunner, SparkRunner); other flags go to Beam (--dask_client_address=...). "
        "Writes --output as shards <output>-SSSSS-of-NNNNN.jsonl. Default: this process.",
    )
    flags.DEFINE_integer("num_shards", 1, "--runner: output shards.", lower_bound=1)
    define_progress_flag()


def main(argv):
    if len(argv) > 1 and FLAGS.runner is None:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    logging.getLogger().setLevel(logging.INFO)
    if (FLAGS.preset is None) == (FLAGS.model is None):
        raise app.UsageError("Pass exactly one of --model=model.keras and --preset=name.")
    if FLAGS.timeline and not FLAGS.output.endswith(".jsonl"):
        raise app.UsageError("--timeline writes windows and segments: give --output=....jsonl.")
    if FLAGS.timeline_png and not FLAGS.timeline:
        raise app.UsageError("--timeline_png draws timelines: add --timeline.")
    import tsm_tf  # noqa: F401  (registers the custom layers)
    from tsm_tf.prediction.prediction_writer import PredictionWriter
    from tsm_tf.prediction.video_lists import list_videos
    from tsm_tf.prediction.video_prediction import load_clip_model

    videos = list_videos(FLAGS.videos)
    if FLAGS.timeline_png and FLAGS.timeline_png.endswith(".png") and len(videos) > 1:
        raise app.UsageError(
            f"--timeline_png={FLAGS.timeline_png} is one picture, but --videos names "
            f"{len(videos)} videos: give a folder instead."
        )
    if FLAGS.runner is not None:
        _run_on_beam(videos, argv[1:])
        return
    model = load_clip_model(FLAGS.model or FLAGS.preset)  # refused here, before any decoding
    with PredictionWriter(FLAGS.output) as writer:
        to_do = [video for video in videos if video not in writer.done]
        logging.info(
            "%d videos: %d already in %s, %d to classify.",
            len(videos),
            len(videos) - len(to_do),
            FLAGS.output,
            len(to_do),
        )
        counts, seconds, stopped = _classify(model, to_do, writer)
    _print_summary(counts, seconds, len(videos) - len(to_do), stopped)
    if stopped:
        sys.exit(143 if stopped == signal.SIGTERM else 130)


def _run_on_beam(videos, beam_args):
    """The per-video results on a Beam runner, written by the pipeline as sharded JSONL."""
    if FLAGS.timeline or not FLAGS.output.endswith(".jsonl"):
        raise app.UsageError(
            "--runner writes per-video results as sharded JSONL: give --output=....jsonl "
            "and leave out --timeline (timelines run in this process)."
        )
    from tsm_tf.prediction.beam_predict import run_beam_prediction

    start = time.monotonic()
    shards = run_beam_prediction(
        FLAGS.model or FLAGS.preset,
        videos,
        FLAGS.output[: -len(".jsonl")],
        [f"--runner={FLAGS.runner}", *beam_args],
        FLAGS.top_k,
        FLAGS.num_clips,
        int(FLAGS.num_crops),
        FLAGS.sampling,
        FLAGS.resize_shorter_side or None,
        FLAGS.num_shards,
    )
    import tensorflow as tf

    counts = collections.Counter()
    for shard in shards:
        with tf.io.gfile.GFile(shard, "r") as file:
            counts.update(json.loads(line)["error"] for line in file)
    _print_summary(counts, time.monotonic() - start, 0, None, ", ".join(shards))


def _classify(model, videos, writer):
    """Writes a line per video; returns (error counts, seconds, the signal that stopped it or None)."""
    from tsm_tf.prediction.timeline import save_timeline_png
    from tsm_tf.prediction.video_prediction import predict_timelines
    from tsm_tf.prediction.video_prediction import predict_videos
    from tsm_tf.utils.progress import Progress

    if FLAGS.timeline:
        results = predict_timelines(
            model,
            videos,
            FLAGS.window_seconds,
            FLAGS.stride_seconds,
            FLAGS.score_threshold,
            FLAGS.top_k,
            FLAGS.resize_shorter_side or None,
        )
    else:
        results = predict_videos(
            model,
            videos,
            FLAGS.top_k,
            FLAGS.num_clips,
            int(FLAGS.num_crops),
            FLAGS.sampling,
            FLAGS.resize_shorter_side or None,
        )
    counts = collections.Counter()
    start = time.monotonic()
    progress = Progress(len(videos), "video", "Classified", enabled=FLAGS.progress)
    stopped = None
    # SIGTERM (a job scheduler, `kill`) stops between two lines, as Ctrl-C does.
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        for result in results:
            writer.write(result)
            counts[result.error] += 1
            if FLAGS.timeline_png and result.timeline is not None:
                save_timeline_png(result.timeline, _png_path(result.video), result.video)
            progress.update(sum(counts.values()))
        progress.close()
    except KeyboardInterrupt as interruption:
        stopped = getattr(interruption, "signal", signal.SIGINT)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return counts, time.monotonic() - start, stopped


class _Stopped(KeyboardInterrupt):
    signal = signal.SIGTERM


def _stop(number, frame):
    raise _Stopped()


def _png_path(video):
    if FLAGS.timeline_png.endswith(".png"):
        return FLAGS.timeline_png
    name = os.path.splitext(video.split("://")[-1].strip("/"))[0]
    return os.path.join(FLAGS.timeline_png, name.replace("/", "__").replace(os.sep, "__") + ".png")


def _print_summary(counts, seconds, skipped, stopped, written=None):
    from tsm_tf.utils.progress import format_seconds
    from tsm_tf.utils.progress import plural

    done = sum(counts.values())
    errors = {reason: count for reason, count in counts.items() if reason is not None}
    by_reason = ", ".join(f"{reason} {count}" for reason, count in sorted(errors.items()))
    rate = done / seconds if seconds > 0 else 0.0
    rate = f"{rate:.0f}" if rate >= 10 else f"{rate:.2g}"
    print(
        f"{plural(done, 'video')} classified in {format_seconds(seconds)} ({rate} videos/s); "
        f"{plural(sum(errors.values()), 'error')}{f' ({by_reason})' if errors else ''}; "
        + (f"written to {written}." if written else f"{skipped} already in {FLAGS.output}.")
    )
    if stopped:
        print(f"Stopped: run the same command again to continue {FLAGS.output}.")


def run():
    """Console-script entry point."""
    run_tool(main, define_flags, flags_parser=parse_known_flags)


if __name__ == "__main__":
    run()
