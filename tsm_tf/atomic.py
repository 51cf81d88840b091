"""Atomic file writes: a temporary file beside the target, then a rename."""

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yields a temporary path in `path`'s folder; renames it onto `path` on success.

    An interruption (exception, kill) leaves either the old file or none, never
    a half-written one. `suffix` defaults to `path`'s own extension, which
    writers such as `keras.Model.save` insist on.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if suffix is None:
        name = os.path.basename(path)
        suffix = name[name.index(".") :] if "." in name else ""
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    os.close(handle)
    os.remove(temporary)  # writers create the file themselves
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_text_atomic(path, text):
    """Writes `text` to `path` atomically."""
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
