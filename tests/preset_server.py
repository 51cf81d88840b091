"""A local HTTP server standing in for the presets' download site (no test touches the internet)."""

import functools
import http.server
import threading

from tests.helpers import run_cli
from tsm_tf.presets import download


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; with `truncate` set, announces the full size and sends half."""

    truncate = False

    def copyfile(self, source, output):
        if self.server.truncate:
            data = source.read()
            output.write(data[: len(data) // 2])
            self.close_connection = True
            return
        super().copyfile(source, output)

    def log_message(self, *args):
        pass


class LocalServer:
    """An HTTP server over `folder` in a daemon thread; `url` is its base URL."""

    def __init__(self, folder):
        handler = functools.partial(_Handler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.truncate = False
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def run_cli_served(folder, command, flags):
    """`run_cli` with the base-URL variable pointing at a `LocalServer` over `folder`."""
    server = LocalServer(folder)
    try:
        return run_cli(command, flags, environment={download.BASE_URL_VARIABLE: server.url})
    finally:
        server.stop()
