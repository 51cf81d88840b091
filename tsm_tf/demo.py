"""The built-in demo: TSM learns motion that TSN cannot see, then streams on TFLite.

Usage:
    python -m tsm_tf.demo [--out_dir=demo_output]      (or: make demo)

On a fresh machine, with no download, it
1. renders the built-in motion dataset (9 camera motions over photographs);
2. trains a uni-directional TSM on MobileNetV2 and the TSN baseline (the same
   network with the shift off) with identical settings, side by side;
3. evaluates both on the held-out clips;
4. exports the TSM as a streaming TFLite model with its metadata and checks
   it against Keras on the real interpreter;
5. streams every held-out clip, frame by frame, through
   `tsm_tf.StreamingClassifier`;
6. prints one table. Every figure in it comes from this run.
"""

import json
import logging
import os
import shutil
import sys
import time

from absl import app
from absl import flags

from tsm_tf.training.config import read_settings
from tsm_tf.training.config import recipe_path

_OUT_DIR = flags.DEFINE_string("out_dir", "demo_output", "Folder for the data, models and report.")
_NUM_CLIPS = flags.DEFINE_integer("num_clips", 3000, "Clips to render (80% train, 20% held out).")
_EPOCHS = flags.DEFINE_integer("epochs", None, "Override the recipe's epochs (for a quick look).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the data and the training.")

# The demo's recipe is a file shipped with tsm_tf (tsm_tf/training/recipes/motion_demo.json,
# `tsm-train --recipe=motion_demo`): a 2-core CPU trains both models in minutes;
# docs/demo-recipe.md says how each setting was chosen. Clips have 8 frames and the model
# samples all 8, so streaming frame by frame runs at the frame rate the model was trained on.
NUM_FRAMES = 8
FRAME_SIZE = 64
MOTION_SPEED = 6.0
RECIPE = read_settings(recipe_path("motion_demo"))
STREAM_THREADS = 2


def write_data(out_dir, num_clips, seed):
    """Renders the motion dataset; returns its shard patterns."""
    from tsm_tf.data import write_motion_dataset

    return write_motion_dataset(
        os.path.join(out_dir, "data"),
        num_clips=num_clips,
        seed=seed,
        num_frames=NUM_FRAMES,
        frame_size=FRAME_SIZE,
        speed=MOTION_SPEED,
    )


def make_config(name, paths, out_dir, shift_div, epochs, seed):
    """The training configuration of one model of the comparison."""
    from tsm_tf.training import TrainConfig

    recipe = dict(RECIPE, epochs=epochs or RECIPE["epochs"], shift_div=shift_div)
    return TrainConfig(
        train_pattern=paths["train"],
        validation_pattern=paths["validation"],
        run_dir=os.path.join(out_dir, name),
        seed=seed,
        **recipe,
    )


def evaluate_model(model, paths):
    """Top-1 on the held-out clips (all 8 frames, centre crop)."""
    from tsm_tf.training.evaluation import evaluate

    return evaluate(model, paths["validation"], batch_size=32, progress=True)


def export_streaming(model, out_dir, paths):
    """Exports the TSM as a float32 streaming TFLite model and checks parity.

    The metadata's frame rate comes from the training records: the motion
    clips are stored at 25 fps (a nominal rate: the renderer moves the content
    a set number of pixels per frame) and the model samples all 8 frames of
    each, so a camera fed at 25 fps shows motion at the trained speed.
    """
    import tsm_tf
    from tsm_tf.data.frame_rate import sampled_frame_rate

    path = os.path.join(out_dir, "export", "tsm_streaming.tflite")
    frame_rate = sampled_frame_rate(paths["train"], NUM_FRAMES, RECIPE.get("sampling", "segment"))
    tsm_tf.export_tflite(model, path, mode="streaming", precision="float32", frame_rate=frame_rate)
    report = tsm_tf.check_parity(model, path, progress=True)
    if not report.passed:
        raise RuntimeError(f"TFLite parity failed: {report.summary()}")
    return path, report


def stream_held_out(tflite_path, paths):
    """Streams every held-out clip frame by frame; returns accuracy and latencies.

    A clip counts as correct when the smoothed top-1 after its last frame is
    its label; the states are reset between clips, as an app does between
    videos.
    """
    import numpy as np

    import tsm_tf
    from tsm_tf.data import read_videos

    classifier = tsm_tf.StreamingClassifier(tflite_path, num_threads=STREAM_THREADS)
    correct, total, latencies = 0, 0, []
    for frames, label, _ in read_videos(paths["validation"]):
        classifier.reset()
        for frame in frames:
            prediction = classifier.classify(frame)
            latencies.append(prediction.latency_ms)
        correct += int(np.argmax(prediction.scores)) == label
        total += 1
    return {
        "accuracy": correct / total,
        "num_clips": total,
        "median_latency_ms": float(np.median(latencies)),
        "num_frames": len(latencies),
    }


