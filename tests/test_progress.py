"""The progress reporter: plain lines in logs, Keras's bar on a terminal, nothing when off."""

import io
import os
import pty
import subprocess
import sys
import textwrap

import pytest

from tsm_tf.utils.progress import Progress
from tsm_tf.utils.progress import default_interval_seconds
from tsm_tf.utils.progress import format_bytes
from tsm_tf.utils.progress import format_seconds
from tsm_tf.utils.progress import plural

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_plurals_and_rounded_figures():
    assert [plural(count, "frame") for count in (0, 1, 2)] == ["0 frames", "1 frame", "2 frames"]
    assert plural(1, "batch", "batches") == "1 batch"
    assert plural(3, "batch", "batches") == "3 batches"
    assert [format_seconds(s) for s in (0.44, 12.4, 185, 3725)] == [
        "0.4 s",
        "12 s",
        "3 min 05 s",
        "1 h 02 min",
    ]
    assert [format_bytes(size) for size in (1, 812, 656552, 14_050_000)] == [
        "1 byte",
        "812 bytes",
        "641 KiB",
        "13.4 MiB",
    ]


def plain_lines(total, interval_seconds, enabled=True, **kwargs):
    stream = io.StringIO()
    progress = Progress(
        total,
        "video",
        "Evaluated",
        enabled=enabled,
        interval_seconds=interval_seconds,
        stream=stream,
        bar=False,
        **kwargs,
    )
    assert list(progress.track(range(5))) == list(range(5))
    return stream.getvalue().splitlines()


def test_plain_lines_every_update_at_interval_zero_and_a_last_line_otherwise():
    lines = plain_lines(5, interval_seconds=0)
    assert [line.split(" (")[0] for line in lines] == [
        f"Evaluated: {count}/5 videos" for count in range(1, 6)
    ]
    assert lines[-1].endswith("videos/s)")
    # A long interval leaves only the closing line; an unknown total counts without one.
    assert [line.split(" (")[0] for line in plain_lines(5, interval_seconds=3600)] == [
        "Evaluated: 5/5 videos"
    ]
    assert plain_lines(None, interval_seconds=3600)[0].startswith("Evaluated: 5 videos (")
    assert plain_lines(5, interval_seconds=0, enabled=False) == []


def test_the_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("TSM_TF_PROGRESS_SECONDS", raising=False)
    assert default_interval_seconds() == 10.0
    assert default_interval_seconds(30.0) == 30.0
    monkeypatch.setenv("TSM_TF_PROGRESS_SECONDS", "0")
    assert default_interval_seconds(30.0) == 0.0
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv("TSM_TF_PROGRESS_SECONDS", bad)
        with pytest.raises(ValueError, match="TSM_TF_PROGRESS_SECONDS must be a number"):
            default_interval_seconds()


def run_on_a_terminal(code):
    """Runs `code` with stdout and stderr on a pseudo-terminal; returns what it drew."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closes when the process ends
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(timeout=120) == 0, output.decode(errors="replace")[-2000:]
    return output.decode(errors="replace")


def test_a_terminal_gets_the_keras_bar_redrawn_in_place():
    output = run_on_a_terminal(
        """
        import time
        from tsm_tf.utils.progress import Progress
        progress = Progress(3, "frame", "Calibrating", enabled=True)
        for done in range(1, 4):
            time.sleep(0.1)
            progress.update(done)
        progress.close()
        """
    )
    assert "\r" in output and "━" in output and "3/3" in output
    assert "ms/frame" in output
    assert "Calibrating:" not in output  # no plain lines on a terminal
