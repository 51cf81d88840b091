"""A built-in dataset of camera motions rendered from photographs in scikit-image.

Nine classes that differ only in motion, so no single frame tells them apart:
the camera pans (left, right, up, down), zooms (in, out), rotates (clockwise,
anticlockwise) or stays still, over windows cut from real photographs. Names
describe what the content does on screen: in `pan_left` the content moves
left (the camera turns right), in `zoom_in` it grows, in `rotate_clockwise`
it turns clockwise. Every clip also has a small random camera shake and a
random brightness and contrast, and speed, window size and start are random,
so the task needs temporal reasoning but is not trivial. Windows without
structure (plain sky, a bare wall), where no motion could be seen, are drawn
again.

Each clip is drawn from its own random generator seeded with
`(seed, split, clip index)`, so the output is the same bytes for the same
arguments, whatever the number of worker processes.
"""

import logging
import math
import os

import numpy as np

from tsm_tf.data import records
from tsm_tf.data.video_io import encode_frame
from tsm_tf.data.workers import report_progress
from tsm_tf.data.workers import run_tasks
from tsm_tf.utils.label_files import label_swaps_to_map

MOTION_CLASSES = (
    "pan_left",
    "pan_right",
    "pan_up",
    "pan_down",
    "zoom_in",
    "zoom_out",
    "rotate_clockwise",
    "rotate_anticlockwise",
    "still",
)
# Classes that trade places under a horizontal flip: pan_left and pan_right,
# clockwise and anticlockwise (`TrainConfig.flip_label_swaps`), and the same
# as `make_dataset(flip_label_map=...)`.
MOTION_FLIP_LABEL_SWAPS = ((0, 1), (6, 7))
MOTION_FLIP_LABEL_MAP = label_swaps_to_map(MOTION_FLIP_LABEL_SWAPS)
# Classes that trade places when a clip plays backwards: every motion and its
# opposite (`TrainConfig.reverse_label_swaps`, `make_dataset(reverse_label_map=...)`);
# `still` stays. Opposite motions draw their speed from the same range, and
# both zooms pass through the same scales.
MOTION_REVERSE_LABEL_SWAPS = ((0, 1), (2, 3), (4, 5), (6, 7))
MOTION_REVERSE_LABEL_MAP = label_swaps_to_map(MOTION_REVERSE_LABEL_SWAPS)

# Photographs bundled with scikit-image (no download needed).
PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "camera",
    "coins",
    "brick",
    "gravel",
    "grass",
)
SPLITS = ("train", "validation")
FRAME_RATE = 25.0
# Per-frame motion, in output pixels (pans, and content at the frame's edge
# for zooms and rotations): several pixels, so it survives resizing to ~48 px.
_PAN_SPEED = (2.0, 4.5)
_ZOOM_RATE = (0.05, 0.09)
_ROTATION_DEGREES = (3.0, 7.0)
_SHAKE_PIXELS = 0.4
# A window with no structure (sky, a plain wall) shows no motion, so its label
# could not be learned: a clip is drawn again (up to `_MAX_ATTEMPTS` times, then
# the most textured draw is kept) unless its first and last frames both reach
# this texture: the mean absolute step between neighbouring grey levels
# (0-255), down plus right, at about 32 px.
_MIN_TEXTURE = 5.0
_MAX_ATTEMPTS = 10

_photo_cache = {}


