"""`tsm-export`: a trained TSM (.keras) to TFLite with its metadata, then parity.

Usage (export/export_tflite.py runs the same command):
    tsm-export --model=tsm.keras --output=out/model.tflite \
        [--mode=streaming|clip] [--precision=float32|float16|dynamic_int8|int8] \
        [--representative_data='data/validation-*.tfrecord'] [--labels=labels.txt] \
        [--frame_rate=auto|none|FPS] [--android_assets]
    tsm-export --preset=tsm_mobilenetv2_jester_online --output=out/model.tflite --android_assets

With --preset the model is the named preset (downloaded once, converted, with
its class names) instead of a .keras file; see tsm_tf/presets/.

Writes `model.tflite` and `model.json` (docs/metadata.md), both atomically,
with builtin TFLite ops only. Afterwards the exported model runs on the real
interpreter against Keras over a sequence of frames (states carried): float32
must match within 1e-3 on every logit, float16 / int8 must agree on the top-1
class at least as often as `tsm_tf.lite.parity.MIN_TOP1_AGREEMENT` says (90% /
80% / 70%, or --min_top1_agreement); otherwise the script fails.
`--frame_rate` sets the metadata's `frame_rate`, the frames per second at which
clients feed the streaming model: `auto` (the default) derives it from the
training run's `config.json` beside the model (its records' frame rate and its
sampling rule, `tsm_tf.data.frame_rate`), or writes null (every frame) with a
warning saying why it could not; `none` writes null; a number is used as is.
`--android_assets` also copies model.tflite, model.json and labels.txt into
the Android app's assets.
"""

import os

import numpy as np
from absl import app
from absl import flags
from absl import logging

from tsm_tf.cli.tool import define_progress_flag
from tsm_tf.cli.tool import run_tool
from tsm_tf.lite.metadata import EXPORT_PRECISIONS
from tsm_tf.lite.metadata import MODES

# The app's assets in a source checkout (this file is tsm_tf/cli/export.py).
ANDROID_ASSETS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "android_demo",
    "app",
    "src",
    "main",
    "assets",
)

FLAGS = flags.FLAGS


def define_flags() -> None:
    """Defines this command's flags (at start-up, never at import)."""
    flags.DEFINE_string("model", None, "The trained .keras model (or --preset).")
    flags.DEFINE_string(
        "preset", None, "A preset name (tsm_tf.presets.PRESETS) instead of --model."
    )
    flags.DEFINE_integer("image_size", None, "--preset: frame size (default: the preset's, 224).")
    flags.DEFINE_string(
        "output", None, "The .tflite file to write (metadata: same name, .json).", required=True
    )
    flags.DEFINE_enum("mode", "streaming", list(MODES), "One frame with states, or whole clips.")
    flags.DEFINE_enum("precision", "float32", list(EXPORT_PRECISIONS), "Weights and tensors.")
    flags.DEFINE_string(
        "representative_data",
        None,
        "int8: a record file pattern (tsm_tf.data) or a .npy of frames (N, H, W, 3); "
        "also used as the parity frames.",
    )
    flags.DEFINE_integer("num_representative_frames", 64, "Calibration frames, at most.")
    flags.DEFINE_string(
        "labels", None, "A text file, one class name per line (default: the model's)."
    )
    flags.DEFINE_integer("parity_frames", 16, "Frames for the parity check.")
    flags.DEFINE_float(
        "min_top1_agreement", None, "Override the parity threshold of reduced precisions."
    )
    flags.DEFINE_string(
        "frame_rate",
        "auto",
        "Frames per second the streaming model expects: auto (from the training run's "
        "config.json and records), none (every frame), or a number.",
    )
    flags.DEFINE_string(
        "quantization_report",
        None,
        "--precision=int8, streaming: also write the converter's per-layer int8 error "
        "(tsm_tf.lite.quantization_report), worst first, as Markdown to this path.",
    )
    flags.DEFINE_bool("android_assets", False, "Also copy the files into --android_assets_dir.")
    flags.DEFINE_string("android_assets_dir", ANDROID_ASSETS, "The Android app's assets folder.")
    define_progress_flag()


def load_model_or_preset(path, preset, image_size=None):
    """The --model file, or the --preset model with its labels."""
    if (preset is None) == (path is None):
        raise app.UsageError("Pass exactly one of --model=model.keras and --preset=name.")
    if preset is None:
        return load_model(path)
    from tsm_tf.models.tsm_classifier import TSMClassifier

    overrides = {} if image_size is None else {"image_size": image_size}
    return TSMClassifier.from_preset(preset, **overrides)


def load_model(path):
    """Loads the .keras model (tsm_tf registers its layers on import)."""
    import keras

    import tsm_tf  # noqa: F401

    if not path.endswith(".keras") or not os.path.exists(path):
        raise app.UsageError(f"--model must be an existing .keras file. Received: {path!r}")
    return keras.models.load_model(path, compile=False)


def read_labels(path):
    """Class names from --labels (any format `read_label_file` takes), or None."""
    from tsm_tf.utils.label_files import read_label_file

    return None if path is None else read_label_file(path)


def representative_frames(model):
    """The --representative_data frames, or None."""
    from tsm_tf.lite.export import load_representative_frames

    data = FLAGS.representative_data
    if data is None:
        return None
    if data.endswith(".npy"):
        data = np.load(data)
    return load_representative_frames(data, model.image_size, FLAGS.num_representative_frames)


def calibration_data(frames):
    """What int8 calibrates on: the record pattern itself (each clip streams from zero
    states, as in use), or the .npy frames (one video)."""
    data = FLAGS.representative_data
    return data if data and not data.endswith(".npy") else frames


