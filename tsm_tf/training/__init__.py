"""Training and evaluation: the paper's recipe around `model.fit`, resumable runs,
tf.distribute, and test-time evaluation."""

from tsm_tf.training.config import TrainConfig
from tsm_tf.training.trainer import train

__all__ = ["TrainConfig", "train"]
