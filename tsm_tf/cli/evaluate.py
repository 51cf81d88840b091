"""tsm-eval: evaluate a trained model on TFRecord shards with the paper's test protocol.

Usage:
    tsm-eval --model=runs/tsm/best.keras --pattern='data/validation-*.tfrecord' \
        --num_clips=10 --num_crops=3 --out_dir=runs/tsm/eval

    tsm-eval --preset=tsm_resnet50_sthv2_8f --pattern='data/validation-*.tfrecord' \
        --num_clips=2 --num_crops=3 --out_dir=runs/presets/sthv2

With --preset, the authors' checkpoint is downloaded (once) and converted, and
the accuracy they report is printed with its protocol for comparison.

Writes `report.json` (top-1, top-5 beyond 5 classes, per-class accuracy, confusion matrix) and
`confusion.png` into --out_dir, and prints the headline numbers.
"""

import logging
import os

from absl import app
from absl import flags

from tsm_tf.cli.tool import define_progress_flag
from tsm_tf.cli.tool import run_tool

FLAGS = flags.FLAGS


def define_flags() -> None:
    """Defines the command's flags (at start-up, never at import)."""
    flags.DEFINE_string("model", None, "A .keras model from tsm-train (or --preset).")
    flags.DEFINE_string(
        "preset", None, "A preset name (tsm_tf.presets.PRESETS) instead of --model."
    )
    flags.DEFINE_string("pattern", None, "Glob of the shards to evaluate.", required=True)
    flags.DEFINE_string("out_dir", None, "Report folder; default: <model folder>/eval.")
    flags.DEFINE_integer("num_clips", 1, "Clips per video.")
    flags.DEFINE_enum("num_crops", "1", ["1", "3"], "Crops per clip (3: full-resolution protocol).")
    flags.DEFINE_integer("batch_size", 8, "Videos per batch.")
    flags.DEFINE_enum("sampling", "segment", ["segment", "dense"], "Frame sampling.")
    define_progress_flag()


def main(argv):
    del argv
    logging.getLogger().setLevel(logging.INFO)
    if (FLAGS.preset is None) == (FLAGS.model is None):
        raise app.UsageError("Pass exactly one of --model=model.keras and --preset=name.")
    if FLAGS.model is not None and not FLAGS.model.endswith(".keras"):
        raise ValueError(
            f"--model={FLAGS.model}: tsm-eval scores a Keras model, the .keras file tsm-train "
            "writes (a TFLite export is checked against its .keras by tsm-export's parity check)."
        )
    if FLAGS.model is not None and not os.path.isfile(FLAGS.model):
        raise FileNotFoundError(
            f"No model file at {FLAGS.model}. Expected a .keras file written by tsm-train."
        )
    import keras

    import tsm_tf  # noqa: F401  (registers the custom layers)
    from tsm_tf.training.evaluation import evaluate
    from tsm_tf.training.evaluation import write_report

    if FLAGS.preset is not None:
        from tsm_tf.presets import get_preset

        preset = get_preset(FLAGS.preset)
        model = tsm_tf.TSMClassifier.from_preset(FLAGS.preset)
        for reported in preset["accuracy"]:
            logging.info(
                "The authors report top-1 %s%% for %s (tsm-eval flags: %s).",
                reported["top1"],
                reported["protocol"],
                reported["tsm_eval"],
            )
    else:
        model = keras.models.load_model(FLAGS.model, compile=False)
    if FLAGS.out_dir:
        out_dir = FLAGS.out_dir
    elif FLAGS.model is not None:
        out_dir = os.path.join(os.path.dirname(os.path.abspath(FLAGS.model)), "eval")
    else:
        out_dir = os.path.join("eval", FLAGS.preset)
    logging.info(
        "The report and confusion matrix go to %s (--out_dir chooses another folder).", out_dir
    )
    report = evaluate(
        model,
        FLAGS.pattern,
        num_clips=FLAGS.num_clips,
        num_crops=int(FLAGS.num_crops),
        batch_size=FLAGS.batch_size,
        sampling=FLAGS.sampling,
        progress=FLAGS.progress,
    )
    write_report(
        report, os.path.join(out_dir, "report.json"), os.path.join(out_dir, "confusion.png")
    )
    from tsm_tf.utils.progress import plural

    protocol = f"{plural(FLAGS.num_clips, 'clip')} x {plural(int(FLAGS.num_crops), 'crop')}"
    top5 = "" if report["top5"] is None else f", top-5 {report['top5']:.4f}"
    print(
        f"{plural(report['num_videos'], 'video')}, {protocol}: "
        f"top-1 {report['top1']:.4f}{top5}. Report: {out_dir}"
    )


def run():
    """Console-script entry point."""
    run_tool(main, define_flags)


if __name__ == "__main__":
    run()
