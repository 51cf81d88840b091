"""Clip transforms in graph: decoding, TSN's multi-scale crop, flip, evaluation crops.

Every transform is drawn once per clip and applied to all its frames, so the
temporal signal (what moved where) is untouched by augmentation.
"""

import tensorflow as tf

from tsm_tf.lite.preprocessing import CENTER_CROP
from tsm_tf.lite.preprocessing import CROP_SPELLINGS
from tsm_tf.lite.preprocessing import default_resize_shorter_side
from tsm_tf.utils.argument_checks import check_choice

# Training crops: TSN's multi-scale crop, or the evaluation resize and center crop
# ("center" as in the metadata; "centre" is accepted as the same crop).
TRAIN_CROPS = ("multi_scale", *CROP_SPELLINGS)
# TSN's GroupMultiScaleCrop: crop sides as fractions of the shorter side.
MULTI_SCALE_SCALES = (1.0, 0.875, 0.75, 0.66)
# Pairs (height scale, width scale) whose indices differ by at most one
# (TSN's max_distort=1).
_SCALE_PAIRS = [
    (i, j)
    for i in range(len(MULTI_SCALE_SCALES))
    for j in range(len(MULTI_SCALE_SCALES))
    if abs(i - j) <= 1
]
# TSN's 13 fixed crop positions ("more_fix_crop"), in quarters of the free space
# (vertical, horizontal): corners, centre, edge midpoints, inner quarters.
_FIXED_OFFSETS = [
    (0, 0),
    (0, 4),
    (4, 0),
    (4, 4),
    (2, 2),
    (2, 0),
    (2, 4),
    (4, 2),
    (0, 2),
    (1, 1),
    (1, 3),
    (3, 1),
    (3, 3),
]


def decode_frames(jpeg_frames: tf.Tensor, num_frames: int) -> tf.Tensor:
    """Decodes `num_frames` JPEG strings (a rank-1 tensor) to uint8 `(num_frames, H, W, 3)`."""
    return tf.stack([tf.io.decode_jpeg(jpeg_frames[i], channels=3) for i in range(num_frames)])


