"""Presets: from a name to Keras logits equal to PyTorch's, through a local HTTP server.

Each test serves checkpoints that it writes in the release's layout from
`tests/torch_reference.py` (random weights) under the release's file names,
from an `http.server` in a thread; the cache is a temporary `KERAS_HOME`.
No test touches the internet.
"""

import hashlib
import os

import numpy as np
import pytest

import tsm_tf
from tests.helpers import assert_matches_reference
from tests.helpers import calibration_clips
from tests.helpers import random_clips
from tests.helpers import require
from tests.helpers import run_cli
from tests.preset_server import LocalServer
from tests.preset_server import run_cli_served
from tsm_tf import presets
from tsm_tf.lite.streaming import logits_of
from tsm_tf.lite.streaming import stream_tflite
from tsm_tf.presets import download

torch = require("torch", "pip install torch (or the [dev] extra)")

from tests import torch_reference as ref  # noqa: E402

ATOL = 1e-4
KINETICS = "tsm_resnet50_kinetics400_8f"
KINETICS_FILE = "TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e50.pth"
ONLINE = "tsm_mobilenetv2_jester_online"
TINY = {"width_multiplier": 0.125, "image_size": 32}  # reference base width 8


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """A fresh, empty Keras cache; the base-URL variable unset."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv(download.BASE_URL_VARIABLE, raising=False)
    return tmp_path / "keras_home" / download.CACHE_SUBDIR


@pytest.fixture(scope="module")
def kinetics_release(tmp_path_factory):
    """A tiny ResNet50 TSM saved as the Kinetics release file, in a served folder."""
    folder = tmp_path_factory.mktemp("served")
    net = ref.randomize(
        ref.release_tsm("resnet50", 400, 8, base_width=8),
        seed=21,
        calibration_clips=calibration_clips(8, 32),
    )
    torch.save(
        {"epoch": 50, "arch": "resnet50", "state_dict": net.state_dict()}, folder / KINETICS_FILE
    )
    return net, folder


def serve_online_jester(tmp_path, seed):
    """A randomized `OnlineMobileNetV2` with Jester's 27 classes, saved under the
    release's file name in `tmp_path/served`; returns the network and the folder."""
    folder = tmp_path / "served"
    folder.mkdir()
    net = ref.randomize(
        ref.OnlineMobileNetV2(num_classes=27), seed=seed, calibration_clips=calibration_clips(4, 64)
    )
    torch.save(net.state_dict(), folder / "mobilenetv2_jester_online.pth.tar")
    return net, folder


def torch_logits(net, clips):
    with torch.no_grad():
        return net(ref.normalize_frames(clips)).numpy()


def cache_contents(cache):
    return sorted(os.listdir(cache)) if cache.exists() else []


def test_kinetics_preset_matches_pytorch_then_loads_from_cache_offline(
    kinetics_release, keras_home, capsys
):
    net, folder = kinetics_release
    server = LocalServer(folder)
    try:
        model = tsm_tf.TSMClassifier.from_preset(KINETICS, base_url=server.url, **TINY)
    finally:
        server.stop()
    digest = hashlib.sha256((folder / KINETICS_FILE).read_bytes()).hexdigest()
    assert f"SHA-256 {digest}" in capsys.readouterr().out  # not yet recorded: printed
    assert cache_contents(keras_home) == [KINETICS_FILE, KINETICS_FILE + ".sha256"]
    assert model.labels == presets.preset_labels(KINETICS)
    assert len(model.labels) == 400 and model.labels[0] == "abseiling"

    clips = random_clips(1, 8, 32, seed=22)
    expected = torch_logits(net, clips)
    np.testing.assert_allclose(model.predict(clips, verbose=0), expected, atol=ATOL, rtol=0)
    other = random_clips(1, 8, 32, seed=23)
    assert np.abs(torch_logits(net, other) - expected).max() > 100 * ATOL

    # The server is gone: build_tsm(weights=name) reads the cached file.
    again = tsm_tf.build_tsm("resnet50", 400, num_segments=8, weights=KINETICS, **TINY)
    assert again.labels == model.labels
    np.testing.assert_allclose(again.predict(clips, verbose=0), expected, atol=ATOL, rtol=0)


def test_truncated_download_leaves_nothing_and_a_retry_succeeds(kinetics_release, keras_home):
    _, folder = kinetics_release
    server = LocalServer(folder)
    try:
        server.httpd.truncate = True
        with pytest.raises(
            presets.DownloadError, match=r"Nothing was kept in the cache.*(retry|again)"
        ):
            presets.preset_file(KINETICS, base_url=server.url)
        assert cache_contents(keras_home) == []
        server.httpd.truncate = False
        path = presets.preset_file(KINETICS, base_url=server.url)
    finally:
        server.stop()
    assert open(path, "rb").read() == (folder / KINETICS_FILE).read_bytes()
    assert cache_contents(keras_home) == [KINETICS_FILE, KINETICS_FILE + ".sha256"]


