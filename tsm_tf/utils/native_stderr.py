"""Keeps TensorFlow's native start-up chatter off the terminal unless asked for.

TensorFlow's C++ libraries write lines such as "Could not find cuda drivers"
and "oneDNN custom operations are on" straight to file descriptor 2 while
they load, before any Python or absl log level applies, so they can only be
kept quiet at the descriptor. Set `TSM_TF_VERBOSE=1` to see them.
"""

import contextlib
import os
import sys
import tempfile

VERBOSE_ENVIRONMENT_VARIABLE = "TSM_TF_VERBOSE"


def verbose() -> bool:
    """Whether the user asked for TensorFlow's native logs (`TSM_TF_VERBOSE=1`)."""
    return os.environ.get(VERBOSE_ENVIRONMENT_VARIABLE, "").lower() in ("1", "true", "yes")


@contextlib.contextmanager
def captured_native_stderr():
    """Sends what native code writes to stderr into a buffer while the block runs.

    The buffer is written back to stderr if the block raises (so an import
    or conversion failure keeps its native explanation) or when
    `TSM_TF_VERBOSE=1`; otherwise it is dropped.

    Yields:
        A text stream to the real stderr, for what the block must still show
        (progress lines from inside the converter's calibration).
    """
    if verbose():
        yield sys.stderr
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no descriptor 2 (some notebook kernels and GUI launchers)
        yield sys.stderr
        return
    with tempfile.TemporaryFile() as buffer:
        os.dup2(buffer.fileno(), 2)
        real_stderr = open(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="replace")
        failed = True
        try:
            yield real_stderr
            failed = False
        finally:
            real_stderr.close()
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                buffer.seek(0)
                os.write(2, buffer.read())
