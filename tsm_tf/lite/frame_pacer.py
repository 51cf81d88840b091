"""Picks frames by timestamp at the frame rate a streaming model expects.

The temporal shift mixes features of consecutive frames, so the time between
the frames a streaming model sees sets the motion speed it perceives. A model
trained on frames 0.1 s apart should be fed one frame every 0.1 s, whatever
rate the camera or the video delivers. `FramePacer` decides, frame by frame,
from timestamps alone; the Android core's `FramePacer.kt` makes the same
choices with the same integer arithmetic (checked by a shared golden sequence,
`tsm_tf.lite.pacer_golden`).

The rule, in integer nanoseconds (`period = floor(1e9 / frame_rate + 0.5)`,
`tolerance = period // 4`):

- the first frame (and the first after `reset()`) is taken, and the next frame
  is due one period later;
- a frame is taken when it is at most `tolerance` before the time it is due
  (so a jittery camera whose frame lands just early still counts);
- after a frame is taken, the next is due one period after the previous due
  time (the schedule keeps the average rate exact), but never earlier than
  `period - tolerance` after the frame taken (after a gap, it restarts from
  that frame instead of catching up with a burst).

A source slower than the model's rate therefore has every frame taken.
"""

import math
import numbers

NANOSECONDS_PER_SECOND = 1_000_000_000


def period_nanoseconds(frame_rate: float) -> int:
    """The pacer's period for `frame_rate`: `floor(1e9 / frame_rate + 0.5)` ns."""
    return int(math.floor(1e9 / frame_rate + 0.5))


def to_nanoseconds(timestamp_seconds) -> int:
    """Seconds (a float or an exact `fractions.Fraction`) to integer nanoseconds."""
    if isinstance(timestamp_seconds, bool) or not isinstance(timestamp_seconds, numbers.Real):
        raise ValueError(
            "A timestamp is a number of seconds (a float or a fractions.Fraction). "
            f"Received: {timestamp_seconds!r}"
        )
    if not math.isfinite(timestamp_seconds):
        raise ValueError(f"A timestamp must be finite. Received: {timestamp_seconds!r}")
    return int(math.floor(timestamp_seconds * NANOSECONDS_PER_SECOND + 0.5))


def check_frame_rate(frame_rate, name: str = "frame_rate"):
    """`frame_rate` as a float, or None; raises a clear `ValueError` otherwise."""
    if frame_rate is None:
        return None
    if isinstance(frame_rate, bool) or not isinstance(frame_rate, (int, float)):
        raise ValueError(
            f"`{name}` must be frames per second (a positive number) or None to "
            f"feed every frame. Received: {name}={frame_rate!r}"
        )
    if not math.isfinite(frame_rate) or not 0 < frame_rate <= 1000:
        raise ValueError(
            f"`{name}` must be a positive number of frames per second, at most "
            f"1000, or None to feed every frame. Received: {name}={frame_rate!r}"
        )
    return float(frame_rate)


class FramePacer:
    """Chooses which frames of a stream to feed, by timestamp, at `frame_rate`.

    Args:
        frame_rate: frames per second the model expects (the metadata's
            `frame_rate`), or None to take every frame.

    Example:

    >>> pacer = FramePacer(10.0)
    >>> [pacer.accept(index / 30) for index in range(7)]   # a 30 fps video
    [True, False, False, True, False, False, True]
    >>> pacer.summary()
    'fed 3 of 7 frames, 10.0 fps (the model expects 10.0 fps)'
    """

    def __init__(self, frame_rate: float | None):
        self.frame_rate = check_frame_rate(frame_rate)
        self.period = None if self.frame_rate is None else period_nanoseconds(self.frame_rate)
        self.tolerance = None if self.period is None else self.period // 4
        self.reset()

    def reset(self) -> None:
        """Starts a new stream: the next frame is taken and restarts the schedule."""
        self._next_due = None
        self.num_offered = 0
        self.num_taken = 0
        self._first_offered = None
        self._last_offered = None
        self._first_taken = None
        self._last_taken = None

    def accept(self, timestamp) -> bool:
        """Whether to feed the frame shown at `timestamp` (seconds; float or Fraction)."""
        return self.accept_nanoseconds(to_nanoseconds(timestamp))

    def accept_nanoseconds(self, timestamp: int) -> bool:
        """`accept` for an integer timestamp in nanoseconds (a camera's clock)."""
        if self._last_taken is not None and timestamp < self._last_taken:
            # The clock went back: a new source. Start the schedule over.
            self._next_due = None
        take = (
            self.period is None
            or self._next_due is None
            or timestamp >= self._next_due - self.tolerance
        )
        if take and self.period is not None:
            if self._next_due is None:
                self._next_due = timestamp + self.period
            else:
                self._next_due = max(self._next_due, timestamp - self.tolerance) + self.period
        self.num_offered += 1
        if self._first_offered is None:
            self._first_offered = timestamp
        self._last_offered = timestamp
        if take:
            self.num_taken += 1
            if self._first_taken is None:
                self._first_taken = timestamp
            self._last_taken = timestamp
        return take

    @property
    def taken_rate(self) -> float | None:
        """Frames per second actually fed since the reset (None before two frames)."""
        return _rate(self.num_taken, self._first_taken, self._last_taken)

    @property
    def offered_rate(self) -> float | None:
        """Frames per second offered since the reset (None before two frames)."""
        return _rate(self.num_offered, self._first_offered, self._last_offered)

    def source_is_slower(self) -> bool:
        """Whether the frames come slower than the model's rate (all are fed)."""
        offered = self.offered_rate
        return self.frame_rate is not None and offered is not None and offered < self.frame_rate

    def summary(self) -> str:
        """One line: frames fed, the rate they were fed at, and the model's rate."""
        taken = self.taken_rate
        rate = "-" if taken is None else f"{taken:.1f} fps"
        expected = (
            "the model takes every frame"
            if self.frame_rate is None
            else f"the model expects {self.frame_rate:.1f} fps"
        )
        frames = "frame" if self.num_offered == 1 else "frames"
        return f"fed {self.num_taken} of {self.num_offered} {frames}, {rate} ({expected})"


def _rate(count, first, last):
    if count < 2 or last is None or last <= first:
        return None
    return (count - 1) * NANOSECONDS_PER_SECOND / (last - first)
