"""Golden frame-pacing sequences for the Android core's `FramePacer` (a JVM test).

    python -m tsm_tf.cli.pacer_golden --output=/tmp/golden/pacer.json

writes camera timestamps (integer nanoseconds) and the frames `tsm_tf.FramePacer`
takes from them, for cameras faster and slower than the model's rate, one with
jittery timestamps and one with dropped frames. tests/test_android_core.py
writes it beside the model golden vectors and `FramePacerGoldenTest.kt`
replays it.
"""

import json

import numpy as np

from tsm_tf.lite.frame_pacer import FramePacer
from tsm_tf.utils.atomic_files import write_atomically

PACER_FILE = "pacer.json"


def _camera(rate, num_frames, start_ns, jitter_ns=0, drop=(), seed=0):
    rng = np.random.default_rng(seed)
    period = 1e9 / rate
    stamps = []
    for index in range(num_frames):
        if index in drop:
            continue
        jitter = int(rng.integers(-jitter_ns, jitter_ns + 1)) if jitter_ns else 0
        stamps.append(start_ns + int(round(index * period)) + (jitter if index else 0))
    return stamps


def golden_sequences() -> list[dict]:
    """The cases: `{name, frame_rate, timestamps_ns, chosen}` (chosen: taken indices)."""
    # Camera clocks start far from zero (Android's boot-time nanoseconds).
    start = 123_456_789_012_345
    cases = [
        (
            "jittery_30fps_camera_at_10fps",
            10.0,
            _camera(30, 90, start, jitter_ns=6_000_000, seed=1),
        ),
        ("fast_60fps_camera_at_15fps", 15.0, _camera(60, 120, start, jitter_ns=1_000_000, seed=2)),
        ("slow_8fps_camera_at_10fps", 10.0, _camera(8, 24, start, jitter_ns=3_000_000, seed=3)),
        (
            "dropped_frames_30fps_at_12_5fps",
            12.5,
            _camera(30, 60, start, drop={7, 8, 9, 10, 30}, seed=4),
        ),
        ("ntsc_29_97fps_at_10fps", 10.0, _camera(30000 / 1001, 60, start)),
        ("every_frame_without_a_rate", None, _camera(30, 20, start, jitter_ns=6_000_000, seed=5)),
    ]
    sequences = []
    for name, frame_rate, stamps in cases:
        pacer = FramePacer(frame_rate)
        chosen = [index for index, stamp in enumerate(stamps) if pacer.accept_nanoseconds(stamp)]
        sequences.append(
            {"name": name, "frame_rate": frame_rate, "timestamps_ns": stamps, "chosen": chosen}
        )
    return sequences


def write_pacer_golden(path: str) -> str:
    """Writes the sequences as JSON, atomically; returns the path."""
    text = json.dumps({"cases": golden_sequences()}, indent=1) + "\n"
    write_atomically(path, text.encode("utf-8"))
    return path
