"""Videos read as a player shows them: turned by the container's display matrix, as Chromium
draws them, and read past damaged data with the time it was at."""

import base64
import json
import os
import subprocess

import numpy as np
import pytest

from tests.data_helpers import write_damaged_videos
from tsm_tf.data.video_io import SkipVideo
from tsm_tf.data.video_io import VideoReader
from tsm_tf.data.video_io import encode_video
from tsm_tf.data.video_io import iterate_video

CHROMIUM = "/usr/bin/chromium"
HEIGHT, WIDTH = 24, 40
# (counter-clockwise degrees, mirrored): every orientation a display matrix can give.
ORIENTATIONS = [(0, False), (90, False), (-90, False), (180, False)] + [
    (degrees, True) for degrees in (0, 90, -90, 180)
]


def blocks_picture(seed=0):
    """Black and white 8 x 8 blocks: any turn or mirror of it is far from it."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 2, (HEIGHT // 8, WIDTH // 8)) * 255
    picture = np.kron(blocks, np.ones((8, 8)))
    return np.repeat(picture[..., None], 3, axis=-1).astype(np.uint8)


def write_oriented_video(path, degrees, mirrored):
    """Three frames of the same picture, stored as they are, with a display matrix."""
    import av

    picture = blocks_picture()
    with av.open(path, "w") as container:
        stream = container.add_stream("h264", rate=10)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.set_display_rotation(degrees, hflip=mirrored)
        for _ in range(3):
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def chromium_frames(paths, folder):
    """The first frame of each video as headless Chromium draws it on a canvas (RGB arrays)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"No Chromium at {CHROMIUM}: sudo apt-get install -y chromium", pytrace=False)
    sources = [
        "data:video/mp4;base64," + base64.b64encode(open(path, "rb").read()).decode()
        for path in paths
    ]
    page = os.path.join(folder, "draw.html")
    with open(page, "w", encoding="utf-8") as file:
        file.write(
            """<!doctype html><pre id="out"></pre><script>
const draw = (source) => new Promise((resolve) => {
  const video = document.createElement("video");
  video.muted = true;
  video.src = source;
  video.requestVideoFrameCallback(() => {
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const context = canvas.getContext("2d");
    context.drawImage(video, 0, 0);
    const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
    resolve({height: canvas.height, width: canvas.width,
             rgb: Array.from(rgba.filter((_, index) => index % 4 !== 3))});
  });
  video.play();
});
Promise.all(SOURCES.map(draw)).then((frames) => {
  document.getElementById("out").textContent = JSON.stringify(frames);
});
</script>""".replace("SOURCES", json.dumps(sources))
        )
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--autoplay-policy=no-user-gesture-required",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    text = result.stdout.split('<pre id="out">', 1)[-1].split("</pre>", 1)[0]
    assert text.startswith("["), (
        f"Chromium drew nothing: {result.stdout[-500:]}{result.stderr[-2000:]}"
    )
    return [
        np.asarray(frame["rgb"], np.uint8).reshape(frame["height"], frame["width"], 3)
        for frame in json.loads(text)
    ]


def distance(first, second):
    """Mean absolute difference of two frames; infinite for frames of different sizes."""
    if first.shape != second.shape:
        return np.inf
    return float(np.mean(np.abs(first.astype(np.float64) - second)))


def test_frames_come_upright_as_chromium_draws_them(tmp_path):
    paths = [
        write_oriented_video(str(tmp_path / f"turned{degrees}_{mirrored}.mp4"), degrees, mirrored)
        for degrees, mirrored in ORIENTATIONS
    ]
    shown = chromium_frames(paths, str(tmp_path))
    for (degrees, mirrored), path, browser in zip(ORIENTATIONS, paths, shown):
        case = f"rotation {degrees}, mirrored {mirrored}"
        # The browser's frames are told apart: each other orientation is far from this one.
        others = [distance(other, browser) for other in shown if other is not browser]
        assert min(others) > 60, (case, others)
        with VideoReader(path) as video:
            timestamp, frame = next(iter(video))
        assert timestamp == 0 and distance(frame, browser) < 3, (case, distance(frame, browser))
        # tsm-prepare's path: every frame upright, stored at the size the player shows.
        frames, _ = iterate_video(path)
        assert all(distance(frame, browser) < 3 for frame in frames), case
        _, _, size = encode_video(path, shorter_side=0, quality=90)
        assert size == browser.shape[:2], case


def test_damaged_data_is_skipped_or_reported_with_its_time(tmp_path):
    damaged_video, cut_video = write_damaged_videos(str(tmp_path))
    video = VideoReader(damaged_video, skip_damaged=True)
    timestamps = [timestamp for timestamp, _ in video]
    assert [seconds for seconds, _ in video.damaged] == [2.0, 2.04]
    assert all("Invalid data found" in reason for _, reason in video.damaged)
    assert len(timestamps) == 98 and float(timestamps[-1]) == 3.96
    with pytest.raises(SkipVideo, match=r"damaged data at 2\.00 s \(after 4\d frames\)"):
        list(iterate_video(damaged_video)[0])
    # A file cut short ends where its data does, saying so, even past its partial last packet.
    video = VideoReader(cut_video, skip_damaged=True)
    with pytest.raises(SkipVideo, match=r"truncated: decoded 49 of the 100 frames it declares "):
        list(video)
    assert video.damaged == [(1.96, "Invalid data found when processing input")]
