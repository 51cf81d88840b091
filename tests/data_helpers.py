"""Writers of small test inputs for the data tests: videos (PyAV), frame folders, records."""

import os

import numpy as np


def textured_frames(num_frames, height, width, seed=0):
    """Frames of a smooth random texture drifting right by 2 px a frame (compresses well)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 255, (height // 8 + 2, (width + 2 * num_frames) // 8 + 2, 3))
    large = np.kron(base, np.ones((8, 8, 1)))
    frames = [large[:height, 2 * t : 2 * t + width] for t in range(num_frames)]
    return np.stack(frames).astype(np.uint8)


def write_video(path, frames, codec="h264", frame_rate=25):
    """Encodes RGB uint8 frames `(T, H, W, 3)` with PyAV (h264 for .mp4, libvpx-vp9 for .webm)."""
    import av

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with av.open(path, "w") as container:
        stream = container.add_stream(codec, rate=frame_rate)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_frame_folder(folder, frames, template="img_{:05d}.jpg", first_index=1):
    """Writes frames as JPEG files named by `template`."""
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(os.path.join(folder, template.format(first_index + index)), quality=95)


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
