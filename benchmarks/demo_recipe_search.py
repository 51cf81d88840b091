"""One run of the demo's recipe search: the demo's training with some settings changed.

Usage:
    python benchmarks/demo_recipe_search.py --name=speed6 --speed=6 \
        --overrides='{"image_size": 32, "learning_rate": 0.015, "epochs": 24}' [--threads=1]

Renders the motion dataset once per speed (cached under --search_dir), trains
the demo's `RECIPE` with `--overrides` applied (any `TrainConfig` field, e.g.
`shift_div`, `width_multiplier`, `epochs`), and prints the held-out top-1
after every epoch. The figures in the demo's comments and on its issue come
from runs of this script, two at a time with `--threads=1` on a 2-core
machine. Runs of one setting vary by tens of points (learning starts after a
plateau of random length), so compare settings over more than one run where
time allows.
"""

import dataclasses
import json
import os
import shutil
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app
from absl import flags

_NAME = flags.DEFINE_string("name", "run", "Run name (folder under --search_dir/runs).")
_SPEED = flags.DEFINE_float("speed", 2.5, "Motion speed of the rendered data.")
_OVERRIDES = flags.DEFINE_string("overrides", "{}", "JSON object of TrainConfig fields to change.")
_THREADS = flags.DEFINE_integer("threads", 0, "TensorFlow threads (0: all cores).")
_CLIPS = flags.DEFINE_integer("clips", 3000, "Clips to render.")
_SEARCH_DIR = flags.DEFINE_string("search_dir", "/tmp/tsm_recipe_search", "Data and run folders.")


def main(argv):
    del argv
    import tensorflow as tf

    if _THREADS.value:
        tf.config.threading.set_intra_op_parallelism_threads(_THREADS.value)
        tf.config.threading.set_inter_op_parallelism_threads(_THREADS.value)
    from tsm_tf import demo
    from tsm_tf.data import write_motion_dataset
    from tsm_tf.training import train
    from tsm_tf.training.side_by_side import validation_accuracies

    data_dir = os.path.join(_SEARCH_DIR.value, f"data_speed{_SPEED.value:g}_clips{_CLIPS.value}")
    paths = {
        "train": os.path.join(data_dir, "train-*.tfrecord"),
        "validation": os.path.join(data_dir, "validation-*.tfrecord"),
    }
    if not os.path.exists(os.path.join(data_dir, "labels.txt")):
        paths = write_motion_dataset(
            data_dir,
            num_clips=_CLIPS.value,
            seed=0,
            num_frames=demo.NUM_FRAMES,
            frame_size=demo.FRAME_SIZE,
            speed=_SPEED.value,
        )
    runs_dir = os.path.join(_SEARCH_DIR.value, "runs")
    config = demo.make_config(
        _NAME.value, paths, runs_dir, demo.RECIPE["shift_div"], epochs=None, seed=0
    )
    config = dataclasses.replace(config, **json.loads(_OVERRIDES.value))
    shutil.rmtree(config.run_dir, ignore_errors=True)
    started = time.time()
    train(config)
    accuracies = validation_accuracies(config.run_dir)
    print(f"{_NAME.value}: speed {_SPEED.value:g}, {config.to_json()}")
    print(f"held-out top-1 per epoch: {' '.join(f'{value:.2f}' for value in accuracies)}")
    print(f"{time.time() - started:.0f} s")


if __name__ == "__main__":
    app.run(main)
