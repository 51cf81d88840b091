"""The TFRecord format: one video per `tf.train.Example`, in sharded files.

Features of each example:

| key | type | meaning |
| --- | --- | --- |
| `video/frames` | bytes list | every frame, JPEG-encoded, in order |
| `video/label` | int64 | class index (line number in `labels.txt`) |
| `video/id` | bytes | a video id (path relative to the source root) |
| `video/num_frames` | int64 | number of frames |
| `video/frame_rate` | float | frames per second (0 when unknown) |
| `video/height`, `video/width` | int64 | size of the stored frames |

Shards are named `{split}-{index:05d}-of-{num_shards:05d}.tfrecord`, with the
label map `labels.txt` (one class name per line) beside them.
"""

import os
from collections.abc import Iterator
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tsm_tf.data.video_io import VIDEO_EXTENSIONS
from tsm_tf.utils import atomic_files as atomic
from tsm_tf.utils.atomic_files import write_atomically
from tsm_tf.utils.label_files import read_label_file

READ_BUFFER_BYTES = 1 << 20

FRAMES = "video/frames"
LABEL = "video/label"
VIDEO_ID = "video/id"
NUM_FRAMES = "video/num_frames"
FRAME_RATE = "video/frame_rate"
HEIGHT = "video/height"
WIDTH = "video/width"

LABELS_FILE = "labels.txt"


FEATURES = {
    FRAMES: tf.io.RaggedFeature(tf.string),
    LABEL: tf.io.FixedLenFeature([], tf.int64),
    VIDEO_ID: tf.io.FixedLenFeature([], tf.string),
    NUM_FRAMES: tf.io.FixedLenFeature([], tf.int64),
    FRAME_RATE: tf.io.FixedLenFeature([], tf.float32, default_value=0.0),
    HEIGHT: tf.io.FixedLenFeature([], tf.int64, default_value=0),
    WIDTH: tf.io.FixedLenFeature([], tf.int64, default_value=0),
}


def serialize_video(
    frames: Sequence[bytes],
    label: int,
    video_id: str,
    frame_rate: float,
    height: int,
    width: int,
) -> bytes:
    """One video as a serialized `tf.train.Example` (frames already JPEG-encoded)."""
    feature = tf.train.Feature
    example = tf.train.Example(
        features=tf.train.Features(
            feature={
                FRAMES: feature(bytes_list=tf.train.BytesList(value=list(frames))),
                LABEL: feature(int64_list=tf.train.Int64List(value=[int(label)])),
                VIDEO_ID: feature(bytes_list=tf.train.BytesList(value=[video_id.encode("utf-8")])),
                NUM_FRAMES: feature(int64_list=tf.train.Int64List(value=[len(frames)])),
                FRAME_RATE: feature(float_list=tf.train.FloatList(value=[float(frame_rate)])),
                HEIGHT: feature(int64_list=tf.train.Int64List(value=[int(height)])),
                WIDTH: feature(int64_list=tf.train.Int64List(value=[int(width)])),
            }
        )
    )
    # Deterministic: protobuf map order otherwise varies between processes.
    return example.SerializeToString(deterministic=True)


