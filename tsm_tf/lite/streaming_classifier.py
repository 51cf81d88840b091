"""The reference streaming client: raw RGB frames in, smoothed top-k out."""

import collections
import dataclasses
import os
import time
import warnings

import numpy as np

from tsm_tf.lite.frame_pacer import FramePacer
from tsm_tf.lite.metadata import expected_frame_rate
from tsm_tf.lite.preprocessing import resize_and_center_crop
from tsm_tf.lite.tflite_model import TFLiteModel
from tsm_tf.utils.top_classes import top_classes

DEFAULT_SMOOTHING_WINDOW = 12


@dataclasses.dataclass
class Prediction:
    """The classifier's answer for one frame.

    Attributes:
        frame_index: 0 for the first frame since the start or last `reset()`.
        logits: float32 `(num_classes,)`, this frame's raw logits.
        scores: float32 `(num_classes,)`, softmax of the mean logits of the
            last `smoothing_window` frames (what to display).
        labels: the class names, in logit order.
        latency_ms: wall time of `classify` for this frame (preprocessing and
            the interpreter), in milliseconds.
    """

    frame_index: int
    logits: np.ndarray
    scores: np.ndarray
    labels: list[str]
    latency_ms: float

    @property
    def label(self) -> str:
        """The top-1 class name after smoothing."""
        return self.labels[int(np.argmax(self.scores))]

    @property
    def score(self) -> float:
        """The top-1 smoothed probability."""
        return float(np.max(self.scores))

    def top_k(self, k: int = 5) -> list[tuple[str, float]]:
        """The `k` most likely classes as `(label, probability)`, best first."""
        return top_classes(self.scores, self.labels, k)


def mean_scores(logits) -> np.ndarray:
    """Softmax of the mean of a window of logits `(num_frames, num_classes)`: the shown scores."""
    return _softmax(np.mean(logits, axis=0))


@dataclasses.dataclass
class LatencyStats:
    """Per-frame latency over the frames classified since the last `reset()`.

    All times in milliseconds; `inference_*` covers the interpreter alone,
    the others the whole `classify` call.
    """

    count: int
    mean_ms: float
    median_ms: float
    p90_ms: float
    max_ms: float
    inference_mean_ms: float

    def summary(self) -> str:
        """One line for logs."""
        return (
            f"{self.count} frames: mean {self.mean_ms:.2f} ms, median "
            f"{self.median_ms:.2f} ms, p90 {self.p90_ms:.2f} ms, max "
            f"{self.max_ms:.2f} ms (interpreter alone: mean "
            f"{self.inference_mean_ms:.2f} ms)"
        )


