"""Downloading preset files into the Keras cache, all or nothing.

`keras.utils.get_file` writes straight to the cache path and trusts any file
already there when no hash is given, so a download killed half-way would be
taken for the real file next time. `fetch` streams into a temporary file in
the cache folder, checks the byte count against the server's Content-Length
and the file's hash, and only then renames it into place.

The hash checked is, first found: the one given (by the caller or the
registry); the leading hex digits a file name carries after its last `-`
(torchvision's `resnet50-0676ba61.pth`, as `torch.hub` checks them); else the
hash of the first complete download, recorded beside it in `NAME.sha256`
(trust on first use), so that a file changed at its source is refused.
"""

import os
import re
import tempfile
import urllib.error
import urllib.request

import keras

from tsm_tf.utils.atomic_files import write_atomically
from tsm_tf.utils.hashing import file_sha256

BASE_URL_VARIABLE = "TSM_TF_PRESET_BASE_URL"
CACHE_SUBDIR = os.path.join("models", "tsm_tf")
_CHUNK_BYTES = 1 << 20
# torch.hub's rule (`HASH_REGEX`), with at least 8 digits so that a word cannot pass for a hash.
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.")
RECORD_SUFFIX = ".sha256"


class DownloadError(OSError):
    """A preset file could not be downloaded or failed its size / hash check."""


def cache_dir(directory: str | None = None) -> str:
    """The folder preset files are kept in: `$KERAS_HOME/models/tsm_tf` (default `~/.keras`)."""
    if directory is not None:
        return directory
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(keras_home, CACHE_SUBDIR)


def resolve_url(url: str, base_url: str | None = None) -> str:
    """`url`, or its file name under `base_url` / `$TSM_TF_PRESET_BASE_URL` (a mirror)."""
    base_url = base_url or os.environ.get(BASE_URL_VARIABLE)
    if not base_url:
        return url
    return base_url.rstrip("/") + "/" + url.rsplit("/", 1)[-1]


def fetch(
    url: str,
    sha256: str | None = None,
    size: int | None = None,
    base_url: str | None = None,
    directory: str | None = None,
) -> str:
    """Returns the cached copy of `url`'s file, downloading it once.

    Args:
        url: the file's published address; its last part names the cached file.
        sha256: the file's hex SHA-256, checked when given, whatever else is
            known. When no hash is known, the first download's is recorded
            beside it (`NAME.sha256`) and a later download must match it.
        size: the file's recorded size in bytes, checked when given.
        base_url: fetch the same file name from this folder URL instead (also
            `$TSM_TF_PRESET_BASE_URL`): a mirror, or a test server.
        directory: the cache folder (default `cache_dir()`).

    Returns:
        The path of the complete, checked file.

    Raises:
        DownloadError: the download failed or was cut short, or the file's size
            or hash differs from the one expected. Nothing is left in the cache.
    """
    folder = cache_dir(directory)
    file_name = url.rsplit("/", 1)[-1]
    path = os.path.join(folder, file_name)
    expected = _expected_hash(file_name, path, sha256)
    if os.path.exists(path):
        problem = _check(path, expected, size)
        if problem is None:
            return path
        os.remove(path)
        print(f"The cached {path} {problem}; it was removed and is downloaded again.")
    source = resolve_url(url, base_url)
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{file_name}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(handle, "wb") as output:
            received = _download(source, output, path)
        problem = _check(temporary, expected, size)
        if problem is not None:
            raise DownloadError(
                f"The download of {source} {problem}. Nothing was kept in {folder}; try "
                "again, and if it persists the file at the source has changed."
            )
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    if expected is None:
        digest = file_sha256(path)
        write_atomically(path + RECORD_SUFFIX, f"{digest}  {file_name}\n")
        print(
            f"Downloaded {file_name}: {received} bytes, SHA-256 {digest}, recorded in "
            f"{path + RECORD_SUFFIX}: a later download that differs will be refused."
        )
    return path


def _expected_hash(file_name, path, sha256):
    """(kind, the hex digits the file's SHA-256 must begin with, the record's path or None),
    in order of trust; None when no hash is known (a first download)."""
    if sha256 is not None:
        return ("given", sha256.lower(), None)
    in_name = _HASH_IN_NAME.search(file_name)
    if in_name is not None:
        return ("name", in_name.group(1), None)
    if os.path.exists(path + RECORD_SUFFIX):
        with open(path + RECORD_SUFFIX, encoding="utf-8") as record:
            return ("first", record.read().split()[0].lower(), path + RECORD_SUFFIX)
    return None


def _download(source, output, path):
    """Streams `source` into `output` with a progress bar; returns the byte count.

    `path` is where the file is cached, named in the advice for working offline.
    """
    received = 0
    expected = None
    try:
        with urllib.request.urlopen(source) as response:
            length = response.headers.get("Content-Length")
            expected = int(length) if length is not None else None
            progress = keras.utils.Progbar(expected, unit_name="byte")
            print(f"Downloading {source}")
            while True:
                block = response.read(_CHUNK_BYTES)
                if not block:
                    break
                output.write(block)
                received += len(block)
                progress.update(received)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise DownloadError(
            f"Downloading {source} failed after {received} bytes ({error}). Nothing "
            "was kept in the cache; check the connection and try again. Offline: copy the "
            f"file to {path}, where it is looked for first, or point ${BASE_URL_VARIABLE} "
            "at a folder URL that serves it."
        ) from error
    except Exception as error:  # http.client.IncompleteRead and other cut-offs
        raise DownloadError(
            f"Downloading {source} was cut off after {received} bytes ({error!r}). "
            "Nothing was kept in the cache; call again to retry."
        ) from error
    if expected is not None and received != expected:
        raise DownloadError(
            f"Downloading {source} stopped after {received} of {expected} bytes. "
            "Nothing was kept in the cache; call again to retry."
        )
    return received


def _check(path, expected, size):
    """None if the file matches its size and expected hash, else what is wrong."""
    actual_size = os.path.getsize(path)
    if size is not None and actual_size != size:
        return f"has {actual_size} bytes, the record {size}"
    if expected is None:
        return None
    kind, digits, record = expected
    digest = file_sha256(path)
    if digest == digits or (kind != "given" and digest.startswith(digits)):
        return None
    if kind == "given":
        return f"has SHA-256 {digest}, the record {digits}"
    if kind == "name":
        return (
            f"has SHA-256 {digest}, which does not begin with the {digits} its name "
            "carries (as torch.hub checks): it is damaged, or not the published file"
        )
    return (
        f"has SHA-256 {digest}, not the {digits} of the first download, recorded in "
        f"{record}: the file at the source has changed (or the download is damaged). If the "
        f"change is expected, delete {record} to trust the new file, or pass its SHA-256"
    )
