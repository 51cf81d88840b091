"""tsm-eval: evaluate a trained model on TFRecord shards with the paper's test protocol.

Usage:
    tsm-eval --model=runs/tsm/best.keras --pattern='data/validation-*.tfrecord' \
        --num_clips=10 --num_crops=3 --out_dir=runs/tsm/eval

Writes `report.json` (top-1, top-5, per-class accuracy, confusion matrix) and
`confusion.png` into --out_dir, and prints the headline numbers.
"""

import logging
import os
import sys

from absl import app
from absl import flags

_MODEL = flags.DEFINE_string("model", None, "A .keras model from tsm-train.", required=True)
_PATTERN = flags.DEFINE_string("pattern", None, "Glob of the shards to evaluate.", required=True)
_OUT_DIR = flags.DEFINE_string("out_dir", None, "Report folder; default: <model folder>/eval.")
_NUM_CLIPS = flags.DEFINE_integer("num_clips", 1, "Clips per video.")
_NUM_CROPS = flags.DEFINE_enum("num_crops", "1", ["1", "3"], "Crops per clip (3: full-resolution protocol).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 8, "Videos per batch.")
_SAMPLING = flags.DEFINE_enum("sampling", "segment", ["segment", "dense"], "Frame sampling.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    logging.getLogger().setLevel(logging.INFO)
    if not os.path.isfile(_MODEL.value):
        logging.error("No model file at %s. Expected a .keras file written by tsm-train.", _MODEL.value)
        sys.exit(1)
    import keras

    import tsm_tf  # noqa: F401  (registers the custom layers)
    from tsm_tf.training.evaluation import evaluate
    from tsm_tf.training.evaluation import write_report

    model = keras.models.load_model(_MODEL.value, compile=False)
    try:
        report = evaluate(
            model,
            _PATTERN.value,
            num_clips=_NUM_CLIPS.value,
            num_crops=int(_NUM_CROPS.value),
            batch_size=_BATCH_SIZE.value,
            sampling=_SAMPLING.value,
        )
    except (FileNotFoundError, ValueError) as error:
        logging.error("%s", error)
        sys.exit(1)
    out_dir = _OUT_DIR.value or os.path.join(os.path.dirname(os.path.abspath(_MODEL.value)), "eval")
    write_report(report, os.path.join(out_dir, "report.json"), os.path.join(out_dir, "confusion.png"))
    print(
        f"{report['num_videos']} videos, {_NUM_CLIPS.value} clip(s) x {_NUM_CROPS.value} crop(s): "
        f"top-1 {report['top1']:.4f}, top-5 {report['top5']:.4f}. Report: {out_dir}"
    )


def run():
    """Console-script entry point."""
    app.run(main)


if __name__ == "__main__":
    run()
