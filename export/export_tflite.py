"""Exports a trained TSM (.keras) to TFLite with its metadata, then checks parity.

Usage:
    python export/export_tflite.py --model=tsm.keras --output=out/model.tflite [...]
    python export/export_tflite.py --preset=tsm_mobilenetv2_jester_online --output=out/model.tflite

The design's conversion script: it runs the `tsm-export` console script
(`tsm_tf/cli/export.py`, which documents every flag).
"""

from tsm_tf.cli.export import run

if __name__ == "__main__":
    run()
