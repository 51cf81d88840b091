"""Public builders: `build_tsm` and `per_frame_model`."""

import logging
import os

import keras

from tsm_tf.models.classifier_head import CLASSIFIER_LAYER
from tsm_tf.models.classifier_head import FRAME_LOGITS_LAYER
from tsm_tf.models.tsm_classifier import TSMClassifier
from tsm_tf.models.tsm_config import TSMConfig
from tsm_tf.presets.loading import is_preset
from tsm_tf.presets.loading import load_preset_weights
from tsm_tf.presets.loading import preset_architecture
from tsm_tf.presets.loading import preset_labels

_DEFAULTS = TSMConfig.defaults()


def build_tsm(
    backbone: str,
    num_classes: int,
    num_segments: int | None = None,
    image_size: int = _DEFAULTS["image_size"],
    shift_div: int | None = None,
    bidirectional: bool | None = None,
    width_multiplier: float = _DEFAULTS["width_multiplier"],
    dropout: float = _DEFAULTS["dropout"],
    weights: str | None = None,
    labels: list[str] | None = None,
) -> TSMClassifier:
    """Builds a TSM video classifier (or the TSN baseline with `shift_div=0`).

    Args:
        backbone: `"mobilenet_v2"`, `"resnet50"` or `"resnet101"` (which
            shifts every other block, as the authors' code does).
        num_classes: number of classes.
        num_segments: frames per clip (None: a TSM preset's, else 8 as in
            the paper).
        image_size: frame height and width (224 in the paper).
        shift_div: 1 / fraction of channels shifted each way; 0 for TSN
            (None: a TSM preset's, else 8).
        bidirectional: `True` for offline TSM, `False` for the online
            (streamable) variant that shifts from the past only (None: a
            TSM preset's, else True).
        width_multiplier: scales the backbone's channels.
        dropout: dropout rate before the classifier.
        weights: `None` (random), `"imagenet"` (torchvision's ImageNet
            backbone weights, see `tsm_tf.load_imagenet_weights`), or a path
            to a `.keras` file of the same backbone (of other classes, its
            classifier is left as initialized) or a `.weights.h5` file of
            the same architecture, or
            to a PyTorch `.pth` / `.pth.tar` file: a TSM checkpoint of the
            reference release (see `tsm_tf.load_torch_checkpoint`) or
            torchvision ImageNet weights (needs torch), or the name of a
            preset (`tsm_tf.presets.PRESETS`), downloaded once into the
            Keras cache. A TSM preset gives the shift settings left None
            and refuses another backbone or shift (naming both); with
            another `num_classes` its classifier is new (fine-tuning), with
            the preset's it also gives the class names when `labels` is
            None. Which weights were loaded and which are new is logged.
        labels: optional class names, carried into saved models and exports.

    Returns:
        A `TSMClassifier`: clips `(batch, num_segments, image_size,
        image_size, 3)` with RGB values in [0, 255] in, logits
        `(batch, num_classes)` out.

    Example:

    >>> model = tsm_tf.build_tsm("mobilenet_v2", num_classes=10, num_segments=8,
    ...                          image_size=112, width_multiplier=0.5)
    >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> model.fit(clips, labels)
    """
    architecture = dict(
        backbone=backbone,
        num_classes=num_classes,
        num_segments=num_segments,
        image_size=image_size,
        shift_div=shift_div,
        bidirectional=bidirectional,
        width_multiplier=width_multiplier,
        dropout=dropout,
    )
    preset = weights if is_preset(weights) else None
    if preset is not None:
        architecture = preset_architecture(preset, **architecture)
        if labels is None:
            names = preset_labels(preset)
            labels = names if names is not None and len(names) == num_classes else None
    for name, value in architecture.items():
        if value is None:
            architecture[name] = _DEFAULTS[name]
    model = TSMClassifier(labels=labels, **architecture)
    if weights is None:
        return model
    if weights == "imagenet":
        from tsm_tf.interop.torch_import import load_imagenet_weights

        load_imagenet_weights(model)
        return model
    if preset is not None:
        load_preset_weights(model, preset)
        return model
    if not isinstance(weights, (str, os.PathLike)) or not os.path.exists(weights):
        raise ValueError(
            "`weights` must be None, 'imagenet', a preset name (see "
            "tsm_tf.presets.PRESETS), or the path of an existing `.keras`, "
            "`.weights.h5` or PyTorch `.pth` file. Received: "
            f"weights={weights!r}"
        )
    weights = os.fspath(weights)
    if weights.endswith((".pth", ".pth.tar", ".pt")):
        from tsm_tf.interop.torch_import import load_torch_weights

        load_torch_weights(model, weights)
        return model
    if weights.endswith(".keras"):
        _copy_weights(keras.models.load_model(weights, compile=False), model, weights)
    elif weights.endswith(".weights.h5"):
        model.load_weights(weights)
    else:
        raise ValueError(
            "`weights` files must end in `.keras`, `.weights.h5`, `.pth` or "
            "`.pth.tar`. Received: "
            f"weights={weights!r}"
        )
    return model


def _copy_weights(source, model, path):
    """Copies a saved model's weights into `model`, all but the classifier where the classes differ.

    Fine-tuning starts from a model of other classes, as from a PyTorch
    checkpoint; every other weight must match in shape.
    """
    source_classes, model_classes = source.output.shape[-1], model.output.shape[-1]
    skip_classifier = source_classes != model_classes
    source_layers = [layer.name for layer in source.layers if layer.weights]
    model_layers = [layer.name for layer in model.layers if layer.weights]
    if source_layers != model_layers:
        raise ValueError(
            f"The weights in {path!r} come from another architecture ({len(source_layers)} "
            f"layers with weights, this model {len(model_layers)}): build the model with the "
            "saved model's backbone (the class count may differ)."
        )
    for layer in model.layers:
        if not layer.weights or (skip_classifier and layer.name == CLASSIFIER_LAYER):
            continue
        try:
            source_layer = source.get_layer(layer.name)
            layer.set_weights(source_layer.get_weights())
        except ValueError as error:
            raise ValueError(
                f"The weights in {path!r} do not fit this model at layer {layer.name!r}: build it "
                "with the saved model's backbone and width_multiplier (the class count may "
                f"differ: only the classifier is then left as initialized). {error}"
            ) from error
    if skip_classifier:
        logging.info(
            "%s classifies %d classes, the model %d: its classifier is left as initialized.",
            path,
            source_classes,
            model_classes,
        )


def per_frame_model(model: keras.Model) -> keras.Model:
    """A model sharing `model`'s weights whose output is the frame logits.

    Args:
        model: a clip classifier from `build_tsm` (or loaded from a `.keras`
            file).

    Returns:
        A functional model mapping the same clips to
        `(batch, num_segments, num_classes)` logits: the per-frame scores
        before TSN's temporal average.
    """
    try:
        frame_logits = model.get_layer(FRAME_LOGITS_LAYER).output
    except ValueError as error:
        raise ValueError(
            f"per_frame_model needs a model from tsm_tf.build_tsm (a layer "
            f"named {FRAME_LOGITS_LAYER!r}). Received: model {model.name!r} "
            f"of type {type(model).__name__}."
        ) from error
    return keras.Model(model.input, frame_logits, name=f"{model.name}_per_frame")
