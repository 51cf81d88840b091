"""The one flat training configuration, saved as JSON next to every run."""

import dataclasses
import json
import os

from tsm_tf.backbones.registry import BACKBONES
from tsm_tf.data.augmentation import TRAIN_CROPS
from tsm_tf.data.sampling import SAMPLING_MODES
from tsm_tf.models.tsm_config import TSMConfig
from tsm_tf.utils.argument_checks import check_choice
from tsm_tf.utils.argument_checks import check_positive_int
from tsm_tf.utils.atomic_files import write_atomically
from tsm_tf.utils.label_files import label_swaps_to_map

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
SCHEDULES = ("cosine", "step")
OPTIMIZERS = ("sgd", "adamw")
DTYPE_POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
# A recipe file is a configuration without data paths plus these two notes: where its
# numbers come from and the matching evaluation (tsm_tf/training/recipes/).
RECIPE_NOTES = ("source", "evaluation")
RECIPES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "recipes")
# The model settings default to the model contract's (the paper's), except the backbone.
_MODEL_DEFAULTS = TSMConfig.defaults()


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run depends on. Defaults follow the TSM paper.

    The learning rate is `base_learning_rate * batch_size / 64` (the linear
    scaling rule; TSM trains Kinetics at 0.01 per 64 clips) unless
    `learning_rate` is given.
    """

    train_pattern: str
    run_dir: str
    validation_pattern: str | None = None
    # Model.
    backbone: str = "resnet50"
    width_multiplier: float = _MODEL_DEFAULTS["width_multiplier"]
    num_segments: int = _MODEL_DEFAULTS["num_segments"]
    shift_div: int = _MODEL_DEFAULTS["shift_div"]
    bidirectional: bool = _MODEL_DEFAULTS["bidirectional"]
    image_size: int = _MODEL_DEFAULTS["image_size"]
    dropout: float = _MODEL_DEFAULTS["dropout"]
    init_weights: str | None = None
    # Input.
    sampling: str = "segment"
    train_crop: str = "multi_scale"
    flip: bool = False
    # Pairs of class indices that trade places when a clip is flipped
    # (left/right motions); `make_dataset`'s `flip_label_map` both ways.
    flip_label_swaps: tuple[tuple[int, int], ...] = ()
    # Random playback backwards, and the pairs of class indices that trade
    # places when a clip plays backwards (`make_dataset`'s `reverse_label_map`).
    reverse_time: bool = False
    reverse_label_swaps: tuple[tuple[int, int], ...] = ()
    # Optimization.
    batch_size: int = 64
    epochs: int = 50
    steps_per_epoch: int | None = None
    validation_steps: int | None = None
    optimizer: str = "sgd"
    base_learning_rate: float = 0.01
    learning_rate: float | None = None
    schedule: str = "cosine"
    decay_epochs: tuple[int, ...] = (20, 40)
    decay_rate: float = 0.1
    warmup_epochs: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 1e-4
    clip_norm: float | None = 20.0
    partial_bn: bool = False
    zero_init_residual: bool = False
    label_smoothing: float = 0.0
    # Execution.
    strategy: str = "default"
    tpu: str | None = None
    precision: str = "float32"
    jit_compile: bool = False
    seed: int = 0

    def __post_init__(self):
        self.decay_epochs = tuple(int(epoch) for epoch in self.decay_epochs)
        self.flip_label_swaps = tuple(tuple(pair) for pair in self.flip_label_swaps)
        self.reverse_label_swaps = tuple(tuple(pair) for pair in self.reverse_label_swaps)
        self.validate()

    @property
    def scaled_learning_rate(self) -> float:
        """The peak learning rate after the linear scaling rule."""
        if self.learning_rate is not None:
            return self.learning_rate
        return self.base_learning_rate * self.batch_size / 64

    def validate(self):
        """Raises `ValueError` naming the first bad setting."""
        for name in ("num_segments", "image_size", "batch_size", "epochs"):
            check_positive_int(name, getattr(self, name))
        choices = {
            "strategy": STRATEGIES,
            "schedule": SCHEDULES,
            "optimizer": OPTIMIZERS,
            "precision": DTYPE_POLICIES,
            "sampling": SAMPLING_MODES,
            "train_crop": TRAIN_CROPS,
            "backbone": tuple(BACKBONES),
        }
        for name, allowed in choices.items():
            check_choice(name, getattr(self, name), allowed)
        for name, switch in (("flip_label_swaps", "flip"), ("reverse_label_swaps", "reverse_time")):
            _check_label_swaps(name, getattr(self, name), switch, getattr(self, switch))
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(
                f"`label_smoothing` must be in [0, 1). Received: {self.label_smoothing}"
            )
        if self.warmup_epochs < 0 or self.warmup_epochs >= self.epochs:
            raise ValueError(
                f"`warmup_epochs` must be in [0, epochs={self.epochs}). Received: {self.warmup_epochs}"
            )
        if self.clip_norm is not None and self.clip_norm <= 0:
            raise ValueError(f"`clip_norm` must be positive or None. Received: {self.clip_norm}")
        if self.scaled_learning_rate <= 0:
            raise ValueError(
                f"The learning rate must be positive. Received: {self.scaled_learning_rate}"
            )

    @property
    def flip_label_map(self) -> dict[int, int]:
        """`flip_label_swaps` as `make_dataset`'s `flip_label_map` (both directions)."""
        return label_swaps_to_map(self.flip_label_swaps)

    @property
    def reverse_label_map(self) -> dict[int, int]:
        """`reverse_label_swaps` as `make_dataset`'s `reverse_label_map` (both directions)."""
        return label_swaps_to_map(self.reverse_label_swaps)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    def save(self, path):
        """Writes the configuration as JSON, atomically."""
        write_atomically(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path) -> "TrainConfig":
        return cls(**read_settings(path))


