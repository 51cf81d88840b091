"""Writes the Android core's frame-pacing golden sequences (see `tsm_tf.lite.pacer_golden`).

Usage:

    python -m tsm_tf.cli.pacer_golden --output=/tmp/golden/pacer.json
"""

from absl import flags

from tsm_tf.cli.tool import run_tool


def define_flags() -> None:
    """Defines this command's flags (at start-up, never at import)."""
    flags.DEFINE_string("output", None, "The JSON file to write (pacer.json).")
    flags.mark_flag_as_required("output")


def main(argv):
    del argv
    from tsm_tf.lite.pacer_golden import write_pacer_golden

    print(write_pacer_golden(flags.FLAGS.output))


def run():
    """Console-script and `python -m` entry point."""
    run_tool(main, define_flags)


if __name__ == "__main__":
    run()
