"""Shared test helpers: tiny models, fresh-process checks, save/load round-trips."""

import importlib
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import tsm_tf

# Narrow, small-frame models keep unit tests fast on 2 CPU cores.
TINY_WIDTH = {"mobilenet_v2": 0.35, "resnet50": 0.125}


def tiny_tsm(backbone="mobilenet_v2", num_classes=5, num_segments=4, image_size=32, **kwargs):
    """A small TSM (or TSN with shift_div=0) for unit tests."""
    kwargs.setdefault("width_multiplier", TINY_WIDTH[backbone])
    return tsm_tf.build_tsm(
        backbone,
        num_classes,
        num_segments=num_segments,
        image_size=image_size,
        **kwargs,
    )


# A reference must move by this many tolerances when its input changes, or a
# comparison against it could not tell a wrong answer from a right one.
SENSITIVITY_FACTOR = 100


def seed_everything(seed):
    """Seeds Python, NumPy, TensorFlow and Keras.

    Call it first in every fixture wider than one test that makes random
    weights or inputs: such fixtures are built before the per-test reseed of
    tests/conftest.py, so without it what they build depends on which tests
    ran before them.
    """
    keras.utils.set_random_seed(seed)


def require(module, install):
    """Imports an optional dependency the tests need, or fails saying how to install it.

    A skip would let a machine without it report a green suite that never ran
    these tests.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        pytest.fail(
            f"these tests need {module}, which cannot be imported ({error}); "
            f"install it with: {install}",
            pytrace=False,
        )


def assert_matches_reference(actual, expected, changed, atol):
    """`actual` equals a reference's `expected` within `atol`, and the reference can tell.

    `changed` maps a change of the input (another clip, reversed frames,
    zeroed states) to the reference's output on the changed input; each must
    differ from `expected` by at least SENSITIVITY_FACTOR * atol, so that a
    model that got the input's content, its order or its state wrong could
    not pass. A guard failure says the reference is blind; a failed
    comparison raises numpy's "Not equal to tolerance".
    """
    expected = np.asarray(expected)
    for change, output in changed.items():
        moved = float(np.max(np.abs(np.asarray(output) - expected)))
        assert moved >= SENSITIVITY_FACTOR * atol, (
            f"the reference is blind to {change}: its output moved by {moved:.3g}, "
            f"less than {SENSITIVITY_FACTOR} x the tolerance {atol:g}"
        )
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=0)


CALIBRATION_SEED = (
    100  # the reference's batch-norm statistics; the tests' own clips use other seeds
)


def calibration_clips(num_segments, image_size):
    """The random clips a PyTorch reference's batch-norm statistics are measured on."""
    return random_clips(4, num_segments, image_size, seed=CALIBRATION_SEED)


def random_clips(batch, num_segments, image_size, seed=0, dtype="float32"):
    """Random RGB clips in [0, 255]."""
    rng = np.random.default_rng(seed)
    clips = rng.uniform(0, 255, (batch, num_segments, image_size, image_size, 3))
    return clips.astype(dtype)


def fresh_process_environment(environment=None):
    """This process's environment with TensorFlow's logs quiet and no GPU, plus `environment`."""
    return dict(
        os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", **(environment or {})
    )


def run_cli(command, flags, environment=None, timeout=600):
    """Runs `python -m command *flags` (or `python command *flags` for a `.py` path) in a fresh process.

    Args:
        command: a module (`tsm_tf.cli.train`) or a script path (`export/export_tflite.py`).
        flags: the command-line arguments.
        environment: variables added to the process's environment.
        timeout: seconds before the run is killed (and the test fails).

    Returns:
        The `subprocess.CompletedProcess`, stdout and stderr captured as text.
    """
    target = [command] if command.endswith(".py") else ["-m", command]
    return subprocess.run(
        [sys.executable, *target, *flags],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=fresh_process_environment(environment),
    )


def run_python(code, timeout=300):
    """Runs `code` in a fresh Python process; returns its stdout, raises on failure."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=fresh_process_environment(),
    )
    if result.returncode != 0:
        raise AssertionError(
            f"fresh process failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def assert_loads_in_fresh_process(model, inputs, tmp_path, atol=1e-5):
    """Saves `model` to .keras, loads it in a new process with no custom_objects,
    and checks the outputs on `inputs` match."""
    model_path = tmp_path / "model.keras"
    inputs_path = tmp_path / "inputs.npy"
    outputs_path = tmp_path / "outputs.npy"
    model.save(model_path)
    np.save(inputs_path, inputs)
    run_python(
        f"""
        import numpy as np, keras
        import tsm_tf  # registers the custom classes; no custom_objects needed
        model = keras.models.load_model({str(model_path)!r})
        np.save({str(outputs_path)!r}, np.asarray(model.predict(np.load({str(inputs_path)!r}), verbose=0)))
        """
    )
    expected = np.asarray(model.predict(inputs, verbose=0))
    np.testing.assert_allclose(np.load(outputs_path), expected, atol=atol, rtol=1e-5)