def read_settings(path) -> dict:
    """The settings of a config.json or a recipe file (its notes left out); unknown keys refused."""
    with open(path, encoding="utf-8") as handle:
        values = json.load(handle)
    known = {field.name for field in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known - set(RECIPE_NOTES))
    if unknown:
        raise ValueError(f"Unknown settings in {os.fspath(path)}: {', '.join(unknown)}")
    return {name: value for name, value in values.items() if name in known}


def recipe_names() -> list[str]:
    """The recipes shipped with tsm_tf (`tsm-train --recipe=NAME`)."""
    return sorted(
        name[: -len(".json")] for name in os.listdir(RECIPES_DIR) if name.endswith(".json")
    )


def recipe_path(name: str) -> str:
    """The file of recipe `name`; a clear error lists the names."""
    if name not in recipe_names():
        raise ValueError(f"Unknown recipe {name!r}. Recipes: {', '.join(recipe_names())}.")
    return os.path.join(RECIPES_DIR, f"{name}.json")


def read_recipe(name: str) -> dict:
    """Recipe `name`'s settings and notes (`source`, `evaluation`), as in its file."""
    with open(recipe_path(name), encoding="utf-8") as handle:
        return json.load(handle)


def _check_label_swaps(name, swaps, switch, switched_on):
    swapped = [label for pair in swaps for label in pair]
    well_formed = all(
        len(pair) == 2 and all(isinstance(label, int) and label >= 0 for label in pair)
        for pair in swaps
    )
    if not well_formed or len(set(swapped)) != len(swapped):
        raise ValueError(
            f"`{name}` holds pairs of distinct class indices, each index in one pair at most, "
            f"e.g. ((0, 1), (6, 7)). Received: {swaps!r}"
        )
    if swaps and not switched_on:
        raise ValueError(
            f"`{name}` only applies with `{switch}=True`; turn it on or drop the swaps."
        )
