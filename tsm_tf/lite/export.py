"""TFLite export of TSM models: streaming (one frame, named states) or whole clips.

    tsm_tf.export_tflite(model, "model.tflite", mode="streaming",
                         precision="float32", labels=["walk", "run"])

writes `model.tflite` and `model.json` (its metadata, docs/metadata.md) with
builtin TFLite ops only. Parity against Keras is a separate step,
`tsm_tf.lite.parity.check_parity`, which export/export_tflite.py runs after every
export.
"""

import itertools
import logging
import os
import re
import warnings
from collections.abc import Iterable

import keras
import numpy as np
import tensorflow as tf

from tsm_tf.lite import metadata as metadata_lib
from tsm_tf.lite.frame_pacer import check_frame_rate
from tsm_tf.lite.preprocessing import resize_and_center_crop
from tsm_tf.lite.streaming import stream_keras
from tsm_tf.models.online_tsm import FRAME_INPUT
from tsm_tf.models.online_tsm import LOGITS_OUTPUT
from tsm_tf.models.online_tsm import build_online_tsm
from tsm_tf.models.online_tsm import is_online
from tsm_tf.models.tsm_classifier import CLIPS_INPUT
from tsm_tf.models.tsm_config import config_of
from tsm_tf.utils.argument_checks import check_choice
from tsm_tf.utils.atomic_files import write_atomically
from tsm_tf.utils.backend_checks import require_tensorflow_backend
from tsm_tf.utils.hashing import file_sha256
from tsm_tf.utils.native_stderr import captured_native_stderr
from tsm_tf.utils.progress import Progress
from tsm_tf.utils.progress import format_bytes
from tsm_tf.utils.progress import plural
from tsm_tf.version import __version__

DEFAULT_NUM_REPRESENTATIVE_FRAMES = 64


class UnsupportedOpsError(ValueError):
    """The graph needs ops outside TFLite's builtin set (Flex / SELECT_TF_OPS)."""


