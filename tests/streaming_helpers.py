"""Helpers for the online, export and streaming tests: models with real-sized logits."""

import keras
import numpy as np

from tests.helpers import random_clips
from tests.helpers import tiny_tsm
from tsm_tf import per_frame_model
from tsm_tf.utils.batch_norm_statistics import calibrate_batch_norm


def streaming_tsm(
    backbone="mobilenet_v2", num_segments=4, image_size=32, variance_floor=0.0, seed=None, **kwargs
):
    """A tiny uni-directional TSM with calibrated batch norm and spread-out logits.

    With a `seed`, the weights do not depend on what ran before.
    `variance_floor` goes to `calibrate_batch_norm`.
    """
    if seed is not None:
        keras.utils.set_random_seed(seed)
    model = tiny_tsm(
        backbone,
        num_segments=num_segments,
        image_size=image_size,
        bidirectional=False,
        dropout=0.0,
        **kwargs,
    )
    clips = random_clips(4, num_segments, image_size, seed=7)
    calibrate_batch_norm(model, clips, variance_floor)
    # Logits of a few units, as a trained classifier's: the float32 tolerance
    # (1e-3, absolute) is then as strict as it is on a real model.
    logits = np.asarray(per_frame_model(model)(clips, training=False))
    classifier = model.get_layer("classifier")
    kernel, bias = classifier.get_weights()
    scale = 1.5 / max(float(np.std(logits - bias)), 1e-12)
    classifier.set_weights([kernel * scale, np.zeros_like(bias)])
    return model


def video_frames(num_frames, image_size, seed=0):
    """Smoothly moving random blobs: consecutive frames that look like a video."""
    rng = np.random.default_rng(seed)
    coordinates = np.linspace(0, 1, image_size, dtype="float32")
    y, x = np.meshgrid(coordinates, coordinates, indexing="ij")
    centres = rng.uniform(0.2, 0.8, (3, 2))
    velocity = rng.uniform(-0.03, 0.03, (3, 2))
    frames = []
    for step in range(num_frames):
        frame = np.zeros((image_size, image_size, 3), "float32")
        for channel, (centre, speed) in enumerate(zip(centres, velocity)):
            cy, cx = centre + step * speed
            frame[..., channel] = 255 * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 0.05)
        frames.append(frame)
    return np.stack(frames)


def stream_online(online, frames):
    """Per-frame logits of an online model over `frames` (H, W, 3 each), states carried."""
    from tsm_tf.lite.streaming import logits_of
    from tsm_tf.lite.streaming import stream_keras

    return logits_of(stream_keras(online, frames))
