"""Where full int8 loses: the converter's quantization debugger over the streaming model.

    rows = tsm_tf.lite.quantization_report.quantization_report(model, "data/train-*.tfrecord")
    write_quantization_report(rows, "int8_report.md")

`tf.lite.experimental.QuantizationDebugger` runs a debug build of the int8
model in which every quantized op is checked against its float op fed the
same (dequantized) inputs; the error of each op's output, in units of its
quantization step, says which layers lose precision. A layer at about 0.29
steps (`1 / sqrt(12)`, plain rounding) is as good as int8 gets; the worst
layers are the candidates for `export_tflite(..., float_layers=[...])`.
The states are included: the debug frames stream clip by clip through Keras,
so every state input holds the values it holds in use.
"""

import csv
import dataclasses
import io
import os
import warnings

import numpy as np
import tensorflow as tf

from tsm_tf.lite import export as export_lib
from tsm_tf.models.tsm_config import config_of
from tsm_tf.utils.atomic_files import write_atomically

# Error of one rounding, in quantization steps: the floor for any int8 layer.
ROUNDING_ERROR_STEPS = 1 / np.sqrt(12)
# A layer carries much of the error when it loses this many steps or more.
LARGE_ERROR_STEPS = 2 * ROUNDING_ERROR_STEPS


@dataclasses.dataclass
class LayerError:
    """The int8 error of one op's output over the debug frames (means over frames).

    Attributes:
        op_name: the TFLite op (`CONV_2D`, `FULLY_CONNECTED`, ...).
        tensor_name: its output tensor, the name `float_layers` takes.
        rmse_steps: root mean squared error in quantization steps.
        max_abs_error: largest absolute error, in real units.
        scale: the tensor's quantization step.
        zero_point: its zero point.
    """

    op_name: str
    tensor_name: str
    rmse_steps: float
    max_abs_error: float
    scale: float
    zero_point: int


def quantization_report(
    model,
    representative_data,
    num_representative_frames: int = export_lib.DEFAULT_NUM_REPRESENTATIVE_FRAMES,
) -> list[LayerError]:
    """Per-layer int8 error of the streaming export, worst first.

    Args:
        model: a uni-directional `TSMClassifier` (or its online model).
        representative_data: the calibration frames, in any form
            `export_tflite` takes; the debugger runs on the same frames.
        num_representative_frames: at most this many frames.

    Returns:
        One `LayerError` per quantized op, the largest `rmse_steps` first.
    """
    config = config_of(model)
    graph = export_lib._export_graph(model, "streaming")
    function = export_lib._serving_function(graph, "streaming")
    frames = export_lib.load_representative_frames(
        representative_data, config.image_size, num_representative_frames
    )
    calibration = export_lib._representative_dataset(
        graph, "streaming", frames, config, clip_length=export_lib._clip_length(representative_data)
    )
    converter = export_lib._converter(function, "int8", calibration)
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"\s*Warning: tf\.lite\.Interpreter is deprecated"
        )
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter,
            debug_dataset=_positional(calibration, function),
        )
        debugger.run()
    table = io.StringIO()
    debugger.layer_statistics_dump(table)
    table.seek(0)
    rows = [
        LayerError(
            op_name=row["op_name"],
            tensor_name=row["tensor_name"],
            rmse_steps=float(np.sqrt(float(row["mean_squared_error"])) / float(row["scale"])),
            max_abs_error=float(row["max_abs_error"]),
            scale=float(row["scale"]),
            zero_point=int(row["zero_point"]),
        )
        for row in csv.DictReader(table)
    ]
    return sorted(rows, key=lambda row: -row.rmse_steps)


def _positional(calibration, function):
    """The calibration dicts as the debugger feeds them: lists in the model's input order."""
    float_model = export_lib._converter(function, "float32", None).convert()
    interpreter = tf.lite.Interpreter(model_content=float_model)
    by_index = {
        details["index"]: name
        for name, details in interpreter.get_signature_runner().get_input_details().items()
    }
    order = [by_index[details["index"]] for details in interpreter.get_input_details()]

    def dataset():
        for sample in calibration():
            yield [np.asarray(sample[name], "float32") for name in order]

    return dataset


def largest_error_layers(rows: list[LayerError]) -> list[LayerError]:
    """The layers that carry most of the error: `LARGE_ERROR_STEPS` or more, worst first."""
    return [row for row in rows if row.rmse_steps >= LARGE_ERROR_STEPS]


def format_quantization_report(rows: list[LayerError]) -> str:
    """The report as Markdown: a verdict line, then the table, worst first."""
    worst = largest_error_layers(rows)
    if worst:
        verdict = (
            f"{len(worst)} of {len(rows)} quantized layers lose {LARGE_ERROR_STEPS:.2f} "
            "quantization steps or more (rounding alone: "
            f"{ROUNDING_ERROR_STEPS:.2f}); they carry most of the error: "
            + ", ".join(
                f"`{row.tensor_name}` ({row.op_name}, {row.rmse_steps:.2f})" for row in worst
            )
        )
    else:
        verdict = (
            f"No quantized layer of {len(rows)} loses {LARGE_ERROR_STEPS:.2f} quantization steps "
            f"or more (rounding alone: {ROUNDING_ERROR_STEPS:.2f})."
        )
    lines = [
        verdict,
        "",
        "| rank | op | RMSE (steps) | max abs error | scale | zero point | tensor |",
        "|---|---|---|---|---|---|---|",
    ]
    for rank, row in enumerate(rows, 1):
        lines.append(
            f"| {rank} | {row.op_name} | {row.rmse_steps:.3f} | {row.max_abs_error:.4g} | "
            f"{row.scale:.4g} | {row.zero_point} | `{row.tensor_name}` |"
        )
    return "\n".join(lines) + "\n"


def write_quantization_report(rows: list[LayerError], path: str | os.PathLike) -> None:
    """Writes `format_quantization_report(rows)` to `path`, atomically."""
    write_atomically(path, format_quantization_report(rows).encode("utf-8"))
