"""Parity of an exported `.tflite` against its Keras model, on the real interpreter.

Streaming models run a sequence of frames from zero states on both sides,
each carrying its own states; clip models run the same clips. Float32 must
match within `FLOAT32_TOLERANCE` on every logit; reduced precisions cannot,
so they must agree on the top-1 class at least `MIN_TOP1_AGREEMENT[precision]`
of the time, and the largest logit gap is reported.
"""

import dataclasses
import logging
import os

import keras
import numpy as np

from tsm_tf.lite.streaming import logits_of
from tsm_tf.lite.streaming import stream_keras
from tsm_tf.lite.streaming import stream_tflite
from tsm_tf.lite.tflite_model import TFLiteModel
from tsm_tf.models.online_tsm import build_online_tsm
from tsm_tf.models.online_tsm import is_online
from tsm_tf.utils.progress import Progress
from tsm_tf.utils.progress import plural

FLOAT32_TOLERANCE = 1e-3
# Top-1 agreement a reduced-precision export needs, over the parity frames.
MIN_TOP1_AGREEMENT = {"float16": 0.9, "dynamic_int8": 0.8, "int8": 0.7}


@dataclasses.dataclass
class ParityReport:
    """How closely a `.tflite` follows its Keras model.

    Attributes:
        mode: `"streaming"` or `"clip"`.
        precision: the export's precision.
        num_steps: frames (streaming) or clips (clip mode) compared.
        max_abs_difference: largest absolute logit difference.
        max_abs_logit: largest absolute Keras logit (the scale of the gap).
        top1_agreement: fraction of steps with the same top-1 class.
        passed: whether the export meets its precision's threshold.
        criterion: the threshold applied, in words.
    """

    mode: str
    precision: str
    num_steps: int
    max_abs_difference: float
    max_abs_logit: float
    top1_agreement: float
    passed: bool
    criterion: str

    def summary(self) -> str:
        """One line for logs."""
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"parity {verdict} ({self.mode}, {self.precision}, {self.num_steps} "
            f"steps): max |logit gap| {self.max_abs_difference:.3g} (logits up to "
            f"{self.max_abs_logit:.3g}), top-1 agreement "
            f"{self.top1_agreement:.1%}; needs {self.criterion}"
        )


def check_parity(
    model: keras.Model,
    tflite_path: str | os.PathLike,
    frames: np.ndarray | None = None,
    num_frames: int = 16,
    num_threads: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> ParityReport:
    """Runs Keras and the `.tflite` on the same frames and compares logits.

    Args:
        model: the Keras model that was exported: the clip `TSMClassifier`
            (its online model is built here for streaming exports) or, for
            streaming, a model from `build_online_tsm`.
        tflite_path: the exported model, with its metadata beside it.
        frames: float RGB frames `(num_frames, image_size, image_size, 3)` in
            [0, 255], consecutive frames of a video. Defaults to `num_frames`
            seeded random frames.
        num_frames: how many random frames when `frames` is None (clip mode
            uses them in clips of `num_segments`).
        num_threads: interpreter threads.
        seed: seed of the random frames.
        progress: report each side's run (`tsm_tf.utils.progress`).

    Returns:
        A `ParityReport`; `passed` applies `FLOAT32_TOLERANCE` for float32
        and `MIN_TOP1_AGREEMENT` otherwise.
    """
    tflite = TFLiteModel(tflite_path, num_threads=num_threads)
    metadata = tflite.metadata
    size = metadata["image_size"]
    if frames is None:
        rng = np.random.default_rng(seed)
        frames = rng.uniform(0, 255, (num_frames, size, size, 3)).astype("float32")
    frames = np.asarray(frames, "float32")
    if frames.ndim != 4 or frames.shape[1:] != (size, size, 3):
        raise ValueError(
            f"Parity frames must be (num_frames, {size}, {size}, 3). Received: "
            f"shape {frames.shape}."
        )
    if metadata["mode"] == "streaming":
        logging.info(
            "Checking parity on %s: Keras, then the TFLite interpreter.",
            plural(len(frames), "frame"),
        )
        online = model if is_online(model) else build_online_tsm(model)
        keras_progress = Progress(len(frames), "frame", "Parity, Keras", enabled=progress)
        expected = logits_of(stream_keras(online, keras_progress.track(frames)))
        tflite_progress = Progress(len(frames), "frame", "Parity, TFLite", enabled=progress)
        actual = logits_of(stream_tflite(tflite, tflite_progress.track(frames)))
    else:
        num_segments = metadata["num_segments"]
        num_clips = len(frames) // num_segments
        if num_clips == 0:
            raise ValueError(
                f"Clip parity needs at least num_segments={num_segments} "
                f"frames. Received: {len(frames)}."
            )
        clips = frames[: num_clips * num_segments].reshape(num_clips, num_segments, size, size, 3)
        logging.info(
            "Checking parity on %s: Keras, then the TFLite interpreter.",
            plural(num_clips, "clip"),
        )
        expected = np.asarray(model.predict(clips, verbose=0, batch_size=1))
        tflite_progress = Progress(num_clips, "clip", "Parity, TFLite", enabled=progress)
        actual = np.stack([tflite(clip) for clip in tflite_progress.track(clips)])
    return _compare(expected, actual, metadata["mode"], metadata["precision"])


def _compare(expected, actual, mode, precision):
    difference = float(np.max(np.abs(expected - actual)))
    agreement = float(np.mean(expected.argmax(-1) == actual.argmax(-1)))
    if precision == "float32":
        passed = difference <= FLOAT32_TOLERANCE
        criterion = f"max |logit gap| <= {FLOAT32_TOLERANCE:g}"
    else:
        passed = agreement >= MIN_TOP1_AGREEMENT[precision]
        criterion = f"top-1 agreement >= {MIN_TOP1_AGREEMENT[precision]:.0%}"
    return ParityReport(
        mode=mode,
        precision=precision,
        num_steps=len(expected),
        max_abs_difference=difference,
        max_abs_logit=float(np.max(np.abs(expected))),
        top1_agreement=agreement,
        passed=bool(passed),
        criterion=criterion,
    )
