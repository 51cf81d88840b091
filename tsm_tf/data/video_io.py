"""Reading frames from videos (PyAV) and frame folders, and JPEG-encoding them.

`VideoReader` reads a video as a player shows it (upright, with timestamps,
past damaged data when asked); tsm-prepare, tsm-stream and prediction read
videos through it. Used by `tsm-prepare` worker processes: everything here is
NumPy and Pillow, with no TensorFlow, so workers stay light. PyAV is imported
lazily so that `tsm_tf` imports without the `video` extra.
"""

import fractions
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
# Timestamps of frames without one, in a stream that declares no rate.
_UNKNOWN_FRAME_RATE = 30


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


class VideoReader:
    """A video's frames as a player shows them: upright, with their presentation times.

    Iterating yields `(timestamp, frame)`: seconds from the first frame as an
    exact `fractions.Fraction` (the stream's time base; `index / frame_rate`
    for a frame without one) and the uint8 RGB frame `(height, width, 3)`
    turned and mirrored as the container's display matrix says, so a phone's
    portrait video comes out upright, as a browser shows it. Every reader of
    videos in tsm_tf (tsm-prepare, tsm-stream, prediction) goes through here.

    Args:
        path: the video file (any format FFmpeg reads).
        skip_damaged: keep decoding past a packet the decoder rejects,
            recording it in `damaged`, instead of raising `SkipVideo`.

    Attributes:
        frame_rate: frames per second the stream declares (0 when unknown).
        declared_frames: frames the container declares (0 when unknown).
        num_frames: frames decoded so far.
        damaged: `(seconds, error)` of each packet skipped, in stream order.

    Raises:
        SkipVideo: on opening, for a missing, empty or unreadable file or one
            without a video stream; while iterating, for data the decoder
            cannot get past (any damaged packet unless `skip_damaged`), with
            the time it happened at; at the end, for a video cut short (fewer
            frames than it declares) or one that decodes to no frames.

    Example:

    >>> with VideoReader("portrait.mp4") as video:
    ...     for timestamp, frame in video:
    ...         print(float(timestamp), frame.shape)
    """

    def __init__(self, path: str, skip_damaged: bool = False):
        import av

        self.path = path
        self.skip_damaged = skip_damaged
        if not os.path.exists(path):
            raise SkipVideo(UNREADABLE, "file not found")
        if os.path.getsize(path) == 0:
            raise SkipVideo(UNREADABLE, "empty file (0 bytes)")
        try:
            self._container = av.open(path)
        except (av.FFmpegError, OSError, ValueError) as error:
            raise SkipVideo(UNREADABLE, f"cannot open: {_reason(error)}") from error
        if not self._container.streams.video:
            self._container.close()
            raise SkipVideo(ZERO_FRAMES, "no video stream")
        self._stream = self._container.streams.video[0]
        self.frame_rate = float(self._stream.average_rate or self._stream.guessed_rate or 0)
        self.declared_frames = self._stream.frames
        if not self.declared_frames and self._container.duration and self.frame_rate:
            self.declared_frames = int(round(self._container.duration / 1e6 * self.frame_rate))
        self.num_frames = 0
        self.damaged = []

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.close()

    def close(self) -> None:
        """Closes the file (iterating to the end closes it too)."""
        self._container.close()

    def __iter__(self) -> Iterator[tuple[fractions.Fraction, np.ndarray]]:
        import av

        start, last = None, fractions.Fraction(0)  # the first and the last frame's times
        try:
            # Packet by packet, so that one the decoder rejects can be skipped.
            for packet in self._container.demux(self._stream):
                try:
                    decoded = packet.decode()
                except (av.FFmpegError, ValueError) as error:
                    at = last
                    if packet.pts is not None and packet.time_base is not None:
                        at = packet.pts * fractions.Fraction(packet.time_base) - (start or 0)
                    if not self.skip_damaged:
                        raise SkipVideo(
                            UNREADABLE,
                            f"damaged data at {float(at):.2f} s (after {self.num_frames} "
                            f"frames): {_reason(error)}",
                        ) from error
                    self.damaged.append((float(at), _reason(error)))
                    continue
                for frame in decoded:
                    if frame.pts is None or frame.time_base is None:
                        rate = fractions.Fraction(self.frame_rate or _UNKNOWN_FRAME_RATE)
                        timestamp = self.num_frames / rate
                    else:
                        timestamp = frame.pts * fractions.Fraction(frame.time_base)
                    start = timestamp if start is None else start
                    last = timestamp - start
                    self.num_frames += 1
                    yield last, upright(frame.to_ndarray(format="rgb24"), frame)
        except (av.FFmpegError, OSError) as error:
            raise SkipVideo(
                UNREADABLE,
                f"cannot read past {float(last):.2f} s (after {self.num_frames} frames): "
                f"{_reason(error)}",
            ) from error
        finally:
            self.close()
        # A cut-off file still declares its full length: that is a truncation,
        # not an empty video, even when nothing decodes.
        expected = self.declared_frames
        if expected and self.num_frames < _TRUNCATION_TOLERANCE * expected - 2:
            raise SkipVideo(
                UNREADABLE,
                f"truncated: decoded {self.num_frames} of the {expected} frames it declares "
                f"(it ends at {float(last):.2f} s)",
            )
        if self.num_frames == 0:
            raise SkipVideo(ZERO_FRAMES, "the video stream decodes to no frames")


def _reason(error) -> str:
    """FFmpeg's words for an error, without PyAV's errno and call name."""
    return getattr(error, "strerror", None) or str(error)


def upright(image: np.ndarray, frame) -> np.ndarray:
    """`image`, the RGB array of a PyAV `frame`, turned as its display matrix says.

    The matrix (FFmpeg's `AV_FRAME_DATA_DISPLAYMATRIX`, 16.16 fixed point)
    maps a source pixel `(x, y)` to `(a x + c y, b x + d y)`. Browsers apply
    quarter turns and mirrors (all a camera writes); another angle is taken
    to its nearest quarter turn.
    """
    matrices = [data for data in frame.side_data.values() if data.type.name == "DISPLAYMATRIX"]
    if not matrices:
        return image
    a, b, _, c, d = np.frombuffer(bytes(matrices[0]), "<i4")[:5].astype(np.int64)
    if abs(a) + abs(d) >= abs(b) + abs(c):
        row_sign, column_sign = d, a
    else:
        # A quarter turn: source columns become rows.
        image = image.transpose(1, 0, 2)
        row_sign, column_sign = b, c
    if row_sign < 0:
        image = image[::-1]
    if column_sign < 0:
        image = image[:, ::-1]
    return np.ascontiguousarray(image)


def iterate_video(path: str) -> tuple[Iterator[np.ndarray], float]:
    """Opens a video; returns (an iterator of its upright RGB uint8 frames, frame rate).

    Raises:
        SkipVideo: the file is missing, empty, or cannot be opened, or it has no
            video stream. Damaged data and truncation surface while iterating.
    """
    video = VideoReader(path)
    return (frame for _, frame in video), video.frame_rate


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
