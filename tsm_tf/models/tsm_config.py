"""The model's contract: the one definition of a TSM's configuration.

The clip model (`TSMClassifier`), the online model (`OnlineTSM`), the TFLite
exporter and its metadata, the PyTorch checkpoint import and training all read
a `TSMConfig`; its defaults are the paper's settings.
"""

import dataclasses

from tsm_tf.backbones.registry import BACKBONES
from tsm_tf.lite.preprocessing import evaluation_preprocessing
from tsm_tf.utils.argument_checks import check_choice
from tsm_tf.utils.argument_checks import check_positive_int
from tsm_tf.utils.argument_checks import check_shift_div

# Every backbone downsamples by 32.
MIN_IMAGE_SIZE = 32


@dataclasses.dataclass(frozen=True)
class TSMConfig:
    """Everything that defines a TSM classifier (or, with `shift_div=0`, a TSN).

    Args:
        backbone: `"mobilenet_v2"`, `"resnet50"` or `"resnet101"` (which
            shifts every other block, as the authors' code does).
        num_classes: number of classes.
        num_segments: frames per clip (8 in the paper).
        image_size: frame height and width (224 in the paper).
        shift_div: 1 / fraction of channels shifted per direction; 0 turns
            the shift off (the TSN baseline, same weights and FLOPs).
        bidirectional: shift from past and future (offline) or from the past
            only (online, streamable).
        width_multiplier: scales the backbone's channel counts.
        dropout: dropout rate before the classifier.
        labels: optional `num_classes` class names, carried into saved models
            and exports.

    Raises:
        ValueError: naming the first setting out of range.
    """

    backbone: str
    num_classes: int
    num_segments: int = 8
    image_size: int = 224
    shift_div: int = 8
    bidirectional: bool = True
    width_multiplier: float = 1.0
    dropout: float = 0.5
    labels: tuple[str, ...] | None = None

    def __post_init__(self):
        check_choice("backbone", self.backbone, tuple(BACKBONES))
        check_positive_int("num_classes", self.num_classes)
        check_positive_int("num_segments", self.num_segments)
        check_positive_int("image_size", self.image_size)
        if self.image_size < MIN_IMAGE_SIZE:
            raise ValueError(
                f"`image_size` must be at least {MIN_IMAGE_SIZE} (every backbone "
                f"downsamples by 32). Received: image_size={self.image_size}"
            )
        check_shift_div(self.shift_div, allow_zero=True)
        if (
            isinstance(self.width_multiplier, bool)
            or not isinstance(self.width_multiplier, (int, float))
            or self.width_multiplier <= 0
        ):
            raise ValueError(
                "`width_multiplier` must be a positive number. Received: "
                f"width_multiplier={self.width_multiplier!r}"
            )
        if not 0 <= self.dropout < 1:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={self.dropout!r}")
        # Frozen dataclass: normalized values are set through object.__setattr__.
        object.__setattr__(self, "bidirectional", bool(self.bidirectional))
        object.__setattr__(self, "width_multiplier", float(self.width_multiplier))
        object.__setattr__(self, "dropout", float(self.dropout))
        if self.labels is not None:
            labels = tuple(str(label) for label in self.labels)
            if len(labels) != self.num_classes:
                raise ValueError(
                    f"`labels` must name each of the num_classes={self.num_classes} "
                    f"classes. Received {len(labels)} labels."
                )
            object.__setattr__(self, "labels", labels)

    def to_dict(self) -> dict:
        """The configuration as JSON-ready values (labels as a list or None)."""
        values = dataclasses.asdict(self)
        values["labels"] = None if self.labels is None else list(self.labels)
        return values

    def replace(self, **changes) -> "TSMConfig":
        """A copy with `changes` applied (and checked)."""
        return dataclasses.replace(self, **changes)

    def class_names(self) -> list[str]:
        """The labels, or `class_0`, `class_1`, ... when the model has none."""
        if self.labels is None:
            return [f"class_{index}" for index in range(self.num_classes)]
        return list(self.labels)

    def preprocessing(self) -> dict:
        """The evaluation resize-and-crop rule for this image size (docs/metadata.md)."""
        return evaluation_preprocessing(self.image_size)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The configuration's settings, in order."""
        return tuple(field.name for field in dataclasses.fields(cls))

    @classmethod
    def defaults(cls) -> dict:
        """The default of every setting that has one (the paper's)."""
        return {
            field.name: field.default
            for field in dataclasses.fields(cls)
            if field.default is not dataclasses.MISSING
        }


def config_of(model) -> TSMConfig:
    """The `TSMConfig` of a `TSMClassifier` or an `OnlineTSM` (also loaded from `.keras`).

    Raises:
        ValueError: for any other model, saying which models carry one.
    """
    config = getattr(model, "tsm_config", None)
    if isinstance(config, TSMConfig):
        return config
    raise ValueError(
        "Expected a TSMClassifier from tsm_tf.build_tsm or an OnlineTSM from "
        "tsm_tf.build_online_tsm (or a .keras file saved from one). Received: "
        f"{type(model).__name__} {model.name!r}, which carries no TSM configuration. "
        "An online model saved by tsm_tf 0.x before the OnlineTSM class is a plain "
        "functional model: rebuild it with tsm_tf.build_online_tsm(clip_model)."
    )
