"""The browser demo (web_demo/), tested in Node and in real headless Chromium.

1. The pure JS core replays the golden vectors of `tsm_tf.lite.golden` (Node's test runner).
2. The page, served by `tsm-web`'s server with the isolation headers, streams a video played
   as Chromium's fake webcam through LiteRT.js; its per-frame logits must equal
   `StreamingClassifier`'s on the same captured RGB frames, with 1 and 2 threads.
   A full-int8 export (int8 frame, states and logits) gives the same top-1 on every frame.
3. Error cases: a non-streaming model, metadata that does not match the model, a denied camera.

Needs Node.js with npm (the test runs `npm ci` in web_demo/ when node_modules is missing) and
Chromium at /usr/bin/chromium (`sudo apt-get install -y chromium`). Without them this test fails
and says how to install them; it never skips.
"""

import base64
import functools
import http.server
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import threading

import numpy as np
import pytest

from tests.helpers import fresh_process_environment
from tests.helpers import run_cli
from tsm_tf import StreamingClassifier
from tsm_tf.cli import web
from tsm_tf.lite import golden
from tsm_tf.utils.atomic_files import write_atomically

ROOT = pathlib.Path(__file__).resolve().parent.parent
WEB_DEMO = ROOT / "web_demo"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
NUM_RECORDED = 8
# A name that is not localhost, as a phone reaches the server (mapped to 127.0.0.1 in Chromium).
PHONE_HOST = "phone.test"
# A real webcam's size: the page's record hook once overflowed the call stack on frames this large.
CAPTURE_HEIGHT, CAPTURE_WIDTH = 480, 640
INSTALL_HINT = (
    "The web demo's tests need Node.js 20 with npm and Chromium: `sudo apt-get install -y "
    "--no-install-recommends nodejs npm chromium`, then rerun `make test`."
)


def _node_tools():
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail(f"node={node}, npm={npm}. {INSTALL_HINT}", pytrace=False)
    if not (WEB_DEMO / "node_modules" / "playwright-core").is_dir():
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=WEB_DEMO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            pytest.fail(
                f"`npm ci` in {WEB_DEMO} failed (it needs the npm registry):\n{result.stderr}",
                pytrace=False,
            )
    return node


