"""From a preset name to its architecture, class names and weights.

The layers stay a ladder: this module knows no model builder. The models
(`TSMClassifier.from_preset`, `build_tsm(weights=name)`) call down into it.
"""

import logging
import os

from tsm_tf.interop.torch_import import load_imagenet_weights
from tsm_tf.interop.torch_import import load_torch_checkpoint
from tsm_tf.presets.download import fetch
from tsm_tf.presets.registry import PRESETS
from tsm_tf.presets.registry import TORCHVISION
from tsm_tf.utils.label_files import read_label_file

LABELS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "labels")
# Architecture arguments a caller may change: the frame size, the width (for
# files of another width, and tests), the class count (a new classifier), the
# dropout, and the frame count of a TSN.
OVERRIDABLE = ("image_size", "width_multiplier", "num_segments", "num_classes", "dropout")
# What a TSM checkpoint fixes besides its backbone: the shift's settings.
SHIFT_SETTINGS = ("num_segments", "shift_div", "bidirectional")

logger = logging.getLogger(__name__)


def get_preset(name: str) -> dict:
    """The registry entry of preset `name`; a clear error lists the names."""
    if not isinstance(name, str) or name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}. Known presets: {', '.join(sorted(PRESETS))}.")
    return PRESETS[name]


def is_preset(weights) -> bool:
    """Whether `weights` names a preset (and is not an existing file of that name)."""
    return isinstance(weights, str) and weights in PRESETS and not os.path.exists(weights)


def preset_labels(name: str) -> list[str] | None:
    """The class names of preset `name` in its checkpoint's class order, or None.

    The files and where each order comes from: `tsm_tf/presets/labels/README.md`.
    """
    labels = get_preset(name)["labels"]
    if labels is None:
        return None
    return read_label_file(os.path.join(LABELS_DIR, f"{labels}.txt"))


def preset_architecture(name: str, **requested) -> dict:
    """The `build_tsm` arguments that load preset `name`, with `requested` ones merged in.

    A TSM checkpoint fixes its backbone and shift (`num_segments`,
    `shift_div`, `bidirectional`; a TSN's frame count is free): a requested
    value of None takes the preset's, another value is refused, naming both.
    ImageNet presets fix only the backbone: their shift settings are the
    caller's (None: `build_tsm`'s defaults). `image_size`,
    `width_multiplier`, `num_classes` (another count: a new classifier) and
    `dropout` are the caller's where given.

    Raises:
        ValueError: an unknown preset, or a backbone or shift setting that
            contradicts the checkpoint's.
    """
    preset = get_preset(name)
    architecture = dict(preset["architecture"])
    requested = {key: value for key, value in requested.items() if value is not None}
    fixed = ("backbone",)
    if preset["layout"] == TORCHVISION:
        for setting in SHIFT_SETTINGS:
            architecture.pop(setting)
    else:
        fixed += SHIFT_SETTINGS[1:] if architecture["shift_div"] == 0 else SHIFT_SETTINGS
    clashes = [
        f"{key}={requested[key]!r} (the preset has {key}={architecture[key]!r})"
        for key in fixed
        if key in requested and requested[key] != architecture[key]
    ]
    if clashes:
        raise ValueError(
            f"Preset {name!r} is a {architecture['backbone']} checkpoint of other settings than "
            f"asked for: {'; '.join(clashes)}. Leave these settings out to take the preset's, "
            "or choose a preset of the architecture you asked for (tsm_tf.presets.PRESETS)."
        )
    return {**architecture, **requested}


def preset_file(name: str, base_url: str | None = None, sha256: str | None = None) -> str:
    """Downloads (once) the checkpoint of preset `name`; returns its cached path.

    `sha256`, the file's hex SHA-256 when you know it, is checked instead of
    the registry's (see `tsm_tf.presets.download` for what is checked otherwise).
    """
    preset = get_preset(name)
    return fetch(preset["url"], sha256 or preset["sha256"], preset["size"], base_url=base_url)


def load_preset_weights(model, name: str, base_url: str | None = None) -> dict:
    """Loads preset `name`'s checkpoint into `model` (`build_tsm(..., weights=name)`).

    Every weight of the model but its classifier must come from the file
    (the architecture must match); a classifier of another class count is
    left as initialized: fine-tuning's new classifier. What was loaded and
    what is new is logged.

    Returns:
        The summary of `tsm_tf.load_torch_checkpoint`, with `new`: the
        names of the weights left as initialized.
    """
    path = preset_file(name, base_url)
    try:
        if get_preset(name)["layout"] == TORCHVISION:
            summary = load_imagenet_weights(model, path)
        else:
            summary = load_torch_checkpoint(model, path, strict=True, new_classifier=True)
    except ValueError as error:
        if "truncated or corrupt" in str(error):
            raise ValueError(
                f"{error} The cached copy of preset {name!r} is unusable: delete "
                f"{path} and call again to download it anew."
            ) from error
        raise
    logger.info(
        "Preset %s: loaded %d tensors (%s%s); new: %s.",
        name,
        summary["num_loaded"],
        summary["backbone"],
        "" if summary["new"] else " and its classifier",
        ", ".join(summary["new"]) or "nothing",
    )
    return summary