def export_tflite(
    model: keras.Model,
    path: str | os.PathLike,
    mode: str = "streaming",
    precision: str = "float32",
    labels: list[str] | None = None,
    representative_data=None,
    num_representative_frames: int = DEFAULT_NUM_REPRESENTATIVE_FRAMES,
    frame_rate: float | None = None,
    progress: bool = False,
    float_layers: list[str] | None = None,
) -> dict:
    """Converts a TSM to a `.tflite` file and writes its metadata beside it.

    Args:
        model: a `TSMClassifier` (from `build_tsm` or a `.keras` file). For
            `mode="streaming"` it must be uni-directional; its online model
            is built here (`build_online_tsm`). A model from
            `build_online_tsm` is also accepted in streaming mode.
        path: the `.tflite` file to write; `<path without .tflite>.json`
            receives the metadata. Both are written atomically.
        mode: `"streaming"`: batch-1 frame `(1, H, W, 3)` and the states in,
            logits `(1, num_classes)` and the new states out; `"clip"`: a
            clip `(1, num_segments, H, W, 3)` in, its logits out (any TSM,
            bidirectional included).
        precision: `"float32"`; `"float16"` (float16 weights, float32
            compute and I/O); `"dynamic_int8"` (int8 weights, float32 I/O);
            `"int8"` (full integer: every tensor int8, the frame, states and
            logits included, each with the scale and zero point recorded in
            the metadata; a state output has exactly the quantization of the
            state input it feeds, so int8 states are fed back unchanged).
        labels: class names; defaults to the model's `labels`, else
            `"class_0"`, `"class_1"`, ...
        representative_data: calibration frames, needed for `"int8"` only:
            an array `(num_frames, H, W, 3)` or `(num_clips, num_segments, H,
            W, 3)`, an iterable of `(H, W, 3)` frames (consecutive frames of
            videos: the states are calibrated by streaming them), or a record
            file pattern read through `tsm_tf.data.make_dataset(...,
            training=False)`. RGB in [0, 255]; frames of another size are
            resized and cropped by the evaluation rule.
        num_representative_frames: at most this many frames are used.
        frame_rate: frames per second at which the streaming model expects
            frames (the rate its training clips were sampled at:
            `tsm_tf.data.frame_rate.sampled_frame_rate` derives it from the
            records), written to the metadata's `frame_rate`; clients pick
            frames by timestamp at that rate (`tsm_tf.FramePacer`). None
            (the default) writes null: feed every frame.
        progress: report the int8 calibration with a bar on a terminal (a
            line every `TSM_TF_PROGRESS_SECONDS` otherwise,
            `tsm_tf.utils.progress`); each stage is logged at INFO either way.
        float_layers: `"int8"` only: TFLite tensor names (the
            `tensor_name` column of `tsm_tf.lite.quantization_report`) whose
            ops stay in float (selective quantization, the converter's deny
            list); recorded in the metadata's `float_layers`. The frame, the
            states and the logits stay int8 unless one of them is listed.

    Returns:
        The metadata dict (also written to the `.json` file).

    Raises:
        ValueError: a bad argument, or a bidirectional model in streaming
            mode.
        UnsupportedOpsError: the graph needs ops that are not TFLite
            builtins; the message names them.
        RuntimeError: Keras runs on another backend than TensorFlow.
    """
    require_tensorflow_backend(
        "TFLite export",
        "Save the model (model.save('model.keras')) and reload and export it with "
        "KERAS_BACKEND=tensorflow, e.g. KERAS_BACKEND=tensorflow tsm-export --model=model.keras.",
    )
    check_choice("mode", mode, metadata_lib.MODES)
    check_choice("precision", precision, metadata_lib.EXPORT_PRECISIONS)
    frame_rate = check_frame_rate(frame_rate)
    config = config_of(model)
    if labels is not None:
        config = config.replace(labels=labels)
    logging.info("Exporting %s: %s, %s.", os.fspath(path), mode, precision)
    graph = _export_graph(model, mode)
    function = _serving_function(graph, mode)
    representative_dataset = None
    if precision == "int8":
        if representative_data is None:
            raise ValueError(
                "precision='int8' calibrates activations on real frames: pass "
                "`representative_data` (an array of frames, an iterable of "
                "frames, or a record file pattern). Received: "
                "representative_data=None. Use precision='dynamic_int8' to "
                "quantize weights only, without data."
            )
        frames = load_representative_frames(
            representative_data, config.image_size, num_representative_frames
        )
        representative_dataset = _representative_dataset(
            graph, mode, frames, config, progress, _clip_length(representative_data)
        )
        logging.info(
            "Converting to TFLite builtin ops, calibrating with %s.",
            plural(len(representative_dataset), representative_dataset.unit),
        )
    else:
        logging.info("Converting to TFLite builtin ops.")
    if float_layers and precision != "int8":
        raise ValueError(
            "`float_layers` keeps layers of an int8 export in float; received "
            f"precision={precision!r}. Pass precision='int8' or drop float_layers."
        )
    tflite_bytes = convert_to_tflite(
        function, precision, representative_dataset, progress, float_layers
    )
    metadata = _build_metadata(tflite_bytes, config, mode, precision)
    metadata[metadata_lib.FRAME_RATE_KEY] = frame_rate
    if float_layers:
        metadata[metadata_lib.FLOAT_LAYERS_KEY] = list(float_layers)
    logging.info("Writing %s and %s.", os.fspath(path), metadata_lib.metadata_path(path))
    write_atomically(path, tflite_bytes)
    metadata["sha256"] = file_sha256(path)
    metadata_lib.write_metadata(path, metadata)
    logging.info(
        "Exported %s (%s, %s, %s) and its metadata.",
        os.fspath(path),
        mode,
        precision,
        format_bytes(len(tflite_bytes)),
    )
    return metadata


