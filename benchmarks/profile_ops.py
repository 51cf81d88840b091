"""Where a clip's forward pass spends its time, by op type, for TSM and TSN.

Usage:
    python benchmarks/profile_ops.py [--backbone=resnet50] [--batch_size=1] [--runs=5]

Freezes each model's compiled forward pass into a graph, runs it in a
TensorFlow session with full tracing (the per-op timings TensorFlow's step
statistics record, median over `runs`), and prints the milliseconds per op
type, with the temporal shifts' own ops (everything under a `*_shift` layer)
counted apart. The op timings overlap across threads, so they explain where
a TSM's extra time goes rather than add up to the wall time.
"""

import collections
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from absl import app
from absl import flags
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

import tsm_tf

_BACKBONE = flags.DEFINE_string("backbone", "resnet50", "Backbone to profile.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 1, "Clips per forward pass.")
_NUM_SEGMENTS = flags.DEFINE_integer("num_segments", 8, "Frames per clip.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 224, "Frame size.")
_RUNS = flags.DEFINE_integer("runs", 5, "Traced runs per model (after one warm-up run).")


def op_times(model, clips):
    """{op kind: median milliseconds per forward pass}, shift ops as 'shift: <type>'."""
    spec = tf.TensorSpec(clips.shape, clips.dtype)
    forward = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    graph_def = convert_variables_to_constants_v2(forward).graph.as_graph_def()
    graph = tf.Graph()
    with graph.as_default():
        feed = tf.compat.v1.placeholder(clips.dtype, clips.shape)
        (output,) = tf.graph_util.import_graph_def(
            graph_def,
            input_map={forward.inputs[0].name: feed},
            return_elements=[forward.outputs[0].name],
        )
    node_types = {node.name: node.op for node in graph_def.node}
    options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
    samples = collections.defaultdict(list)
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(output, {feed: clips})
        for _ in range(_RUNS.value):
            metadata = tf.compat.v1.RunMetadata()
            session.run(output, {feed: clips}, options=options, run_metadata=metadata)
            totals = collections.Counter()
            for device in metadata.step_stats.dev_stats:
                for node in device.node_stats:
                    name = node.node_name.split(":")[0].removeprefix("import/")
                    # Grappler's fused ops are not in the graph def; their label names the type.
                    label_type = node.timeline_label.partition(" = ")[2].partition("(")[0]
                    kind = label_type or node_types.get(name)
                    if not kind or kind in ("_SOURCE", "NoOp", "Const", "_Arg", "_Retval"):
                        continue
                    if "_shift" in name:
                        kind = f"shift: {kind}"
                    totals[kind] += node.all_end_rel_micros / 1e3
            for kind, milliseconds in totals.items():
                samples[kind].append(milliseconds)
    return {kind: float(np.median(values)) for kind, values in samples.items()}


def main(argv):
    del argv
    kwargs = dict(num_segments=_NUM_SEGMENTS.value, image_size=_IMAGE_SIZE.value)
    clips = (
        np.random.default_rng(0)
        .uniform(
            0,
            255,
            (_BATCH_SIZE.value, _NUM_SEGMENTS.value, _IMAGE_SIZE.value, _IMAGE_SIZE.value, 3),
        )
        .astype("float32")
    )
    tsm = op_times(tsm_tf.build_tsm(_BACKBONE.value, 400, **kwargs), clips)
    tsn = op_times(tsm_tf.build_tsm(_BACKBONE.value, 400, shift_div=0, **kwargs), clips)
    print(
        f"{_BACKBONE.value}, batch {_BATCH_SIZE.value}, {_NUM_SEGMENTS.value} frames at "
        f"{_IMAGE_SIZE.value}px, {os.cpu_count()} CPU cores: op time per forward pass "
        f"(ms, median of {_RUNS.value} traced runs)"
    )
    print("| op type | TSM | TSN |")
    print("|---|---|---|")
    kinds = sorted(set(tsm) | set(tsn), key=lambda kind: -max(tsm.get(kind, 0), tsn.get(kind, 0)))
    for kind in kinds:
        if max(tsm.get(kind, 0), tsn.get(kind, 0)) >= 0.1:
            print(f"| {kind} | {tsm.get(kind, 0):.1f} | {tsn.get(kind, 0):.1f} |")
    shift_total = sum(value for kind, value in tsm.items() if kind.startswith("shift:"))
    print(f"| **all ops** | **{sum(tsm.values()):.1f}** | **{sum(tsn.values()):.1f}** |")
    print(f"| **the shifts' ops** | **{shift_total:.1f}** | - |")


if __name__ == "__main__":
    app.run(main)
