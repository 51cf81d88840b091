"""The model parts on the JAX and PyTorch backends, against TensorFlow's on the same weights.

One tiny uni-directional TSM is saved here (TensorFlow); one fresh process
per backend (tests/backend_worker.py, both started at once) loads it, runs
the clip, per-frame and online models, differentiates the shift, fits a
fresh model and (on JAX) saves it for TensorFlow to reload and export.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import tsm_tf
from tests.helpers import assert_matches_reference
from tests.helpers import fresh_process_environment
from tests.helpers import random_clips
from tests.helpers import require
from tests.helpers import seed_everything
from tests.helpers import tiny_tsm

BACKENDS = ("jax", "torch")
WORKER = os.path.join(os.path.dirname(__file__), "backend_worker.py")
ATOL = 1e-4
SHIFT_SEGMENTS, SHIFT_DIV = 4, 4  # the worker's TemporalShift settings


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """The shared model and inputs, and each backend's results (`{backend: npz}`)."""
    require("jax", "pip install jax")
    require("torch", "pip install torch")
    seed_everything(31)
    work_dir = tmp_path_factory.mktemp("backends")
    model = tiny_tsm(bidirectional=False, dropout=0.0)
    model.save(work_dir / "model.keras")
    rng = np.random.default_rng(31)
    np.savez(
        work_dir / "inputs.npz",
        clips=random_clips(2, 4, 32, seed=1),
        shift_inputs=rng.normal(size=(2 * SHIFT_SEGMENTS, 2, 2, 8)).astype("float32"),
        shift_upstream=rng.normal(size=(2 * SHIFT_SEGMENTS, 2, 2, 8)).astype("float32"),
        train_clips=random_clips(8, 4, 32, seed=2),
        train_labels=np.arange(8) % 3,
    )
    workers = {
        backend: subprocess.Popen(
            [sys.executable, WORKER, str(work_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=fresh_process_environment({"KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu"}),
        )
        for backend in BACKENDS
    }
    failures = {}
    for backend, worker in workers.items():
        output, _ = worker.communicate(timeout=600)
        if worker.returncode != 0:
            failures[backend] = output[-4000:]
    assert not failures, "\n".join(
        f"{name} worker failed:\n{log}" for name, log in failures.items()
    )
    return model, work_dir, {backend: np.load(work_dir / f"{backend}.npz") for backend in BACKENDS}


def streamed_logits(model, frames):
    """The online model's logits, frame by frame from zero states (TensorFlow)."""
    online = tsm_tf.build_online_tsm(model)
    states = tsm_tf.initial_states(online)
    logits = []
    for frame in frames:
        outputs = online({"frame": frame[None], **states})
        logits.append(np.asarray(outputs["logits"])[0])
        states = {name: outputs[name] for name in states}
    return np.stack(logits)


@pytest.fixture(scope="module")
def tensorflow_outputs(work):
    """`{output: (on the worker's clips, on other clips)}`, computed on TensorFlow."""
    model, work_dir, _ = work
    clips = np.load(work_dir / "inputs.npz")["clips"]
    frame_model = tsm_tf.per_frame_model(model)
    return {
        "logits": (np.asarray(model(clips)), np.asarray(model(clips[::-1]))),
        "frame_logits": (np.asarray(frame_model(clips[:1])), np.asarray(frame_model(clips[1:]))),
        "streamed_logits": (streamed_logits(model, clips[0]), streamed_logits(model, clips[1])),
    }


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("output", ["logits", "frame_logits", "streamed_logits"])
def test_forward_equals_tensorflow(work, tensorflow_outputs, backend, output):
    expected, on_other_clips = tensorflow_outputs[output]
    assert_matches_reference(
        work[2][backend][output], expected, {"another clip": on_other_clips}, ATOL
    )


def transposed_shift(upstream, bidirectional):
    """The transpose of the shift applied to `upstream`, by scattering it back where the shift read it.

    The shift is a gather: output frame t, channel c reads input frame
    t + step(c) (zero past the ends). Its transpose adds output t's value
    into input t + step(c).
    """
    clips = upstream.reshape(-1, SHIFT_SEGMENTS, *upstream.shape[1:])
    fold = clips.shape[-1] // SHIFT_DIV
    steps = np.zeros(clips.shape[-1], int)
    if bidirectional:
        steps[:fold], steps[fold : 2 * fold] = 1, -1
    else:
        steps[:fold] = -1
    gradient = np.zeros_like(clips)
    for frame in range(SHIFT_SEGMENTS):
        for channel, step in enumerate(steps):
            source = frame + step
            if 0 <= source < SHIFT_SEGMENTS:
                np.add.at(
                    gradient, (slice(None), source, ..., channel), clips[:, frame, ..., channel]
                )
    return gradient.reshape(upstream.shape)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("direction", ["bidirectional", "unidirectional"])
def test_shift_gradient_is_the_transposed_shift(work, backend, direction):
    _, work_dir, results = work
    upstream = np.load(work_dir / "inputs.npz")["shift_upstream"]
    expected = transposed_shift(upstream, bidirectional=direction == "bidirectional")
    # An identity (or a shift the wrong way) would give another gradient.
    changed = {"an unshifted gradient": upstream, "the other direction": expected[::-1]}
    assert_matches_reference(
        results[backend][f"shift_gradient_{direction}"], expected, changed, 1e-6
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_lowers_the_loss(work, backend):
    losses = work[2][backend]["losses"]
    assert np.all(np.isfinite(losses)), losses
    assert losses[-1] < 0.85 * losses[0], f"{backend}: the loss did not fall: {losses}"


def test_keras_file_saved_on_jax_loads_and_exports_on_tensorflow(work, tmp_path):
    assert keras.backend.backend() == "tensorflow"
    _, work_dir, results = work
    # Three clips the fit taught apart (labels 0, 1, 2), so another order moves the logits.
    clips = np.load(work_dir / "inputs.npz")["train_clips"][:3]
    model = keras.models.load_model(work_dir / "trained_on_jax.keras")
    trained_logits = results["jax"]["trained_logits"]
    assert_matches_reference(
        np.asarray(model(clips)),
        trained_logits,
        {"other clips": np.roll(trained_logits, 1, axis=0)},
        ATOL,
    )
    tsm_tf.export_tflite(model, tmp_path / "model.tflite")
    report = tsm_tf.check_parity(model, tmp_path / "model.tflite", num_frames=4)
    assert report.passed, report


@pytest.mark.parametrize("backend", BACKENDS)
def test_what_needs_tensorflow_says_so(work, backend):
    export_message, strategy_message = work[2][backend]["refusals"]
    assert "TFLite export needs the TensorFlow backend" in export_message, export_message
    assert f"runs on {backend!r}" in export_message and "KERAS_BACKEND=tensorflow" in export_message
    assert "tf.distribute strategy needs the TensorFlow backend" in strategy_message, (
        strategy_message
    )
