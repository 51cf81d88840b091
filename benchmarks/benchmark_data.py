"""Input pipeline throughput beside what a TSM-MobileNetV2 training step consumes.

Usage:
    python benchmarks/benchmark_data.py [--num_batches=20] [--motion_clips=3000]

Writes a temporary dataset (motion clips rendered at 256 px, the size
`tsm-prepare` stores), then measures, in one run on this machine:
clips per second of the training pipeline (8 segments, 224 px, multi-scale
crop and flip), of the evaluation pipeline (centre crop), and of a
TSM-MobileNetV2 training step (batch 8), and the time to render the built-in
motion dataset at its defaults. Prints a Markdown table.
"""

import logging
import os
import tempfile
import time

from absl import app
from absl import flags

flags.DEFINE_integer("num_batches", 20, "Batches timed per measurement (after warm-up).")
flags.DEFINE_integer("batch_size", 8, "Clips per batch.")
flags.DEFINE_integer("num_segments", 8, "Frames per clip.")
flags.DEFINE_integer("image_size", 224, "Frame side.")
flags.DEFINE_integer("num_train_steps", 4, "Training steps timed (after one warm-up step).")
flags.DEFINE_integer("motion_clips", 3000, "Clips for the motion dataset timing (0 skips it).")
FLAGS = flags.FLAGS


def write_benchmark_records(folder):
    """160 clips (128 train, 32 validation) of 16 frames at 256x256, as tsm-prepare stores frames."""
    from tsm_tf.data import write_motion_dataset

    return write_motion_dataset(
        folder, num_clips=160, seed=0, num_frames=16, frame_size=256, num_shards=4
    )


def pipeline_rate(pattern, training):
    """Clips per second the pipeline delivers (after one warm-up batch)."""
    from tsm_tf.data import make_dataset

    dataset = make_dataset(
        pattern,
        FLAGS.num_segments,
        FLAGS.image_size,
        training=training,
        batch_size=FLAGS.batch_size,
        flip=training,
        repeat=True,
    )
    iterator = iter(dataset)
    next(iterator)
    start = time.perf_counter()
    for _ in range(FLAGS.num_batches):
        next(iterator)
    return FLAGS.num_batches * FLAGS.batch_size / (time.perf_counter() - start)


def training_step_rate():
    """Clips per second a TSM-MobileNetV2 training step consumes."""
    import keras
    import numpy as np

    import tsm_tf

    model = tsm_tf.build_tsm(
        "mobilenet_v2", 9, num_segments=FLAGS.num_segments, image_size=FLAGS.image_size
    )
    model.compile(
        keras.optimizers.SGD(0.01, momentum=0.9),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(0)
    clips = rng.uniform(
        0, 255, (FLAGS.batch_size, FLAGS.num_segments, FLAGS.image_size, FLAGS.image_size, 3)
    ).astype("float32")
    labels = rng.integers(0, 9, FLAGS.batch_size)
    model.train_on_batch(clips, labels)
    start = time.perf_counter()
    for _ in range(FLAGS.num_train_steps):
        model.train_on_batch(clips, labels)
    return FLAGS.num_train_steps * FLAGS.batch_size / (time.perf_counter() - start)


def motion_dataset_seconds(folder):
    from tsm_tf.data import write_motion_dataset

    start = time.perf_counter()
    write_motion_dataset(folder, num_clips=FLAGS.motion_clips, seed=0)
    return time.perf_counter() - start


def main(argv):
    del argv
    logging.getLogger().setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        paths = write_benchmark_records(os.path.join(folder, "bench"))
        train = pipeline_rate(paths["train"], training=True)
        evaluation = pipeline_rate(paths["validation"], training=False)
        step = training_step_rate()
        motion = (
            motion_dataset_seconds(os.path.join(folder, "motion")) if FLAGS.motion_clips else None
        )
    shape = f"{FLAGS.num_segments} x {FLAGS.image_size} px, batch {FLAGS.batch_size}, {os.cpu_count()} CPU cores"
    print(f"| measurement ({shape}) | clips/s |")
    print("| --- | --- |")
    print(f"| training pipeline (multi-scale crop, flip) | {train:.1f} |")
    print(f"| evaluation pipeline (resize, centre crop) | {evaluation:.1f} |")
    print(f"| TSM-MobileNetV2 training step consumes | {step:.2f} |")
    print(f"| training pipeline / training step | {train / step:.1f}x |")
    if motion is not None:
        print(f"\nmotion dataset, {FLAGS.motion_clips} clips (16 x 64 px): {motion:.1f} s")


if __name__ == "__main__":
    app.run(main)
