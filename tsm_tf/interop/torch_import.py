"""Loading PyTorch checkpoints into tsm_tf models, number for number.

    model = tsm_tf.build_tsm("resnet50", num_classes=400)
    tsm_tf.load_torch_checkpoint(
        model, "TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e50.pth")

The backbones name their Keras layers after torchvision's module paths
(`layer1.0.conv1` -> `layer1_0_conv1`), and `tsm_tf/interop/torch_checkpoint.py`
renames every checkpoint layout to those paths, so each Keras weight has
exactly one tensor to take. Conversions: convolutions OIHW -> HWIO,
depthwise convolutions (C, 1, kh, kw) -> (kh, kw, C, 1), linear layers
transposed, batch norm weight / bias / running mean / running variance to
gamma / beta / moving mean / moving variance. Everything is read, renamed,
converted and checked before the first weight is assigned, so a failed
import leaves the model as it was. torch is needed only here, to read the
file; the loaded model is an ordinary Keras model.
"""

import logging
import os

import keras
import numpy as np

from tsm_tf.interop.torch_checkpoint import MOBILENET_V2_REFERENCE
from tsm_tf.interop.torch_checkpoint import TORCHVISION
from tsm_tf.interop.torch_checkpoint import TSM_RELEASE
from tsm_tf.interop.torch_checkpoint import read_torch_checkpoint
from tsm_tf.models.classifier_head import CLASSIFIER_LAYER
from tsm_tf.models.tsm_config import config_of
from tsm_tf.utils.hashing import file_sha256

# torchvision's IMAGENET1K_V1 weights; the file name carries the first 8 hex
# digits of the file's SHA-256, which torchvision (and this module) check.
IMAGENET_WEIGHTS = {
    "resnet50": {
        "url": "https://download.pytorch.org/models/resnet50-0676ba61.pth",
        "sha256_prefix": "0676ba61",
    },
    "resnet101": {
        "url": "https://download.pytorch.org/models/resnet101-63fe2227.pth",
        "sha256_prefix": "63fe2227",
    },
    "mobilenet_v2": {
        "url": "https://download.pytorch.org/models/mobilenet_v2-b0353104.pth",
        "sha256_prefix": "b0353104",
    },
}
IMAGENET_NUM_CLASSES = 1000
SHIFT_LAYER_SUFFIX = "_shift"
_MAX_LISTED = 20

logger = logging.getLogger(__name__)


def load_torch_checkpoint(
    model: keras.Model,
    path: str | os.PathLike,
    strict: bool = True,
    new_classifier: bool = False,
) -> dict:
    """Loads a PyTorch TSM checkpoint into a model from `tsm_tf.build_tsm`.

    Understands the reference release's offline checkpoints (`TSM_*.pth`,
    ResNet50 and MobileNetV2), the online demo's MobileNetV2 state dict, and
    plain torchvision / archs-style state dicts (see
    `tsm_tf/interop/torch_checkpoint.py`). The model must have the checkpoint's
    architecture; the checkpoint's settings are checked against it:
    backbone, number of classes, which blocks are shifted (the release
    records it as `conv1.net` wrappers), and the `shift8` / `segment8` /
    `online` parts of the release's file names.

    Args:
        model: a `TSMClassifier` (or a model from `tsm_tf.build_online_tsm`,
            whose layer names are the same).
        path: the `.pth` / `.pth.tar` file.
        strict: if True (default), fail on any checkpoint tensor left unused,
            any model weight left without a tensor, a class-count mismatch,
            or a shift setting that contradicts the checkpoint, naming them
            all. If False, load what matches and log the rest (a classifier
            of another class count is skipped, as for fine-tuning). A shape
            mismatch or another backbone fails either way.
        new_classifier: if True, a classifier of another class count is
            left as initialized (fine-tuning) without a warning, while every
            other tensor is held to `strict`.

    Returns:
        A summary dict: `layout`, `backbone`, `num_classes` (of the
        checkpoint), `num_loaded` (tensors assigned), and the lists
        `missing`, `unused` and `warnings` (empty when strict), and `new`
        (the model's weights left as initialized: a skipped classifier's).

    Raises:
        ImportError: torch is not installed (`pip install tsm_tf[torch]`).
        FileNotFoundError: no such file.
        ValueError: unreadable or unsafe file, or any mismatch above; the
            model is left unchanged.

    Example:

    >>> model = tsm_tf.build_tsm("mobilenet_v2", num_classes=27,
    ...                          bidirectional=False)
    >>> tsm_tf.load_torch_checkpoint(model, "mobilenetv2_jester_online.pth.tar")
    """
    checkpoint = read_torch_checkpoint(path)
    config = _model_config(model)
    _check_backbone(config, checkpoint)
    problems = _setting_problems(model, config, checkpoint)
    model_classes = _model_num_classes(model)
    skip_classifier = checkpoint.num_classes is not None and model_classes != checkpoint.num_classes
    if skip_classifier and not new_classifier:
        problems.append(
            f"the checkpoint classifies {checkpoint.num_classes} classes, the "
            f"model {model_classes}: build the model with "
            f"num_classes={checkpoint.num_classes}"
            + ("" if strict else " (classifier left as initialized)")
        )
    plan = _plan_assignments(model, checkpoint, skip_classifier=skip_classifier)
    if strict:
        problems += plan["shape_errors"]
        problems += [f"model weight without a tensor: {name}" for name in plan["missing"]]
        problems += [f"unused checkpoint tensor: {name}" for name in plan["unused"]]
        if problems:
            raise ValueError(
                _format_error(checkpoint, "it does not match the model", problems)
                + "Pass strict=False to load the matching tensors anyway (shapes "
                "must still match)."
            )
    else:
        if plan["shape_errors"]:
            raise ValueError(_format_error(checkpoint, "shapes differ", plan["shape_errors"]))
        for problem in problems:
            logger.warning("%s: %s", checkpoint.path, problem)
        for name in plan["missing"]:
            logger.warning("%s: no tensor for %s (left as initialized)", checkpoint.path, name)
        for name in plan["unused"]:
            logger.warning("%s: tensor %s unused", checkpoint.path, name)
    _assign(plan["assignments"])
    logger.info(
        "Loaded %d tensors from %s (%s layout, %s).",
        len(plan["assignments"]),
        checkpoint.path,
        checkpoint.layout,
        checkpoint.backbone,
    )
    return _summary(model, checkpoint, plan, warnings=[] if strict else problems)


