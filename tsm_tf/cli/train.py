"""tsm-train: train a TSM (or TSN) video classifier on TFRecord shards.

Usage:
    tsm-train --train_pattern='data/train-*.tfrecord' \
        --validation_pattern='data/validation-*.tfrecord' \
        --run_dir=runs/tsm_r50 --backbone=resnet50 --epochs=50 --batch_size=64

Run the same command again to resume an interrupted run. Every setting is a
flag over one flat configuration (`tsm_tf.training.TrainConfig`); the resolved
configuration is saved as `config.json` in the run folder, and
`--config=run/config.json` replays it (flags given explicitly still win).
The authors' recipes ship as files: `tsm-train --recipe=ucf101_from_kinetics
--train_pattern=... --run_dir=...`; `--dry_run` prints a recipe's settings and source.
"""

import dataclasses
import logging

from absl import app
from absl import flags

from tsm_tf.backbones.registry import BACKBONES
from tsm_tf.cli.tool import run_tool
from tsm_tf.data.augmentation import TRAIN_CROPS
from tsm_tf.data.sampling import SAMPLING_MODES
from tsm_tf.presets.loading import is_preset
from tsm_tf.presets.loading import preset_architecture
from tsm_tf.training.config import DTYPE_POLICIES
from tsm_tf.training.config import OPTIMIZERS
from tsm_tf.training.config import SCHEDULES
from tsm_tf.training.config import STRATEGIES
from tsm_tf.training.config import TrainConfig
from tsm_tf.training.config import read_recipe
from tsm_tf.training.config import read_settings
from tsm_tf.training.config import recipe_names
from tsm_tf.training.config import recipe_path

FLAGS = flags.FLAGS
# Every default is TrainConfig's, whose model defaults are TSMConfig's.
_DEFAULTS = {field.name: field.default for field in dataclasses.fields(TrainConfig)}
# What `--init_weights=<preset>` fixes where the flags leave it open.
PRESET_SETTINGS = ("backbone", "num_segments", "shift_div", "bidirectional")


