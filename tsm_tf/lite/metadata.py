"""The exported model's metadata: the JSON contract beside every `.tflite` file.

`model.tflite` gets `model.json` (see docs/metadata.md for every key). The
exporter writes it from the converted model's real signature, so names,
shapes, dtypes and quantization are whatever the interpreter will see;
clients read it with `read_metadata` and never hard-code any of them.
"""

import json
import os

from tsm_tf.utils.atomic_files import write_atomically
from tsm_tf.utils.hashing import file_sha256

FORMAT_VERSION = 1
SIGNATURE_KEY = "serving_default"
MODES = ("streaming", "clip")
EXPORT_PRECISIONS = ("float32", "float16", "dynamic_int8", "int8")
REQUIRED_KEYS = (
    "format_version",
    "tsm_tf_version",
    "mode",
    "precision",
    "backbone",
    "num_classes",
    "num_segments",
    "shift_div",
    "bidirectional",
    "image_size",
    "width_multiplier",
    "labels",
    "signature_key",
    "input",
    "output",
    "states",
    "preprocessing",
    "sha256",
)
# Optional keys: a file without them reads as the default (older exports).
FRAME_RATE_KEY = "frame_rate"
FLOAT_LAYERS_KEY = "float_layers"


def metadata_path(tflite_path: str | os.PathLike) -> str:
    """`model.tflite` -> `model.json`, in the same directory."""
    root, _ = os.path.splitext(os.fspath(tflite_path))
    return root + ".json"


def write_metadata(tflite_path: str | os.PathLike, metadata: dict) -> str:
    """Validates `metadata` and writes it atomically beside `tflite_path`.

    Returns:
        The path of the JSON file.
    """
    validate_metadata(metadata, source="metadata to write")
    path = metadata_path(tflite_path)
    text = json.dumps(metadata, indent=2) + "\n"
    write_atomically(path, text.encode("utf-8"))
    return path


def read_metadata(tflite_path: str | os.PathLike, check_sha256: bool = True) -> dict:
    """Reads and validates the metadata of a `.tflite` file.

    Args:
        tflite_path: the model; its metadata is the `.json` file beside it.
        check_sha256: also check that the model's bytes match `sha256`.

    Returns:
        The metadata dict.

    Raises:
        FileNotFoundError: the model or its metadata is missing.
        ValueError: the metadata is not valid JSON, lacks a key, has a value
            of the wrong kind, or does not match the model's bytes.
    """
    tflite_path = os.fspath(tflite_path)
    if not os.path.exists(tflite_path):
        raise FileNotFoundError(f"No TFLite model at {tflite_path!r}.")
    path = metadata_path(tflite_path)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"The model {tflite_path!r} has no metadata file {path!r} beside it. "
            "Export it with tsm-export (or tsm_tf.export_tflite), which writes both."
        )
    try:
        with open(path, encoding="utf-8") as file:
            metadata = json.load(file)
    except json.JSONDecodeError as error:
        raise ValueError(f"The metadata file {path!r} is not valid JSON: {error}") from error
    validate_metadata(metadata, source=path)
    if check_sha256:
        actual = file_sha256(tflite_path)
        if actual != metadata["sha256"]:
            raise ValueError(
                f"The metadata {path!r} describes a different model: its sha256 "
                f"is {metadata['sha256']}, the bytes of {tflite_path!r} hash to "
                f"{actual}. Re-export the model and its metadata together."
            )
    return metadata


def validate_metadata(metadata: dict, source: str = "metadata") -> None:
    """Raises `ValueError` naming the first missing or malformed key."""

    def fail(problem):
        raise ValueError(f"Invalid tsm_tf metadata in {source}: {problem}")

    if not isinstance(metadata, dict):
        fail(f"expected a JSON object, received {type(metadata).__name__}.")
    missing = [key for key in REQUIRED_KEYS if key not in metadata]
    if missing:
        fail(f"missing keys {missing}.")
    if metadata["format_version"] != FORMAT_VERSION:
        fail(
            f"format_version is {metadata['format_version']!r}; this tsm_tf "
            f"reads format_version {FORMAT_VERSION}. Re-export the model."
        )
    if metadata["mode"] not in MODES:
        fail(f"mode must be one of {MODES}, received {metadata['mode']!r}.")
    if metadata["precision"] not in EXPORT_PRECISIONS:
        fail(f"precision must be one of {EXPORT_PRECISIONS}, received {metadata['precision']!r}.")
    labels = metadata["labels"]
    if not isinstance(labels, list) or len(labels) != metadata["num_classes"]:
        fail(f"labels must list num_classes={metadata['num_classes']} names, received {labels!r}.")
    _check_tensor(
        metadata["input"], "input", ("name", "shape", "dtype", "value_range", "color"), fail
    )
    if metadata["input"]["color"] != "RGB":
        fail(f"input.color must be 'RGB', received {metadata['input']['color']!r}.")
    _check_tensor(metadata["output"], "output", ("name", "shape", "dtype"), fail)
    states = metadata["states"]
    if not isinstance(states, list):
        fail(f"states must be a list, received {type(states).__name__}.")
    if metadata["mode"] == "streaming" and not states:
        fail("a streaming model needs at least one state.")
    if metadata["mode"] == "clip" and states:
        fail("a clip model has no states.")
    for index, state in enumerate(states):
        _check_tensor(state, f"states[{index}]", ("input", "output", "shape", "dtype"), fail)
    if metadata.get(FRAME_RATE_KEY) is not None:
        rate = metadata[FRAME_RATE_KEY]
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1000:
            fail(
                f"frame_rate must be frames per second (a positive number, at most "
                f"1000) or null to feed every frame, received {rate!r}."
            )
    preprocessing = metadata["preprocessing"]
    for key in ("resize_shorter_side", "crop_size", "crop", "interpolation"):
        if not isinstance(preprocessing, dict) or key not in preprocessing:
            fail(f"preprocessing needs {key!r}, received {preprocessing!r}.")


def expected_frame_rate(metadata: dict) -> float | None:
    """The frames per second the model expects, or None: feed every frame.

    Files written before the key existed lack it and read as None.
    """
    rate = metadata.get(FRAME_RATE_KEY)
    return None if rate is None else float(rate)


def _check_tensor(tensor, where, keys, fail):
    if not isinstance(tensor, dict):
        fail(f"{where} must be an object, received {tensor!r}.")
    missing = [key for key in keys if key not in tensor]
    if missing:
        fail(f"{where} is missing {missing}.")
    shape = tensor["shape"]
    if not isinstance(shape, list) or not all(isinstance(size, int) and size > 0 for size in shape):
        fail(f"{where}.shape must be a list of positive ints, received {shape!r}.")
    if "quantization" in tensor:
        quantization = tensor["quantization"]
        if not isinstance(quantization, dict) or set(quantization) != {"scale", "zero_point"}:
            fail(f"{where}.quantization must be {{scale, zero_point}}, received {quantization!r}.")