def load_imagenet_weights(model: keras.Model, path: str | os.PathLike | None = None) -> dict:
    """Loads torchvision's ImageNet weights into a model's backbone.

    This is how the TSM paper starts training: the 2D network pretrained on
    ImageNet, a new classifier. The shift has no weights, so any
    `shift_div` / `bidirectional` / `num_segments` takes the same file. The
    classifier is loaded too when the model has 1000 classes (ImageNet's);
    otherwise it keeps its initialization.

    Args:
        model: a `TSMClassifier` with `width_multiplier=1.0` (the only width
            torchvision publishes).
        path: a local copy of torchvision's `resnet50-0676ba61.pth` /
            `mobilenet_v2-b0353104.pth` (or another ImageNet state dict in
            torchvision's or archs/mobilenet_v2.py's layout). If None, the
            pinned file is downloaded once with `keras.utils.get_file` and its
            SHA-256 prefix checked.

    Returns:
        The summary dict of `load_torch_checkpoint`.

    Raises:
        ValueError: another backbone or width, a video checkpoint, missing or
            unused backbone tensors, or a hash mismatch of the download; the
            model is left unchanged.
    """
    config = _model_config(model)
    if path is None:
        if config["width_multiplier"] != 1.0:
            raise ValueError(
                "torchvision publishes ImageNet weights for width_multiplier=1.0 "
                f"only. Received: width_multiplier={config['width_multiplier']}. "
                "Build the model with width_multiplier=1.0, or pass `path` to "
                "weights of your width."
            )
        path = _download_imagenet_weights(config["backbone"])
    checkpoint = read_torch_checkpoint(path)
    if checkpoint.layout == TSM_RELEASE:
        raise ValueError(
            f"{checkpoint.path!r} is a TSM video checkpoint, not ImageNet "
            "weights: load it with tsm_tf.load_torch_checkpoint(model, path)."
        )
    _check_backbone(config, checkpoint)
    skip_classifier = checkpoint.num_classes != _model_num_classes(model)
    plan = _plan_assignments(model, checkpoint, skip_classifier=skip_classifier)
    problems = plan["shape_errors"]
    problems += [f"model weight without a tensor: {name}" for name in plan["missing"]]
    problems += [f"unused checkpoint tensor: {name}" for name in plan["unused"]]
    if problems:
        raise ValueError(_format_error(checkpoint, "it does not match the backbone", problems))
    _assign(plan["assignments"])
    logger.info(
        "Loaded ImageNet weights (%d tensors%s) from %s.",
        len(plan["assignments"]),
        ", classifier kept as initialized" if skip_classifier else "",
        checkpoint.path,
    )
    # Every tensor matched (anything else raised above): nothing missing, unused or warned about.
    return _summary(model, checkpoint, plan, warnings=[])


