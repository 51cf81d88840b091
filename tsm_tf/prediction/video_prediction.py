"""`predict_videos`: classify video files, one `VideoPrediction` per video, in input order.

    import tsm_tf

    for result in tsm_tf.predict_videos("runs/motion/best.keras", ["a.mp4", "b.mp4"], top_k=3):
        print(result.video, result.error or list(zip(result.labels, result.scores)))

Each video gets the paper's test protocol, made by the code `tsm-eval` runs:
`tsm_tf.data.sampling.sample_indices` picks `num_clips` clips of the model's
`num_segments` frames, `tsm_tf.data.augmentation.eval_views` resizes and crops
them (`num_crops` crops each), and `tsm_tf.training.evaluation.average_view_scores`
averages the softmax scores of the views. A video that cannot be used (missing,
empty, cut short, not a video) is a result with its reason, never an exception.
"""

import contextlib
import dataclasses
import os
import shutil
import tempfile
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator

import keras
import numpy as np

from tsm_tf.data.sampling import SAMPLING_MODES
from tsm_tf.prediction.timeline import Timeline
from tsm_tf.utils.argument_checks import check_choice
from tsm_tf.utils.argument_checks import check_positive_int
from tsm_tf.utils.top_classes import top_classes

NUM_CROPS_CHOICES = (1, 3)


@dataclasses.dataclass(frozen=True)
class VideoPrediction:
    """What a model says about one video.

    Attributes:
        video: the path as it was given.
        labels: the top-k class names, best first (empty when `error` is set).
        scores: their scores: softmax averaged over the views (or the windows).
        protocol: how the video was read, e.g. `{"num_clips": 2, "num_crops": 3,
            "sampling": "segment"}` or a timeline's window and stride.
        num_frames: frames decoded.
        seconds: the video's length, `num_frames / frame rate` (0 when unknown).
        error: why the video gave no prediction (`"unreadable"`, `"zero frames"`),
            or None.
        detail: what went wrong, or a note on how the video was read (a video
            shorter than one window); None when there is nothing to say.
        timeline: windows and segments (`predict_timelines`), else None.
        all_scores: every class's score, in the model's class order (None on error).
    """

    video: str
    labels: tuple[str, ...] = ()
    scores: tuple[float, ...] = ()
    protocol: dict = dataclasses.field(default_factory=dict)
    num_frames: int = 0
    seconds: float = 0.0
    error: str | None = None
    detail: str | None = None
    timeline: Timeline | None = None
    all_scores: np.ndarray | None = dataclasses.field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """The result as JSON-ready data (one line of `tsm-predict`'s .jsonl), without `all_scores`."""
        row = {
            "video": self.video,
            "labels": list(self.labels),
            "scores": [round(float(score), 6) for score in self.scores],
            "protocol": self.protocol,
            "num_frames": self.num_frames,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "detail": self.detail,
        }
        if self.timeline is not None:
            row["timeline"] = self.timeline.to_dict()
        return row


def predict_videos(
    model: "keras.Model | str",
    videos: Iterable[str],
    top_k: int = 5,
    num_clips: int = 1,
    num_crops: int = 1,
    sampling: str = "segment",
    resize_shorter_side: int | None = None,
) -> Iterator[VideoPrediction]:
    """Classifies each video with the paper's test protocol; yields results in input order.

    Args:
        model: a clip classifier: a `.keras` file (from `tsm-train`), a
            `TSMClassifier` (or any Keras model taking `(batch, num_segments,
            size, size, 3)` RGB clips in [0, 255]) or a preset name.
        videos: video paths (local, or any `tf.io.gfile` path such as `gs://...`).
        top_k: classes kept per video.
        num_clips: clips spread through each video.
        num_crops: 1 (centre) or 3 (the full-resolution protocol) crops per clip.
        sampling: `"segment"` (TSN) or `"dense"`; see `tsm_tf.data.sampling`.
        resize_shorter_side: the shorter side before cropping; default
            `image_size * 256 // 224`, as in `tsm-eval`.

    Yields:
        A `VideoPrediction` per video; unusable videos carry `error` and `detail`.

    Raises:
        ValueError: the model is not a clip classifier, or a bad argument;
            raised before any video is decoded.
    """
    check_positive_int("top_k", top_k)
    check_positive_int("num_clips", num_clips)
    check_choice("num_crops", num_crops, NUM_CROPS_CHOICES)
    check_choice("sampling", sampling, SAMPLING_MODES)
    model = load_clip_model(model)
    protocol = {"num_clips": num_clips, "num_crops": num_crops, "sampling": sampling}
    views = _ViewMaker(model, resize_shorter_side)

    def predict_one(path):
        views_of_video, num_frames, frame_rate = video_views(
            path, views.contract, num_clips, num_crops, sampling
        )
        scores = views.scores(views_of_video, num_clips * num_crops)
        return make_prediction(path, views.labels, scores, top_k, protocol, num_frames, frame_rate)

    yield from _each_video(videos, predict_one, protocol)


