"""Full-int8 variants of a trained streaming TSM against float32: calibration and deny lists.

Usage:
    python benchmarks/benchmark_int8_variants.py [--model=demo_output/tsm/last.keras] \
        [--data=demo_output/data] [--calibration_frames=64,512] [--float_layers=0,3]

Exports the float32 streaming model and, per variant, a full-int8 one
(`tsm_tf.export_tflite`): `video` is the old calibration (the first
`calibration_frames` training frames streamed as one video), `clips` streams
each training clip from zero states (the exporter's calibration for
records); `+ N float` keeps the `N` worst layers of the quantization report
(`tsm_tf.lite.quantization_report`) in float. Every held-out clip then
streams through all of them in lock step (benchmark_quantization.py's
loop), and the table gives held-out top-1, per-frame top-1 agreement with
float32, latency and size, as that benchmark does.
"""

import os

import benchmark_quantization as base
from absl import app
from absl import flags

import tsm_tf
from tsm_tf.lite.export import load_representative_frames
from tsm_tf.lite.quantization_report import quantization_report
from tsm_tf.models.tsm_config import config_of

_CALIBRATION_FRAMES = flags.DEFINE_list(
    "calibration_frames", ["64", "512"], "Calibration frames of each variant."
)
_FLOAT_LAYERS = flags.DEFINE_list(
    "float_layers", ["0"], "Worst layers kept in float (0: full int8), per variant."
)


def export_variants(model, folder, calibration_pattern):
    """{name: path}: float32, then each int8 variant."""
    os.makedirs(folder, exist_ok=True)
    paths = {"float32": os.path.join(folder, "float32.tflite")}
    tsm_tf.export_tflite(model, paths["float32"])
    image_size = config_of(model).image_size
    for frames in map(int, _CALIBRATION_FRAMES.value):
        video = load_representative_frames(calibration_pattern, image_size, frames)
        variants = {f"int8 video {frames}": (video, [])}
        report = None
        for count in map(int, _FLOAT_LAYERS.value):
            if count and report is None:
                report = quantization_report(model, calibration_pattern, frames)
            kept = [row.tensor_name for row in report[:count]] if count else []
            name = f"int8 clips {frames}" + (f" + {count} float" if count else "")
            variants[name] = (calibration_pattern, kept)
        for name, (data, kept) in variants.items():
            paths[name] = os.path.join(folder, name.replace(" ", "_").replace("+", "") + ".tflite")
            tsm_tf.export_tflite(
                model,
                paths[name],
                precision="int8",
                representative_data=data,
                num_representative_frames=frames,
                float_layers=kept or None,
            )
    return paths


def main(argv):
    del argv
    calibration_pattern = base.records("train")
    validation_pattern = base.records("validation")
    model = base.load_model()
    paths = export_variants(model, base._OUTPUT_DIR.value, calibration_pattern)
    results, labels = base.stream_all(paths, validation_pattern)
    for name in paths:
        if name != "float32":
            print(f"\n{name}")
            base.report(
                config_of(model).image_size,
                {"float32": paths["float32"], "int8": paths[name]},
                {"float32": results["float32"], "int8": results[name]},
                labels,
            )


if __name__ == "__main__":
    app.run(main)
