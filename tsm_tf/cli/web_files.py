"""Which file a request to tsm-web may get: the regular files under one folder and a few named
files (the models), nothing else.

`http.server.SimpleHTTPRequestHandler` already stops `..`, but it follows symbolic links out of
its folder and lists any folder without an index.html; `StaticFileHandler` does neither.
"""

import http.server
import os
import posixpath
import urllib.parse

# A path that never exists: what a refused request resolves to, so that it gets a 404.
_NOT_FOUND = os.path.join(os.sep, "nonexistent", "tsm-web-not-found")


def served_file(
    url_path: str, directory: str, files: dict[str, str], folders: dict[str, str] | None = None
) -> str | None:
    """The file a GET of `url_path` serves, or None (404).

    `files` maps URL paths (`/models/model.tflite`) to files anywhere; any other path must lead,
    after `..`, percent-decoding and every symbolic link, to a regular file inside `directory`
    (a folder's index.html for a path ending in `/`); `folders` maps URL prefixes
    (`/node_modules/`) to other folders served by the same rules. A folder without the `/` is
    returned as it is, for the handler to redirect to the `/` form.
    """
    path = urllib.parse.unquote(url_path.split("?", 1)[0].split("#", 1)[0])
    if path in files:
        return files[path]
    if "\0" in path:
        return None
    relative = path
    for prefix, folder in (folders or {}).items():
        if path.startswith(prefix):
            directory, relative = folder, "/" + path[len(prefix) :]
            break
    root = os.path.realpath(directory)
    candidate = os.path.join(root, posixpath.normpath("/" + relative).lstrip("/"))
    if path.endswith("/"):
        candidate = os.path.join(candidate, "index.html")
    real = os.path.realpath(candidate)
    if os.path.commonpath([real, root]) != root:
        return None
    if os.path.isfile(real) or (os.path.isdir(real) and not path.endswith("/")):
        return real
    return None


class StaticFileHandler(http.server.SimpleHTTPRequestHandler):
    """Serves what `served_file` allows: GET and HEAD only, no folder listings.

    Args:
        directory: the folder whose regular files are served.
        files: URL path -> file path, for files served from elsewhere.
        folders: URL prefix -> folder, for folders served from elsewhere.
    """

    # Seconds a connection may stay silent: idle connections cannot pile up threads for ever.
    timeout = 30

    def __init__(
        self,
        *args,
        directory: str,
        files: dict[str, str],
        folders: dict[str, str] | None = None,
        **kwargs,
    ):
        self.files = files
        self.folders = folders or {}
        super().__init__(*args, directory=directory, **kwargs)

    def translate_path(self, path):
        return served_file(path, self.directory, self.files, self.folders) or _NOT_FOUND

    def list_directory(self, path):
        self.send_error(404, "File not found")
        return None