def define_flags() -> None:
    """Defines this command's flags (at start-up, never at import)."""
    flags.DEFINE_string(
        "config", None, "A config.json or recipe file to start from; explicit flags override it."
    )
    flags.DEFINE_enum(
        "recipe",
        None,
        recipe_names(),
        "A recipe shipped with tsm_tf (its file cites its source); explicit flags override it.",
    )
    flags.DEFINE_bool(
        "dry_run", False, "Print the resolved configuration (and the recipe's notes) and exit."
    )
    flags.DEFINE_string("train_pattern", None, "Glob of training shards (labels.txt beside them).")
    flags.DEFINE_string("validation_pattern", None, "Glob of validation shards.")
    flags.DEFINE_string("run_dir", None, "Folder for checkpoints, logs and config.json.")
    flags.DEFINE_enum("backbone", _DEFAULTS["backbone"], list(BACKBONES), "Frame backbone.")
    flags.DEFINE_float(
        "width_multiplier", _DEFAULTS["width_multiplier"], "Backbone width multiplier."
    )
    flags.DEFINE_integer("num_segments", _DEFAULTS["num_segments"], "Frames per clip.")
    flags.DEFINE_integer(
        "shift_div", _DEFAULTS["shift_div"], "1/fraction of channels shifted each way; 0 = TSN."
    )
    flags.DEFINE_bool(
        "bidirectional",
        _DEFAULTS["bidirectional"],
        "Offline shift (past and future); --nobidirectional streams.",
    )
    flags.DEFINE_integer("image_size", _DEFAULTS["image_size"], "Frame size.")
    flags.DEFINE_float("dropout", _DEFAULTS["dropout"], "Dropout before the classifier.")
    flags.DEFINE_string(
        "init_weights",
        _DEFAULTS["init_weights"],
        "Initial weights: 'imagenet', a preset name (its backbone and shift, a new classifier "
        "for other classes), a .keras, .weights.h5 or .pth file.",
    )
    flags.DEFINE_enum("sampling", _DEFAULTS["sampling"], list(SAMPLING_MODES), "Frame sampling.")
    flags.DEFINE_enum(
        "train_crop",
        _DEFAULTS["train_crop"],
        list(TRAIN_CROPS),
        "Training crop: TSN's multi-scale crop, or the evaluation centre crop (no spatial augmentation).",
    )
    flags.DEFINE_bool(
        "flip", _DEFAULTS["flip"], "Random horizontal flips (off for direction-sensitive classes)."
    )
    flags.DEFINE_list(
        "flip_label_swaps",
        [],
        "With --flip: pairs of class indices that trade places in a flipped clip, e.g. 0:1,6:7 "
        "(the motion dataset's pan_left/pan_right and clockwise/anticlockwise).",
    )
    flags.DEFINE_bool(
        "reverse_time",
        _DEFAULTS["reverse_time"],
        "Play training clips backwards at random (where every class reversed is a class).",
    )
    flags.DEFINE_list(
        "reverse_label_swaps",
        [],
        "With --reverse_time: pairs of class indices that trade places in a clip played backwards, "
        "e.g. 0:1,2:3,4:5,6:7 (the motion dataset's opposite pans, zooms and rotations).",
    )
    flags.DEFINE_integer("batch_size", _DEFAULTS["batch_size"], "Global batch size (clips).")
    flags.DEFINE_integer("epochs", _DEFAULTS["epochs"], "Epochs.")
    flags.DEFINE_integer(
        "steps_per_epoch",
        _DEFAULTS["steps_per_epoch"],
        "Steps per epoch; default one pass over the data.",
    )
    flags.DEFINE_integer(
        "validation_steps", _DEFAULTS["validation_steps"], "Validation steps; default one pass."
    )
    flags.DEFINE_enum(
        "optimizer",
        _DEFAULTS["optimizer"],
        list(OPTIMIZERS),
        "Optimizer (the paper: SGD with momentum).",
    )
    flags.DEFINE_float(
        "base_learning_rate",
        _DEFAULTS["base_learning_rate"],
        "Learning rate per 64 clips (linear scaling).",
    )
    flags.DEFINE_float(
        "learning_rate",
        _DEFAULTS["learning_rate"],
        "Peak learning rate; overrides the scaling rule.",
    )
    flags.DEFINE_enum(
        "schedule", _DEFAULTS["schedule"], list(SCHEDULES), "Decay after the warm-up."
    )
    flags.DEFINE_list(
        "decay_epochs",
        [str(epoch) for epoch in _DEFAULTS["decay_epochs"]],
        "Step schedule: epochs where the rate drops.",
    )
    flags.DEFINE_float("decay_rate", _DEFAULTS["decay_rate"], "Step schedule factor.")
    flags.DEFINE_float("warmup_epochs", _DEFAULTS["warmup_epochs"], "Linear warm-up, in epochs.")
    flags.DEFINE_float("momentum", _DEFAULTS["momentum"], "SGD momentum.")
    flags.DEFINE_float(
        "weight_decay", _DEFAULTS["weight_decay"], "Weight decay on kernels (not biases or BN)."
    )
    flags.DEFINE_float(
        "clip_norm", _DEFAULTS["clip_norm"], "Global gradient-norm clip; 0 disables."
    )
    flags.DEFINE_bool(
        "partial_bn", _DEFAULTS["partial_bn"], "Freeze all batch norms but the first (fine-tuning)."
    )
    flags.DEFINE_bool(
        "zero_init_residual",
        _DEFAULTS["zero_init_residual"],
        "Start every residual branch at zero (from-scratch training).",
    )
    flags.DEFINE_float("label_smoothing", _DEFAULTS["label_smoothing"], "Label smoothing.")
    flags.DEFINE_enum(
        "strategy", _DEFAULTS["strategy"], list(STRATEGIES), "tf.distribute strategy."
    )
    flags.DEFINE_string("tpu", _DEFAULTS["tpu"], "TPU name or address for --strategy=tpu.")
    flags.DEFINE_enum("precision", _DEFAULTS["precision"], list(DTYPE_POLICIES), "Dtype policy.")
    flags.DEFINE_bool(
        "jit_compile", _DEFAULTS["jit_compile"], "Compile the training step with XLA."
    )
    flags.DEFINE_integer("seed", _DEFAULTS["seed"], "Random seed.")


