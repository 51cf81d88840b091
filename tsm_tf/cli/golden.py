"""Writes the Android core's golden vectors (see `tsm_tf.lite.golden`).

Usage:

    python -m tsm_tf.cli.golden --output_dir /tmp/golden [--precision int8]
"""

import logging

from absl import flags

from tsm_tf.cli.tool import run_tool


def define_flags() -> None:
    """Defines this command's flags (at start-up, never at import)."""
    flags.DEFINE_string(
        "output_dir", None, "Directory for model.tflite, model.json and golden.json."
    )
    flags.DEFINE_integer("num_frames", 9, "Frames in the stream.")
    flags.DEFINE_enum(
        "precision", "float32", ["float32", "int8"], "Precision of the exported model."
    )
    flags.DEFINE_integer("seed", 0, "Seed for the model weights and the frames.")
    flags.mark_flag_as_required("output_dir")


def main(argv):
    del argv
    from tsm_tf.lite.golden import write_golden_vectors

    logging.getLogger().setLevel(logging.INFO)
    values = flags.FLAGS
    path = write_golden_vectors(
        values.output_dir,
        num_frames=values.num_frames,
        seed=values.seed,
        precision=values.precision,
    )
    print(path)


def run():
    """Console-script and `python -m` entry point."""
    run_tool(main, define_flags)


if __name__ == "__main__":
    run()