def _camera_clip():
    """A real photo panned across the frame (the motion demo's renderer), at the capture size.

    Rendered at a quarter of the size and enlarged 4x (rendering 640 px frames takes seconds).
    """
    from tsm_tf.data.motion import MOTION_CLASSES
    from tsm_tf.data.motion import render_clip

    frames = render_clip(np.random.default_rng(0), MOTION_CLASSES[0], 30, CAPTURE_WIDTH // 4)
    top = (CAPTURE_WIDTH - CAPTURE_HEIGHT) // 8
    frames = frames[:, top : top + CAPTURE_HEIGHT // 4]
    return frames.repeat(4, axis=1).repeat(4, axis=2)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The golden vectors' float32 and full-int8 models, plus a clip export and mismatched metadata."""
    import keras

    from tsm_tf import build_tsm
    from tsm_tf import export_tflite

    directory = tmp_path_factory.mktemp("web_models")
    golden_dirs = [directory / "golden" / precision for precision in ("float32", "int8")]
    for golden_dir in golden_dirs:
        golden.write_golden_vectors(str(golden_dir), precision=golden_dir.name)
    float_model = golden_dirs[0] / golden.MODEL_FILE

    keras.utils.set_random_seed(0)
    model = build_tsm(
        "mobilenet_v2",
        num_classes=len(golden.LABELS),
        num_segments=4,
        image_size=32,
        bidirectional=False,
        width_multiplier=0.35,
        labels=golden.LABELS,
    )
    export_tflite(model, str(directory / "clip.tflite"), mode="clip", precision="float32")

    # The float32 model with metadata whose last state has another name: it does not belong to it.
    shutil.copy(float_model, directory / "mismatch.tflite")
    metadata = json.loads((golden_dirs[0] / "model.json").read_text())
    metadata["states"][-1]["input"] = metadata["states"][-1]["output"] = "state_renamed"
    (directory / "mismatch.json").write_text(json.dumps(metadata))
    return {
        "golden_dirs": golden_dirs,
        "model": str(float_model),
        "clip": str(directory / "clip.tflite"),
        "int8": str(golden_dirs[1] / golden.MODEL_FILE),
        "mismatch": str(directory / "mismatch.tflite"),
    }


def _install_wheel_in_fresh_venv(directory):
    """Builds a wheel of the checkout, installs it in a new virtual environment; returns its tsm-web.

    Only tsm_tf comes from the wheel: its dependencies (TensorFlow...) come from this environment's
    site-packages through a `.pth` line, which imports modules from it but runs none of its own
    `.pth` files (so not the editable install of the checkout).
    """
    source = directory / "source"
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    ignored = shutil.ignore_patterns("__pycache__", "node_modules", "test", "test_browser")
    for name in ("tsm_tf", "web_demo"):
        shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=ignored)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(directory), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = directory.glob("tsm_tf-*.whl")
    assert wheel.stat().st_size < 1_000_000, f"{wheel} is {wheel.stat().st_size} bytes"
    venv = directory / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    dependencies = sysconfig.get_paths()["purelib"]
    (pathlib.Path(site_packages) / "dependencies.pth").write_text(dependencies + "\n")
    return venv / "bin" / "tsm-web"


class QuietStaticHandler(http.server.SimpleHTTPRequestHandler):
    """A plain static server (no special headers), as a static host serves an exported site."""

    def log_message(self, format, *args):
        pass


class TsmWebProcess:
    """`tsm-web --https` started in a fresh process; `url` is the address it printed."""

    def __init__(self, command, cache_directory, cwd):
        environment = fresh_process_environment({"XDG_CACHE_HOME": str(cache_directory)})
        environment.pop("PYTHONPATH", None)  # the installed tsm_tf, not the checkout's
        self.process = subprocess.Popen(
            [*command, "--https", "--host=0.0.0.0", "--port=0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
            env=environment,
        )
        self.output = []

    def wait_for_url(self):
        """Reads its output up to the QR code's warning; returns `(port, output)`."""
        for line in self.process.stdout:
            self.output.append(line)
            if "Then it asks to use the camera" in line:
                break
        text = "".join(self.output)
        match = re.search(r"at https://0\.0\.0\.0:(\d+)/", text)
        assert match and self.process.poll() is None, f"tsm-web --https did not start:\n{text}"
        return int(match.group(1)), text

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser_results(models, tmp_path_factory):
    """Runs every page scenario in headless Chromium once; returns the results by name."""
    node = _node_tools()
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"No Chromium at {CHROMIUM}. {INSTALL_HINT}", pytrace=False)
    directory = tmp_path_factory.mktemp("web_browser")
    # Installed from a wheel, started first: its TensorFlow import overlaps the rest of the set-up.
    https_server = TsmWebProcess(
        [str(_install_wheel_in_fresh_venv(directory / "wheel")), f"--model={models['model']}"],
        directory / "cache",
        cwd=directory,
    )
    y4m = directory / "clip.y4m"
    web.write_y4m(y4m, _camera_clip())
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "web_demo.png"
    server = web.make_server(
        {name: models[name] for name in ("model", "clip", "int8", "mismatch")}, port=0
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]

    site = directory / "site"
    web.export_site(models["model"], str(site))
    static_server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0),
        functools.partial(QuietStaticHandler, directory=str(site)),
    )
    threading.Thread(target=static_server.serve_forever, daemon=True).start()
    site_origin = f"http://127.0.0.1:{static_server.server_address[1]}"
    # The Chromium scenarios start while tsm-web starts; the phone's waits for its port in this file.
    port_file = directory / "https_port"
    https_started = {}

    def note_https_port():
        try:
            https_started["port"], https_started["output"] = https_server.wait_for_url()
        finally:
            write_atomically(port_file, str(https_started.get("port", "failed")))

    threading.Thread(target=note_https_port, daemon=True).start()

    def url(model, origin=f"http://{host}:{port}", **parameters):
        query = "&".join(
            f"{key}={value}"
            for key, value in {
                "model": f"models/{model}.tflite",
                "source": "camera",
                **parameters,
            }.items()
        )
        return f"{origin}/?{query}"

    scenarios = [
        # One thread streams on the phone (https), on the exported site and in int8 below.
        {
            "name": "threads_2",
            "url": url("model", threads=2, record=NUM_RECORDED),
            "until": "records",
            "records": NUM_RECORDED,
            "screenshot": str(screenshot),
        },
        *(
            {
                "name": f"int8_threads_{threads}",
                "url": url("int8", threads=threads, record=NUM_RECORDED),
                "until": "records",
                "records": NUM_RECORDED,
            }
            for threads in (1, 2)
        ),
        {"name": "clip", "url": url("clip"), "until": "error"},
        {"name": "mismatch", "url": url("mismatch"), "until": "error"},
        {"name": "denied", "url": url("model"), "until": "error", "camera": "denied"},
        # A phone's view: the server under a name that is not localhost.
        {
            "name": "insecure_http",
            "url": url("model", origin=f"http://{PHONE_HOST}:{port}"),
            "until": "error",
        },
        # The exported site on a plain static server; then offline, reloaded.
        {
            "name": "site",
            "url": f"{site_origin}/?source=camera&record={NUM_RECORDED}&smoothing=1",
            "until": "records",
            "records": NUM_RECORDED,
            "installability": True,
            "steps": ["offline_reload"],
        },
        {
            "name": "phone_landscape",
            "url": url("model"),
            "until": "frames",
            "frames": 3,
            "device": "Pixel 7 landscape",
            "screenshot": str(ARTIFACTS / "phone_landscape.png"),
            "steps": ["flip"],
        },
        # Last, as tsm-web may still be starting. A phone held upright at tsm-web --https: hidden, then shown again (a new stream).
        {
            "name": "https",
            "url": url(
                "model",
                origin=f"https://{PHONE_HOST}:PORT_FROM_FILE",
                record=NUM_RECORDED,
                smoothing=1,
            ),
            "until": "records",
            "records": NUM_RECORDED,
            "device": "Pixel 7",
            "screenshot": str(ARTIFACTS / "phone_portrait.png"),
            "steps": ["hide", "show"],
        },
    ]
    config = directory / "config.json"
    config.write_text(
        json.dumps(
            {
                "executablePath": CHROMIUM,
                "y4m": str(y4m),
                "hostResolverRules": f"MAP {PHONE_HOST} 127.0.0.1",
                "portFile": str(port_file),
                "timeoutMs": 30000,
                "scenarios": scenarios,
            }
        )
    )
    try:
        result = subprocess.run(
            [node, str(WEB_DEMO / "test_browser" / "drive_page.mjs"), str(config)],
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        for stopped in (server, static_server):
            stopped.shutdown()
            stopped.server_close()
        https_server.stop()
    assert result.returncode == 0, f"The Chromium driver failed:\n{result.stderr[-4000:]}"
    print(f"Screenshot of the page streaming a video: {screenshot}")
    results = {scenario["name"]: scenario for scenario in json.loads(result.stdout)}
    assert "port" in https_started, (
        f"tsm-web --https did not start:\n{''.join(https_server.output)}"
    )
    results["https_output"] = https_started["output"]
    results["https_cache"] = directory / "cache"
    results["site"]["folder"] = site
    return results


def _recorded_frames(result):
    frames, logits = [], []
    for record in result["records"]:
        rgb = np.frombuffer(base64.b64decode(record["rgb"]), np.uint8)
        frames.append(rgb.reshape(record["height"], record["width"], 3))
        logits.append(np.asarray(record["logits"], np.float32))
    return frames, np.stack(logits)


def test_node_core_replays_golden_vectors(models):
    node = _node_tools()
    result = subprocess.run(
        [node, "--test", str(WEB_DEMO / "test")],
        env={**os.environ, "TSM_GOLDEN": os.pathsep.join(map(str, models["golden_dirs"]))},
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "# fail 0" in output, f"node --test failed:\n{output}"
    assert "# pass 0" not in output
    for golden_dir in models["golden_dirs"]:
        assert f"golden vectors {golden_dir / golden.GOLDEN_FILE}" in output, output


@pytest.mark.parametrize("scenario", ["threads_2", "https"])
def test_page_logits_equal_streaming_classifier(browser_results, models, scenario):
    result = browser_results[scenario]
    assert result["status"] == "streaming" and not result["timedOut"], result
    assert result["crossOriginIsolated"], (
        "tsm-web's server did not make the page cross-origin isolated"
    )
    frames, page_logits = _recorded_frames(result)
    assert len(frames) == NUM_RECORDED and frames[0].shape == (CAPTURE_HEIGHT, CAPTURE_WIDTH, 3)
    classifier = StreamingClassifier(models["model"], num_threads=1)
    python_logits = np.stack([classifier.classify(frame).logits for frame in frames])
    print(f"{scenario}: largest logit gap {np.abs(page_logits - python_logits).max():.2g}")
    np.testing.assert_allclose(page_logits, python_logits, rtol=0, atol=1e-5)
    # Sensitivity: the logits move far beyond the tolerance from frame to frame, and with the
    # states zeroed before every frame (the states carried wrongly), so the comparison can fail.
    assert np.abs(np.diff(python_logits, axis=0)).max() > 1e-2
    zeroed = []
    for frame in frames:
        classifier.reset()
        zeroed.append(classifier.classify(frame).logits)
    assert np.abs(np.stack(zeroed)[1:] - python_logits[1:]).max() > 1e-3
    assert len(result["top3"]) == 3 and "ms" in result["latency"]


@pytest.mark.parametrize("scenario", ["int8_threads_1", "int8_threads_2"])
def test_full_int8_page_top1_equals_streaming_classifier(browser_results, models, scenario):
    result = browser_results[scenario]
    assert result["status"] == "streaming" and not result["timedOut"], result
    assert result["metadata"]["precision"] == "int8", result["metadata"]
    frames, page_logits = _recorded_frames(result)
    assert len(frames) == NUM_RECORDED
    classifier = StreamingClassifier(models["int8"], num_threads=1)
    python_logits = np.stack([classifier.classify(frame).logits for frame in frames])
    output = classifier.metadata["output"]["quantization"]
    gap_in_steps = np.abs(page_logits - python_logits).max() / output["scale"]
    print(
        f"{scenario}: top-1 {python_logits.argmax(1).tolist()}, largest logit gap to "
        f"StreamingClassifier {gap_in_steps:.2f} int8 steps"
    )
    np.testing.assert_array_equal(page_logits.argmax(1), python_logits.argmax(1))
    assert len(set(python_logits.argmax(1).tolist())) > 1, "a constant top-1 proves nothing"
    # The same int8 kernels (XNNPACK) on both sides: at most one step apart (rounding), not just the same top-1.
    assert gap_in_steps <= 1 + 1e-3, gap_in_steps
    # Sensitivity: the states carried wrongly (zeroed before every frame) change the logits far
    # beyond one int8 step, and the page's logits are int8 steps, dequantized by the metadata.
    zeroed = []
    for frame in frames:
        classifier.reset()
        zeroed.append(classifier.classify(frame).logits)
    assert np.abs(np.stack(zeroed)[1:] - python_logits[1:]).max() > 3 * output["scale"]
    steps = page_logits / output["scale"] + output["zero_point"]
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)


def test_clip_model_is_refused(browser_results):
    result = browser_results["clip"]
    assert result["status"] == "error" and "streaming model" in result["message"], result


def test_mismatched_metadata_is_refused(browser_results):
    result = browser_results["mismatch"]
    assert result["status"] == "error", result
    assert (
        "state_renamed" in result["message"]
        and "export model.tflite and model.json together" in result["message"]
    ), result


@pytest.mark.parametrize(
    "name, message",
    [("clip", r"mode='clip'"), ("in_use", r"is in use")],
)
def test_tsm_web_refuses_what_the_page_would_before_serving(models, name, message):
    _node_tools()  # the server also needs the page's LiteRT.js files
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1] if name == "in_use" else 0
        model = models["model" if name == "in_use" else name]
        result = run_cli("tsm_tf.cli.web", [f"--model={model}", f"--port={port}"], timeout=120)
    assert result.returncode == 1 and re.search(message, result.stderr), result.stderr
    assert "Traceback" not in result.stderr