def resolve_config() -> TrainConfig:
    """Builds the configuration: config.json (if given), then explicit flags."""
    if FLAGS.config and FLAGS.recipe:
        raise app.UsageError("Pass --config or --recipe, not both.")
    start = FLAGS.config or (FLAGS.recipe and recipe_path(FLAGS.recipe))
    values = {}
    given = set()
    if start:
        values = read_settings(start)
        given.update(values)
    for field in dataclasses.fields(TrainConfig):
        flag = FLAGS[field.name]
        if flag.present or field.name not in values:
            values[field.name] = flag.value
        given.update([field.name] if flag.present else [])
    if is_preset(values.get("init_weights")):
        values.update(_preset_settings(values, given))
    if values.get("clip_norm") == 0:
        values["clip_norm"] = None
    values["decay_epochs"] = [int(epoch) for epoch in values.get("decay_epochs", [])]
    for name in ("flip_label_swaps", "reverse_label_swaps"):
        values[name] = [_parse_swap(name, swap) for swap in values.get(name, [])]
    for required in ("train_pattern", "run_dir"):
        if not values.get(required) and not FLAGS.dry_run:
            raise app.UsageError(f"--{required} is required.")
    return TrainConfig(**values)


def _preset_settings(values, given):
    """The backbone and shift settings of the preset in `init_weights`, where not given.

    A given setting that contradicts a TSM preset is refused (naming both) by
    `preset_architecture`.
    """
    name = values["init_weights"]
    requested = {key: values[key] for key in PRESET_SETTINGS if key in given}
    architecture = preset_architecture(name, **requested)
    taken = {key: architecture[key] for key in PRESET_SETTINGS if key in architecture}
    logging.info(
        "--init_weights=%s: %s.",
        name,
        ", ".join(f"{key}={value!r}" for key, value in taken.items()),
    )
    return taken


def _parse_swap(name, swap):
    """'0:1' -> (0, 1); pairs from a config.json pass through."""
    if not isinstance(swap, str):
        return tuple(swap)
    try:
        first, second = (int(label) for label in swap.split(":"))
    except ValueError:
        raise app.UsageError(
            f"--{name} takes pairs of class indices like 0:1,6:7. Received: {swap!r}"
        ) from None
    return first, second


def main(argv):
    del argv
    logging.getLogger().setLevel(logging.INFO)
    try:
        config = resolve_config()
    except ValueError as error:
        raise app.UsageError(str(error)) from error
    if FLAGS.dry_run:
        if FLAGS.recipe:
            notes = read_recipe(FLAGS.recipe)
            print(f"Recipe {FLAGS.recipe}: {notes['source']}\nEvaluation: {notes['evaluation']}")
        print(config.to_json())
        return
    from tsm_tf.training.trainer import train

    result = train(config)
    epochs = f"{result.epochs_completed} epoch{'' if result.epochs_completed == 1 else 's'}"
    best = "none" if result.best is None else f"{result.best:.4f}"
    print(
        f"Finished {epochs} in {result.run_dir}; best {result.monitor}: {best}. "
        f"Models: {result.last_model_path}, {result.best_model_path}"
    )


def run():
    """Console-script entry point."""
    run_tool(main, define_flags)


if __name__ == "__main__":
    run()