def predict_timelines(
    model: "keras.Model | str",
    videos: Iterable[str],
    window_seconds: float = 2.0,
    stride_seconds: float = 1.0,
    score_threshold: float = 0.5,
    top_k: int = 3,
    resize_shorter_side: int | None = None,
) -> Iterator[VideoPrediction]:
    """A timeline per video: the clip model on windows through it, merged into segments.

    Windows of `window_seconds` start every `stride_seconds` (the last one
    ends with the video); each is one centre clip of the model's
    `num_segments` frames (TSN's segment rule within the window). Consecutive
    windows with the same top-1 scoring at least `score_threshold` merge into
    a segment; see `tsm_tf.prediction.timeline`. A video shorter than one
    window gets one window over what it has, said in its `detail`. The
    video-level `labels` and `scores` average every window's scores.

    Args and Raises: as `predict_videos`, with the window, stride and
    threshold above.
    """
    from tsm_tf.prediction.timeline import video_timeline

    check_positive_int("top_k", top_k)
    for name, value in (("window_seconds", window_seconds), ("stride_seconds", stride_seconds)):
        if not value > 0:
            raise ValueError(f"`{name}` must be a positive number of seconds. Received: {value!r}")
    model = load_clip_model(model)
    protocol = {"window_seconds": window_seconds, "stride_seconds": stride_seconds}
    views = _ViewMaker(model, resize_shorter_side)

    def predict_one(path):
        with local_copy(path) as local:
            timeline, num_frames, frame_rate, note = video_timeline(
                local,
                lambda clips: views.scores_of_clips(clips),
                views.num_segments,
                views.labels,
                window_seconds,
                stride_seconds,
                score_threshold,
                top_k,
            )
        scores = np.mean([window.all_scores for window in timeline.windows], axis=0)
        result = make_prediction(
            path, views.labels, scores, top_k, protocol, num_frames, frame_rate
        )
        return dataclasses.replace(result, timeline=timeline, detail=note)

    yield from _each_video(videos, predict_one, protocol)


def load_clip_model(model: "keras.Model | str") -> keras.Model:
    """A clip classifier from a `.keras` path, a preset name or a model; refuses other kinds.

    Raises:
        ValueError: a streaming `.tflite`, an online (frame-by-frame) model, or
            a model whose input is not `(batch, num_segments, size, size, 3)`.
        FileNotFoundError: no such `.keras` file.
    """
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if path.endswith(".tflite"):
            raise ValueError(
                f"{path} is a TFLite model; classifying whole videos takes a clip model: a "
                ".keras file from tsm-train, a TSMClassifier or a preset name. A streaming "
                ".tflite runs frame by frame in tsm-stream."
            )
        if path.endswith(".keras"):
            import tensorflow as tf

            if not tf.io.gfile.exists(path):
                raise FileNotFoundError(
                    f"No model file at {path}. Expected a .keras clip model written by tsm-train."
                )
            import tsm_tf.models  # noqa: F401  (registers the model and its layers)

            model = keras.models.load_model(path, compile=False)
        else:
            from tsm_tf.models.tsm_classifier import TSMClassifier

            model = TSMClassifier.from_preset(path)
    if not isinstance(model, keras.Model):
        raise ValueError(
            "`model` must be a .keras path, a preset name or a Keras clip model. "
            f"Received: {type(model).__name__}"
        )
    inputs = model.inputs
    shape = tuple(inputs[0].shape) if len(inputs) == 1 else None
    if shape is None or len(shape) != 5 or shape[-1] != 3 or shape[2] != shape[3] or not shape[1]:
        received = [tuple(tensor.shape) for tensor in inputs]
        raise ValueError(
            "Classifying videos takes a clip model with one input of RGB clips "
            "(batch, num_segments, size, size, 3), such as a TSMClassifier. "
            f"Received a model with inputs {received}"
            + (
                " (an online model, one frame at a time: use its clip model)"
                if len(inputs) > 1
                else ""
            )
            + "."
        )
    return model


def read_sampled_frames(
    path: str, pick: Callable[[int], np.ndarray]
) -> tuple[np.ndarray, int, float]:
    """Decodes a video once, keeping only the frames `pick(num_frames)` names.

    The container's declared frame count chooses the frames during the one
    decoding pass; when the count decoded differs, a second pass picks by the
    true count, so the frames are exactly those of the decoded video and
    memory holds only the sampled frames, however long the video.

    Returns:
        (frames `(len(indices), H, W, 3)` uint8, frames decoded, frame rate).

    Raises:
        SkipVideo: the video cannot be decoded (see `tsm_tf.data.video_io`).
    """
    from tsm_tf.data.video_io import iterate_video

    with local_copy(path) as local:
        guess = _declared_frame_count(local)
        for _ in range(2):
            wanted = set(pick(guess).tolist()) if guess else set()
            kept, num_frames = {}, 0
            frames, frame_rate = iterate_video(local)
            for index, frame in enumerate(frames):
                if index in wanted:
                    kept[index] = frame
                num_frames += 1
            indices = pick(num_frames)
            if all(index in kept for index in indices):
                return np.stack([kept[index] for index in indices]), num_frames, frame_rate
            guess = num_frames
    raise AssertionError("the second pass picks by the count the first one decoded")