def test_tsm_web_refuses_metadata_of_another_model(models):
    # The check the command runs before serving (seen refusing through the command above).
    with pytest.raises(ValueError, match="state_renamed"):
        web.check_streaming_model(models["mismatch"])


def test_denied_camera_says_how_to_allow_it(browser_results):
    result = browser_results["denied"]
    assert result["status"] == "error" and "Camera permission was denied" in result["message"], (
        result
    )


def test_plain_http_under_a_phone_name_says_why_there_is_no_camera(browser_results):
    result = browser_results["insecure_http"]
    assert result["status"] == "error" and result["cameraRequests"] == [], result
    assert "plain HTTP" in result["message"] and "tsm-web --https" in result["message"], result


def test_tsm_web_https_prints_phone_urls_qr_code_and_keeps_its_certificate(browser_results):
    from cryptography import x509

    from tsm_tf.cli import web_https

    output = browser_results["https_output"]
    port = re.search(r"at https://0\.0\.0\.0:(\d+)/", output).group(1)
    names, addresses = web_https.certificate_names()
    for address in addresses[1:]:
        assert f"https://{address}:{port}/" in output, output
    assert f"https://{names[1]}:{port}/" in output and "QR code" in output, output
    assert "\u2588\u2588\u2588" in output, "no QR code in the terminal"
    assert "Your connection is not private" in output, output
    # The wheel's tsm-web served its own page, with LiteRT.js from npm (no checkout to take it from).
    assert "Installing LiteRT.js from npm into" in output, output
    directory = browser_results["https_cache"] / "tsm_tf" / "https"
    certificate_path = directory / web_https.CERTIFICATE_FILE
    certificate = x509.load_pem_x509_certificate(certificate_path.read_bytes())
    alternatives = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names) <= set(alternatives.get_values_for_type(x509.DNSName))
    assert set(addresses) <= {str(a) for a in alternatives.get_values_for_type(x509.IPAddress)}
    # Reused while it covers this machine; made anew when it does not (here: another machine's).
    before = certificate_path.read_bytes()
    web_https.self_signed_certificate(directory)
    assert certificate_path.read_bytes() == before
    web_https.self_signed_certificate(directory, ["localhost", "another-machine"], ["127.0.0.1"])
    assert certificate_path.read_bytes() != before


