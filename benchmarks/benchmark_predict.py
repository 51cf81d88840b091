"""tsm-predict's three engines on the same videos: this process, Beam's direct runner, Dask.

Usage:
    python benchmarks/benchmark_predict.py [--num_videos=200] [--num_dask_workers=2]

Writes `num_videos` small videos (16 frames of 96x128, h264) and a small
MobileNetV2 TSM (8 frames of 112 px, random weights), then classifies every
video (1 clip x 1 crop) with `predict_videos` in this process, with the Beam
pipeline on the direct runner, and on DaskRunner with a
`dask.distributed.LocalCluster` of `num_dask_workers` worker processes (its
start-up not counted; the workers' TensorFlow start and model loading are).
Prints videos per second of each, their ratios, the peak resident memory of
each Dask worker, and checks that all three gave the same top-1 for every video.
"""

import json
import logging
import os
import sys
import tempfile
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

flags.DEFINE_integer("num_videos", 200, "Videos to classify.")
flags.DEFINE_integer("num_dask_workers", 2, "Dask worker processes.")
FLAGS = flags.FLAGS


def write_videos(root, num_videos):
    """`num_videos` 16-frame 96x128 h264 videos."""
    from tests.data_helpers import textured_frames
    from tests.data_helpers import write_video

    paths = [os.path.join(root, f"video{index:04d}.mp4") for index in range(num_videos)]
    for index, path in enumerate(paths):
        write_video(path, textured_frames(16, 96, 128, seed=index))
    return paths


def peak_memory_mib():
    """This process's peak resident memory (ru_maxrss, KiB on Linux) in MiB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv):
    del argv
    logging.getLogger().setLevel(logging.WARNING)
    import distributed

    import tsm_tf
    from tsm_tf.prediction.beam_predict import run_beam_prediction

    folder = tempfile.mkdtemp(prefix="benchmark-predict-")
    videos = write_videos(os.path.join(folder, "videos"), FLAGS.num_videos)
    model_path = os.path.join(folder, "model.keras")
    tsm_tf.build_tsm("mobilenet_v2", 5, num_segments=8, image_size=112, width_multiplier=0.35).save(
        model_path
    )

    top1, seconds = {}, {}
    start = time.monotonic()
    top1["local"] = {
        result.video: result.labels[0] for result in tsm_tf.predict_videos(model_path, videos)
    }
    seconds["local"] = time.monotonic() - start

    def beam_run(name, beam_args):
        start = time.monotonic()
        shards = run_beam_prediction(
            model_path, videos, os.path.join(folder, name, "out"), beam_args, num_shards=2
        )
        seconds[name] = time.monotonic() - start
        rows = [json.loads(line) for shard in shards for line in open(shard)]
        top1[name] = {row["video"]: row["labels"][0] for row in rows}

    beam_run("direct runner", ["--runner=DirectRunner"])
    with distributed.LocalCluster(
        n_workers=FLAGS.num_dask_workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address
        beam_run(
            f"Dask, {FLAGS.num_dask_workers} workers",
            ["--runner=DaskRunner", f"--dask_client_address={address}"],
        )
        with distributed.Client(address) as client:
            memory = client.run(peak_memory_mib)
    for name, taken in seconds.items():
        assert top1[name] == top1["local"], f"{name} gave other top-1s than the local run"
        print(
            f"{name:>20}: {taken:6.1f} s, {FLAGS.num_videos / taken:5.1f} videos/s, "
            f"{seconds['local'] / taken:.2f}x the local rate"
        )
    for worker, mib in sorted(memory.items()):
        print(f"Dask worker {worker}: peak resident memory {mib:.0f} MiB")
    print(f"this process: peak resident memory {peak_memory_mib():.0f} MiB")


if __name__ == "__main__":
    app.run(main)
