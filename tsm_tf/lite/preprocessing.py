"""The evaluation resize and centre-crop rule, in NumPy, exactly as docs/metadata.md.

Clients that cannot run TensorFlow (the Python `StreamingClassifier`, the
Android app's Kotlin core) turn a raw camera or video frame into the model's
input with this rule. Every step is float32 arithmetic in a fixed order so a
port can reproduce it bit for bit; keep it in step with docs/metadata.md.
"""

import numpy as np

# The API and the metadata spell the crop "center"; "centre" is accepted as the same crop.
CENTER_CROP = "center"
CROP_SPELLINGS = {"center": CENTER_CROP, "centre": CENTER_CROP}


def default_resize_shorter_side(image_size: int) -> int:
    """TSM's evaluation scale: `image_size * 256 // 224` (256 for 224)."""
    return image_size * 256 // 224


def evaluation_preprocessing(image_size: int) -> dict:
    """The metadata's `preprocessing` object for a model of `image_size` (docs/metadata.md)."""
    return {
        "resize_shorter_side": default_resize_shorter_side(image_size),
        "crop_size": image_size,
        "crop": CENTER_CROP,
        "interpolation": "bilinear",
        "half_pixel_centers": True,
        "antialias": False,
    }


def resized_size(height: int, width: int, resize_shorter_side: int) -> tuple[int, int]:
    """The size after scaling the shorter side to `resize_shorter_side`.

    `scale = resize_shorter_side / min(height, width)` (float64, as Python and
    Kotlin `Double`), each side `floor(side * scale + 0.5)`; the shorter side
    comes out exactly `resize_shorter_side`.
    """
    if min(height, width) <= 0:
        raise ValueError(
            f"A frame needs a positive height and width. Received: height={height}, width={width}"
        )
    shorter = min(height, width)
    scale = resize_shorter_side / shorter
    new_height = int(np.floor(height * scale + 0.5))
    new_width = int(np.floor(width * scale + 0.5))
    if height == shorter:
        new_height = resize_shorter_side
    if width == shorter:
        new_width = resize_shorter_side
    return new_height, new_width


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize with half-pixel centres, no antialiasing, in float32.

    Output pixel `(y, x)` samples the input at
    `src = (dst + 0.5f) * (in_size / (float) out_size) - 0.5f`, clamped to
    `[0, in_size - 1]`; with `lo = floor(src)`, `hi = min(lo + 1, in_size - 1)`
    and `t = src - lo`, rows interpolate first, then columns:
    `top = a + (b - a) * tx`, `bottom = c + (d - c) * tx`,
    `value = top + (bottom - top) * ty` (float32 throughout, as TensorFlow's
    `resize_bilinear` kernel).

    Args:
        image: `(in_height, in_width, channels)`, any real or integer dtype.
        height: output height.
        width: output width.

    Returns:
        float32 `(height, width, channels)`, not rounded.
    """
    image = np.asarray(image, np.float32)
    y_low, y_high, y_lerp = _sample_positions(image.shape[0], height)
    x_low, x_high, x_lerp = _sample_positions(image.shape[1], width)
    x_lerp = x_lerp[None, :, None]
    top_left = image[y_low][:, x_low]
    top_right = image[y_low][:, x_high]
    bottom_left = image[y_high][:, x_low]
    bottom_right = image[y_high][:, x_high]
    top = top_left + (top_right - top_left) * x_lerp
    bottom = bottom_left + (bottom_right - bottom_left) * x_lerp
    return top + (bottom - top) * y_lerp[:, None, None]


def _sample_positions(in_size, out_size):
    scale = np.float32(in_size) / np.float32(out_size)
    source = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    source = np.clip(source, np.float32(0), np.float32(in_size - 1))
    low = np.floor(source).astype(np.int64)
    high = np.minimum(low + 1, in_size - 1)
    return low, high, (source - low.astype(np.float32)).astype(np.float32)


def resize_and_center_crop(
    frame: np.ndarray, crop_size: int, resize_shorter_side: int | None = None
) -> np.ndarray:
    """The evaluation rule: scale the shorter side, then a centre crop.

    Args:
        frame: an RGB frame `(height, width, 3)`, uint8 (or any real dtype)
            with values in [0, 255].
        crop_size: the model's `image_size`.
        resize_shorter_side: the shorter side after resizing; defaults to
            `crop_size * 256 // 224`. Must be at least `crop_size`.

    Returns:
        float32 `(crop_size, crop_size, 3)` with values in [0, 255].
    """
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[-1] != 3:
        raise ValueError(
            "Expected one RGB frame `(height, width, 3)`. Received: shape "
            f"{frame.shape}. Pass frames one at a time, channels last."
        )
    if resize_shorter_side is None:
        resize_shorter_side = default_resize_shorter_side(crop_size)
    if resize_shorter_side < crop_size:
        raise ValueError(
            f"`resize_shorter_side` must be at least crop_size={crop_size}. "
            f"Received: resize_shorter_side={resize_shorter_side}"
        )
    height, width = resized_size(frame.shape[0], frame.shape[1], resize_shorter_side)
    resized = resize_bilinear(frame, height, width)
    top = (height - crop_size) // 2
    left = (width - crop_size) // 2
    return resized[top : top + crop_size, left : left + crop_size]
