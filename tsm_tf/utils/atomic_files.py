"""Atomic file writes: a temporary file beside the target, then a rename.

Every file tsm_tf writes (checkpoints, record shards, TFLite models, metadata,
reports) goes through here, so an interruption leaves either the old file or
none, never a half-written one.
"""

import contextlib
import os
import tempfile


def _umask_file_mode():
    # mkstemp creates 0600 files; finished files get the usual umask-based mode.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _umask_file_mode()
_PREFIX = ".tmp-"


def temporary_path_beside(path, suffix=None) -> str:
    """Creates an empty temporary file in `path`'s folder (made if missing); returns its path.

    `suffix` defaults to `path`'s own extensions (`.keras`, `.tfrecord`...),
    which some writers (`keras.Model.save`) insist on.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if suffix is None:
        name = os.path.basename(path)
        suffix = name[name.index(".") :] if "." in name else ""
    handle, temporary = tempfile.mkstemp(prefix=_PREFIX, suffix=suffix, dir=folder)
    os.close(handle)
    return temporary


def commit(temporary, path) -> None:
    """Gives the finished temporary file the usual mode and renames it onto `path`."""
    os.chmod(temporary, _FILE_MODE)
    os.replace(temporary, os.fspath(path))


def discard(temporary) -> None:
    """Removes a temporary file that will not be committed."""
    if os.path.exists(temporary):
        os.remove(temporary)


def discard_temporaries_in(folder) -> None:
    """Removes every temporary file in `folder`, for the owner of a folder whose writers
    were stopped before they could discard their own."""
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        if name.startswith(_PREFIX):
            discard(os.path.join(folder, name))


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yields a temporary path beside `path`; renames it onto `path` when the block succeeds.

    Example:

    >>> with atomic_path("run/last.keras") as temporary:
    ...     model.save(temporary)
    """
    temporary = temporary_path_beside(path, suffix)
    try:
        yield temporary
        commit(temporary, path)
    finally:
        discard(temporary)


def write_atomically(path, data: bytes | str) -> None:
    """Writes `data` (bytes, or text as UTF-8) to `path` atomically."""
    with atomic_path(path) as temporary:
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(
            temporary, mode, **({} if isinstance(data, bytes) else {"encoding": "utf-8"})
        ) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