def resolve_frame_rate(value, model_path):
    """The --frame_rate flag as frames per second or None (every frame)."""
    if value == "none":
        return None
    if value != "auto":
        try:
            return float(value)
        except ValueError:
            raise app.UsageError(
                f"--frame_rate must be auto, none or frames per second. Received: {value!r}"
            ) from None
    if model_path is None:
        logging.info(
            "--frame_rate=auto with --preset: the preset records no frame rate; writing null."
        )
        return None
    from tsm_tf.data.frame_rate import sampled_frame_rate
    from tsm_tf.training import TrainConfig

    config_path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "config.json")
    if not os.path.exists(config_path):
        logging.warning(
            "--frame_rate=auto: no training config.json beside %s, so the training frame "
            "rate is unknown; writing frame_rate null (feed every frame). Pass "
            "--frame_rate=FPS to set it.",
            model_path,
        )
        return None
    config = TrainConfig.load(config_path)
    try:
        rate = sampled_frame_rate(config.train_pattern, config.num_segments, config.sampling)
    except ValueError as error:
        logging.warning("--frame_rate=auto: %s Writing frame_rate null (feed every frame).", error)
        return None
    logging.info(
        "--frame_rate=auto: %.3g fps, from %s (%s sampling).",
        rate,
        config.train_pattern,
        config.sampling,
    )
    return rate


def check(model, frames):
    """Parity on the real interpreter; raises if below the threshold."""
    from tsm_tf.lite import parity

    if FLAGS.min_top1_agreement is not None:
        parity.MIN_TOP1_AGREEMENT[FLAGS.precision] = FLAGS.min_top1_agreement
    report = parity.check_parity(
        model,
        FLAGS.output,
        frames=frames,
        num_frames=max(FLAGS.parity_frames, model.num_segments),
        progress=FLAGS.progress,
    )
    logging.info(report.summary())
    if not report.passed:
        raise SystemExit(f"Export failed the parity check: {report.summary()}")
    return report


def write_report(model, frames):
    """The per-layer int8 error over the calibration frames, into --quantization_report."""
    from tsm_tf.lite import quantization_report

    logging.info("Running the quantization debugger on %d frames.", len(frames))
    rows = quantization_report.quantization_report(
        model, calibration_data(frames), FLAGS.num_representative_frames
    )
    quantization_report.write_quantization_report(rows, FLAGS.quantization_report)
    worst = quantization_report.largest_error_layers(rows)
    print(
        f"wrote {FLAGS.quantization_report}: {len(rows)} quantized layers, worst "
        f"{rows[0].op_name} at {rows[0].rmse_steps:.2f} steps; {len(worst)} carry most of the error"
    )


def copy_to_android_assets(metadata):
    """model.tflite, model.json and labels.txt into the app's assets, atomically."""
    from tsm_tf.lite.metadata import metadata_path
    from tsm_tf.utils.atomic_files import write_atomically

    folder = FLAGS.android_assets_dir
    os.makedirs(folder, exist_ok=True)
    with open(FLAGS.output, "rb") as file:
        write_atomically(os.path.join(folder, "model.tflite"), file.read())
    with open(metadata_path(FLAGS.output), "rb") as file:
        write_atomically(os.path.join(folder, "model.json"), file.read())
    labels = "\n".join(metadata["labels"]) + "\n"
    write_atomically(os.path.join(folder, "labels.txt"), labels.encode("utf-8"))
    logging.info("Copied the model, metadata and labels into %s.", folder)


def main(argv):
    del argv
    from tsm_tf.lite.export import export_tflite

    if not FLAGS.output.endswith(".tflite"):
        raise app.UsageError(
            f"--output must end in .tflite (its metadata goes beside it as .json). "
            f"Received: {FLAGS.output}"
        )
    if FLAGS.precision == "int8" and not FLAGS.representative_data:
        raise app.UsageError(
            "--precision=int8 calibrates on real frames: pass --representative_data (records "
            "'data/train-*.tfrecord' or a .npy of frames), or use --precision=dynamic_int8."
        )
    if FLAGS.representative_data and not FLAGS.representative_data.endswith(".npy"):
        from tsm_tf.data.records import list_shards

        try:  # a video or a missing file is named before the model is loaded
            list_shards(FLAGS.representative_data)
        except ValueError as error:
            raise ValueError(
                f"--representative_data: {error} A .npy of frames is taken too."
            ) from None
    if FLAGS.quantization_report and (FLAGS.precision, FLAGS.mode) != ("int8", "streaming"):
        raise app.UsageError(
            "--quantization_report reports a streaming int8 export: pass --precision=int8 "
            "(and --mode=streaming, the default)."
        )
    model = load_model_or_preset(FLAGS.model, FLAGS.preset, FLAGS.image_size)
    frames = representative_frames(model)
    metadata = export_tflite(
        model,
        FLAGS.output,
        mode=FLAGS.mode,
        precision=FLAGS.precision,
        labels=read_labels(FLAGS.labels),
        representative_data=calibration_data(frames),
        num_representative_frames=FLAGS.num_representative_frames,
        frame_rate=resolve_frame_rate(FLAGS.frame_rate, FLAGS.model),
        progress=FLAGS.progress,
    )
    parity_frames = (
        None if frames is None else frames[: max(FLAGS.parity_frames, model.num_segments)]
    )
    report = check(model, parity_frames)
    if FLAGS.quantization_report:
        write_report(model, frames)
    if FLAGS.android_assets:
        copy_to_android_assets(metadata)
    from tsm_tf.utils.progress import format_bytes

    size = format_bytes(os.path.getsize(FLAGS.output))
    print(f"wrote {FLAGS.output} ({size}); {report.summary()}")


def run():
    """Console-script entry point."""
    run_tool(main, define_flags)


if __name__ == "__main__":
    run()
