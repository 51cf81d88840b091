"""From a preset name to a Keras model with its weights and class names."""

import os

from tsm_tf.presets.download import fetch
from tsm_tf.presets.registry import PRESETS
from tsm_tf.presets.registry import TORCHVISION
from tsm_tf.utils.label_files import read_label_file

LABELS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "labels")
# Architecture arguments a caller may change: the frame size, the width (for
# files of another width, and tests), and the frame count of a TSN.
OVERRIDABLE = ("image_size", "width_multiplier", "num_segments", "num_classes", "dropout")


def get_preset(name: str) -> dict:
    """The registry entry of preset `name`; a clear error lists the names."""
    if not isinstance(name, str) or name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}. Known presets: {', '.join(sorted(PRESETS))}.")
    return PRESETS[name]


def preset_labels(name: str) -> list[str] | None:
    """The class names of preset `name` in its checkpoint's class order, or None.

    The files and where each order comes from: `tsm_tf/presets/labels/README.md`.
    """
    labels = get_preset(name)["labels"]
    if labels is None:
        return None
    return read_label_file(os.path.join(LABELS_DIR, f"{labels}.txt"))


def preset_file(name: str, base_url: str | None = None, sha256: str | None = None) -> str:
    """Downloads (once) the checkpoint of preset `name`; returns its cached path.

    `sha256`, the file's hex SHA-256 when you know it, is checked instead of
    the registry's (see `tsm_tf.presets.download` for what is checked otherwise).
    """
    preset = get_preset(name)
    return fetch(preset["url"], sha256 or preset["sha256"], preset["size"], base_url=base_url)


def load_preset_weights(model, name: str, base_url: str | None = None) -> dict:
    """Loads preset `name`'s checkpoint into `model` (`build_tsm(..., weights=name)`).

    A TSM release file must match the model exactly (`strict=True`);
    torchvision's ImageNet files fill the backbone of any TSM or TSN and the
    classifier only at 1000 classes.
    """
    from tsm_tf.interop.torch_import import load_imagenet_weights
    from tsm_tf.interop.torch_import import load_torch_checkpoint

    path = preset_file(name, base_url)
    try:
        if get_preset(name)["layout"] == TORCHVISION:
            return load_imagenet_weights(model, path)
        return load_torch_checkpoint(model, path, strict=True)
    except ValueError as error:
        if "truncated or corrupt" in str(error):
            raise ValueError(
                f"{error} The cached copy of preset {name!r} is unusable: delete "
                f"{path} and call again to download it anew."
            ) from error
        raise


def from_preset(name: str, base_url: str | None = None, **overrides):
    """A `TSMClassifier` with preset `name`'s architecture, weights and class names.

    Args:
        name: a key of `tsm_tf.presets.PRESETS`, e.g.
            `"tsm_resnet50_kinetics400_8f"` or `"tsm_mobilenetv2_jester_online"`.
        base_url: download from this folder URL instead of the published one
            (also `$TSM_TF_PRESET_BASE_URL`).
        **overrides: `image_size`, `width_multiplier`, `num_segments` (a TSM
            must keep its own; a TSN takes any), `num_classes` (ImageNet
            presets: a new classifier) or `dropout`.

    Returns:
        The model; `model.labels` holds the class names where the preset has them.
    """
    from tsm_tf.models.builders import build_tsm

    preset = get_preset(name)
    unknown = sorted(set(overrides) - set(OVERRIDABLE))
    if unknown:
        raise ValueError(
            f"from_preset can change {', '.join(OVERRIDABLE)}; the rest of the "
            f"architecture is the checkpoint's. Received: {', '.join(unknown)}"
        )
    architecture = {**preset["architecture"], **overrides}
    labels = preset_labels(name)
    if labels is not None and len(labels) != architecture["num_classes"]:
        labels = None  # a new classifier has no names yet
    model = build_tsm(labels=labels, **architecture)
    load_preset_weights(model, name, base_url)
    return model