@pytest.mark.parametrize("scenario", ["https", "phone_landscape"])
def test_phone_sized_page_fits_the_screen_and_asks_for_the_rear_camera(browser_results, scenario):
    result = browser_results[scenario]
    assert result["status"] == "streaming" and not result["timedOut"], result
    layout = result["layout"]
    width, height = layout["innerWidth"], layout["innerHeight"]
    assert layout["scrollWidth"] <= width, f"{scenario}: scrolls sideways: {layout}"
    assert len(layout["controls"]) == 4, layout["controls"]
    for box in [*layout["controls"], layout["top3"], layout["latency"]]:
        inside = box["left"] >= 0 and box["right"] <= width and box["top"] >= 0
        assert inside and box["bottom"] <= height, f"{scenario}: {box} outside {width}x{height}"
    for control in layout["controls"]:
        assert min(control["width"], control["height"]) >= 44, f"not touch-sized: {control}"
    video = layout["video"]
    assert video["right"] <= width and video["bottom"] <= height and video["height"] > height / 3
    assert len(result["top3"]) == 3, result["top3"]
    assert result["cameraRequests"][0]["video"]["facingMode"] == {"ideal": "environment"}
    assert result["wakeLocksReleased"] == [False], result["wakeLock"]


def test_camera_switch_asks_for_the_front_camera(browser_results):
    (flip,) = browser_results["phone_landscape"]["steps"]
    assert flip["status"] == "streaming" and not flip["timedOut"], flip
    assert [request["video"]["facingMode"]["ideal"] for request in flip["cameraRequests"]] == [
        "environment",
        "user",
    ]


