"""The built-in motion dataset: reproducible bytes, balanced labels, motions in the stated direction."""

import hashlib
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from skimage.registration import phase_cross_correlation

from tests.data_helpers import write_small_motion_dataset
from tsm_tf.data import MOTION_CLASSES
from tsm_tf.data import load_labels
from tsm_tf.data import read_videos
from tsm_tf.data import write_motion_dataset
from tsm_tf.data.motion import _MIN_TEXTURE
from tsm_tf.data.motion import render_clip
from tsm_tf.data.motion import texture

REPO = pathlib.Path(__file__).resolve().parent.parent


def digest(folder):
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.iterdir())
        if path.is_file()
    }


def test_same_seed_same_bytes_whatever_the_worker_count(tmp_path):
    first = write_small_motion_dataset(tmp_path / "a", num_clips=27, seed=5, num_workers=1)
    write_small_motion_dataset(tmp_path / "b", num_clips=27, seed=5, num_workers=2)
    write_small_motion_dataset(tmp_path / "c", num_clips=27, seed=6, num_workers=1)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")
    assert load_labels(first["train"]) == list(MOTION_CLASSES)
    train = list(read_videos(first["train"]))
    validation = list(read_videos(first["validation"]))
    assert (len(train), len(validation)) == (22, 5)
    assert sorted(label for _, label, _ in train)[:9] == [0] * 3 + [1] * 3 + [2] * 3
    frames, _, video_id = train[0]
    assert (
        frames.shape == (8, 32, 32, 3)
        and frames.dtype == np.uint8
        and video_id.startswith("train-")
    )


def mean_shift(clip):
    """Average (dy, dx) content motion between consecutive frames, by phase correlation."""
    gray = clip.astype(np.float64).mean(axis=-1)
    shifts = [
        phase_cross_correlation(gray[t + 1], gray[t], upsample_factor=4)[0]
        for t in range(len(gray) - 1)
    ]
    return np.mean(shifts, axis=0)


@pytest.mark.parametrize(
    "motion, direction",
    [("pan_left", (0, -1)), ("pan_right", (0, 1)), ("pan_up", (-1, 0)), ("pan_down", (1, 0))],
)
def test_pans_move_the_content_several_pixels_a_frame(motion, direction):
    for seed in range(3):
        shift = mean_shift(render_clip(np.random.default_rng(seed), motion, 16, 64))
        along = float(np.dot(shift, direction))
        across = float(abs(shift[0] * direction[1] - shift[1] * direction[0]))
        assert along >= 1.5 and across < 1.0, (motion, shift)


def test_speed_scales_the_motion():
    for seed in range(3):
        slow = mean_shift(render_clip(np.random.default_rng(seed), "pan_right", 8, 64))[1]
        fast = mean_shift(render_clip(np.random.default_rng(seed), "pan_right", 8, 64, speed=2.5))[
            1
        ]
        assert fast == pytest.approx(2.5 * slow, rel=0.15), (slow, fast)
    with pytest.raises(ValueError, match="speed=0"):
        write_motion_dataset("unused", num_clips=9, seed=0, speed=0)


def test_still_clips_barely_move_and_single_frames_carry_no_label():
    for seed in range(3):
        still = render_clip(np.random.default_rng(seed), "still", 16, 64).astype(np.float64)
        assert np.abs(mean_shift(still)).max() < 0.5
    # Every class starts from the same kind of frame: first-frame statistics
    # (brightness, contrast) do not separate classes.
    first_means = {
        motion: np.mean(
            [
                render_clip(np.random.default_rng(seed), motion, 2, 32)[0].mean()
                for seed in range(12)
            ]
        )
        for motion in MOTION_CLASSES
    }
    assert max(first_means.values()) - min(first_means.values()) < 40


