"""Per-frame latency of online TSM on TFLite, against its baselines, in one run.

Usage:
    python benchmarks/benchmark_streaming.py [--image_size=224] [--num_threads=2] \
        [--num_frames=100] [--output_dir=/tmp/tsm_benchmark]

Builds MobileNetV2 TSM (uni-directional, 8 segments, random weights: speed
does not depend on them), exports it and its baselines, and times each
`.tflite` on the same interpreter, one frame at a time:

- streaming TSM vs the same MobileNetV2 with no shift (TSN, batch 1): the
  shift adds only copies (goal: ratio <= 1.03), in float32 and int8;
- streaming TSM vs re-running the 8-frame clip model for every new frame;
- streaming float32 vs float16 vs int8 (goal: int8 <= 0.6 of float32), next
  to the plain MobileNetV2's own int8 / float32 on the same runtime;
- state memory and file sizes.
"""

import os
import time

import numpy as np
from absl import app
from absl import flags
from absl import logging

NUM_ROUNDS = 5
FLAGS = flags.FLAGS
flags.DEFINE_integer("image_size", 224, "Frame size.")
flags.DEFINE_integer("num_threads", 2, "Interpreter threads.")
flags.DEFINE_integer("num_frames", 100, "Timed frames per model (after 5 warm-up frames).")
flags.DEFINE_integer("num_segments", 8, "Frames per clip of the clip model.")
flags.DEFINE_string("output_dir", "/tmp/tsm_benchmark", "Where the .tflite files go.")


def build_models():
    """The uni-directional TSM and the TSN of the same MobileNetV2."""
    import tsm_tf

    kwargs = dict(num_segments=FLAGS.num_segments, image_size=FLAGS.image_size, dropout=0.0)
    tsm = tsm_tf.build_tsm("mobilenet_v2", 10, bidirectional=False, **kwargs)
    tsn = tsm_tf.build_tsm("mobilenet_v2", 10, shift_div=0, **kwargs)
    return tsm, tsn


def export_all(tsm, tsn, frames):
    """Exports every variant; returns {name: path}."""
    import tensorflow as tf

    import tsm_tf
    from tsm_tf.lite.export import convert_to_tflite
    from tsm_tf.models.online_tsm import build_frame_model
    from tsm_tf.utils.atomic_files import write_atomically

    os.makedirs(FLAGS.output_dir, exist_ok=True)
    paths = {}
    for precision in ("float32", "float16", "int8"):
        paths[f"tsm_streaming_{precision}"] = os.path.join(
            FLAGS.output_dir, f"tsm_streaming_{precision}.tflite"
        )
        tsm_tf.export_tflite(
            tsm,
            paths[f"tsm_streaming_{precision}"],
            precision=precision,
            representative_data=frames,
        )
    paths["tsm_clip_float32"] = os.path.join(FLAGS.output_dir, "tsm_clip_float32.tflite")
    tsm_tf.export_tflite(tsm, paths["tsm_clip_float32"], mode="clip")
    frame_model = build_frame_model(tsn)
    spec = {"frame": tf.TensorSpec(frame_model.input["frame"].shape, tf.float32, name="frame")}
    function = tf.function(
        lambda inputs: frame_model(inputs, training=False), input_signature=[spec]
    ).get_concrete_function()

    def representative_frames():
        for frame in frames:
            yield {"frame": frame[None]}

    for precision in ("float32", "int8"):
        paths[f"tsn_frame_{precision}"] = os.path.join(
            FLAGS.output_dir, f"tsn_frame_{precision}.tflite"
        )
        write_atomically(
            paths[f"tsn_frame_{precision}"],
            convert_to_tflite(function, precision, representative_frames),
        )
    return paths


def time_model(path, num_frames):
    """Median milliseconds per invoke, inputs fed as the runtime would."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=path, num_threads=FLAGS.num_threads).get_signature_runner()
    details = runner.get_input_details()
    feed = {name: np.zeros(value["shape"], value["dtype"]) for name, value in details.items()}
    times = []
    for step in range(num_frames + 5):
        start = time.perf_counter()
        outputs = runner(**feed)
        elapsed = time.perf_counter() - start
        feed.update({name: outputs[name] for name in feed if name in outputs})
        if step >= 5:
            times.append(1000 * elapsed)
    return float(np.median(times))


def invoke_medians(paths, repeats):
    """Median milliseconds of the interpreter's `invoke()` alone (inputs left as they are), alternately."""
    from ai_edge_litert.interpreter import Interpreter
    from alternating import alternating_medians

    invokes = []
    for path in paths:
        interpreter = Interpreter(model_path=path, num_threads=FLAGS.num_threads)
        interpreter.allocate_tensors()
        for _ in range(5):
            interpreter.invoke()
        invokes.append(interpreter.invoke)
    return [median * 1e3 for median in alternating_medians(invokes, repeats)]


