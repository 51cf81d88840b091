"""Runs the shared tiny TSM on the backend named by KERAS_BACKEND; tests/test_backends.py reads what it writes.

Usage: `KERAS_BACKEND=jax python tests/backend_worker.py WORK_DIR`. WORK_DIR holds
`model.keras` (saved on TensorFlow) and `inputs.npz`; the worker writes
`<backend>.npz` there (and, on JAX, `trained_on_jax.keras`).
"""

import os
import sys

import keras
import numpy as np

import tsm_tf


def gradient_of_shift(layer, inputs, upstream):
    """d(sum(layer(inputs) * upstream)) / d(inputs), by the backend's own autodiff."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda x: (layer(x) * upstream).sum())(inputs))
    if backend == "torch":
        import torch

        frames = torch.tensor(inputs, requires_grad=True)
        (layer(frames) * torch.tensor(upstream)).sum().backward()
        return frames.grad.numpy()
    raise ValueError(f"no gradient helper for backend {backend!r}")


def main(work_dir):
    backend = keras.backend.backend()
    keras.utils.set_random_seed(0)  # the fit test's verdict must not depend on the initial weights
    inputs = np.load(os.path.join(work_dir, "inputs.npz"))
    results = {}

    model = keras.models.load_model(os.path.join(work_dir, "model.keras"))
    results["logits"] = keras.ops.convert_to_numpy(model(inputs["clips"]))
    results["frame_logits"] = keras.ops.convert_to_numpy(
        tsm_tf.per_frame_model(model)(inputs["clips"][:1])
    )
    online = tsm_tf.build_online_tsm(model)
    states = tsm_tf.initial_states(online)
    streamed = []
    for frame in inputs["clips"][0]:
        outputs = online({"frame": frame[None], **states})
        streamed.append(keras.ops.convert_to_numpy(outputs["logits"])[0])
        states = {name: outputs[name] for name in states}
    results["streamed_logits"] = np.stack(streamed)

    for bidirectional in (True, False):
        shift = tsm_tf.TemporalShift(num_segments=4, shift_div=4, bidirectional=bidirectional)
        key = "bidirectional" if bidirectional else "unidirectional"
        results[f"shift_gradient_{key}"] = gradient_of_shift(
            shift, inputs["shift_inputs"], inputs["shift_upstream"]
        )

    trainee = tsm_tf.build_tsm(
        "mobilenet_v2",
        3,
        num_segments=4,
        image_size=32,
        width_multiplier=0.35,
        dropout=0.0,
        bidirectional=False,  # streamable, so TensorFlow can export it in streaming mode
    )
    trainee.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = trainee.fit(
        inputs["train_clips"], inputs["train_labels"], batch_size=4, epochs=10, verbose=0
    )
    results["losses"] = np.asarray(history.history["loss"])
    if backend == "jax":
        trainee.save(os.path.join(work_dir, "trained_on_jax.keras"))
        results["trained_logits"] = keras.ops.convert_to_numpy(trainee(inputs["train_clips"][:3]))

    results["refusals"] = np.asarray(refusals(model, work_dir))
    np.savez(os.path.join(work_dir, f"{backend}.npz"), **results)


def refusals(model, work_dir):
    """The messages of what needs TensorFlow, called on this backend (`""` where nothing was raised)."""
    from tsm_tf.training.distribute import make_strategy

    attempts = {
        "export": lambda: tsm_tf.export_tflite(model, os.path.join(work_dir, "refused.tflite")),
        "strategy": lambda: make_strategy("default"),
    }
    messages = []
    for attempt in attempts.values():
        try:
            attempt()
            messages.append("")
        except RuntimeError as error:
            messages.append(str(error))
    return messages


if __name__ == "__main__":
    main(sys.argv[1])
