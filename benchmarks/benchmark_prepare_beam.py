"""tsm-prepare on one machine: the local process pool against Apache Beam's direct runner.

Usage:
    python benchmarks/benchmark_prepare_beam.py [--num_videos=200] [--num_workers=2] [--repeats=3]
        [--runner=DirectRunner] [--direct_running_mode=multi_processing]

Writes `num_videos` small videos (16 frames of 96x128, h264), then prepares
them (shorter side 64, 4 shards) alternately with the local pool
(`prepare_dataset`, `num_workers` processes) and with the Beam pipeline
(`--direct_num_workers=num_workers`), `repeats` rounds, each run from scratch
(start-up of the workers included). Prints videos per second (median) of
each and their ratio, and checks both wrote the same videos.
"""

import logging
import os
import sys
import tempfile
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

flags.DEFINE_integer("num_videos", 200, "Videos to prepare.")
flags.DEFINE_integer("num_workers", 2, "Local pool processes, and Beam's --direct_num_workers.")
flags.DEFINE_integer("repeats", 3, "Alternating rounds.")
flags.DEFINE_string(
    "runner", "DirectRunner", "Beam runner (DirectRunner tries Prism, then its in-process engine)."
)
flags.DEFINE_string("direct_running_mode", "multi_processing", "Beam direct runner mode.")
FLAGS = flags.FLAGS


def write_videos(root, num_videos):
    """`num_videos` 16-frame 96x128 h264 videos in 4 class folders."""
    from tests.data_helpers import textured_frames
    from tests.data_helpers import write_video

    for index in range(num_videos):
        write_video(
            os.path.join(root, f"class{index % 4}", f"video{index:04d}.mp4"),
            textured_frames(16, 96, 128, seed=index),
        )


def main(argv):
    del argv
    logging.getLogger().setLevel(logging.WARNING)
    from tsm_tf.data import beam_prepare
    from tsm_tf.data import sources
    from tsm_tf.data.dataset_writer import EncodeSettings
    from tsm_tf.data.dataset_writer import prepare_dataset

    settings = EncodeSettings(shorter_side=64)
    pipeline_args = [
        f"--runner={FLAGS.runner}",
        f"--direct_num_workers={FLAGS.num_workers}",
        f"--direct_running_mode={FLAGS.direct_running_mode}",
    ]
    with tempfile.TemporaryDirectory() as folder:
        write_videos(os.path.join(folder, "videos"), FLAGS.num_videos)
        items, labels = sources.list_video_folders(os.path.join(folder, "videos"))

        def local():
            return prepare_dataset(
                items,
                labels,
                os.path.join(folder, "local"),
                "train",
                4,
                FLAGS.num_workers,
                settings,
                overwrite=True,
            )

        def beam():
            return beam_prepare.prepare_dataset_beam(
                items,
                labels,
                os.path.join(folder, "beam"),
                "train",
                4,
                settings,
                overwrite=True,
                pipeline_args=pipeline_args,
            )

        seconds = {"local": [], "beam": []}
        reports = {}
        for _ in range(FLAGS.repeats):
            for name, run in (("local", local), ("beam", beam)):
                start = time.perf_counter()
                reports[name] = run()
                seconds[name].append(time.perf_counter() - start)
    for name, report in reports.items():
        assert report["num_written"] == FLAGS.num_videos, (name, report["skipped"][:3])
    median = {name: sorted(values)[len(values) // 2] for name, values in seconds.items()}
    print(
        f"{FLAGS.num_videos} videos (16 frames, 96x128 -> 64 px), {FLAGS.num_workers} workers, "
        f"{os.cpu_count()} CPU cores, {FLAGS.repeats} alternating rounds"
    )
    print("| path | seconds per run (median) | videos/s |")
    print("| --- | --- | --- |")
    print(
        f"| local pool (`prepare_dataset`, {FLAGS.num_workers} processes) | {median['local']:.1f} | {FLAGS.num_videos / median['local']:.1f} |"
    )
    print(
        f"| Beam `{FLAGS.runner}` ({FLAGS.direct_running_mode}, {FLAGS.num_workers} workers) | {median['beam']:.1f} | "
        f"{FLAGS.num_videos / median['beam']:.1f} |"
    )
    print(f"\nlocal pool / Beam speed: {median['beam'] / median['local']:.2f}x")
    print(
        "all runs (s):",
        {name: [round(value, 1) for value in values] for name, values in seconds.items()},
    )


if __name__ == "__main__":
    app.run(main)
