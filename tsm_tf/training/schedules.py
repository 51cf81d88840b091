"""Learning-rate schedules: linear warm-up, then cosine or step decay."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tsm_tf")
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `peak_learning_rate`, then cosine or step decay.

    Args:
        peak_learning_rate: the rate reached at the end of the warm-up.
        total_steps: steps of the whole run (cosine reaches 0 there).
        warmup_steps: steps of the linear warm-up (0 for none).
        schedule: `"cosine"` or `"step"`.
        decay_steps: for `"step"`, the steps at which the rate is multiplied
            by `decay_rate`.
        decay_rate: the step-decay factor.
    """

    def __init__(
        self,
        peak_learning_rate,
        total_steps,
        warmup_steps=0,
        schedule="cosine",
        decay_steps=(),
        decay_rate=0.1,
    ):
        if schedule not in ("cosine", "step"):
            raise ValueError(
                f"`schedule` must be 'cosine' or 'step'. Received: schedule={schedule!r}"
            )
        if total_steps <= 0 or not 0 <= warmup_steps < total_steps:
            raise ValueError(
                "Expected 0 <= warmup_steps < total_steps. Received: "
                f"warmup_steps={warmup_steps}, total_steps={total_steps}"
            )
        self.peak_learning_rate = float(peak_learning_rate)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.schedule = schedule
        self.decay_steps = tuple(int(step) for step in decay_steps)
        self.decay_rate = float(decay_rate)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = ops.cast(max(self.warmup_steps, 1), "float32")
        warming = self.peak_learning_rate * (step + 1.0) / warmup
        if self.schedule == "cosine":
            progress = (step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1)
            progress = ops.clip(progress, 0.0, 1.0)
            decayed = 0.5 * self.peak_learning_rate * (1.0 + ops.cos(math.pi * progress))
        else:
            decayed = ops.convert_to_tensor(self.peak_learning_rate, "float32")
            for boundary in self.decay_steps:
                decayed = ops.where(step >= boundary, decayed * self.decay_rate, decayed)
        return ops.where(step < self.warmup_steps, warming, decayed)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "schedule": self.schedule,
            "decay_steps": list(self.decay_steps),
            "decay_rate": self.decay_rate,
        }