def test_hidden_page_pauses_and_starts_a_new_stream_when_shown(browser_results, models):
    hidden, shown = browser_results["https"]["steps"]
    assert hidden["status"] == "paused" and not hidden["cameraLive"], hidden
    assert hidden["wakeLocksReleased"] == [True], hidden["wakeLocksReleased"]
    assert hidden["framesClassified"] == hidden["framesBefore"], "classified while hidden"
    assert shown["status"] == "streaming" and not shown["timedOut"], shown
    assert shown["wakeLocksReleased"] == [True, False] and len(shown["cameraRequests"]) == 2
    # A new stream: its logits are those of a fresh StreamingClassifier (zero states) on its
    # frames, and far from those of the states carried on from before the page was hidden.
    frames, page_logits = _recorded_frames(shown)
    classifier = StreamingClassifier(models["model"], num_threads=1)
    fresh = np.stack([classifier.classify(frame).logits for frame in frames])
    np.testing.assert_allclose(page_logits, fresh, rtol=0, atol=1e-5)
    carried_on = np.stack([classifier.classify(frame).logits for frame in frames])
    assert np.abs(carried_on - fresh).max() > 1e-3


def _assert_logits_of_a_fresh_stream(result, model):
    assert result["status"] == "streaming" and not result["timedOut"], result
    frames, page_logits = _recorded_frames(result)
    assert len(frames) == NUM_RECORDED
    classifier = StreamingClassifier(model, num_threads=1)
    python_logits = np.stack([classifier.classify(frame).logits for frame in frames])
    np.testing.assert_allclose(page_logits, python_logits, rtol=0, atol=1e-5)


def test_exported_site_streams_on_a_plain_static_server_with_one_thread(browser_results, models):
    result = browser_results["site"]
    _assert_logits_of_a_fresh_stream(result, models["model"])
    assert not result["crossOriginIsolated"]
    assert "1 thread (this host does not send the cross-origin isolation" in result["modelInfo"]
    # Playwright's contexts are incognito, which alone keeps Chromium from offering to install it.
    errors = [error["errorId"] for error in result["installabilityErrors"]]
    assert errors == ["in-incognito"], errors
    folder = result["folder"]
    files = sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())
    assert "models/model.tflite" in files and "service_worker.js" in files, files
    assert not [name for name in files if "threaded" in name or "jspi" in name], files


def test_exported_site_reloads_and_streams_offline(browser_results, models):
    (offline,) = browser_results["site"]["steps"]
    assert offline["offlineBefore"] == "ready", offline
    assert "reloadError" not in offline, offline["reloadError"]
    assert offline["serviceWorkerControlled"] and offline["uncachedFetch"] == "failed", offline
    _assert_logits_of_a_fresh_stream(offline, models["model"])