def write_motion_dataset(
    out_dir: str,
    num_clips: int = 3000,
    seed: int = 0,
    num_frames: int = 16,
    frame_size: int = 64,
    validation_fraction: float = 0.2,
    num_shards: int = 8,
    num_workers: int | None = None,
    speed: float = 1.0,
) -> dict[str, str]:
    """Renders the motion dataset into TFRecord shards (the `tsm-prepare` format).

    Layout: `out_dir/train-0000i-of-0000n.tfrecord` (`num_shards` shards),
    `out_dir/validation-0000i-of-0000m.tfrecord` (`max(1, num_shards // 2)`
    shards), `out_dir/labels.txt` (the 9 `MOTION_CLASSES`). Classes are
    balanced (clip `i` has label `i % 9`); both splits use all photographs,
    different random windows and motions.

    Args:
        out_dir: output folder (created).
        num_clips: clips in both splits together.
        seed: the dataset seed; the same arguments give the same bytes.
        num_frames: frames per clip.
        frame_size: frame side in pixels (square frames).
        validation_fraction: share of clips in the validation split.
        num_shards: training shards.
        num_workers: processes; defaults to the number of CPU cores.
        speed: multiplies every motion (pan speed, zoom rate, rotation
            angle per frame); 1 gives 2-4.5 px of pan per frame. Windows
            are cut smaller (more magnified) as it grows, so that the
            largest motion still fits in the photo.

    Returns:
        `{"train": pattern, "validation": pattern, "labels": path}`.
    """
    if speed <= 0:
        raise ValueError(f"`speed` must be positive. Received: speed={speed!r}")
    if num_clips < 2 or not 0 < validation_fraction < 1:
        raise ValueError(
            "Expected num_clips >= 2 and 0 < validation_fraction < 1. Received: "
            f"num_clips={num_clips}, validation_fraction={validation_fraction}"
        )
    os.makedirs(out_dir, exist_ok=True)
    num_validation = max(1, int(round(num_clips * validation_fraction)))
    split_sizes = {"train": num_clips - num_validation, "validation": num_validation}
    split_shards = {"train": num_shards, "validation": max(1, num_shards // 2)}
    tasks = []
    for split_index, split in enumerate(SPLITS):
        count, shards = split_sizes[split], min(split_shards[split], split_sizes[split])
        bounds = np.linspace(0, count, shards + 1).astype(int)
        for shard in range(shards):
            path = records.shard_path(out_dir, split, shard, shards)
            tasks.append(
                (
                    path,
                    seed,
                    split_index,
                    split,
                    int(bounds[shard]),
                    int(bounds[shard + 1]),
                    num_frames,
                    frame_size,
                    speed,
                )
            )
    run_tasks(
        _write_shard,
        tasks,
        num_workers or os.cpu_count() or 1,
        num_clips,
        "motion clips",
        task_names=[f"the shard {task[0]}" for task in tasks],
    )
    labels_path = records.write_labels(out_dir, MOTION_CLASSES)
    logging.info("Wrote %d motion clips to %s", num_clips, out_dir)
    return {
        "train": records.shard_pattern(out_dir, "train"),
        "validation": records.shard_pattern(out_dir, "validation"),
        "labels": labels_path,
    }


def _write_shard(task):
    path, seed, split_index, split, start, stop, num_frames, frame_size, speed = task
    with records.AtomicRecordWriter(path) as writer:
        for index in range(start, stop):
            rng = np.random.default_rng([seed, split_index, index])
            label = index % len(MOTION_CLASSES)
            frames = render_clip(rng, MOTION_CLASSES[label], num_frames, frame_size, speed)
            jpegs = [encode_frame(frame, None, quality=90) for frame in frames]
            writer.write(
                records.serialize_video(
                    jpegs, label, f"{split}-{index:06d}", FRAME_RATE, frame_size, frame_size
                )
            )
            report_progress()
    return stop - start


def render_clip(
    rng: np.random.Generator, motion: str, num_frames: int, frame_size: int, speed: float = 1.0
) -> np.ndarray:
    """Renders one clip of `motion` (a `MOTION_CLASSES` name) from a random photo.

    Returns:
        uint8 `(num_frames, frame_size, frame_size, 3)`.
    """
    best, best_texture = None, -1.0
    for _ in range(_MAX_ATTEMPTS):
        frames = _render_window(rng, motion, num_frames, frame_size, speed)
        frame_texture = min(texture(frames[0]), texture(frames[-1]))
        if frame_texture > best_texture:
            best, best_texture = frames, frame_texture
        if frame_texture >= _MIN_TEXTURE:
            break
    contrast = rng.uniform(0.7, 1.2)
    brightness = rng.uniform(-25, 25)
    frames = (best - 128.0) * contrast + 128.0 + brightness
    return np.clip(np.round(frames), 0, 255).astype(np.uint8)


def texture(frame: np.ndarray) -> float:
    """Mean absolute step between neighbouring grey levels (down + right) at about 32 px.

    Args:
        frame: `(size, size, 3)` RGB in [0, 255].
    """
    grey = np.asarray(frame, np.float64).mean(axis=-1)
    factor = max(1, grey.shape[0] // 32)
    size = grey.shape[0] // factor * factor
    grey = (
        grey[:size, :size].reshape(size // factor, factor, size // factor, factor).mean(axis=(1, 3))
    )
    return float(np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean())


def _render_window(rng, motion, num_frames, frame_size, speed):
    """One draw of photo, window and motion: float `(num_frames, size, size, 3)`."""
    pyramid = _load_photo(PHOTOS[rng.integers(len(PHOTOS))])
    photo_height, photo_width = pyramid[0].shape[:2]
    steps = np.arange(num_frames, dtype=np.float64)
    # Window side, centre and angle per frame, in pixels of the full photo.
    scale = np.ones(num_frames)
    angle = np.zeros(num_frames)
    direction = np.zeros(2)  # content motion (y, x) on screen, output px per frame
    if motion.startswith("pan"):
        pan_speed = speed * rng.uniform(*_PAN_SPEED)
        direction = pan_speed * np.array(
            {"pan_left": (0, -1), "pan_right": (0, 1), "pan_up": (-1, 0), "pan_down": (1, 0)}[
                motion
            ],
            float,
        )
    elif motion.startswith("zoom"):
        # Content at the frame's edge moves (frame_size / 2) * rate px per frame.
        # Both zooms pass through the same scales, centred on the middle frame,
        # in opposite orders, so a single frame cannot tell them apart.
        rate = speed * rng.uniform(*_ZOOM_RATE)
        exponent = steps - (num_frames - 1) / 2
        scale = (1 + rate) ** (-exponent if motion == "zoom_in" else exponent)
    elif motion.startswith("rotate"):
        degrees = speed * rng.uniform(*_ROTATION_DEGREES)
        angle = np.deg2rad(degrees) * steps * (1 if motion == "rotate_clockwise" else -1)
    # The window must fit in the photo whatever the motion. Its size is drawn
    # for the largest motion any class may have at this speed, not for this
    # clip's, so that the magnification does not give the class away.
    max_scale = (1 + speed * _ZOOM_RATE[1]) ** ((num_frames - 1) / 2)
    pan_extent = speed * _PAN_SPEED[1] * (num_frames - 1)
    limit = min(photo_height, photo_width) / (math.sqrt(2) * max_scale) * 0.95
    side = None
    for _ in range(20):
        candidate = rng.uniform(0.6, 1.6) * frame_size
        pixel = candidate / frame_size
        radius = candidate * max_scale * math.sqrt(2) / 2
        if candidate <= limit and 2 * radius + pan_extent * pixel < min(photo_height, photo_width):
            side = candidate
            break
    if side is None:
        side = min(
            limit,
            (min(photo_height, photo_width) - 1)
            / (math.sqrt(2) * max_scale + pan_extent / frame_size),
        )
    pixel = side / frame_size  # photo px per output px at scale 1
    radius = side * scale.max() * math.sqrt(2) / 2
    # Content moving by +d on screen means the window moves by -d.
    path = -direction[None, :] * steps[:, None] * pixel
    low = radius - path.min(axis=0)
    high = np.array([photo_height, photo_width]) - radius - path.max(axis=0)
    centre0 = rng.uniform(low, np.maximum(high, low))
    shake = rng.normal(0, _SHAKE_PIXELS, (num_frames, 2)) * pixel
    centres = centre0[None] + path + shake
    return np.stack(
        [
            _sample_window(pyramid, centres[t], pixel * scale[t], angle[t], frame_size)
            for t in range(num_frames)
        ]
    )


def _sample_window(pyramid, centre, pixel, angle, frame_size):
    """Bilinear sampling of a rotated square window from the right pyramid level."""
    level = min(int(max(math.floor(math.log2(max(pixel, 1.0))), 0)), len(pyramid) - 1)
    image = pyramid[level]
    factor = 2.0**level
    height, width = image.shape[:2]
    grid = np.arange(frame_size) - (frame_size - 1) / 2
    v, u = np.meshgrid(grid, grid, indexing="ij")  # v: down, u: right
    # Clockwise on screen (y down) is a positive angle; sample with the inverse rotation.
    cos, sin = math.cos(angle), math.sin(angle)
    y = (centre[0] + pixel * (cos * v - sin * u)) / factor - 0.5 * (factor - 1) / factor
    x = (centre[1] + pixel * (cos * u + sin * v)) / factor - 0.5 * (factor - 1) / factor
    y = np.clip(y, 0, height - 1)
    x = np.clip(x, 0, width - 1)
    y0 = np.minimum(np.floor(y).astype(np.int64), height - 2)
    x0 = np.minimum(np.floor(x).astype(np.int64), width - 2)
    dy = (y - y0)[..., None]
    dx = (x - x0)[..., None]
    top = image[y0, x0] * (1 - dx) + image[y0, x0 + 1] * dx
    bottom = image[y0 + 1, x0] * (1 - dx) + image[y0 + 1, x0 + 1] * dx
    return top * (1 - dy) + bottom * dy


def _load_photo(name):
    """A scikit-image photo as float32 RGB with 2x box-filtered levels (cached per process)."""
    if name not in _photo_cache:
        import skimage.data

        image = np.asarray(getattr(skimage.data, name)())
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        pyramid = [image[..., :3].astype(np.float32)]
        while min(pyramid[-1].shape[:2]) >= 128:
            level = pyramid[-1]
            height, width = level.shape[0] // 2 * 2, level.shape[1] // 2 * 2
            level = level[:height, :width]
            pyramid.append(
                (level[0::2, 0::2] + level[1::2, 0::2] + level[0::2, 1::2] + level[1::2, 1::2]) / 4
            )
        _photo_cache[name] = pyramid
    return _photo_cache[name]