def multi_scale_crop_window(
    height: tf.Tensor, width: tf.Tensor, image_size: int, seed: tf.Tensor
) -> tf.Tensor:
    """TSN's multi-scale crop window `[top, left, crop_height, crop_width]` (int32).

    Crop sides are `int(shorter_side * scale)` for scales 1, .875, .75, .66,
    snapped to `image_size` when within 3 pixels; height and width scales are
    drawn as a pair at most one step apart; the position is one of 13 fixed
    points (corners, centre, edge midpoints, inner quarter points).
    """
    height = tf.cast(height, tf.int32)
    width = tf.cast(width, tf.int32)
    pair_seed, offset_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    base = tf.cast(tf.minimum(height, width), tf.float64)
    sizes = tf.cast(base * tf.constant(MULTI_SCALE_SCALES, tf.float64), tf.int32)
    sizes = tf.where(tf.abs(sizes - image_size) < 3, image_size, sizes)
    pairs = tf.constant(_SCALE_PAIRS, tf.int32)
    pair = pairs[tf.random.stateless_uniform([], pair_seed, 0, len(_SCALE_PAIRS), tf.int32)]
    crop_height = tf.minimum(sizes[pair[0]], height)
    crop_width = tf.minimum(sizes[pair[1]], width)
    offsets = tf.constant(_FIXED_OFFSETS, tf.int32)
    offset = offsets[tf.random.stateless_uniform([], offset_seed, 0, len(_FIXED_OFFSETS), tf.int32)]
    top = offset[0] * ((height - crop_height) // 4)
    left = offset[1] * ((width - crop_width) // 4)
    return tf.stack([top, left, crop_height, crop_width])


def train_clip(
    jpeg_frames: tf.Tensor,
    num_frames: int,
    image_size: int,
    seed: tf.Tensor,
    flip: bool,
    crop: str = "multi_scale",
    resize_shorter_side: int | None = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Decodes and augments one training clip, the same way for every frame.

    With the multi-scale crop only the crop window of each JPEG is decoded
    (`decode_and_crop_jpeg`).

    Args:
        jpeg_frames: rank-1 string tensor of `num_frames` JPEG frames.
        num_frames: frames in the clip (static).
        image_size: output side.
        seed: shape-`(2,)` integer tensor.
        flip: whether to flip the clip horizontally with probability 1/2.
        crop: `"multi_scale"` (TSN's multi-scale crop at a random position)
            or `"center"` (also spelt `"centre"`: `eval_crops`' resize and center
            crop: no spatial augmentation, the same view as evaluation).
        resize_shorter_side: for `crop="center"`, the shorter side before the
            crop; defaults to `image_size * 256 // 224`.

    Returns:
        (float32 `(num_frames, image_size, image_size, 3)` in [0, 255],
        bool scalar: whether the clip was flipped).
    """
    check_choice("crop", crop, TRAIN_CROPS)
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    if CROP_SPELLINGS.get(crop) == CENTER_CROP:
        frames = eval_crops(
            decode_frames(jpeg_frames, num_frames),
            image_size,
            resize_shorter_side or default_resize_shorter_side(image_size),
            num_crops=1,
        )[0]
    else:
        shape = tf.io.extract_jpeg_shape(jpeg_frames[0])
        window = multi_scale_crop_window(shape[0], shape[1], image_size, crop_seed)
        frames = tf.stack(
            [
                tf.io.decode_and_crop_jpeg(jpeg_frames[i], window, channels=3)
                for i in range(num_frames)
            ]
        )
        frames = tf.image.resize(frames, [image_size, image_size], "bilinear", antialias=False)
    flipped = tf.constant(False)
    if flip:
        flipped = tf.random.stateless_uniform([], flip_seed) < 0.5
        frames = tf.cond(flipped, lambda: tf.reverse(frames, axis=[2]), lambda: frames)
    frames = tf.ensure_shape(frames, [num_frames, image_size, image_size, 3])
    return frames, flipped


def eval_resized_size(height: tf.Tensor, width: tf.Tensor, resize_shorter_side: int) -> tf.Tensor:
    """docs/metadata.md's resized size: sides `floor(side * scale + 0.5)`, shorter side exact."""
    height = tf.cast(height, tf.float64)
    width = tf.cast(width, tf.float64)
    shorter = tf.constant(resize_shorter_side, tf.float64)
    scale = shorter / tf.minimum(height, width)
    new_height = tf.where(height <= width, shorter, tf.floor(height * scale + 0.5))
    new_width = tf.where(width <= height, shorter, tf.floor(width * scale + 0.5))
    return tf.cast(tf.stack([new_height, new_width]), tf.int32)


def eval_crops(
    frames: tf.Tensor, image_size: int, resize_shorter_side: int, num_crops: int
) -> tf.Tensor:
    """Evaluation views: resize the shorter side, then centre (or 3) crops.

    The resize and centre crop are exactly docs/metadata.md's rule (bilinear,
    half-pixel centres, no antialiasing, float32 not rounded). With
    `num_crops=3` the crops sit at the start, centre and end of the longer side
    (left, centre, right for landscape frames; top, centre, bottom for
    portrait), centred on the shorter side.

    Args:
        frames: `(num_frames, height, width, 3)` uint8 or float.
        image_size: crop side.
        resize_shorter_side: the shorter side after resizing (>= image_size).
        num_crops: 1 or 3.

    Returns:
        float32 `(num_crops, num_frames, image_size, image_size, 3)`.
    """
    shape = tf.shape(frames)
    size = eval_resized_size(shape[1], shape[2], resize_shorter_side)
    resized = tf.image.resize(frames, size, "bilinear", antialias=False)
    free_height = size[0] - image_size
    free_width = size[1] - image_size
    top = free_height // 2
    left = free_width // 2
    if num_crops == 1:
        windows = [(top, left)]
    else:
        landscape = size[0] <= size[1]
        windows = [
            (tf.where(landscape, top, position), tf.where(landscape, position, left))
            for position in (
                0,
                tf.where(landscape, left, top),
                tf.where(landscape, free_width, free_height),
            )
        ]
    crops = [resized[:, y : y + image_size, x : x + image_size, :] for y, x in windows]
    return tf.ensure_shape(tf.stack(crops), [num_crops, None, image_size, image_size, 3])


def eval_views(
    frames: tf.Tensor,
    num_segments: int,
    image_size: int,
    resize_shorter_side: int,
    num_clips: int = 1,
    num_crops: int = 1,
) -> tf.Tensor:
    """A video's test views: its sampled frames as `num_clips * num_crops` clips.

    `tsm-eval` (`make_dataset(training=False)`) and `tsm_tf.predict_videos`
    both make their clips here, so the two give the same views of a video.

    Args:
        frames: `(num_clips * num_segments, height, width, 3)` uint8 or float,
            the frames `tsm_tf.data.sampling.sample_indices` picked, clip by clip.
        num_segments: frames per clip.
        image_size: crop side.
        resize_shorter_side: the shorter side after resizing (>= image_size).
        num_clips: clips in `frames`.
        num_crops: 1 or 3 crops per clip (see `eval_crops`).

    Returns:
        float32 `(num_clips * num_crops, num_segments, image_size, image_size, 3)`:
        view `k` is clip `k // num_crops`, crop `k % num_crops`.
    """
    crops = eval_crops(frames, image_size, resize_shorter_side, num_crops)
    crops = tf.reshape(crops, [num_crops, num_clips, num_segments, image_size, image_size, 3])
    return tf.reshape(
        tf.transpose(crops, [1, 0, 2, 3, 4, 5]),
        [num_clips * num_crops, num_segments, image_size, image_size, 3],
    )