def parse_video(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
    """Parses one serialized example (in graph) into a dict of the features above."""
    return tf.io.parse_single_example(serialized, FEATURES)


def shard_path(out_dir: str, split: str, index: int, num_shards: int) -> str:
    """The path of shard `index` of `num_shards` for `split`."""
    return os.path.join(out_dir, f"{split}-{index:05d}-of-{num_shards:05d}.tfrecord")


def shard_pattern(out_dir: str, split: str) -> str:
    """The glob pattern matching every shard of `split`."""
    return os.path.join(out_dir, f"{split}-*.tfrecord")


class AtomicRecordWriter:
    """A TFRecord writer that only shows the file under its name once complete.

    Records go to a temporary file in the same folder; leaving the `with` block
    normally renames it to `path`, leaving it with an exception deletes it, so
    a shard on disk is always a finished one.

    Example:

    >>> with AtomicRecordWriter("out/train-00000-of-00004.tfrecord") as writer:
    ...     writer.write(serialize_video(frames, 3, "clip", 25.0, 256, 340))
    """

    def __init__(self, path: str):
        self.path = path
        self._temporary = atomic.temporary_path_beside(path)
        self._writer = tf.io.TFRecordWriter(self._temporary)
        self.num_records = 0

    def write(self, record: bytes) -> None:
        """Appends one serialized example."""
        self._writer.write(record)
        self.num_records += 1

    def __enter__(self) -> "AtomicRecordWriter":
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        self._writer.close()
        if error_type is None:
            atomic.commit(self._temporary, self.path)
        else:
            atomic.discard(self._temporary)


def write_labels(out_dir: str, labels: Sequence[str]) -> str:
    """Writes `labels.txt` (one class name per line) atomically; returns its path."""
    for name in labels:
        if not name or "\n" in name or name != name.strip():
            raise ValueError(
                "Class names must be non-empty single lines without surrounding "
                f"spaces. Received: {name!r}"
            )
    path = os.path.join(out_dir, LABELS_FILE)
    write_atomically(path, "".join(f"{name}\n" for name in labels))
    return path


def list_shards(file_pattern: str | Sequence[str]) -> list[str]:
    """Sorted files matching a glob pattern (or a list of patterns); raises if none.

    Patterns may name any file system TensorFlow reads (`gs://`, `s3://`,
    `hdfs://`, local paths).
    """
    patterns = (
        [file_pattern] if isinstance(file_pattern, (str, os.PathLike)) else list(file_pattern)
    )
    files = sorted({path for pattern in patterns for path in tf.io.gfile.glob(os.fspath(pattern))})
    files = [path for path in files if not tf.io.gfile.isdir(path)]
    if not files:
        raise FileNotFoundError(
            f"No record files match {file_pattern!r}. Expected shards such as "
            "'out_dir/train-*.tfrecord' written by `tsm-prepare` or "
            "`tsm_tf.data.write_motion_dataset`."
        )
    _check_record_files(files)
    return files


def _check_record_files(files):
    """Refuses videos among the files, and a first file that does not begin as a TFRecord
    file does (one header read: shards may be remote), which TensorFlow reports only later,
    as "corrupted record at 0"."""
    refused = [path for path in files if path.lower().endswith(VIDEO_EXTENSIONS)]
    kind = "a video" if len(refused) == 1 else "videos"
    if not refused:
        with tf.io.gfile.GFile(files[0], "rb") as file:
            header = file.read(12)
        # A record is its length (8 bytes, little-endian), 4 checksum bytes, the data, 4 more.
        first_record = int.from_bytes(header[:8], "little") + 16 if len(header) == 12 else None
        if header and (first_record is None or first_record > tf.io.gfile.stat(files[0]).length):
            refused, kind = [files[0]], "not a TFRecord file"
    if refused:
        raise ValueError(
            f"{', '.join(map(repr, refused[:3]))} {'is' if len(refused) == 1 else 'are'} "
            f"{kind}: expected TFRecord shards such as 'out_dir/train-*.tfrecord'. Turn videos "
            "into shards first with `tsm-prepare --videos_dir=FOLDER_OF_CLASS_FOLDERS "
            "--output_dir=out_dir` (see docs/data.md); `tsm-stream --video=` classifies one video."
        )


def read_records(files) -> tf.data.Dataset:
    """The serialized records of `files` (a path, a list, or a tensor of paths).

    The read buffer is given (1 MiB) because TensorFlow 2.21 logs a line to stderr for every
    reader without one ("`buffer_size` is unspecified") and for one at or below its 256 KiB
    default ("overridden by the user"); at 1 MiB it logs nothing.
    """
    return tf.data.TFRecordDataset(files, buffer_size=READ_BUFFER_BYTES)


def count_records(file_pattern: str | Sequence[str]) -> int:
    """The number of records (videos) in the matching shards: one read, nothing decoded."""
    dataset = read_records(list_shards(file_pattern))
    return int(dataset.reduce(np.int64(0), lambda count, _: count + 1))


def load_labels(file_pattern_or_dir: str) -> list[str]:
    """The class names of a dataset: `labels.txt` beside its shards.

    Args:
        file_pattern_or_dir: the folder of the shards, a shard pattern such as
            `"data/train-*.tfrecord"`, or the path of `labels.txt` itself.

    Returns:
        Class names; the index of a name is its label.
    """
    path = os.fspath(file_pattern_or_dir)
    if tf.io.gfile.isdir(path):
        candidate = os.path.join(path, LABELS_FILE)
    elif os.path.basename(path) == LABELS_FILE:
        candidate = path
    else:
        candidate = os.path.join(os.path.dirname(list_shards(path)[0]), LABELS_FILE)
    if not tf.io.gfile.exists(candidate):
        raise FileNotFoundError(
            f"No label map at {candidate!r} (looked up from {file_pattern_or_dir!r}). "
            "Expected labels.txt written beside the shards by `tsm-prepare` or "
            "`write_motion_dataset`."
        )
    return read_label_file(candidate, open_file=tf.io.gfile.GFile)


def check_labels_match(
    file_pattern: str, expected: Sequence[str] | int, expected_source: str
) -> None:
    """Raises ValueError when the label map beside the shards is not `expected`.

    A record stores its class as an index, so data labelled with another
    label map would be scored against the wrong names without any error.
    Shards without `labels.txt` beside them cannot be checked and pass.

    Args:
        file_pattern: the shards, as `load_labels` takes them.
        expected: the class names in order, or only their number where the
            names are unknown (a model built without labels).
        expected_source: what `expected` belongs to, for the message
            ("the model", "the training data in data/train-*.tfrecord").
    """
    try:
        found = load_labels(file_pattern)
    except FileNotFoundError:
        return
    if isinstance(expected, int):
        if len(found) == expected:
            return
        described = f"{expected} classes"
    else:
        if list(found) == list(expected):
            return
        described = f"{len(expected)} classes: {_preview(expected)}"
    raise ValueError(
        f"The label map of {file_pattern!r} ({len(found)} classes: {_preview(found)}) is not "
        f"that of {expected_source} ({described}). A record stores its class as an index into "
        "labels.txt, so both must list the same classes in the same order: use data prepared "
        "with the same label map (tsm-prepare --labels)."
    )


def _preview(labels: Sequence[str], count: int = 5) -> str:
    shown = ", ".join(labels[:count])
    return shown + (", ..." if len(labels) > count else "")


def read_videos(file_pattern: str | Sequence[str]) -> Iterator[tuple[np.ndarray, int, str]]:
    """Every video of the matching shards, in file and record order, fully decoded.

    Yields:
        `(frames, label, video_id)`: frames uint8 `(num_frames, height, width, 3)` RGB.
    """
    for path in list_shards(file_pattern):
        for serialized in read_records(path):
            features = parse_video(serialized)
            frames = np.stack(
                [tf.io.decode_jpeg(frame, channels=3).numpy() for frame in features[FRAMES]]
            )
            yield frames, int(features[LABEL]), features[VIDEO_ID].numpy().decode("utf-8")
