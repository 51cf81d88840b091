"""Converts a PyTorch TSM checkpoint to a Keras `.keras` model.

Usage:
    tsm-convert --checkpoint=TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e50.pth \
        --output=tsm_resnet50_kinetics.keras [--labels=kinetics_labels.txt]
    tsm-convert --preset=tsm_resnet50_kinetics400_8f --output=tsm_resnet50_kinetics.keras

The architecture comes from the checkpoint where it says it: the backbone and
class count from its tensors, the shift from the release's `conv1.net`
wrappers, `shift8` / `segment8` / `online` from the file name. Flags give what
it does not say (and override nothing silently: a flag that contradicts the
checkpoint fails the import). The output loads with
`keras.models.load_model` after `import tsm_tf`, without torch.
"""

import sys

from absl import app
from absl import flags
from absl import logging

from tsm_tf.cli.tool import run_tool
from tsm_tf.utils.atomic_files import atomic_path
from tsm_tf.utils.label_files import read_label_file

FLAGS = flags.FLAGS


def define_flags() -> None:
    """Defines the command's flags (at start-up, never at import)."""
    flags.DEFINE_string("checkpoint", None, "The PyTorch .pth / .pth.tar file (or --preset).")
    flags.DEFINE_string(
        "preset", None, "A preset name (tsm_tf.presets.PRESETS): download, convert, with labels."
    )
    flags.DEFINE_string("output", None, "The .keras file to write.", required=True)
    flags.DEFINE_enum(
        "backbone", None, ["resnet50", "resnet101", "mobilenet_v2"], "Backbone (default: inferred)."
    )
    flags.DEFINE_integer("num_classes", None, "Classes (default: the checkpoint's).")
    flags.DEFINE_integer(
        "num_segments", None, "Frames per clip (default: `segmentN` in the file name, else 8)."
    )
    flags.DEFINE_integer("shift_div", None, "1 / shifted fraction, 0 for TSN (default: inferred).")
    flags.DEFINE_boolean(
        "bidirectional", None, "Offline (bidirectional) or online shift (default: inferred)."
    )
    flags.DEFINE_float("width_multiplier", None, "Backbone width (default: inferred).")
    flags.DEFINE_integer("image_size", 224, "Frame height and width of the Keras model.")
    flags.DEFINE_string("labels", None, "Optional text file of class names, one per line.")
    flags.DEFINE_boolean(
        "strict", True, "Fail on any unused or missing tensor (see load_torch_checkpoint)."
    )


DEFAULT_NUM_SEGMENTS = 8


def resolve_config(checkpoint, overrides):
    """Merges the checkpoint's inferred settings with the flags; fails on gaps."""
    from tsm_tf.interop.torch_checkpoint import infer_build_config

    config = infer_build_config(checkpoint)
    for name, value in overrides.items():
        if value is not None:
            config[name] = value
    if config["shift_div"] == 0 and config["bidirectional"] is None:
        config["bidirectional"] = True  # a TSN has no shift to direct
    if config["num_segments"] is None:
        logging.info("num_segments not in the file name; using %d.", DEFAULT_NUM_SEGMENTS)
        config["num_segments"] = DEFAULT_NUM_SEGMENTS
    unknown = [name for name, value in config.items() if value is None]
    if unknown:
        raise app.UsageError(
            f"{checkpoint.path} does not say its {', '.join(unknown)}; pass "
            + " ".join(f"--{name}=..." for name in unknown)
        )
    return config


def read_labels(path, num_classes):
    """Class names from --labels (any format `read_label_file` takes); None without a file."""
    if path is None:
        return None
    try:
        return read_label_file(path, num_classes)
    except ValueError as error:
        raise app.UsageError(f"--labels: {error}") from error


def save_atomically(model, path):
    """Saves to a temporary `.keras` file beside `path`, then renames it."""
    with atomic_path(path, suffix=".keras") as temporary:
        model.save(temporary, overwrite=True)


def main(argv):
    del argv
    import tsm_tf
    from tsm_tf.interop.torch_checkpoint import read_torch_checkpoint

    if not FLAGS.output.endswith(".keras"):
        raise app.UsageError(f"--output must end in .keras. Received: {FLAGS.output}")
    if (FLAGS.preset is None) == (FLAGS.checkpoint is None):
        raise app.UsageError("Pass exactly one of --checkpoint=file.pth and --preset=name.")
    if FLAGS.preset is not None:
        model = tsm_tf.TSMClassifier.from_preset(FLAGS.preset, image_size=FLAGS.image_size)
        save_atomically(model, FLAGS.output)
        print(FLAGS.output)
        return
    try:
        checkpoint = read_torch_checkpoint(FLAGS.checkpoint)
    except (FileNotFoundError, ValueError) as error:
        logging.error("%s", error)
        sys.exit(1)
    config = resolve_config(
        checkpoint,
        {
            "backbone": FLAGS.backbone,
            "num_classes": FLAGS.num_classes,
            "num_segments": FLAGS.num_segments,
            "shift_div": FLAGS.shift_div,
            "bidirectional": FLAGS.bidirectional,
            "width_multiplier": FLAGS.width_multiplier,
        },
    )
    labels = read_labels(FLAGS.labels, config["num_classes"])
    logging.info("Building %s", config)
    model = tsm_tf.build_tsm(image_size=FLAGS.image_size, labels=labels, **config)
    try:
        tsm_tf.load_torch_checkpoint(model, FLAGS.checkpoint, strict=FLAGS.strict)
    except (FileNotFoundError, ValueError) as error:
        logging.error("%s", error)
        sys.exit(1)
    save_atomically(model, FLAGS.output)
    print(FLAGS.output)


def run():
    """The `tsm-convert` console script."""
    run_tool(main, define_flags)


if __name__ == "__main__":
    run()
