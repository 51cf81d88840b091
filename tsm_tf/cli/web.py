"""Serves the browser demo (web_demo/) with a chosen streaming model.

Usage:
    tsm-web --model=demo_output/export/tsm_streaming.tflite [--port=8000] [--host=127.0.0.1]
    tsm-web --model=... --host=0.0.0.0 --https      # for a phone on the network

Serves the page, its LiteRT.js wasm files (web_demo/node_modules, from `npm ci` in
web_demo) and the model with its `.json` metadata under `/models/model.tflite`, with the
cross-origin isolation headers that multi-threaded wasm needs, and prints the URL to open.
With --https (a self-signed certificate, or --certfile/--keyfile) it also prints the URLs a
phone can open, a QR code, and what the phone's browser will ask.
"""

import errno
import functools
import hashlib
import http.server
import mimetypes
import os
import pathlib
import shutil
import ssl
import subprocess
import tempfile

import numpy as np
from absl import flags

from tsm_tf.cli.tool import run_tool
from tsm_tf.cli.web_files import StaticFileHandler

# tsm_tf/web_demo: in a checkout a link to the repository's web_demo/, in an installed wheel its copy.
WEB_DEMO = pathlib.Path(__file__).resolve().parent.parent / "web_demo"
# The page's own files (also the wheel's package data in setup.cfg); its LiteRT.js comes from npm.
PAGE_FILES = (
    "index.html",
    "app.js",
    "litert_model.js",
    "style.css",
    "service_worker.js",
    "manifest.webmanifest",
    "icon.svg",
    "core/*.js",
)
MODULES_PREFIX = "/node_modules/"
LITERT_WASM = pathlib.Path("@litertjs/core/wasm")
# What an exported site needs of LiteRT.js: one thread only (the wasm with and without relaxed SIMD).
SITE_LITERT_FILES = (
    "@litertjs/core/dist/index.js",
    "@litertjs/wasm-utils/dist/index.js",
    *(
        f"@litertjs/core/wasm/litert_wasm{variant}_internal.{extension}"
        for variant in ("", "_compat")
        for extension in ("js", "wasm")
    ),
)
MODEL_PREFIX = "/models/"
# Multi-threaded wasm needs SharedArrayBuffer, which browsers give only to cross-origin-isolated pages.
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("application/manifest+json", ".webmanifest")


class DemoRequestHandler(StaticFileHandler):
    """Serves web_demo/, LiteRT.js under /node_modules/ and, under /models/NAME.tflite|.json,
    the models it was given."""

    def __init__(
        self,
        *args,
        models: dict[str, str],
        node_modules: pathlib.Path | None = None,
        directory: str = str(WEB_DEMO),
        **kwargs,
    ):
        files = {}
        for name, model in models.items():
            for extension in (".tflite", ".json"):
                files[f"{MODEL_PREFIX}{name}{extension}"] = os.path.splitext(model)[0] + extension
        folders = {MODULES_PREFIX: str(node_modules)} if node_modules is not None else {}
        super().__init__(*args, directory=directory, files=files, folders=folders, **kwargs)

    def end_headers(self):
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format, *args):
        # Only errors: a page load fetches dozens of files.
        if len(args) > 1 and str(args[1]).startswith(("4", "5")):
            super().log_message(format, *args)


def litert_node_modules() -> pathlib.Path:
    """The node_modules folder with the page's LiteRT.js: web_demo's own after `npm ci` there, or
    else one installed from npm into the user's cache folder on first use (an installed tsm_tf)."""
    if not (WEB_DEMO / "index.html").exists():
        raise FileNotFoundError(f"No web demo at {WEB_DEMO}: reinstall tsm_tf.")
    if (WEB_DEMO / "node_modules" / LITERT_WASM).is_dir():
        return WEB_DEMO / "node_modules"
    import platformdirs

    lock = (WEB_DEMO / "package-lock.json").read_bytes()
    folder = pathlib.Path(platformdirs.user_cache_dir("tsm_tf")) / "web_demo"
    folder = folder / f"npm-{hashlib.sha256(lock).hexdigest()[:12]}"
    if (folder / "node_modules" / LITERT_WASM).is_dir():
        return folder / "node_modules"
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError(
            "The page needs LiteRT.js, which tsm-web installs from npm once, and npm is missing. "
            "Install Node.js with npm (https://nodejs.org, or `apt-get install nodejs npm`) and "
            f"rerun; or run `npm ci` in {WEB_DEMO}."
        )
    print(f"Installing LiteRT.js from npm into {folder} (once)...", flush=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Built beside and renamed, so an interrupted install leaves no half-filled folder.
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".tmp-") as temporary:
        for name in ("package.json", "package-lock.json"):
            shutil.copy(WEB_DEMO / name, temporary)
        result = subprocess.run(
            [npm, "ci", "--omit=dev", "--no-audit", "--no-fund"],
            cwd=temporary,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"`npm ci` of the page's LiteRT.js failed (it needs the npm registry):\n{result.stderr}"
            )
        os.replace(temporary, folder)
    return folder / "node_modules"


