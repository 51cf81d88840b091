"""Serves the browser demo (web_demo/) with a chosen streaming model.

Usage:
    tsm-web --model=demo_output/export/tsm_streaming.tflite [--port=8000] [--host=127.0.0.1]

Serves the page, its LiteRT.js wasm files (web_demo/node_modules, from `npm ci` in
web_demo) and the model with its `.json` metadata under `/models/model.tflite`, with the
cross-origin isolation headers that multi-threaded wasm needs, and prints the URL to open.
"""

import errno
import functools
import http.server
import mimetypes
import os
import pathlib

import numpy as np
from absl import flags

from tsm_tf.cli.tool import run_tool
from tsm_tf.cli.web_files import StaticFileHandler

WEB_DEMO = pathlib.Path(__file__).resolve().parent.parent.parent / "web_demo"
MODEL_PREFIX = "/models/"
# Multi-threaded wasm needs SharedArrayBuffer, which browsers give only to cross-origin-isolated pages.
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("application/wasm", ".wasm")


class DemoRequestHandler(StaticFileHandler):
    """Serves web_demo/ and, under /models/NAME.tflite|.json, the models it was given."""

    def __init__(self, *args, models: dict[str, str], directory: str = str(WEB_DEMO), **kwargs):
        files = {}
        for name, model in models.items():
            for extension in (".tflite", ".json"):
                files[f"{MODEL_PREFIX}{name}{extension}"] = os.path.splitext(model)[0] + extension
        super().__init__(*args, directory=directory, files=files, **kwargs)

    def end_headers(self):
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format, *args):
        # Only errors: a page load fetches dozens of files.
        if len(args) > 1 and str(args[1]).startswith(("4", "5")):
            super().log_message(format, *args)


def check_web_demo() -> None:
    """Fails with how to fix it unless the page and its npm dependencies are in place."""
    wasm = WEB_DEMO / "node_modules" / "@litertjs" / "core" / "wasm"
    if not (WEB_DEMO / "index.html").exists():
        raise FileNotFoundError(
            f"No web demo at {WEB_DEMO}: tsm-web serves the repository's web_demo/ folder."
        )
    if not wasm.is_dir():
        raise FileNotFoundError(
            f"No LiteRT.js files at {wasm}. Install the page's dependencies once: "
            f"`cd {WEB_DEMO} && npm ci` (needs Node.js and npm)."
        )


def make_server(
    models: dict[str, str], host: str = "127.0.0.1", port: int = 8000
) -> http.server.ThreadingHTTPServer:
    """An HTTP server for the demo; `models` maps a name to a `.tflite` path (served as /models/NAME.tflite).

    `port=0` picks a free port (read it from `server.server_address`).
    """
    check_web_demo()
    for name, path in models.items():
        json_path = os.path.splitext(path)[0] + ".json"
        if not os.path.isfile(path) or not os.path.isfile(json_path):
            raise FileNotFoundError(
                f"Model {name!r}: expected {path!r} and its metadata {json_path!r}. Export with "
                "tsm_tf.export_tflite(..., mode='streaming'), which writes both."
            )
    handler = functools.partial(
        DemoRequestHandler, models={name: os.path.abspath(path) for name, path in models.items()}
    )
    return http.server.ThreadingHTTPServer((host, port), handler)


def page_url(server, model: str = "model") -> str:
    """The page's URL on `server`, loading the model served as `model`."""
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/?model={MODEL_PREFIX.lstrip('/')}{model}.tflite"


def write_y4m(path, frames, frame_rate=10):
    """Writes uint8 RGB frames `(num_frames, height, width, 3)` as a 4:2:0 Y4M (BT.601, full range).

    Chromium plays such a file as its fake webcam (`--use-file-for-fake-video-capture`), which
    the browser test and benchmark use; height and width must be even.
    """
    num_frames, height, width, _ = frames.shape
    with open(path, "wb") as file:
        file.write(f"YUV4MPEG2 W{width} H{height} F{frame_rate}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames.astype(np.float32):
            red, green, blue = frame[..., 0], frame[..., 1], frame[..., 2]
            luma = 0.299 * red + 0.587 * green + 0.114 * blue
            blue_difference = -0.168736 * red - 0.331264 * green + 0.5 * blue + 128
            red_difference = 0.5 * red - 0.418688 * green - 0.081312 * blue + 128

            def subsample(plane):
                return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

            file.write(b"FRAME\n")
            for plane in (luma, subsample(blue_difference), subsample(red_difference)):
                file.write(np.clip(np.round(plane), 0, 255).astype(np.uint8).tobytes())


def define_flags() -> None:
    """Defines this command's flags (at start-up, never at import)."""
    flags.DEFINE_string("model", None, "A streaming .tflite with its .json metadata beside it.")
    flags.DEFINE_integer(
        "port", 8000, "Port to listen on (0: any free port).", lower_bound=0, upper_bound=65535
    )
    flags.DEFINE_string(
        "host",
        "127.0.0.1",
        "Address to listen on (0.0.0.0 to reach it from a phone on the network).",
    )
    flags.mark_flag_as_required("model")


def check_streaming_model(path: str) -> None:
    """Refuses, before serving, a model the page would refuse once loaded, by opening it as
    `StreamingClassifier` does (metadata, its hash, the signature's states, the mode)."""
    from tsm_tf.lite.streaming_classifier import StreamingClassifier

    StreamingClassifier(path)


def main(argv):
    del argv
    values = flags.FLAGS
    check_streaming_model(values.model)
    try:
        server = make_server({"model": values.model}, values.host, values.port)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        raise OSError(
            f"Port {values.port} on {values.host} is in use: pass another --port, "
            "or --port=0 for any free one."
        ) from error
    print(
        f"Serving the TSM web demo with {values.model} at {page_url(server)} (Ctrl-C stops).",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def run():
    """Console-script and `python -m` entry point."""
    run_tool(main, define_flags)


if __name__ == "__main__":
    run()
