"""Which videos `tsm-predict` reads: a folder, a glob, a list file or one video, on any file system."""

import csv
import io
import posixpath

from tsm_tf.data.video_io import VIDEO_EXTENSIONS

LIST_EXTENSIONS = (".txt", ".csv")
# First cells of a CSV header row (the row is left out).
_HEADER_NAMES = ("video", "path", "file", "filename")


def list_videos(spec: str) -> list[str]:
    """The video paths `spec` names, each once, in a stable order.

    `spec` is one of: a folder (every file with a video extension under it,
    sorted, sub-folders included); a glob (`videos/*.mp4`, `gs://bucket/**`:
    every match, video or not, so a stray file becomes an error row rather
    than vanishing); a `.txt` list (a path per line) or a `.csv` list (the
    path in the first column, an optional header row), relative paths taken
    from the list's folder; or a single video. Local paths and any
    `tf.io.gfile` path (`gs://`, `s3://` with the plugins) work.

    Raises:
        FileNotFoundError: `spec` names nothing, or a folder with no videos.
    """
    import tensorflow as tf

    if tf.io.gfile.isdir(spec):
        videos = sorted(
            posixpath.join(folder, name) if "://" in folder else _join_local(folder, name)
            for folder, _, names in tf.io.gfile.walk(spec)
            for name in names
            if name.lower().endswith(VIDEO_EXTENSIONS)
        )
        if not videos:
            raise FileNotFoundError(
                f"--videos {spec!r} is a folder with no videos in it (extensions: "
                f"{', '.join(VIDEO_EXTENSIONS)})."
            )
        return videos
    if spec.lower().endswith(LIST_EXTENSIONS) and tf.io.gfile.exists(spec):
        return _unique(_read_list(spec))
    if any(character in spec for character in "*?["):
        videos = sorted(tf.io.gfile.glob(spec))
        if not videos:
            raise FileNotFoundError(f"--videos {spec!r} matches no file.")
        return videos
    if tf.io.gfile.exists(spec):
        return [spec]
    raise FileNotFoundError(
        f"--videos {spec!r} does not exist. Expected a folder of videos, a glob "
        "('videos/*.mp4'), a .txt or .csv list of paths, or a video."
    )


def _read_list(path):
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "r") as file:
        text = file.read()
    folder = posixpath.dirname(path) if "://" in path else _dirname_local(path)
    if path.lower().endswith(".csv"):
        rows = [row[0].strip() for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
        if rows and rows[0].lower() in _HEADER_NAMES:
            rows = rows[1:]
    else:
        rows = [line.strip() for line in text.splitlines() if line.strip()]
    return [_resolve(row, folder) for row in rows]


def _resolve(entry, folder):
    if "://" in entry or entry.startswith("/") or not folder:
        return entry
    return posixpath.join(folder, entry) if "://" in folder else _join_local(folder, entry)


def _unique(paths):
    return list(dict.fromkeys(paths))


def _join_local(folder, name):
    import os

    return os.path.join(folder, name)


def _dirname_local(path):
    import os

    return os.path.dirname(path)
