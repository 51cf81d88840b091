package org.tsmtf.demo.core

/** A small but complete model.json (docs/metadata.md) for unit tests, with two states. */
object TestMetadata {
    fun json(
        states: String = """
            {"input": "state_00", "output": "state_00", "shape": [1, 8, 8, 2], "dtype": "float32"},
            {"input": "state_01", "output": "state_01", "shape": [1, 4, 4, 3], "dtype": "float32"}
        """,
        formatVersion: Int = 1,
        labels: String = """["a", "b", "c"]""",
        inputShape: String = "[1, 16, 16, 3]"
    ): String = """
        {
          "format_version": $formatVersion,
          "tsm_tf_version": "0.1.0",
          "mode": "streaming",
          "precision": "float32",
          "backbone": "mobilenet_v2",
          "num_classes": 3,
          "num_segments": 8,
          "shift_div": 8,
          "bidirectional": false,
          "image_size": 16,
          "width_multiplier": 0.35,
          "labels": $labels,
          "signature_key": "serving_default",
          "input": {"name": "frame", "shape": $inputShape, "dtype": "float32",
                    "value_range": [0, 255], "color": "RGB"},
          "output": {"name": "logits", "shape": [1, 3], "dtype": "float32"},
          "states": [$states],
          "preprocessing": {"resize_shorter_side": 18, "crop_size": 16, "crop": "center",
                            "interpolation": "bilinear", "half_pixel_centers": true,
                            "antialias": false},
          "sha256": "00"
        }
    """

    fun signatureInputs(): MutableMap<String, IntArray> = linkedMapOf(
        "frame" to intArrayOf(1, 16, 16, 3),
        "state_00" to intArrayOf(1, 8, 8, 2),
        "state_01" to intArrayOf(1, 4, 4, 3)
    )

    fun signatureOutputs(): MutableMap<String, IntArray> = linkedMapOf(
        "logits" to intArrayOf(1, 3),
        "state_00" to intArrayOf(1, 8, 8, 2),
        "state_01" to intArrayOf(1, 4, 4, 3)
    )
}