@contextlib.contextmanager
def local_copy(path: str) -> Iterator[str]:
    """`path` itself when local; else a temporary local copy of a `tf.io.gfile` file."""
    if "://" not in path:
        yield path
        return
    import tensorflow as tf

    from tsm_tf.data.video_io import UNREADABLE
    from tsm_tf.data.video_io import SkipVideo

    folder = tempfile.mkdtemp(prefix="tsm-predict-")
    try:
        local = os.path.join(folder, os.path.basename(path))
        try:
            tf.io.gfile.copy(path, local)
        except (tf.errors.OpError, OSError) as error:
            raise SkipVideo(UNREADABLE, f"cannot copy it here: {error}") from error
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclasses.dataclass(frozen=True)
class ClipContract:
    """What a clip model takes: `num_segments` frames, `image_size` crops of frames resized so
    their shorter side is `resize_shorter_side`."""

    num_segments: int
    image_size: int
    resize_shorter_side: int


def video_views(
    path: str, contract: ClipContract, num_clips: int, num_crops: int, sampling: str
) -> tuple[np.ndarray, int, float]:
    """A video's test views `(num_clips * num_crops, num_segments, S, S, 3)`, frames, frame rate.

    Raises:
        SkipVideo: the video cannot be decoded.
    """
    from tsm_tf.data.augmentation import eval_views
    from tsm_tf.data.sampling import sample_indices

    def pick(num_frames):
        indices = sample_indices(
            num_frames, contract.num_segments, sampling, training=False, num_clips=num_clips
        )
        return indices.numpy().reshape(-1)

    frames, num_frames, frame_rate = read_sampled_frames(path, pick)
    views = eval_views(
        frames,
        contract.num_segments,
        contract.image_size,
        contract.resize_shorter_side,
        num_clips,
        num_crops,
    )
    return views.numpy(), num_frames, frame_rate


class _ViewMaker:
    """The model with its input contract: clips in, averaged softmax scores out."""

    def __init__(self, model, resize_shorter_side):
        from tsm_tf.lite.preprocessing import default_resize_shorter_side

        self.model = model
        self.num_segments, self.image_size = model.input.shape[1], model.input.shape[2]
        self.contract = ClipContract(
            self.num_segments,
            self.image_size,
            resize_shorter_side or default_resize_shorter_side(self.image_size),
        )
        self.labels = model_labels(model)

    def scores(self, views, num_views):
        """One video's views `(num_views, num_segments, S, S, 3)` to its averaged scores."""
        from tsm_tf.training.evaluation import average_view_scores

        return average_view_scores(self.model, views[None] if num_views > 1 else views, num_views)[
            0
        ]

    def scores_of_clips(self, clips):
        """Centre views of several clips `(clips, num_segments, H, W, 3)` to their scores each."""
        from tsm_tf.data.augmentation import eval_views
        from tsm_tf.training.evaluation import average_view_scores

        contract = self.contract
        views = np.concatenate(
            [
                eval_views(
                    clip, contract.num_segments, contract.image_size, contract.resize_shorter_side
                )
                for clip in clips
            ]
        )
        return average_view_scores(self.model, views, 1)


def model_labels(model: keras.Model) -> list[str]:
    """The model's class names, or "0", "1", ... when it has none."""
    labels = getattr(model, "labels", None)
    return list(labels) if labels else [str(index) for index in range(model.output.shape[-1])]


def make_prediction(path, labels, scores, top_k, protocol, num_frames, frame_rate):
    """A `VideoPrediction` from a video's scores over every class."""
    best = top_classes(scores, labels, top_k)
    return VideoPrediction(
        video=path,
        labels=tuple(label for label, _ in best),
        scores=tuple(score for _, score in best),
        protocol=protocol,
        num_frames=num_frames,
        seconds=num_frames / frame_rate if frame_rate else 0.0,
        all_scores=scores,
    )


def _each_video(videos, predict_one, protocol):
    """`predict_one(path)` for each video; a video that cannot be used becomes an error row."""
    from tsm_tf.data.video_io import SkipVideo

    if isinstance(videos, (str, os.PathLike)):
        raise ValueError(
            "`videos` is a list of video paths. Received one path: "
            f"{os.fspath(videos)!r}; pass [{os.fspath(videos)!r}]."
        )
    for video in videos:
        path = os.fspath(video)
        try:
            yield predict_one(path)
        except SkipVideo as error:
            yield VideoPrediction(path, protocol=protocol, error=error.reason, detail=error.detail)


def _declared_frame_count(path):
    """The frame count the container declares, or 0 when it declares none or cannot be opened."""
    import av

    try:
        with av.open(path) as container:
            streams = container.streams.video
            return int(streams[0].frames) if streams else 0
    except (av.FFmpegError, OSError, ValueError):
        return 0
