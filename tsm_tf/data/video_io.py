"""Reading frames from videos (PyAV) and frame folders, and JPEG-encoding them.

Used by `tsm-prepare` worker processes: everything here is NumPy and Pillow,
with no TensorFlow, so workers stay light. PyAV is imported lazily so that
`tsm_tf` imports without the `video` extra.
"""

import io
import os
from collections.abc import Iterator

import numpy as np

from tsm_tf.lite.preprocessing import resized_size

VIDEO_EXTENSIONS = (".mp4", ".webm", ".avi", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg")

# Skip reasons, as they appear in the prepare report.
UNREADABLE = "unreadable"
ZERO_FRAMES = "zero frames"
UNKNOWN_LABEL = "unknown label"
MISSING_FRAMES = "missing frames"

# A video that decodes to fewer frames than this fraction of what its
# container declares (less a frame or two of rounding) is cut short.
_TRUNCATION_TOLERANCE = 0.9


class SkipVideo(Exception):
    """A video that cannot be written; `reason` is one of the report's reasons."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def encode_frame(frame: np.ndarray, shorter_side: int | None, quality: int) -> bytes:
    """JPEG-encodes an RGB uint8 frame, first resizing its shorter side if asked.

    Args:
        frame: `(height, width, 3)` uint8 RGB.
        shorter_side: target length of the shorter side; `None` or 0 keeps the size.
        quality: JPEG quality, 1-100.
    """
    from PIL import Image

    image = Image.fromarray(frame, "RGB")
    if shorter_side:
        height, width = resized_size(frame.shape[0], frame.shape[1], shorter_side)
        if (height, width) != frame.shape[:2]:
            image = image.resize((width, height), Image.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def iterate_video(path: str) -> tuple[Iterator[np.ndarray], float]:
    """Opens a video with PyAV; returns (an iterator of RGB uint8 frames, frame rate).

    Raises:
        SkipVideo: the file is missing, empty, or cannot be opened, or it has no
            video stream. Decoding errors and truncation surface while iterating.
    """
    import av

    if not os.path.exists(path):
        raise SkipVideo(UNREADABLE, "file not found")
    if os.path.getsize(path) == 0:
        raise SkipVideo(UNREADABLE, "empty file (0 bytes)")
    try:
        container = av.open(path)
    except (av.FFmpegError, OSError, ValueError) as error:
        raise SkipVideo(UNREADABLE, f"cannot open: {error}") from error
    if not container.streams.video:
        container.close()
        raise SkipVideo(ZERO_FRAMES, "no video stream")
    stream = container.streams.video[0]
    rate = stream.average_rate or stream.guessed_rate or 0
    frame_rate = float(rate)
    expected = stream.frames
    if not expected and container.duration and frame_rate:
        expected = int(round(container.duration / 1e6 * frame_rate))

    def frames():
        count = 0
        try:
            for frame in container.decode(stream):
                count += 1
                yield frame.to_ndarray(format="rgb24")
        except (av.FFmpegError, OSError, ValueError) as error:
            raise SkipVideo(UNREADABLE, f"decoding failed after {count} frames: {error}") from error
        finally:
            container.close()
        # A cut-off file still declares its full length: that is a truncation,
        # not an empty video, even when nothing decodes.
        if expected and count < _TRUNCATION_TOLERANCE * expected - 2:
            raise SkipVideo(
                UNREADABLE, f"truncated: decoded {count} of the {expected} frames it declares"
            )
        if count == 0:
            raise SkipVideo(ZERO_FRAMES, "the video stream decodes to no frames")

    return frames(), frame_rate


def encode_video(
    path: str, shorter_side: int | None, quality: int
) -> tuple[list[bytes], float, tuple[int, int]]:
    """Decodes every frame of a video and JPEG-encodes it.

    Returns:
        (JPEG frames, frame rate, (height, width) of the encoded frames).

    Raises:
        SkipVideo: with the reason the video cannot be used.
    """
    frames, frame_rate = iterate_video(path)
    encoded = []
    size = None
    for frame in frames:
        if size is None:
            size = resized_size(*frame.shape[:2], shorter_side) if shorter_side else frame.shape[:2]
        encoded.append(encode_frame(frame, shorter_side, quality))
    return encoded, frame_rate, tuple(size)


def encode_frame_folder(
    folder: str,
    num_frames: int,
    template: str,
    first_index: int,
    shorter_side: int | None,
    quality: int,
) -> tuple[list[bytes], tuple[int, int]]:
    """Reads and JPEG-encodes frames `template.format(first_index + i)` of a folder.

    When the size is kept and a frame already is a JPEG of the first frame's
    size, its bytes are copied as they are (no re-encoding).

    Returns:
        (JPEG frames, (height, width) of the encoded frames).

    Raises:
        SkipVideo: zero frames, missing frames (listing the first few), or an
            unreadable image.
    """
    from PIL import Image

    if num_frames <= 0:
        raise SkipVideo(ZERO_FRAMES, f"the list gives num_frames={num_frames}")
    paths = [os.path.join(folder, template.format(first_index + i)) for i in range(num_frames)]
    missing = [os.path.basename(path) for path in paths if not os.path.isfile(path)]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise SkipVideo(
            MISSING_FRAMES,
            f"{len(missing)} of {num_frames} frames missing in {folder}: "
            f"{', '.join(missing[:3])}{more}",
        )
    encoded = []
    size = None
    for path in paths:
        try:
            with Image.open(path) as image:
                if not shorter_side and image.format == "JPEG" and image.mode in ("RGB", "L"):
                    if size is None or (image.height, image.width) == size:
                        size = (image.height, image.width)
                        with open(path, "rb") as file:
                            encoded.append(file.read())
                        continue
                frame = np.asarray(image.convert("RGB"))
        except OSError as error:
            raise SkipVideo(UNREADABLE, f"cannot read frame {path}: {error}") from error
        if size is None:
            size = resized_size(*frame.shape[:2], shorter_side) if shorter_side else frame.shape[:2]
        target = shorter_side if shorter_side else None
        if frame.shape[:2] != tuple(size) and not target:
            # Keep every frame of a clip the same size, as decoding expects.
            frame = np.asarray(Image.fromarray(frame).resize((size[1], size[0]), Image.BILINEAR))
        encoded.append(encode_frame(frame, target, quality))
    return encoded, tuple(size)