def convert_to_tflite(
    function: tf.types.experimental.ConcreteFunction,
    precision: str = "float32",
    representative_dataset=None,
    progress: bool = False,
    float_layers: list[str] | None = None,
) -> bytes:
    """Converts a concrete function with builtin TFLite ops only.

    Args:
        function: the concrete function to convert; its argument and output
            names become the TFLite signature's (`serving_default`) names.
        precision: one of `"float32"`, `"float16"`, `"dynamic_int8"`,
            `"int8"`.
        representative_dataset: for `"int8"`, a callable yielding dicts of
            input name to array; with a length (`len()`) and a `unit`
            attribute ("frame", "clip"), the calibration's bar has a total.
        progress: report the calibration (`tsm_tf.utils.progress`).
        float_layers: for `"int8"`, tensor names whose ops stay float.

    Returns:
        The `.tflite` flatbuffer.

    Raises:
        UnsupportedOpsError: naming the ops that are not TFLite builtins.
    """
    check_choice("precision", precision, metadata_lib.EXPORT_PRECISIONS)
    try:
        # Freezing and converting log native lines (Grappler's sessions, the converter's passes):
        # kept unless they fail (or TSM_TF_VERBOSE=1). The int8 calibrator still runs
        # tf.lite.Interpreter, whose deprecation warning is not ours.
        with captured_native_stderr() as real_stderr, warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=r"\s*Warning: tf\.lite\.Interpreter is deprecated"
            )
            converter = _converter(function, precision, representative_dataset)
            if precision == "int8" and progress:
                converter.representative_dataset = _reported(representative_dataset, real_stderr)
            if float_layers:
                return _selectively_quantized(converter, float_layers)
            return converter.convert()
    except Exception as error:  # ConverterError's module moves between TF versions.
        ops = unsupported_ops(str(error))
        if ops:
            raise UnsupportedOpsError(
                "The model needs ops that are not TFLite builtins: "
                f"{', '.join(ops)}. tsm_tf exports builtin ops only (no Flex / "
                "SELECT_TF_OPS, which phones do not ship). Replace the layer "
                "that uses them with builtin-friendly keras.ops."
            ) from error
        raise


def _converter(function, precision, representative_dataset):
    """A TFLite converter of `function`, frozen, set up for `precision`."""
    module = tf.Module()
    module.serve = _frozen(function)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.serve.get_concrete_function()], module
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if precision == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "dynamic_int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif precision == "int8":
        if representative_dataset is None:
            raise ValueError("precision='int8' needs a representative_dataset.")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter


def _selectively_quantized(converter, float_layers):
    """Full int8 but for the ops of `float_layers`: the converter's own deny list.

    The converter takes a deny list only through its quantization debugger,
    whose model keeps float inputs and outputs; `modify_model_io_type` then
    makes them int8 as `inference_input_type` would (a listed output stays float).
    """
    from tensorflow.lite.python.util import modify_model_io_type

    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=list(float_layers))
    debugger = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_options=options)
    return modify_model_io_type(debugger.get_nondebug_quantized_model(), tf.int8, tf.int8)


def _reported(representative_dataset, stream):
    """The representative dataset, counting its samples as the converter's calibration takes them.

    The calibration runs inside the converter, while native stderr is
    captured, so the plain lines go to `stream`, the real stderr.
    """
    total = len(representative_dataset) if hasattr(representative_dataset, "__len__") else None
    unit = getattr(representative_dataset, "unit", "sample")

    def reported():
        yield from Progress(total, unit, "Calibrating", stream=stream).track(
            representative_dataset()
        )

    return reported


def _frozen(function):
    """`function` with its variables folded into constants, same signature.

    Keras 3 variables reach the converter as resource variables
    (READ_VARIABLE ops, which full-int8 calibration cannot run, and batch norm
    left unfolded); freezing first gives a plain graph, and re-wrapping the
    frozen graph keeps the named signature.
    """
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    frozen = convert_variables_to_constants_v2(function)
    arguments, keyword_arguments = function.structured_input_signature
    if keyword_arguments:
        raise ValueError("convert_to_tflite needs a function of positional arguments.")

    @tf.function(input_signature=list(arguments), autograph=False)
    def serve(*inputs):
        outputs = frozen(*tf.nest.flatten(inputs))
        return tf.nest.pack_sequence_as(function.structured_outputs, outputs)

    return serve