def _summary(model, checkpoint, plan, warnings):
    """The summary dict that `load_torch_checkpoint` and `load_imagenet_weights` return."""
    classifier = model.get_layer(CLASSIFIER_LAYER)
    new = [] if plan["classifier_loaded"] else [weight.path for weight in classifier.weights]
    return {
        "new": new,
        "layout": checkpoint.layout,
        "backbone": checkpoint.backbone,
        "num_classes": checkpoint.num_classes,
        "num_loaded": len(plan["assignments"]),
        "missing": plan["missing"],
        "unused": plan["unused"],
        "warnings": warnings,
    }


def load_torch_weights(model: keras.Model, path: str | os.PathLike) -> dict:
    """`build_tsm(weights="file.pth")`: ImageNet or TSM weights, by the file's layout.

    torchvision ImageNet state dicts (and archs-style MobileNetV2 ImageNet
    files, 1000 classes, not named `*online*`) go to `load_imagenet_weights`;
    everything else to `load_torch_checkpoint` with `strict=True`.
    """
    checkpoint = read_torch_checkpoint(path)
    is_imagenet = checkpoint.layout == TORCHVISION or (
        checkpoint.layout == MOBILENET_V2_REFERENCE
        and not checkpoint.name_hints["online"]
        and checkpoint.num_classes == IMAGENET_NUM_CLASSES
    )
    if is_imagenet:
        return load_imagenet_weights(model, path)
    return load_torch_checkpoint(model, path, strict=True)


def _download_imagenet_weights(backbone):
    source = IMAGENET_WEIGHTS[backbone]
    file_name = source["url"].rsplit("/", 1)[-1]
    path = keras.utils.get_file(file_name, source["url"], cache_subdir="models")
    digest = file_sha256(path)
    if not digest.startswith(source["sha256_prefix"]):
        os.remove(path)
        raise ValueError(
            f"The download of {source['url']} is corrupt: its SHA-256 is "
            f"{digest}, expected one starting {source['sha256_prefix']}. The "
            "file was removed; try again, or download it by hand and pass "
            "`path`."
        )
    return path


def _model_config(model):
    """The TSM settings of a clip model or an online model, as a dict."""
    return config_of(model).to_dict()


def _model_num_classes(model):
    try:
        return int(model.get_layer(CLASSIFIER_LAYER).units)
    except ValueError as error:
        raise ValueError(
            f"Expected a model from tsm_tf.build_tsm with a Dense layer named "
            f"{CLASSIFIER_LAYER!r}. Received: {type(model).__name__} "
            f"{model.name!r}."
        ) from error


def _check_backbone(config, checkpoint):
    if config["backbone"] != checkpoint.backbone:
        raise ValueError(
            f"{checkpoint.path!r} holds a {checkpoint.backbone} but the model "
            f"is a {config['backbone']}. Build the model with "
            f"tsm_tf.build_tsm({checkpoint.backbone!r}, ...)."
        )


def _setting_problems(model, config, checkpoint):
    """Shift settings the checkpoint states that the model contradicts."""
    problems = []
    model_blocks = sorted(
        layer.name[: -len(SHIFT_LAYER_SUFFIX)]
        for layer in model.layers
        if layer.name.endswith(SHIFT_LAYER_SUFFIX)
    )
    if checkpoint.layout == TSM_RELEASE and checkpoint.shifted_blocks != model_blocks:
        problems.append(
            f"the checkpoint shifts {_describe_blocks(checkpoint.shifted_blocks)}, "
            f"the model {_describe_blocks(model_blocks)}: build with "
            + ("shift_div=8 (a TSM)" if checkpoint.shifted_blocks else "shift_div=0 (a TSN)")
        )
    shifts = config["shift_div"] > 0
    hints = checkpoint.name_hints
    if (
        checkpoint.layout == TSM_RELEASE
        and checkpoint.shifted_blocks
        and not config["bidirectional"]
    ):
        problems.append(
            "the reference release's offline checkpoints shift both ways; "
            "the model is uni-directional: build with bidirectional=True"
        )
    if hints.get("place", "blockres") != "blockres":
        problems.append(
            f"the file name says shift place {hints['place']!r}; tsm_tf "
            "implements the residual shift ('blockres') only"
        )
    if shifts and "shift_div" in hints and hints["shift_div"] != config["shift_div"]:
        problems.append(
            f"the file name says shift{hints['shift_div']}, the model has "
            f"shift_div={config['shift_div']}: build with "
            f"shift_div={hints['shift_div']}"
        )
    # A TSN's frames never meet before the average: any num_segments is the same network.
    if shifts and "num_segments" in hints and hints["num_segments"] != config["num_segments"]:
        problems.append(
            f"the file name says segment{hints['num_segments']}, the model has "
            f"num_segments={config['num_segments']}: build with "
            f"num_segments={hints['num_segments']}"
        )
    if hints["online"] and (config["bidirectional"] or config["shift_div"] != 8):
        problems.append(
            "the file is an online model (the reference demo shifts 1/8 of the "
            "channels from the past only); the model has shift_div="
            f"{config['shift_div']}, bidirectional={config['bidirectional']}: "
            "build with shift_div=8, bidirectional=False"
        )
    return problems


