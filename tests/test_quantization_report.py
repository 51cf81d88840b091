"""The int8 quantization report (the converter's debugger) and selective quantization from it."""

import json
import os

import numpy as np

import tsm_tf
from tests.helpers import random_clips
from tests.streaming_helpers import streaming_tsm
from tsm_tf.lite.quantization_report import ROUNDING_ERROR_STEPS
from tsm_tf.lite.quantization_report import format_quantization_report
from tsm_tf.lite.quantization_report import quantization_report
from tsm_tf.lite.tflite_model import TFLiteModel


def test_report_ranks_layers_and_the_worst_one_can_stay_float(tmp_path):
    model = streaming_tsm("mobilenet_v2", variance_floor=1.0, seed=3)
    clips = random_clips(2, 8, 32, seed=11)  # two clips: each streams from zero states
    rows = quantization_report(model, clips, 16)
    errors = [row.rmse_steps for row in rows]
    assert errors == sorted(errors, reverse=True)
    # Every quantized op is listed; a typical one loses about a rounding (in its own steps).
    assert len(rows) > 50 and np.median(errors) > 0.5 * ROUNDING_ERROR_STEPS, errors
    text = format_quantization_report(rows)
    assert f"| 1 | {rows[0].op_name} | {rows[0].rmse_steps:.3f} |" in text
    # The logits' op kept in float: the metadata says so, and the client reads float logits.
    logits_layer = next(row.tensor_name for row in rows if row.op_name == "FULLY_CONNECTED")
    path = str(tmp_path / "selective.tflite")
    metadata = tsm_tf.export_tflite(
        model,
        path,
        precision="int8",
        representative_data=clips,
        float_layers=[logits_layer],
    )
    assert metadata["float_layers"] == [logits_layer]
    assert metadata["output"]["dtype"] == "float32" and "quantization" not in metadata["output"]
    assert metadata["input"]["dtype"] == "int8"
    assert all(state["dtype"] == "int8" for state in metadata["states"])
    with open(os.path.splitext(path)[0] + ".json", encoding="utf-8") as file:
        assert json.load(file) == metadata
    frames = random_clips(1, 12, 32, seed=5)[0]
    report = tsm_tf.check_parity(model, path, frames=frames)
    assert report.passed, report.summary()
    assert isinstance(TFLiteModel(path)(frames[0]), np.ndarray)
