"""Progress of long steps: a bar on a terminal, a plain line every few seconds in logs, or nothing.

The command-line tools report progress (`--noprogress` turns it off); library
functions such as `evaluate`, `export_tflite` and `check_parity` are quiet
unless called with `progress=True`. On a terminal (or in a notebook) the bar is
Keras's (`keras.utils.Progbar`, on stdout); elsewhere (a log file, CI) a line
`description: count/total units (elapsed, rate)` goes to stderr every
`TSM_TF_PROGRESS_SECONDS` seconds (10 by default; 0 writes a line per update),
and a last one when the step ends.
"""

import os
import sys
import time
from collections.abc import Iterable
from collections.abc import Iterator
from typing import TextIO

INTERVAL_ENVIRONMENT_VARIABLE = "TSM_TF_PROGRESS_SECONDS"
DEFAULT_INTERVAL_SECONDS = 10.0


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """`count` with its noun: "1 frame", "64 frames", "2 batches" (with `plural_form`)."""
    noun = singular if count == 1 else (plural_form or singular + "s")
    return f"{count} {noun}"


def format_seconds(seconds: float) -> str:
    """A duration rounded for people: "0.4 s", "12 s", "3 min 05 s", "1 h 02 min"."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_bytes(size: int) -> str:
    """A file size rounded for people: "812 bytes", "641 KiB", "13.4 MiB"."""
    if size < 1024:
        return plural(size, "byte")
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            return f"{size:.3g} {unit}" if size < 100 else f"{size:.0f} {unit}"
    raise AssertionError("unreachable")


def default_interval_seconds(default: float = DEFAULT_INTERVAL_SECONDS) -> float:
    """Seconds between plain progress lines: `TSM_TF_PROGRESS_SECONDS`, else `default`."""
    value = os.environ.get(INTERVAL_ENVIRONMENT_VARIABLE, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also refuses nan
        raise ValueError(
            f"{INTERVAL_ENVIRONMENT_VARIABLE} must be a number of seconds >= 0 "
            f"(0: a line per update). Received: {value!r}."
        )
    return seconds


def on_terminal() -> bool:
    """Whether stdout redraws in place: a terminal or a notebook."""
    return (hasattr(sys.stdout, "isatty") and sys.stdout.isatty()) or "ipykernel" in sys.modules


class Progress:
    """Reports `count/total` of a long step: a bar, periodic lines, or nothing.

    Example:
        with Progress(len(frames), "frame", "Calibrating", enabled=True) as progress:
            for index, frame in enumerate(frames):
                ...
                progress.update(index + 1)

    Args:
        total: the count at which the step is done, or None if unknown.
        unit: the singular noun of what is counted ("video", "frame").
        description: names the step at the start of a plain line.
        enabled: False reports nothing.
        interval_seconds: seconds between plain lines; default
            `default_interval_seconds()` (`TSM_TF_PROGRESS_SECONDS`, else 10).
        stream: where plain lines go; default sys.stderr.
        bar: True for the bar, False for plain lines; default `on_terminal()`.
        plural_form: the plural of `unit` if not `unit + "s"`.
    """

    def __init__(
        self,
        total: int | None,
        unit: str,
        description: str,
        enabled: bool = True,
        interval_seconds: float | None = None,
        stream: TextIO | None = None,
        bar: bool | None = None,
        plural_form: str | None = None,
    ):
        self.total = total
        self.unit = unit
        self.description = description
        self.enabled = enabled
        self.count = 0
        self._units = plural_form or unit + "s"
        self._interval = (
            default_interval_seconds() if interval_seconds is None else interval_seconds
        )
        self._stream = stream or sys.stderr
        self._start = self._last_line = time.monotonic()
        self._reported = None
        self._progbar = None
        if enabled and (on_terminal() if bar is None else bar):
            import keras  # only for the bar; plain lines need no TensorFlow

            self._progbar = keras.utils.Progbar(total, unit_name=unit)

    def update(self, count: int, detail: str | None = None) -> None:
        """Sets the count done so far; `detail` (e.g. "loss 0.4132") follows it on plain lines."""
        self.count = count
        if not self.enabled:
            return
        if self._progbar is not None:
            self._progbar.update(count)
            return
        now = time.monotonic()
        if now - self._last_line >= self._interval:
            self._write_line(now, detail)

    def close(self) -> None:
        """Ends the step: the bar drawn complete, or a last plain line if the count moved."""
        if not self.enabled:
            return
        if self._progbar is not None:
            # Keras finishes the bar by itself when the count reaches a known total.
            if self.total is None or self.count < self.total:
                self._progbar.update(self.count, finalize=True)
        elif self._reported != self.count:
            self._write_line(time.monotonic(), None)

    def track(self, items: Iterable) -> Iterator:
        """Yields `items`, counting each one done when the next is asked for; closes at the end."""
        done = 0
        for item in items:
            yield item
            done += 1
            self.update(done)
        self.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        if error_type is None:
            self.close()

    def _write_line(self, now, detail):
        self._last_line = now
        self._reported = self.count
        elapsed = now - self._start
        counted = (
            f"{self.count}/{plural(self.total, self.unit, self._units)}"
            if self.total is not None
            else plural(self.count, self.unit, self._units)
        )
        timing = format_seconds(elapsed)
        if self.count and elapsed > 0:
            timing += f", {_rounded_rate(self.count / elapsed)} {self._units}/s"
        detail = f", {detail}" if detail else ""
        self._stream.write(f"{self.description}: {counted}{detail} ({timing})\n")
        self._stream.flush()


def _rounded_rate(rate):
    """Whole numbers from 10 up, two significant figures below: 1234, 37, 5.9, 0.012."""
    return f"{rate:.0f}" if rate >= 10 else f"{rate:.2g}"
