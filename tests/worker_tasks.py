"""Tasks for tests of tsm_tf.data.workers: module-level, so spawned workers can import them,
and light, so they import nothing heavy."""

import os
import signal
import time

from tsm_tf.data.workers import report_progress


def sleep_or_die(seconds):
    """Sleeps `seconds`, or, if negative, kills its own process with SIGKILL (as the kernel's
    out-of-memory killer would)."""
    if seconds < 0:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(seconds)
    report_progress()
    return seconds
