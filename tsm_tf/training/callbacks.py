"""Callbacks of a training run: resumable checkpoints and a NaN stop."""

import json
import logging
import math
import os
import shutil

import keras
import numpy as np

from tsm_tf.utils.atomic_files import atomic_path
from tsm_tf.utils.atomic_files import write_atomically
from tsm_tf.utils.progress import Progress
from tsm_tf.utils.progress import default_interval_seconds

LAST_MODEL = "last.keras"
BEST_MODEL = "best.keras"
STATE_FILE = "state.json"


def read_state(run_dir):
    """The state of a run (`epochs_completed`, `best`, `monitor`, `random_states`), or None if it never saved."""
    path = os.path.join(run_dir, STATE_FILE)
    if not os.path.exists(path) or not os.path.exists(os.path.join(run_dir, LAST_MODEL)):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def random_states(model):
    """The states of the model's random-number generators (dropout's), in the model's order.

    `model.save` leaves them out; a resumed run restores them so that its
    dropout masks are those an uninterrupted run would draw.
    """
    return [np.asarray(variable.numpy()).tolist() for variable in _random_state_variables(model)]


def restore_random_states(model, states):
    """Assigns the states saved by `random_states`; refuses a model with another count."""
    variables = _random_state_variables(model)
    if len(states) != len(variables):
        raise ValueError(
            f"The run saved {len(states)} random states, but the model has {len(variables)} "
            "random-number generators. Resume with the same model settings."
        )
    for variable, value in zip(variables, states):
        variable.assign(np.asarray(value, variable.dtype))


def _random_state_variables(model):
    # Paths carry process-wide counters (seed_generator_2), so generators are matched by order.
    weights = {id(weight) for weight in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]


class RunCheckpoint(keras.callbacks.Callback):
    """Saves `last.keras` (with the optimizer state) after every epoch and
    `best.keras` when the monitored metric improves, atomically, then records
    the finished epoch and the random states (`random_states`) in
    `state.json`. A run killed mid-epoch resumes from the start of that
    epoch: no epoch is repeated or lost.

    Args:
        run_dir: folder of the run.
        monitor: the metric deciding the best model, e.g. `"val_accuracy"`;
            falls back to `"accuracy"` without validation.
        best: the best value so far (when resuming).
        save: False on non-chief workers of a multi-worker run, which
            compute the same weights and must not race on the files.
    """

    def __init__(self, run_dir, monitor="val_accuracy", best=None, save=True):
        super().__init__()
        self.run_dir = run_dir
        self.monitor = monitor
        self.best = best
        self.save = save

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        monitor = self.monitor if self.monitor in logs else "accuracy"
        value = float(np.asarray(logs.get(monitor, math.nan)))
        improved = math.isfinite(value) and (self.best is None or value > self.best)
        if improved:
            self.best = value
        if not self.save:
            return
        last_path = os.path.join(self.run_dir, LAST_MODEL)
        with atomic_path(last_path) as temporary:
            self.model.save(temporary)
        if improved:
            # The same model as last.keras: a file copy instead of a second save.
            with atomic_path(os.path.join(self.run_dir, BEST_MODEL)) as temporary:
                shutil.copyfile(last_path, temporary)
            logging.info(
                "Epoch %d: %s improved to %.4f, saved %s", epoch + 1, monitor, value, BEST_MODEL
            )
        state = {
            "epochs_completed": epoch + 1,
            "best": self.best,
            "monitor": monitor,
            "random_states": random_states(self.model),
        }
        write_atomically(os.path.join(self.run_dir, STATE_FILE), json.dumps(state, indent=2) + "\n")


class StopOnNaN(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and remembers where.

    After `fit` returns, `message` names the epoch and step (None if all
    losses were finite); the trainer raises it as an error.
    """

    def __init__(self):
        super().__init__()
        self.message = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(np.asarray(loss))):
            return
        step = int(np.asarray(self.model.optimizer.iterations))
        self.message = (
            f"The loss became {float(np.asarray(loss))} at epoch {self._epoch + 1}, "
            f"step {batch + 1} of the epoch (global step {step}). Training stopped. "
            "Lower the learning rate, enable gradient clipping (--clip_norm), or "
            "check the input data for corrupt clips."
        )
        logging.error(self.message)
        self.model.stop_training = True


class StepProgress(keras.callbacks.Callback):
    """Writes the steps of an epoch every `interval_seconds`, for logs where Keras's bar is off.

    Keras prints one line per epoch when stdout is not a terminal, which leaves
    a long first epoch (most of it tracing the graph) silent. The lines are
    `tsm_tf.utils.progress`'s: "Epoch 2: 5/20 steps, loss 0.4132 (31 s, ...)";
    the default interval is `TSM_TF_PROGRESS_SECONDS`, else 30 s.
    """

    def __init__(self, steps_per_epoch, interval_seconds=None):
        super().__init__()
        self.steps_per_epoch = steps_per_epoch
        self.interval_seconds = (
            default_interval_seconds(30.0) if interval_seconds is None else interval_seconds
        )

    def on_epoch_begin(self, epoch, logs=None):
        # Plain lines only: on a terminal Keras draws the bar. No closing line either,
        # since Keras writes the epoch's own.
        self._progress = Progress(
            self.steps_per_epoch or None,
            "step",
            f"Epoch {epoch + 1}",
            interval_seconds=self.interval_seconds,
            bar=False,
        )

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        self._progress.update(batch + 1, None if loss is None else f"loss {float(loss):.4f}")