def feeding_cost(path, repeats):
    """Milliseconds a signature-runner step takes beyond `invoke()`: feeding inputs, reading outputs.

    Alternates a runner step (states fed back as a client does) with a bare
    `invoke()` of a second interpreter of the same model.
    """
    from ai_edge_litert.interpreter import Interpreter
    from alternating import alternating_medians

    runner = Interpreter(model_path=path, num_threads=FLAGS.num_threads).get_signature_runner()
    bare = Interpreter(model_path=path, num_threads=FLAGS.num_threads)
    bare.allocate_tensors()
    feed = {
        name: np.zeros(value["shape"], value["dtype"])
        for name, value in runner.get_input_details().items()
    }

    def step():
        outputs = runner(**feed)
        feed.update({name: outputs[name] for name in feed if name in outputs})

    for _ in range(5):
        step()
        bare.invoke()
    step_seconds, invoke_seconds = alternating_medians([step, bare.invoke], repeats)
    return (step_seconds - invoke_seconds) * 1e3


def report(paths, times):
    """Prints the table README.md carries."""
    from tsm_tf.lite.tflite_model import TFLiteModel

    states = TFLiteModel(paths["tsm_streaming_float32"]).state_bytes()
    states_int8 = TFLiteModel(paths["tsm_streaming_int8"]).state_bytes()
    base = times["tsm_streaming_float32"]
    print(
        f"MobileNetV2 TSM, {FLAGS.image_size}x{FLAGS.image_size}, {FLAGS.num_threads} threads, "
        f"best of {NUM_ROUNDS} rounds' medians, {FLAGS.num_frames} frames in all"
    )
    print("| model | ms / frame | vs streaming TSM fp32 | file size (MB) |")
    print("| --- | --- | --- | --- |")
    for name, milliseconds in times.items():
        per_frame = milliseconds
        print(
            f"| {name} | {per_frame:.2f} | {per_frame / base:.2f} | "
            f"{os.path.getsize(paths[name]) / 1e6:.2f} |"
        )
    print(
        f"streaming TSM / TSN frame model: {base / times['tsn_frame_float32']:.3f} (goal <= 1.03)"
    )
    print(f"clip model per new frame / streaming TSM: {times['tsm_clip_float32'] / base:.2f}")
    print(
        f"int8 / float32: {times['tsm_streaming_int8'] / base:.2f} (goal <= 0.6); "
        f"float16 / float32: {times['tsm_streaming_float16'] / base:.2f}; "
        "the plain MobileNetV2's own int8 / float32: "
        f"{times['tsn_frame_int8'] / times['tsn_frame_float32']:.2f}"
    )
    print(f"state memory: {states} bytes float32, {states_int8} bytes int8")


def main(argv):
    del argv
    rng = np.random.default_rng(0)
    frames = rng.uniform(0, 255, (32, FLAGS.image_size, FLAGS.image_size, 3)).astype("float32")
    tsm, tsn = build_models()
    logging.info("Exporting to %s ...", FLAGS.output_dir)
    paths = export_all(tsm, tsn, frames)
    # Interleave the models in rounds so background load hits them alike, and
    # keep each model's best round: on a shared machine the least disturbed.
    times = {name: [] for name in paths}
    for _ in range(NUM_ROUNDS):
        for name, path in paths.items():
            times[name].append(time_model(path, max(1, FLAGS.num_frames // NUM_ROUNDS)))
    report(paths, {name: float(np.min(values)) for name, values in times.items()})
    # Two models at a time: each interpreter's idle threads would slow the others'.
    print("interpreter invoke() alone, median of 200 alternating, TSM / TSN:")
    invokes = {}
    for precision in ("float32", "int8"):
        names = [f"tsm_streaming_{precision}", f"tsn_frame_{precision}"]
        invokes.update(zip(names, invoke_medians([paths[name] for name in names], repeats=200)))
        tsm_invoke, tsn_invoke = (invokes[name] for name in names)
        print(
            f"  {precision}: streaming TSM {tsm_invoke:.2f} ms, TSN frame model "
            f"{tsn_invoke:.2f} ms, TSM / TSN {tsm_invoke / tsn_invoke:.3f}"
        )
    print(
        "  int8 / float32: streaming TSM "
        f"{invokes['tsm_streaming_int8'] / invokes['tsm_streaming_float32']:.2f}, TSN frame model "
        f"{invokes['tsn_frame_int8'] / invokes['tsn_frame_float32']:.2f}"
    )
    print(
        "signature runner's feeding beyond invoke(), median of 200 alternating: streaming TSM "
        f"{feeding_cost(paths['tsm_streaming_float32'], 200):.3f} ms, TSN frame model "
        f"{feeding_cost(paths['tsn_frame_float32'], 200):.3f} ms"
    )


if __name__ == "__main__":
    app.run(main)
