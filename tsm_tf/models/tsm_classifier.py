"""The clip classifier: a 2D backbone with temporal shifts and TSN's consensus."""

import keras

from tsm_tf.backbones import BACKBONES
from tsm_tf.layers.image_normalization import ImageNormalization
from tsm_tf.layers.merge_segments import MergeSegments
from tsm_tf.layers.split_segments import SplitSegments
from tsm_tf.layers.temporal_shift import TemporalShift
from tsm_tf.utils.argument_checks import check_choice
from tsm_tf.utils.argument_checks import check_positive_int
from tsm_tf.utils.argument_checks import check_shift_div

# Layer names other parts of the library look up.
FRAME_LOGITS_LAYER = "frame_logits"
CLASSIFIER_LAYER = "classifier"


@keras.saving.register_keras_serializable(package="tsm_tf")
class TSMClassifier(keras.Model):
    """A TSM (or, with `shift_div=0`, TSN) video classifier.

    Clips of `num_segments` RGB frames go in; each frame runs through a 2D
    backbone whose residual branches see temporally shifted features; the
    frame logits are averaged over time (TSN's consensus). Normalization with
    the ImageNet mean and std happens inside the model, so inputs are plain
    RGB values in [0, 255] (float32, or uint8 cast on the way in).

    Use `tsm_tf.build_tsm` to construct one (it also loads weights). The
    constructor arguments are the whole configuration: `get_config` returns
    exactly them, so `.keras` files round-trip in a fresh process.

    Args:
        backbone: `"mobilenet_v2"` or `"resnet50"`.
        num_classes: int, number of output classes.
        num_segments: int, frames per clip.
        image_size: int, height and width of the (square) frames.
        shift_div: int, 1 / fraction of channels shifted per direction; 0
            turns the shift off (the TSN baseline, same weights and FLOPs).
        bidirectional: bool, shift from past and future (offline) or from the
            past only (online, streamable).
        width_multiplier: float, scales the backbone's channel counts.
        dropout: float, dropout rate before the classifier.
        labels: optional list of `num_classes` class names, carried with the
            model into saved files and exports.
        **kwargs: `keras.Model` keyword arguments (`name`, `trainable`).

    Input shape:
        `(batch, num_segments, image_size, image_size, 3)`.

    Output shape:
        `(batch, num_classes)` logits.
    """

    def __init__(
        self,
        backbone,
        num_classes,
        num_segments=8,
        image_size=224,
        shift_div=8,
        bidirectional=True,
        width_multiplier=1.0,
        dropout=0.5,
        labels=None,
        **kwargs,
    ):
        check_choice("backbone", backbone, tuple(BACKBONES))
        check_positive_int("num_classes", num_classes)
        check_positive_int("num_segments", num_segments)
        check_positive_int("image_size", image_size)
        if image_size < 32:
            raise ValueError(
                "`image_size` must be at least 32 (both backbones downsample "
                f"by 32). Received: image_size={image_size}"
            )
        check_shift_div(shift_div, allow_zero=True)
        if not isinstance(width_multiplier, (int, float)) or width_multiplier <= 0:
            raise ValueError(
                "`width_multiplier` must be a positive number. Received: "
                f"width_multiplier={width_multiplier!r}"
            )
        if not 0 <= dropout < 1:
            raise ValueError(
                f"`dropout` must be in [0, 1). Received: dropout={dropout!r}"
            )
        if labels is not None:
            labels = [str(label) for label in labels]
            if len(labels) != num_classes:
                raise ValueError(
                    f"`labels` must name each of the num_classes={num_classes} "
                    f"classes. Received {len(labels)} labels."
                )

        def shift(x, name):
            if shift_div == 0:
                return x
            return TemporalShift(
                num_segments,
                shift_div=shift_div,
                bidirectional=bidirectional,
                name=f"{name}_shift",
            )(x)

        # === Functional model ===
        clips = keras.Input(
            (num_segments, image_size, image_size, 3), name="clips"
        )
        frames = MergeSegments(name="merge_segments")(clips)
        frames = ImageNormalization(name="normalize")(frames)
        features = BACKBONES[backbone](frames, shift, width_multiplier)
        features = keras.layers.GlobalAveragePooling2D(name="avgpool")(features)
        features = keras.layers.Dropout(dropout, name="dropout")(features)
        # The head computes in float32 so logits stay exact under mixed precision.
        frame_logits = keras.layers.Dense(
            num_classes, name=CLASSIFIER_LAYER, dtype="float32"
        )(features)
        frame_logits = SplitSegments(
            num_segments, name=FRAME_LOGITS_LAYER, dtype="float32"
        )(frame_logits)
        logits = keras.layers.GlobalAveragePooling1D(
            name="consensus", dtype="float32"
        )(frame_logits)
        super().__init__(inputs=clips, outputs=logits, **kwargs)

        # === Config ===
        self.backbone = backbone
        self.num_classes = num_classes
        self.num_segments = num_segments
        self.image_size = image_size
        self.shift_div = shift_div
        self.bidirectional = bool(bidirectional)
        self.width_multiplier = float(width_multiplier)
        self.dropout = float(dropout)
        self.labels = labels

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": self.backbone,
            "num_classes": self.num_classes,
            "num_segments": self.num_segments,
            "image_size": self.image_size,
            "shift_div": self.shift_div,
            "bidirectional": self.bidirectional,
            "width_multiplier": self.width_multiplier,
            "dropout": self.dropout,
            "labels": self.labels,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