def unsupported_ops(converter_message: str) -> list[str]:
    """The TensorFlow op names a converter error lists as not builtin."""
    names = re.findall(r"\btf\.([A-Z][A-Za-z0-9_]*)", converter_message)
    return sorted(set(names))


def load_representative_frames(data, image_size: int, max_frames: int) -> np.ndarray:
    """Calibration frames as float32 `(num_frames, image_size, image_size, 3)`.

    See `export_tflite`'s `representative_data` for the accepted forms.
    """
    if isinstance(data, (str, os.PathLike)):
        data = _frames_from_dataset(os.fspath(data), image_size, max_frames)
    if isinstance(data, np.ndarray) and data.ndim == 5:
        data = data.reshape(-1, *data.shape[2:])
    if not isinstance(data, (np.ndarray, Iterable)):
        raise ValueError(
            "`representative_data` must be an array of frames, an iterable of "
            "(H, W, 3) frames, or a record file pattern. Received: "
            f"{type(data).__name__}."
        )
    frames = []
    for frame in data:
        frame = np.asarray(frame)
        if frame.ndim == 4 and frame.shape[0] == 1:
            frame = frame[0]
        if frame.ndim != 3 or frame.shape[-1] != 3:
            raise ValueError(
                "Each representative frame must be RGB `(H, W, 3)`. Received: "
                f"a frame of shape {frame.shape}."
            )
        if frame.shape[:2] != (image_size, image_size):
            frame = resize_and_center_crop(frame, image_size)
        frames.append(frame.astype("float32"))
        if len(frames) >= max_frames:
            break
    if not frames:
        raise ValueError("`representative_data` holds no frames.")
    return np.stack(frames)


# Frames per clip read from records for calibration (dense, stride 1).
RECORD_CLIP_LENGTH = 8


def _clip_length(data):
    """Frames per clip of the representative data, or None: one video."""
    if isinstance(data, (str, os.PathLike)):
        return RECORD_CLIP_LENGTH
    if isinstance(data, np.ndarray) and data.ndim == 5:
        return data.shape[1]
    return None