def test_recorded_hash_and_size_are_checked(kinetics_release, keras_home, monkeypatch):
    _, folder = kinetics_release
    data = (folder / KINETICS_FILE).read_bytes()
    monkeypatch.setitem(
        presets.PRESETS, KINETICS, {**presets.PRESETS[KINETICS], "sha256": "0" * 64}
    )
    server = LocalServer(folder)
    try:
        with pytest.raises(presets.DownloadError, match=r"SHA-256 [0-9a-f]{64}, the record 0000"):
            presets.preset_file(KINETICS, base_url=server.url)
        assert cache_contents(keras_home) == []
        monkeypatch.setitem(
            presets.PRESETS,
            KINETICS,
            {
                **presets.PRESETS[KINETICS],
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data) + 1,
            },
        )
        with pytest.raises(
            presets.DownloadError, match=rf"has {len(data)} bytes, the record {len(data) + 1}"
        ):
            presets.preset_file(KINETICS, base_url=server.url)
        assert cache_contents(keras_home) == []
    finally:
        server.stop()


def test_a_changed_or_truncated_file_is_refused_by_the_hash_it_should_have(tmp_path):
    """The authors' files: the first download's hash, recorded beside it, refuses a changed
    or truncated file later, unless a given hash says otherwise; torchvision's: the hash
    digits in the file's name."""
    served, cache = tmp_path / "served", str(tmp_path / "cache")
    served.mkdir()
    original = np.random.default_rng(0).bytes(50_000)
    changed = original[:-1] + bytes([original[-1] ^ 1])
    release = "https://github.com/mit-han-lab/temporal-shift-module/releases/download/v0/TSM.pth"
    server = LocalServer(served)
    try:

        def fetch_serving(data, url=release, **kwargs):
            (served / url.rsplit("/", 1)[-1]).write_bytes(data)
            return download.fetch(url, base_url=server.url, directory=cache, **kwargs)

        path = fetch_serving(original)
        record = path + download.RECORD_SUFFIX
        assert open(record).read().split()[0] == hashlib.sha256(original).hexdigest()
        os.remove(path)  # downloaded anew: what the source serves now must be the same file
        for data in (changed, original[: len(original) // 2]):
            with pytest.raises(
                presets.DownloadError,
                match=rf"not the [0-9a-f]{{64}} of the first download.*{record}",
            ):
                fetch_serving(data)
            assert sorted(os.listdir(cache)) == ["TSM.pth.sha256"]
        assert (
            open(fetch_serving(changed, sha256=hashlib.sha256(changed).hexdigest()), "rb").read()
            == changed
        )

        digits = hashlib.sha256(original).hexdigest()[:8]
        torchvision = f"https://download.pytorch.org/models/resnet50-{digits}.pth"
        assert open(fetch_serving(original, torchvision), "rb").read() == original
        os.remove(os.path.join(cache, f"resnet50-{digits}.pth"))
        with pytest.raises(
            presets.DownloadError, match=rf"does not begin with the {digits} its name"
        ):
            fetch_serving(changed, torchvision)
        assert not os.path.exists(os.path.join(cache, f"resnet50-{digits}.pth"))
    finally:
        server.stop()


def test_online_preset_to_a_streaming_tflite_equal_to_pytorch(tmp_path, keras_home):
    """The online Jester file, served; one call to a streaming .tflite with its labels."""
    from tsm_tf.presets.export import export_preset

    net, folder = serve_online_jester(tmp_path, seed=24)
    size = 64
    frames = random_clips(1, 5, size, seed=25)[0]
    buffers = net.initial_buffers(size)
    expected = []
    with torch.no_grad():
        for frame in frames:
            logits, *buffers = net(ref.normalize_frames(frame[None]), *buffers)
            expected.append(logits.numpy()[0])
    expected = np.stack(expected)

    server = LocalServer(folder)
    try:
        output = tmp_path / "jester.tflite"
        _, metadata, report = export_preset(ONLINE, output, base_url=server.url, image_size=size)
    finally:
        server.stop()
    assert report.passed
    assert metadata["labels"] == presets.preset_labels(ONLINE)
    assert metadata["labels"][2] == "No gesture"
    on_device = logits_of(stream_tflite(output, frames))
    with torch.no_grad():
        normalized = ref.normalize_frames(frames[None])
        zeroed_states = net.stream(normalized, carry_states=False).numpy()[0]
        another_clip = net.stream(ref.normalize_frames(random_clips(1, 5, size, seed=28))).numpy()[
            0
        ]
    assert_matches_reference(
        on_device,
        expected,
        {"zeroed states": zeroed_states, "another clip": another_clip},
        atol=1e-3,
    )


def test_bad_names_and_an_offline_preset_asked_to_stream_fail_clearly(keras_home, monkeypatch):
    from tsm_tf.presets import export as export_module

    with pytest.raises(ValueError, match=r"Unknown preset 'tsm_nope'.*tsm_resnet50_kinetics400_8f"):
        tsm_tf.TSMClassifier.from_preset("tsm_nope")
    with pytest.raises(ValueError, match=r"can change image_size.*Received: shift_div"):
        tsm_tf.TSMClassifier.from_preset(KINETICS, shift_div=4)
    # An offline (bidirectional) preset is refused before its checkpoint is downloaded.
    monkeypatch.setattr(
        export_module.TSMClassifier,
        "from_preset",
        lambda *args, **kwargs: pytest.fail("downloaded first"),
    )
    with pytest.raises(ValueError, match=r"offline \(bidirectional\) TSM.*cannot stream"):
        export_module.export_preset(KINETICS, keras_home / "x.tflite")
    assert cache_contents(keras_home) == []


def test_a_preset_out_of_reach_names_the_cache_path_without_a_traceback(tmp_path):
    result = run_cli(
        "tsm_tf.cli.export",
        [f"--preset={ONLINE}", f"--output={tmp_path / 'online.tflite'}"],
        # Nothing listens on port 9 of this machine: the download fails at once.
        environment={"KERAS_HOME": str(tmp_path), download.BASE_URL_VARIABLE: "http://127.0.0.1:9"},
        timeout=120,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    cached = tmp_path / download.CACHE_SUBDIR / "mobilenetv2_jester_online.pth.tar"
    assert f"error: Downloading http://127.0.0.1:9/{cached.name} failed" in result.stderr
    assert f"copy the file to {cached}" in result.stderr


def test_every_preset_is_complete_and_its_labels_are_the_documented_order():
    for name, preset in presets.PRESETS.items():
        architecture = preset["architecture"]
        labels = presets.preset_labels(name)
        if labels is not None:
            assert len(labels) == len(set(labels)) == architecture["num_classes"], name
        assert preset["url"].rsplit("/", 1)[-1], name
        assert preset["accuracy"] and "protocol" in preset["accuracy"][0], name
    # Orders the authors' code assigns (tsm_tf/presets/labels/README.md).
    sthv1 = presets.preset_labels("tsm_resnet50_sthv1_8f")
    assert sthv1 == sorted(sthv1)  # gen_label_sthv1.py sorts the CSV
    sthv2 = presets.preset_labels("tsm_resnet50_sthv2_8f")
    assert [
        sthv2.index(name)
        for name in (
            "Approaching something with your camera",
            "Closing something",
            "Moving something away from the camera",
        )
    ] == [0, 5, 41]  # labels.json indices
    jester = presets.preset_labels(ONLINE)
    assert jester == sorted(jester) and jester[0] == "Doing other things"
    assert presets.get_preset("tsm_resnet101_sthv2_8f")["architecture"]["backbone"] == "resnet101"


def test_exporter_goes_from_a_preset_name_to_android_assets(tmp_path, keras_home):
    """export/export_tflite.py --preset=... --android_assets in a fresh process."""
    import json

    _, folder = serve_online_jester(tmp_path, seed=26)
    assets = tmp_path / "assets"
    result = run_cli_served(
        folder,
        "export/export_tflite.py",
        [
            f"--preset={ONLINE}",
            "--image_size=64",
            f"--output={tmp_path / 'out' / 'model.tflite'}",
            "--android_assets",
            f"--android_assets_dir={assets}",
        ],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(assets)) == ["labels.txt", "model.json", "model.tflite"]
    labels = (assets / "labels.txt").read_text().splitlines()
    assert labels == presets.preset_labels(ONLINE)
    metadata = json.loads((assets / "model.json").read_text())
    assert metadata["mode"] == "streaming" and metadata["labels"] == labels


def test_stream_cli_runs_a_video_through_a_preset(tmp_path, keras_home):
    """tsm-stream --preset=... --video=...: download, export, parity, stream, labelled output."""
    from tests.data_helpers import textured_frames
    from tests.data_helpers import write_video

    _, folder = serve_online_jester(tmp_path, seed=27)
    video = tmp_path / "clip.mp4"
    write_video(video, textured_frames(6, 72, 96, seed=28))
    result = run_cli_served(
        folder,
        "tsm_tf.cli.stream",
        [f"--preset={ONLINE}", "--image_size=64", f"--video={video}", "--every=frame", "--top_k=1"],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if "frame" in line and "s  frame" in line]
    assert len(lines) == 6
    jester = presets.preset_labels(ONLINE)
    assert all(any(label in line for label in jester) for line in lines)