def test_zoom_directions():
    for seed in range(2):
        zoom_in = render_clip(np.random.default_rng(seed), "zoom_in", 6, 64).astype(np.float64)
        zoom_out = render_clip(np.random.default_rng(seed), "zoom_out", 6, 64).astype(np.float64)
        # Zooming in magnifies: the last frame looks like the centre of the first, enlarged.
        assert _best_scale(zoom_in[0], zoom_in[-1]) > 1.1
        assert _best_scale(zoom_out[0], zoom_out[-1]) < 0.9


def _best_scale(first, last):
    """The zoom factor s (last = first magnified by s about the centre) that fits best."""
    from skimage.transform import rescale

    best, best_error = 1.0, np.inf
    for scale in np.linspace(0.5, 2.0, 31):
        if scale >= 1:
            big = rescale(first, scale, channel_axis=-1, preserve_range=True)
            offset = (big.shape[0] - 64) // 2
            candidate, target = big[offset : offset + 64, offset : offset + 64], last
        else:
            big = rescale(last, 1 / scale, channel_axis=-1, preserve_range=True)
            offset = (big.shape[0] - 64) // 2
            candidate, target = first, big[offset : offset + 64, offset : offset + 64]
        error = np.mean((candidate[16:48, 16:48] - target[16:48, 16:48]) ** 2)
        if error < best_error:
            best, best_error = scale, error
    return best


def test_texture_measures_structure():
    flat = np.full((64, 64, 3), 90, np.uint8)
    stripes = np.zeros((64, 64, 3), np.uint8)
    stripes[:, ::4] = 200  # 200 every 4 px: a step of 200 up and down every 2 px at 32 px
    assert texture(flat) == 0.0
    assert texture(stripes) == pytest.approx(100.0)


def test_clips_show_structure_at_both_ends():
    """Windows of plain sky or wall are drawn again: no motion could be seen in them."""
    textures = []
    for seed in range(40):
        clip = render_clip(np.random.default_rng(seed), MOTION_CLASSES[seed % 9], 8, 64, speed=2.5)
        textures.append(min(texture(clip[0]), texture(clip[-1])))
    # The random contrast (0.7 to 1.2) scales the texture after the check.
    assert np.mean(np.array(textures) >= 0.7 * _MIN_TEXTURE) >= 0.95, sorted(textures)[:5]


def test_single_frames_do_not_show_the_direction_even_at_high_speed():
    """Window size and zoom scales do not depend on the class, so per-frame
    detail (how magnified the photo is) is the same for opposite motions."""
    detail = {
        motion: np.mean(
            [
                np.mean(
                    [
                        texture(frame)
                        for frame in render_clip(
                            np.random.default_rng(seed), motion, 8, 64, speed=6.0
                        )
                    ]
                )
                for seed in range(16)
            ]
        )
        for motion in MOTION_CLASSES
    }
    assert detail["zoom_in"] == pytest.approx(detail["zoom_out"], rel=0.1), detail
    assert max(detail.values()) / min(detail.values()) < 1.5, detail


@pytest.mark.parametrize("how", ["script", "stdin"])
def test_worker_processes_start_from_an_unguarded_script_and_from_stdin(tmp_path, how):
    # Spawned workers once re-ran the caller's script: without an `if __name__ == "__main__":`
    # guard that recursed (RuntimeError about bootstrapping, forever), and from stdin it failed.
    script = tmp_path / "make_data.py"
    script.write_text(
        "import tsm_tf.data\n"
        f"paths = tsm_tf.data.write_motion_dataset({str(tmp_path / 'motion')!r}, num_clips=4,"
        " num_frames=2, frame_size=32, num_shards=2, num_workers=2)\n"
        "print('wrote', paths['labels'])\n"
    )
    command = [sys.executable, str(script)] if how == "script" else [sys.executable, "-"]
    result = subprocess.run(
        command,
        input=script.read_text() if how == "stdin" else None,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO)),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "bootstrapping" not in result.stderr
    assert result.stdout.strip() == f"wrote {tmp_path / 'motion' / 'labels.txt'}"