def _frames_from_dataset(pattern, image_size, max_frames):
    from tsm_tf.data.pipeline import make_dataset  # tf.data machinery, loaded on demand.

    # Whole evaluation clips: consecutive frames, so streamed states are real.
    dataset = make_dataset(
        pattern,
        num_segments=RECORD_CLIP_LENGTH,
        image_size=image_size,
        training=False,
        batch_size=1,
        sampling="dense",
        dense_stride=1,
    ).take(max(1, max_frames // 8))
    for element in dataset:
        clips = element[0] if isinstance(element, (tuple, list)) else element
        clips = np.asarray(clips)
        yield from clips.reshape(-1, *clips.shape[-3:])


def _export_graph(model, mode):
    if mode == "streaming":
        return model if is_online(model) else build_online_tsm(model)
    if is_online(model):
        raise ValueError(
            "mode='clip' exports the clip model; received an online model from "
            "build_online_tsm. Pass the TSMClassifier it was built from."
        )
    return model


def _serving_function(graph, mode):
    if mode == "streaming":
        specs = {
            name: tf.TensorSpec(tensor.shape, tf.float32, name=name)
            for name, tensor in graph.input.items()
        }

        @tf.function(input_signature=[specs])
        def serve(inputs):
            return graph(inputs, training=False)

        return serve.get_concrete_function()

    shape = (1, *graph.input_shape[1:])
    spec = tf.TensorSpec(shape, tf.float32, name=CLIPS_INPUT)

    @tf.function(input_signature=[spec])
    def serve_clip(clips):
        return {LOGITS_OUTPUT: graph(clips, training=False)}

    return serve_clip.get_concrete_function()


class _CalibrationInputs:
    """The converter's representative dataset: yields input dicts; has a length and a unit."""

    def __init__(self, samples, unit):
        self.samples = samples
        self.unit = unit

    def __len__(self):
        return len(self.samples)

    def __call__(self):
        yield from self.samples


def _representative_dataset(graph, mode, frames, config, progress=False, clip_length=None):
    """Calibration inputs: streamed frames with their real states, or clips.

    Each clip of `clip_length` frames streams from zero states, as a client
    restarts each video, so every state is calibrated on the values it holds
    at each position of a clip; None streams all frames as one video.
    """
    if mode == "clip":
        num_segments = config.num_segments
        num_clips = max(1, len(frames) // num_segments)
        if len(frames) < num_segments:
            frames = np.resize(frames, (num_segments, *frames.shape[1:]))
        clips = [
            {CLIPS_INPUT: frames[index * num_segments : (index + 1) * num_segments][None]}
            for index in range(num_clips)
        ]
        return _CalibrationInputs(clips, "clip")

    logging.info(
        "Streaming the %s through Keras for the states they calibrate.",
        plural(len(frames), "calibration frame"),
    )
    reported = Progress(len(frames), "frame", "Calibration states", enabled=progress)
    clip_length = clip_length or len(frames)
    tracked = reported.track(frames)
    samples = []
    for _ in range(0, len(frames), clip_length):
        clip = itertools.islice(tracked, clip_length)
        samples.extend(step.inputs for step in stream_keras(graph, clip))
    next(tracked, None)  # closes the bar
    return _CalibrationInputs(samples, "frame")


def _build_metadata(tflite_bytes, config, mode, precision):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=tflite_bytes)
    runner = interpreter.get_signature_runner(metadata_lib.SIGNATURE_KEY)
    inputs = runner.get_input_details()
    outputs = runner.get_output_details()
    input_name = FRAME_INPUT if mode == "streaming" else CLIPS_INPUT
    states = []
    for name in sorted(name for name in inputs if name != input_name):
        state = {
            "input": name,
            "output": name,
            **_tensor_fields(inputs[name]),
        }
        output = _tensor_fields(outputs[name])
        if output != _tensor_fields(inputs[name]):
            raise RuntimeError(
                f"State {name!r}: the output {output} does not match the input "
                f"{_tensor_fields(inputs[name])} it feeds at the next frame, so "
                "it cannot be fed back unchanged. Please report this with the "
                "model's configuration."
            )
        states.append(state)
    frame = {
        "name": input_name,
        **_tensor_fields(inputs[input_name]),
        "value_range": [0, 255],
        "color": "RGB",
    }
    return {
        "format_version": metadata_lib.FORMAT_VERSION,
        "tsm_tf_version": __version__,
        "mode": mode,
        "precision": precision,
        "backbone": config.backbone,
        "num_classes": config.num_classes,
        "num_segments": config.num_segments,
        "shift_div": config.shift_div,
        "bidirectional": config.bidirectional,
        "image_size": config.image_size,
        "width_multiplier": config.width_multiplier,
        "labels": config.class_names(),
        "signature_key": metadata_lib.SIGNATURE_KEY,
        "input": frame,
        "output": {"name": LOGITS_OUTPUT, **_tensor_fields(outputs[LOGITS_OUTPUT])},
        "states": states,
        "preprocessing": config.preprocessing(),
        "sha256": "",
    }


def _tensor_fields(details):
    fields = {
        "shape": [int(size) for size in details["shape"]],
        "dtype": np.dtype(details["dtype"]).name,
    }
    scales, zero_points = (
        details["quantization_parameters"]["scales"],
        details["quantization_parameters"]["zero_points"],
    )
    if len(scales):
        fields["quantization"] = {
            "scale": float(scales[0]),
            "zero_point": int(zero_points[0]),
        }
    return fields
