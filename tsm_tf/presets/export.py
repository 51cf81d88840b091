"""From a preset name to a parity-checked `.tflite` with its metadata and labels."""

import os

from tsm_tf.models.tsm_classifier import TSMClassifier
from tsm_tf.presets.loading import get_preset


def export_preset(
    name: str,
    output: str | os.PathLike,
    mode: str = "streaming",
    precision: str = "float32",
    base_url: str | None = None,
    **overrides,
):
    """Downloads, converts and exports preset `name`, then checks parity.

    Args:
        name: a preset name; `mode="streaming"` needs an online
            (uni-directional) one, `"tsm_mobilenetv2_jester_online"`.
        output: the `.tflite` path (metadata beside it, `.json`).
        mode, precision: as `tsm_tf.export_tflite`.
        base_url: download from this folder URL instead (a mirror).
        **overrides: as `tsm_tf.TSMClassifier.from_preset` (e.g. `image_size`).

    Returns:
        `(model, metadata, parity_report)`.

    Raises:
        ValueError: a bidirectional preset asked to stream, or the export
            failed the parity check on the real interpreter.
    """
    from tsm_tf.lite.export import export_tflite
    from tsm_tf.lite.parity import check_parity

    architecture = get_preset(name)["architecture"]
    # Checked before the download: the checkpoint cannot change the architecture.
    if mode == "streaming" and architecture["bidirectional"] and architecture["shift_div"] > 0:
        raise ValueError(
            f"Preset {name!r} is an offline (bidirectional) TSM: it needs future "
            "frames and cannot stream. Use mode='clip', or the online preset "
            "'tsm_mobilenetv2_jester_online'."
        )
    model = TSMClassifier.from_preset(name, base_url=base_url, **overrides)
    metadata = export_tflite(model, output, mode=mode, precision=precision, labels=model.labels)
    report = check_parity(model, output, num_frames=max(16, model.num_segments))
    if not report.passed:
        raise ValueError(
            f"The export of preset {name!r} failed the parity check: {report.summary()}"
        )
    return model, metadata, report
