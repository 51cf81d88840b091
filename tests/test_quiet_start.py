"""`import tsm_tf` keeps TensorFlow's native start-up chatter (and a CPU-only machine's cuInit error)
off stderr unless TSM_TF_VERBOSE=1."""

import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent


def _import_stderr(**environment):
    result = subprocess.run(
        [sys.executable, "-c", "import tsm_tf, tensorflow; tensorflow.constant(1.0) + 1"],
        capture_output=True,
        text=True,
        timeout=180,
        env=dict(os.environ, PYTHONPATH=str(REPO), **environment),
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_import_is_quiet_and_verbose_shows_the_native_logs():
    quiet = _import_stderr(TSM_TF_VERBOSE="0")
    loud = _import_stderr(TSM_TF_VERBOSE="1")
    assert quiet.strip() == ""
    # The sensitivity check: on this machine TensorFlow does print native start-up lines.
    assert "absl::InitializeLog" in loud or "cuda" in loud.lower() or "oneDNN" in loud