def format_table(summary):
    """The demo's one table, as Markdown."""
    tsm, tsn, streaming = summary["tsm"], summary["tsn"], summary["streaming"]
    lines = [
        "| | TSM (uni-directional) | TSN (no shift) |",
        "|---|---|---|",
        f"| held-out top-1 (Keras, 8 frames) | {tsm['top1']:.1%} | {tsn['top1']:.1%} |",
        f"| parameters | {tsm['parameters']:,} | {tsn['parameters']:,} |",
        f"| multiply-adds per clip | {tsm['flops']:,} | {tsn['flops']:,} |",
        f"| training time | {tsm['train_seconds']:.0f} s | {tsn['train_seconds']:.0f} s |",
        f"| streaming top-1 (TFLite, frame by frame) | {streaming['accuracy']:.1%} | - |",
        f"| TFLite per-frame latency ({STREAM_THREADS} threads, median) | "
        f"{streaming['median_latency_ms']:.2f} ms | - |",
    ]
    return "\n".join(lines)


def main(argv):
    del argv
    logging.getLogger().setLevel(logging.INFO)
    import keras

    import tsm_tf
    from tsm_tf.training.callbacks import LAST_MODEL
    from tsm_tf.training.side_by_side import train_side_by_side
    from tsm_tf.utils.atomic_files import write_atomically
    from tsm_tf.utils.parameters import count_trainable_parameters

    out_dir = _OUT_DIR.value
    for part in ("data", "tsm", "tsn", "export"):
        shutil.rmtree(os.path.join(out_dir, part), ignore_errors=True)
    start = time.time()
    paths = write_data(out_dir, _NUM_CLIPS.value, _SEED.value)
    data_seconds = time.time() - start

    summary = {
        "recipe": dict(RECIPE, epochs=_EPOCHS.value or RECIPE["epochs"]),
        "num_clips": _NUM_CLIPS.value,
    }
    configs = {
        name: make_config(name, paths, out_dir, shift_div, _EPOCHS.value, _SEED.value)
        for name, shift_div in (("tsm", RECIPE["shift_div"]), ("tsn", 0))
    }
    print(f"Training TSM and TSN side by side ({configs['tsm'].epochs} epochs each)...", flush=True)
    train_seconds = train_side_by_side(configs)
    models = {}
    for name, config in configs.items():
        path = os.path.join(config.run_dir, LAST_MODEL)
        model = keras.models.load_model(path, compile=False)
        report = evaluate_model(model, paths)
        models[name] = model
        summary[name] = {
            "top1": report["top1"],
            "per_class_accuracy": report["per_class_accuracy"],
            "parameters": count_trainable_parameters(model),
            "flops": tsm_tf.count_flops(model),
            "train_seconds": train_seconds[name],
            "model": path,
        }
    tflite_path, parity = export_streaming(models["tsm"], out_dir, paths)
    summary["parity"] = parity.summary()
    summary["streaming"] = stream_held_out(tflite_path, paths)
    summary["total_seconds"] = time.time() - start
    summary["data_seconds"] = data_seconds
    summary_path = os.path.join(out_dir, "summary.json")
    write_atomically(summary_path, json.dumps(summary, indent=2))

    print()
    print(format_table(summary))
    print()
    print(
        f"Total time {summary['total_seconds']:.0f} s ({data_seconds:.0f} s rendering "
        f"{_NUM_CLIPS.value} clips). TFLite parity: {summary['parity']}"
    )
    print("Artifacts:")
    print(f"  data:            {os.path.dirname(paths['labels'])}")
    print(f"  TSM model:       {summary['tsm']['model']}")
    print(f"  TSN model:       {summary['tsn']['model']}")
    print(f"  streaming model: {tflite_path} (+ {os.path.splitext(tflite_path)[0]}.json)")
    print(f"  summary:         {summary_path}")
    print(f"  TensorBoard:     tensorboard --logdir {out_dir}")
    # The console script sits beside this interpreter (.venv/bin after `make demo`), maybe off PATH.
    web_command = os.path.join(os.path.dirname(sys.executable), "tsm-web")
    print(f"  try it live:     {web_command} --model={tflite_path}  (then open the printed URL)")


if __name__ == "__main__":
    app.run(main)
