"""The clip classifier: a 2D backbone with temporal shifts and TSN's consensus."""

import keras

from tsm_tf.layers.fused_batch_normalization import FusedBatchNormalization
from tsm_tf.layers.merge_segments import MergeSegments
from tsm_tf.layers.split_segments import SplitSegments
from tsm_tf.layers.temporal_shift import TemporalShift
from tsm_tf.models.classifier_head import FRAME_LOGITS_LAYER
from tsm_tf.models.classifier_head import apply_frame_classifier
from tsm_tf.models.tsm_config import TSMConfig
from tsm_tf.presets.loading import OVERRIDABLE
from tsm_tf.presets.loading import load_preset_weights
from tsm_tf.presets.loading import preset_architecture
from tsm_tf.presets.loading import preset_labels

CLIPS_INPUT = "clips"


def clip_graph(config: TSMConfig, batch_norm_class=FusedBatchNormalization):
    """The clip model's functional graph: `(clips input, logits output)`.

    `TSMClassifier` is this graph with its configuration; a benchmark can
    build it with another `batch_norm_class` (`keras.Model(*clip_graph(...))`).
    """

    def shift(x, name):
        if config.shift_div == 0:
            return x
        return TemporalShift(
            config.num_segments,
            shift_div=config.shift_div,
            bidirectional=config.bidirectional,
            name=f"{name}_shift",
        )(x)

    size = config.image_size
    clips = keras.Input((config.num_segments, size, size, 3), name=CLIPS_INPUT)
    frames = MergeSegments(config.num_segments, frame_shape=(size, size, 3), name="merge_segments")(
        clips
    )
    frame_logits = apply_frame_classifier(frames, config, shift, batch_norm_class)
    frame_logits = SplitSegments(config.num_segments, name=FRAME_LOGITS_LAYER, dtype="float32")(
        frame_logits
    )
    logits = keras.layers.GlobalAveragePooling1D(name="consensus", dtype="float32")(frame_logits)
    return clips, logits


@keras.saving.register_keras_serializable(package="tsm_tf")
class TSMClassifier(keras.Model):
    """A TSM (or, with `shift_div=0`, TSN) video classifier.

    Clips of `num_segments` RGB frames go in; each frame runs through a 2D
    backbone whose residual branches see temporally shifted features; the
    frame logits are averaged over time (TSN's consensus). Normalization with
    the ImageNet mean and std happens inside the model, so inputs are plain
    RGB values in [0, 255] (float32, or uint8 cast on the way in).

    Use `tsm_tf.build_tsm` to construct one (it also loads weights). The
    constructor arguments are the fields of `TSMConfig` (see there); the
    model keeps them as `tsm_config` and as attributes of the same names,
    and `get_config` returns them, so `.keras` files round-trip in a fresh
    process.

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
        config = TSMConfig(
            backbone=backbone,
            num_classes=num_classes,
            num_segments=num_segments,
            image_size=image_size,
            shift_div=shift_div,
            bidirectional=bidirectional,
            width_multiplier=width_multiplier,
            dropout=dropout,
            labels=labels,
        )
        clips, logits = clip_graph(config)
        super().__init__(inputs=clips, outputs=logits, **kwargs)
        set_config_attributes(self, config)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, **self.tsm_config.to_dict()}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @classmethod
    def from_preset(cls, name, base_url=None, **overrides):
        """A classifier with a released checkpoint's architecture, weights and labels.

        Args:
            name: a preset name, e.g. `"tsm_resnet50_kinetics400_8f"`; the
                list is `tsm_tf.presets.PRESETS` (and the README's table).
            base_url: download from this folder URL instead of the published
                one (a mirror; also `$TSM_TF_PRESET_BASE_URL`).
            **overrides: `image_size`, `width_multiplier`, `num_segments`
                (TSN presets), `num_classes` (another count: a new
                classifier) or `dropout`.

        The checkpoint is downloaded once into the Keras cache
        (`~/.keras/models/tsm_tf`) and read from there afterwards.
        """
        unknown = sorted(set(overrides) - set(OVERRIDABLE))
        if unknown:
            raise ValueError(
                f"from_preset can change {', '.join(OVERRIDABLE)}; the rest of the "
                f"architecture is the checkpoint's. Received: {', '.join(unknown)}"
            )
        architecture = preset_architecture(name, **overrides)
        labels = preset_labels(name)
        if labels is not None and len(labels) != architecture["num_classes"]:
            labels = None  # a new classifier has no names yet
        model = cls(labels=labels, **architecture)
        load_preset_weights(model, name, base_url)
        return model


def set_config_attributes(model, config: TSMConfig) -> None:
    """Keeps `config` on `model` as `tsm_config` and as one attribute per setting."""
    model.tsm_config = config
    for name, value in config.to_dict().items():
        setattr(model, name, value)
