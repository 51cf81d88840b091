"""Per-frame latency of the browser demo (LiteRT.js, 1 and 2 threads) against StreamingClassifier, in one run.

Usage:
    python benchmarks/benchmark_web.py [--model=model.tflite] [--num_frames=100] [--image_size=112]
        [--precision=float32|int8]

Without --model, exports a streaming MobileNetV2 x0.5 TSM (random weights: speed does not depend on
them) at --image_size and --precision (int8: full integer, calibrated on the rendered camera frames). Plays a rendered camera pan (320x240) as Chromium's fake webcam through the
page served by tsm-web's server, reads the page's per-frame latency (resize and crop, quantization,
the signature run, smoothing: what StreamingClassifier.classify times), then classifies the same
number of frames with StreamingClassifier at 1 and 2 threads. Needs `npm ci` in web_demo and
/usr/bin/chromium, as tests/test_web_demo.py.
"""

import argparse
import json
import os
import pathlib
import subprocess
import tempfile
import threading

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
WARMUP_FRAMES = 5


def export_model(directory, image_size, precision):
    import tsm_tf

    model = tsm_tf.build_tsm(
        "mobilenet_v2",
        10,
        num_segments=8,
        image_size=image_size,
        bidirectional=False,
        width_multiplier=0.5,
        dropout=0.0,
    )
    path = os.path.join(directory, "model.tflite")
    # int8 calibrates on consecutive camera frames (the exporter resizes and crops them).
    representative = camera_frames(32) if precision == "int8" else None
    tsm_tf.export_tflite(
        model, path, mode="streaming", precision=precision, representative_data=representative
    )
    return path


def camera_frames(num_frames):
    from tsm_tf.data.motion import MOTION_CLASSES
    from tsm_tf.data.motion import render_clip

    frames = render_clip(np.random.default_rng(0), MOTION_CLASSES[0], num_frames, 320)
    return frames[:, 40:280]


def browser_latencies(model_path, y4m, num_frames, directory):
    from tsm_tf.cli import web

    server = web.make_server({"model": model_path}, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    scenarios = [
        {
            "name": f"threads_{threads}",
            "url": f"http://{host}:{port}/?model=models/model.tflite&source=camera&threads={threads}",
            "until": "frames",
            "frames": num_frames + WARMUP_FRAMES,
        }
        for threads in (1, 2)
    ]
    config = os.path.join(directory, "config.json")
    with open(config, "w") as file:
        json.dump(
            {
                "executablePath": "/usr/bin/chromium",
                "y4m": y4m,
                "timeoutMs": 300000,
                "scenarios": scenarios,
            },
            file,
        )
    try:
        result = subprocess.run(
            ["node", str(ROOT / "web_demo" / "test_browser" / "drive_page.mjs"), config],
            capture_output=True,
            text=True,
            check=True,
            timeout=900,
        )
    finally:
        server.shutdown()
        server.server_close()
    results = {}
    for scenario in json.loads(result.stdout):
        if scenario["status"] != "streaming":
            raise RuntimeError(f"The page failed: {scenario['error']}")
        results[scenario["name"]] = np.asarray(scenario["latenciesMs"][WARMUP_FRAMES:])
    return results


def python_latencies(model_path, frames, num_threads):
    from tsm_tf import StreamingClassifier

    classifier = StreamingClassifier(model_path, num_threads=num_threads)
    for frame in frames[:WARMUP_FRAMES]:
        classifier.classify(frame)
    classifier.reset()
    latencies = [classifier.classify(frame).latency_ms for frame in frames[WARMUP_FRAMES:]]
    return np.asarray(latencies)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", help="A streaming .tflite (default: export MobileNetV2 x0.5 at --image_size)."
    )
    parser.add_argument("--image_size", type=int, default=112)
    parser.add_argument(
        "--precision",
        choices=("float32", "int8"),
        default="float32",
        help="Precision of the exported model (without --model).",
    )
    parser.add_argument(
        "--num_frames", type=int, default=100, help="Timed frames per run (after 5 warm-up frames)."
    )
    args = parser.parse_args(argv)
    from tsm_tf.cli import web
    from tsm_tf.lite.metadata import read_metadata

    with tempfile.TemporaryDirectory() as directory:
        model_path = args.model or export_model(directory, args.image_size, args.precision)
        precision = read_metadata(model_path)["precision"]
        frames = camera_frames(args.num_frames + WARMUP_FRAMES)
        y4m = os.path.join(directory, "camera.y4m")
        web.write_y4m(y4m, frames, frame_rate=25)
        browser = browser_latencies(model_path, y4m, args.num_frames, directory)
        rows = [
            (f"browser, LiteRT.js wasm, {name.split('_')[1]} thread(s)", values)
            for name, values in browser.items()
        ]
        for threads in (1, 2):
            rows.append(
                (
                    f"Python StreamingClassifier, {threads} thread(s)",
                    python_latencies(model_path, frames, threads),
                )
            )
    print(
        f"Per-frame latency, {os.path.basename(model_path)} ({precision}), 320x240 frames, "
        f"{args.num_frames} frames each:"
    )
    for name, values in rows:
        print(
            f"  {name:48s} mean {values.mean():6.2f} ms  median {np.median(values):6.2f} ms  p90 {np.percentile(values, 90):6.2f} ms"
        )


if __name__ == "__main__":
    main()