def _describe_blocks(blocks):
    if not blocks:
        return "no block (a TSN)"
    return f"{len(blocks)} blocks ({blocks[0]} ... {blocks[-1]})"


def _layer_parameters(layer):
    """(torch parameter name, Keras variable, converter) for each weight."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        params = [("weight", layer.kernel, _depthwise_kernel)]
    elif isinstance(layer, keras.layers.Conv2D):
        params = [("weight", layer.kernel, _conv_kernel)]
    elif isinstance(layer, keras.layers.Dense):
        params = [("weight", layer.kernel, _dense_kernel)]
    elif isinstance(layer, keras.layers.BatchNormalization):
        if not (layer.scale and layer.center):
            raise ValueError(
                f"Batch norm layer {layer.name!r} lacks gamma or beta; PyTorch's "
                "BatchNorm2d has both."
            )
        return [
            ("weight", layer.gamma, _same),
            ("bias", layer.beta, _same),
            ("running_mean", layer.moving_mean, _same),
            ("running_var", layer.moving_variance, _same),
        ]
    else:
        raise ValueError(
            f"Layer {layer.name!r} of type {type(layer).__name__} has weights "
            "but no PyTorch counterpart tsm_tf knows how to fill."
        )
    if getattr(layer, "use_bias", False):
        params.append(("bias", layer.bias, _same))
    return params


def _same(array):
    return array


def _conv_kernel(array):
    _check_rank(array, 4)
    return array.transpose(2, 3, 1, 0)  # OIHW -> HWIO


def _depthwise_kernel(array):
    _check_rank(array, 4)
    return array.transpose(2, 3, 0, 1)  # (C, 1, kh, kw) -> (kh, kw, C, 1)


def _dense_kernel(array):
    _check_rank(array, 2)
    return array.T  # (out, in) -> (in, out)


class _RankError(ValueError):
    pass


def _check_rank(array, rank):
    if array.ndim != rank:
        raise _RankError(f"expected {rank} dimensions, received shape {array.shape}")


def _plan_assignments(model, checkpoint, skip_classifier):
    """Matches every Keras weight to a converted tensor; assigns nothing."""
    assignments, missing, shape_errors = [], [], []
    used = set()
    classifier_loaded = not skip_classifier
    for layer in model.layers:
        if not layer.weights:
            continue
        module = layer.name.replace("_", ".")
        if layer.name == CLASSIFIER_LAYER and skip_classifier:
            used.update(name for name in checkpoint.tensors if name.startswith("classifier."))
            continue
        for param, variable, convert in _layer_parameters(layer):
            name = f"{module}.{param}"
            label = f"{name} (Keras {layer.name}/{variable.name})"
            if name not in checkpoint.tensors:
                missing.append(label)
                continue
            used.add(name)
            array = checkpoint.tensors[name]
            original = checkpoint.original_names[name]
            try:
                value = convert(array)
            except _RankError as error:
                shape_errors.append(f"{original}: {error}, for {label}")
                continue
            if tuple(value.shape) != tuple(variable.shape):
                shape_errors.append(
                    f"{original} has shape {tuple(array.shape)}, converted "
                    f"{tuple(value.shape)}; {label} has {tuple(variable.shape)}"
                )
                continue
            assignments.append((variable, value))
    unused = sorted(
        checkpoint.original_names[name]
        for name in checkpoint.tensors
        if name not in used and not name.endswith(".num_batches_tracked")
    )
    return {
        "assignments": assignments,
        "missing": missing,
        "unused": unused,
        "shape_errors": shape_errors,
        "classifier_loaded": classifier_loaded,
    }


def _assign(assignments):
    for variable, value in assignments:
        variable.assign(np.asarray(value, dtype=variable.dtype))


def _format_error(checkpoint, what, problems):
    listed = problems[:_MAX_LISTED]
    more = len(problems) - len(listed)
    lines = "\n  - ".join(listed)
    suffix = f"\n  ... and {more} more" if more > 0 else ""
    return (
        f"Cannot load {checkpoint.path!r} ({checkpoint.layout} layout, "
        f"{checkpoint.backbone}): {what}; nothing was loaded. "
        f"{len(problems)} problem(s):\n  - {lines}{suffix}\n"
    )
