"""Writers of small test inputs for the data tests: videos (PyAV), frame folders, records."""

import os
import struct

import numpy as np


def textured_frames(num_frames, height, width, seed=0):
    """Frames of a smooth random colour texture (features ~16 px) drifting right by 2 px a frame."""
    rng = np.random.default_rng(seed)
    full_width = width + 2 * num_frames
    coarse = rng.uniform(30, 225, (height // 16 + 2, full_width // 16 + 2, 3))
    # Bilinear upsampling by 16: smooth, like real footage, so codecs stay near-lossless.
    rows = np.arange(height) / 16.0
    columns = np.arange(full_width) / 16.0
    along_rows = np.stack(
        [
            np.interp(rows, np.arange(coarse.shape[0]), coarse[:, j, c])
            for j in range(coarse.shape[1])
            for c in range(3)
        ],
        axis=1,
    )
    along_rows = along_rows.reshape(height, coarse.shape[1], 3)
    large = np.stack(
        [
            np.stack(
                [
                    np.interp(columns, np.arange(coarse.shape[1]), along_rows[i, :, c])
                    for c in range(3)
                ],
                axis=-1,
            )
            for i in range(height)
        ]
    )
    frames = [large[:, 2 * t : 2 * t + width] for t in range(num_frames)]
    return np.stack(frames).round().astype(np.uint8)


def write_video(path, frames, codec="h264", frame_rate=25, pix_fmt="yuv420p", options=None):
    """Encodes RGB uint8 frames `(T, H, W, 3)` with PyAV (h264 for .mp4, libvpx-vp9 for .webm;
    `codec="ffv1", pix_fmt="bgr0"` in .mkv keeps every pixel); `options` go to the muxer
    (`{"movflags": "faststart"}`: the index before the data)."""
    import av

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with av.open(path, "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=frame_rate)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = pix_fmt
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_damaged_videos(folder):
    """Two copies of 4 s of noise at 25 fps (h264), damaged part-way; returns their paths.

    `damaged.mp4` has 3000 bytes zeroed in the middle of its media data (mdat): the
    decoder rejects the two packets at 2.00 s and 2.04 s. `cut.mp4` has its index first
    and loses its second half: the data ends at 1.96 s, and the last packet is partial.
    """
    frames = np.random.default_rng(0).integers(0, 256, (100, 48, 64, 3), dtype=np.uint8)
    damaged, cut = os.path.join(folder, "damaged.mp4"), os.path.join(folder, "cut.mp4")
    write_video(damaged, frames)
    write_video(cut, frames, options={"movflags": "faststart"})
    with open(damaged, "rb") as file:
        data = bytearray(file.read())
    at = data.find(b"mdat")
    end = at - 4 + struct.unpack(">I", data[at - 4 : at])[0]
    middle = (at + 4 + end) // 2
    data[middle : middle + 3000] = bytes(3000)
    with open(damaged, "wb") as file:
        file.write(data)
    with open(cut, "rb") as file:
        data = file.read()
    with open(cut, "wb") as file:
        file.write(data[: len(data) // 2])
    return damaged, cut


def write_class_videos(root, class_names, unknown_class="swim"):
    """Writes `root/<class>/clip0.mp4, clip1.mp4` (12 frames) and `clip2.webm` (10 frames) per class,
    all 48x64 and each of its own seed, and `root/<unknown_class>/clip0.mp4`, a class to leave out."""
    for class_index, name in enumerate(class_names):
        for index in range(2):
            write_video(
                os.path.join(root, name, f"clip{index}.mp4"),
                textured_frames(12, 48, 64, seed=10 * class_index + index),
            )
        write_video(
            os.path.join(root, name, "clip2.webm"),
            textured_frames(10, 48, 64, seed=5 + class_index),
            "libvpx-vp9",
        )
    write_video(
        os.path.join(root, unknown_class, "clip0.mp4"), textured_frames(12, 48, 64, seed=99)
    )


def write_frame_folder(folder, frames, template="img_{:05d}.jpg", first_index=1):
    """Writes frames as JPEG files named by `template`."""
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(
            os.path.join(folder, template.format(first_index + index)), quality=95
        )


def write_small_motion_dataset(out_dir, num_clips, seed=0, num_frames=8, num_workers=None):
    """The built-in motion dataset at test size (32 px frames, two training shards); its paths."""
    from tsm_tf.data import write_motion_dataset

    return write_motion_dataset(
        str(out_dir),
        num_clips=num_clips,
        seed=seed,
        num_frames=num_frames,
        frame_size=32,
        num_shards=2,
        num_workers=num_workers,
    )


def write_records(path, videos):
    """Writes `[(frames uint8 (T, H, W, 3) or list of JPEG bytes, label, video_id)]` as one shard."""
    from tsm_tf.data import records
    from tsm_tf.data.video_io import encode_frame

    with records.AtomicRecordWriter(str(path)) as writer:
        for frames, label, video_id in videos:
            if isinstance(frames, np.ndarray):
                height, width = frames.shape[1:3]
                frames = [encode_frame(frame, None, quality=95) for frame in frames]
            else:
                height = width = 0
            writer.write(records.serialize_video(frames, label, video_id, 25.0, height, width))


def write_ramp_records(path, num_videos, num_frames, height):
    """One shard of label-0 videos whose brightness rises left to right (80 px wide).

    A horizontally flipped clip has it falling: see `falls_left_to_right`.
    """
    ramp = np.tile(np.linspace(0, 255, 80)[None, :, None], (height, 1, 3)).astype(np.uint8)
    write_records(
        path,
        [
            (np.repeat(ramp[None], num_frames, axis=0), 0, f"v{index}")
            for index in range(num_videos)
        ],
    )


def falls_left_to_right(clips):
    """Per clip of a `(batch, T, H, W, 3)` batch: whether its first frame darkens left to right."""
    first_frames = np.asarray(clips)[:, 0]
    return first_frames[:, :, :4].mean(axis=(1, 2, 3)) > first_frames[:, :, -4:].mean(
        axis=(1, 2, 3)
    )
