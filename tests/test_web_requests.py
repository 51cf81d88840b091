"""Hostile requests to tsm-web's request handler, over the loopback: nothing outside the page's
folder and the given models is served, no folder is listed, and the server keeps answering."""

import functools
import http.server
import socket
import threading

import pytest

from tsm_tf.cli.web import DemoRequestHandler

SECRET = b"secret-outside-the-page"
REQUEST_TIMEOUT = 10


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The page: index.html, app.js, a folder without index.html and symbolic links out of it;
    beside it a secret file and folder, the model served under /models/ and a LiteRT.js folder
    under /node_modules/."""
    base = tmp_path_factory.mktemp("web")
    page, outside = base / "page", base / "outside"
    (page / "assets").mkdir(parents=True)
    outside.mkdir()
    (page / "index.html").write_bytes(b"<html>the page</html>")
    (page / "app.js").write_bytes(b"// the app")
    (page / "assets" / "style.css").write_bytes(b"body {}")
    (outside / "secret.txt").write_bytes(SECRET)
    (page / "leak.txt").symlink_to(outside / "secret.txt")
    (page / "leak").symlink_to(outside)
    (base / "model.tflite").write_bytes(b"TFL3 the model")
    (base / "model.json").write_bytes(b'{"metadata": 1}')
    (base / "modules").mkdir()
    (base / "modules" / "litert.js").write_bytes(b"// LiteRT.js")
    handler = functools.partial(
        DemoRequestHandler,
        models={"model": str(base / "model.tflite")},
        node_modules=base / "modules",
        directory=str(page),
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"port": server.server_address[1], "outside": outside}
    server.shutdown()
    server.server_close()


def request(port, raw: bytes) -> tuple[int, bytes]:
    """Sends `raw` as it is (no client normalizes it); returns the status and the whole response."""
    with socket.create_connection(("127.0.0.1", port), timeout=REQUEST_TIMEOUT) as connection:
        connection.sendall(raw)
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    return int(response.split(b" ", 2)[1]), response


def get(port, target: str, headers: str = "") -> tuple[int, bytes]:
    return request(port, f"GET {target} HTTP/1.0\r\nHost: x\r\n{headers}\r\n".encode())


def assert_still_serving(port):
    status, response = get(port, "/index.html")
    assert status == 200 and response.endswith(b"<html>the page</html>")


def test_the_page_and_the_model_are_served(server):
    port = server["port"]
    assert get(port, "/")[1].endswith(b"<html>the page</html>")
    assert get(port, "/assets/style.css")[1].endswith(b"body {}")
    assert get(port, "/models/model.tflite")[1].endswith(b"TFL3 the model")
    assert get(port, "/models/model.json?v=2")[1].endswith(b'{"metadata": 1}')
    assert get(port, "/node_modules/litert.js")[1].endswith(b"// LiteRT.js")


@pytest.mark.parametrize(
    "target",
    [
        "/../outside/secret.txt",
        "/node_modules/../outside/secret.txt",
        "/node_modules/%2e%2e/outside/secret.txt",
        "/%2e%2e/outside/secret.txt",
        "/%2E%2E%2Foutside%2Fsecret.txt",
        "/assets/..%2F..%2Foutside/secret.txt",
        "/%252e%252e/outside/secret.txt",
        "/..\\outside\\secret.txt",
        "http://x/../outside/secret.txt",
        "/models/../../outside/secret.txt",
        "/models/%2e%2e/outside/secret.txt",
        "/models/secret.txt",
        "/leak.txt",
        "/leak/secret.txt",
        "/leak/",
        "/index.html%00.txt",
        "ABSOLUTE",
        "//ABSOLUTE",
    ],
)
def test_nothing_outside_the_page_is_served(server, target):
    absolute = str(server["outside"] / "secret.txt")
    target = target.replace("/ABSOLUTE", absolute).replace("ABSOLUTE", absolute)
    status, response = get(server["port"], target)
    assert 400 <= status < 500 and SECRET not in response, response[:300]


def test_no_folder_is_listed(server):
    port = server["port"]
    status, response = get(port, "/assets")  # the usual redirect to the folder's `/` form
    assert status == 301 and b"style.css" not in response
    status, response = get(port, "/assets/")
    assert status == 404 and b"style.css" not in response


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "TRACE", "PROPFIND", "BREW"])
def test_other_methods_are_refused(server, method):
    status, _ = request(server["port"], f"{method} /index.html HTTP/1.0\r\n\r\n".encode())
    assert status == 501
    assert_still_serving(server["port"])


@pytest.mark.parametrize(
    "target, headers, expected",
    [
        ("/" + "a" * 70_000, "", 414),
        ("/" + "a/" * 3000 + "index.html", "", 404),
        ("/index.html", "X-Long: " + "b" * 70_000 + "\r\n", 431),
        ("/index.html", "".join(f"X-{i}: {i}\r\n" for i in range(200)), 431),
    ],
)
def test_long_paths_and_headers_are_refused(server, target, headers, expected):
    assert get(server["port"], target, headers)[0] == expected
    assert_still_serving(server["port"])


def test_a_flood_of_connections_leaves_it_answering(server):
    """20 connections that send nothing, held open, while 20 clients fetch the page at once."""
    port = server["port"]
    idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(20)]
    try:
        results = [None] * 20

        def fetch(index):
            results[index] = get(port, "/index.html")[0]

        clients = [threading.Thread(target=fetch, args=(index,)) for index in range(20)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(timeout=REQUEST_TIMEOUT)
        assert results == [200] * 20
    finally:
        for connection in idle:
            connection.close()
    assert_still_serving(port)