class StreamingClassifier:
    """Recognizes actions live, one frame at a time, with an exported online TSM.

    Reads `model.json` beside the model and takes everything from it: the
    input size, the resize-and-crop rule (`tsm_tf.lite.preprocessing`), the state
    names and their quantization, the labels. Each `classify(frame)` resizes
    and centre-crops the frame, runs it with the states the previous frame
    left, keeps the new states, and returns a `Prediction`.

    Smoothing, as in the TSM paper's online demo: the displayed scores are
    the softmax of the mean logits of the last `smoothing_window` frames (the
    demo averages 12), which steadies the label while an action unfolds.
    `smoothing_window=1` shows each frame's own scores.

    Frame rate: the model expects frames `frame_rate` times a second (the
    metadata's `frame_rate`; None: every frame). `classify_at(frame,
    timestamp)` feeds only the frames `pacer` (a `tsm_tf.FramePacer`) picks
    by timestamp at that rate and returns None for the others, so a video or
    camera of any frame rate shows the model motion at its trained speed;
    `pacer.summary()` reports the rate it ran at. `classify` feeds every
    frame it is given.

    Args:
        tflite_path: a streaming `.tflite` from `tsm_tf.export_tflite`.
        num_threads: interpreter threads; `None` lets TFLite choose.
        smoothing_window: how many recent frames' logits to average.

    Example:

    >>> classifier = tsm_tf.StreamingClassifier("model.tflite", num_threads=2)
    >>> for frame in camera:               # uint8 (H, W, 3) RGB, any size
    ...     prediction = classifier.classify(frame)
    ...     print(prediction.top_k(3))
    >>> print(classifier.latency().summary())
    >>> classifier.reset()                 # a new video
    >>> for timestamp, frame in video:     # seconds, any frame rate
    ...     prediction = classifier.classify_at(frame, timestamp)
    ...     if prediction is not None:     # None: skipped to keep frame_rate
    ...         print(prediction.top_k(3))
    >>> print(classifier.pacer.summary())
    """

    def __init__(
        self,
        tflite_path: str | os.PathLike,
        num_threads: int | None = None,
        smoothing_window: int = DEFAULT_SMOOTHING_WINDOW,
    ):
        if (
            isinstance(smoothing_window, bool)
            or not isinstance(smoothing_window, int)
            or smoothing_window < 1
        ):
            raise ValueError(
                "`smoothing_window` must be a positive int (1 turns smoothing "
                f"off). Received: smoothing_window={smoothing_window!r}"
            )
        if os.fspath(tflite_path).endswith((".keras", ".h5")):
            raise ValueError(
                f"StreamingClassifier runs a TFLite export; {os.fspath(tflite_path)!r} is a Keras "
                "model. Export it first: tsm-export --model=MODEL.keras --output=model.tflite."
            )
        self._model = TFLiteModel(tflite_path, num_threads=num_threads)
        self.metadata = self._model.metadata
        if self.metadata["mode"] != "streaming":
            raise ValueError(
                f"StreamingClassifier runs streaming models; {tflite_path!r} was "
                f"exported with mode={self.metadata['mode']!r}. Export a "
                "uni-directional TSM with tsm_tf.export_tflite(..., "
                "mode='streaming')."
            )
        self.labels = list(self.metadata["labels"])
        self.smoothing_window = smoothing_window
        preprocessing = self.metadata["preprocessing"]
        self._crop_size = int(preprocessing["crop_size"])
        self._resize_shorter_side = int(preprocessing["resize_shorter_side"])
        self.frame_rate = expected_frame_rate(self.metadata)
        self.pacer = FramePacer(self.frame_rate)
        self.reset()

    def reset(self) -> None:
        """Starts a new stream: zero states, no history, no latency samples."""
        self._model.reset()
        self.pacer.reset()
        self._history = collections.deque(maxlen=self.smoothing_window)
        self._latencies = []
        self._inference_latencies = []
        self._frame_index = 0

    def classify(self, frame: np.ndarray) -> Prediction:
        """Classifies the next frame of the stream.

        Args:
            frame: one RGB frame `(height, width, 3)`, uint8 (or float32 with
                values in [0, 255]), of any size: it is resized and
                centre-cropped by the metadata's rule.

        Returns:
            The `Prediction` for this frame, smoothed over recent frames.
        """
        start = time.perf_counter()
        frame = self._check_frame(frame)
        model_input = resize_and_center_crop(frame, self._crop_size, self._resize_shorter_side)
        inference_start = time.perf_counter()
        logits = self._model(model_input)
        inference_ms = 1000 * (time.perf_counter() - inference_start)
        self._history.append(logits)
        scores = mean_scores(self._history)
        latency_ms = 1000 * (time.perf_counter() - start)
        self._latencies.append(latency_ms)
        self._inference_latencies.append(inference_ms)
        prediction = Prediction(
            frame_index=self._frame_index,
            logits=logits,
            scores=scores,
            labels=self.labels,
            latency_ms=latency_ms,
        )
        self._frame_index += 1
        return prediction

    def classify_at(self, frame: np.ndarray, timestamp) -> Prediction | None:
        """Classifies `frame` if the pacer takes it at `timestamp`, else None.

        Args:
            frame: as for `classify`.
            timestamp: when the frame was shown, in seconds (a float or an
                exact `fractions.Fraction`), increasing through the stream.

        Returns:
            The `Prediction`, or None for a frame skipped to keep the
            model's `frame_rate`.
        """
        if not self.pacer.accept(timestamp):
            return None
        return self.classify(frame)

    def latency(self) -> LatencyStats:
        """Latency statistics of the frames classified since the last reset."""
        if not self._latencies:
            raise ValueError("No frames classified yet: call classify(frame) first.")
        latencies = np.asarray(self._latencies)
        return LatencyStats(
            count=len(latencies),
            mean_ms=float(latencies.mean()),
            median_ms=float(np.median(latencies)),
            p90_ms=float(np.percentile(latencies, 90)),
            max_ms=float(latencies.max()),
            inference_mean_ms=float(np.mean(self._inference_latencies)),
        )

    def state_bytes(self) -> int:
        """Memory the states hold between frames, in bytes."""
        return self._model.state_bytes()

    @staticmethod
    def _check_frame(frame):
        if not isinstance(frame, np.ndarray):
            raise ValueError(
                "classify expects a NumPy array `(height, width, 3)`. Received: "
                f"{type(frame).__name__}."
            )
        if frame.ndim != 3 or frame.shape[-1] != 3 or min(frame.shape[:2]) < 1:
            raise ValueError(
                "classify expects one RGB frame `(height, width, 3)`. Received: "
                f"shape {frame.shape}. Pass frames one at a time, channels last "
                "(convert grayscale or RGBA to RGB first)."
            )
        if frame.dtype not in (np.uint8, np.float32):
            raise ValueError(
                "classify expects uint8 RGB (or float32 in [0, 255]). Received: "
                f"dtype {frame.dtype}. Convert with frame.astype(np.float32) (or np.uint8 for "
                "whole values in 0-255); multiply frames scaled to [0, 1] by 255 first."
            )
        if frame.dtype == np.float32:
            low, high = float(frame.min()), float(frame.max())
            if not (np.isfinite(low) and np.isfinite(high)):
                raise ValueError(
                    "classify got a frame with NaN or infinite values; the states would carry "
                    "them into every later frame. Pass uint8 RGB, or float32 in [0, 255]."
                )
            if 0 < high <= 1:
                # Frames scaled to [0, 1] run without error but the model sees nearly black frames.
                warnings.warn(
                    f"classify got a float32 frame with values up to {high:g}; the model expects "
                    "RGB values in [0, 255] (it normalizes them itself). Multiply by 255 if the "
                    "frames were scaled to [0, 1].",
                    stacklevel=3,
                )
        return frame


def _softmax(logits):
    shifted = np.exp(logits - np.max(logits))
    return (shifted / shifted.sum()).astype("float32")