def make_server(
    models: dict[str, str],
    host: str = "127.0.0.1",
    port: int = 8000,
    ssl_context: ssl.SSLContext | None = None,
) -> http.server.ThreadingHTTPServer:
    """An HTTP server for the demo; `models` maps a name to a `.tflite` path (served as /models/NAME.tflite).

    `port=0` picks a free port (read it from `server.server_address`); with `ssl_context`
    (`web_https.server_context`) it serves HTTPS.
    """
    node_modules = litert_node_modules()
    for name, path in models.items():
        json_path = os.path.splitext(path)[0] + ".json"
        if not os.path.isfile(path) or not os.path.isfile(json_path):
            raise FileNotFoundError(
                f"Model {name!r}: expected {path!r} and its metadata {json_path!r}. Export with "
                "tsm_tf.export_tflite(..., mode='streaming'), which writes both."
            )
    handler = functools.partial(
        DemoRequestHandler,
        models={name: os.path.abspath(path) for name, path in models.items()},
        node_modules=node_modules,
    )
    server = http.server.ThreadingHTTPServer((host, port), handler)
    if ssl_context is not None:
        # The handshake then happens in each request's thread, so one silent client blocks no other.
        server.socket = ssl_context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
    return server


def scheme(server) -> str:
    return "https" if isinstance(server.socket, ssl.SSLSocket) else "http"


def page_url(server, model: str = "model") -> str:
    """The page's URL on `server`, loading the model served as `model`."""
    host, port = server.server_address[:2]
    return f"{scheme(server)}://{host}:{port}/?model={MODEL_PREFIX.lstrip('/')}{model}.tflite"


def export_site(model: str, directory: str) -> None:
    """Writes a static site to `directory`: the page, LiteRT.js (one thread), `model` and its
    metadata as models/model.tflite|.json; any static server serves it as it is (HTTPS for a phone).

    The folder is built beside and renamed into place; an existing `directory` must be empty or
    an earlier export (it is replaced).
    """
    target = pathlib.Path(directory).resolve()
    if target.exists() and any(target.iterdir()) and not (target / "service_worker.js").exists():
        raise FileExistsError(
            f"{target} is not empty and not an earlier exported site: pass a new or empty folder."
        )
    node_modules = litert_node_modules()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".tmp-") as temporary:
        site = pathlib.Path(temporary) / "site"
        for pattern in PAGE_FILES:
            for source in sorted(WEB_DEMO.glob(pattern)):
                destination = site / source.relative_to(WEB_DEMO)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, destination)
        for name in SITE_LITERT_FILES:
            destination = site / "node_modules" / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(node_modules / name, destination)
        # GitHub Pages' Jekyll leaves out node_modules/ unless this file says not to process the site.
        (site / ".nojekyll").write_text("")
        (site / "models").mkdir()
        for extension in (".tflite", ".json"):
            shutil.copy(
                os.path.splitext(model)[0] + extension, site / "models" / f"model{extension}"
            )
        if target.exists():
            shutil.rmtree(target)
        os.replace(site, target)


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
    flags.DEFINE_bool(
        "https",
        False,
        "Serve over HTTPS, which a phone's browser needs for the camera, with a self-signed "
        "certificate made on first use and kept in the user's cache folder (or --certfile).",
    )
    flags.DEFINE_string("certfile", None, "A PEM certificate for HTTPS (implies --https).")
    flags.DEFINE_string("keyfile", None, "The PEM private key of --certfile.")
    flags.DEFINE_string(
        "export_site",
        None,
        "Instead of serving, write a static site (page, LiteRT.js, model) to this folder, for any "
        "static HTTPS host.",
    )
    flags.mark_flag_as_required("model")
    flags.register_multi_flags_validator(
        ["certfile", "keyfile"],
        lambda values: (values["certfile"] is None) == (values["keyfile"] is None),
        "Pass --certfile and --keyfile together (a certificate and its key), or neither.",
    )


def check_streaming_model(path: str) -> None:
    """Refuses, before serving, a model the page would refuse once loaded, by opening it as
    `StreamingClassifier` does (metadata, its hash, the signature's states, the mode)."""
    from tsm_tf.lite.streaming_classifier import StreamingClassifier

    StreamingClassifier(path)


def tls_context(values) -> ssl.SSLContext | None:
    """The TLS context the flags ask for, or None for plain HTTP."""
    if not (values.https or values.certfile):
        return None
    from tsm_tf.cli import web_https

    if values.certfile:
        return web_https.server_context(values.certfile, values.keyfile)
    certificate, key = web_https.self_signed_certificate()
    print(f"Using the self-signed certificate {certificate}.", flush=True)
    return web_https.server_context(certificate, key)


def main(argv):
    del argv
    values = flags.FLAGS
    check_streaming_model(values.model)
    if values.export_site:
        export_site(values.model, values.export_site)
        print(
            f"Wrote the site to {values.export_site}. Any static server serves it as it is "
            f"(`python -m http.server -d {values.export_site}` to try it); a phone needs it over "
            "HTTPS. It runs one thread: hosts rarely send the cross-origin isolation headers that "
            "more need. Once loaded, it works offline.",
            flush=True,
        )
        return
    context = tls_context(values)
    try:
        server = make_server({"model": values.model}, values.host, values.port, context)
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
    if context is not None or values.host != "127.0.0.1":
        from tsm_tf.cli import web_https

        urls = web_https.phone_urls(scheme(server), values.host, server.server_address[1])
        print(web_https.phone_instructions(urls, secure=context is not None), flush=True)
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
