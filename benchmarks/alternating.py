"""Timing several runs alternately in one process, so machine noise hits each alike,
and the Markdown table header the benchmarks print their results under."""

import time

import numpy as np


def alternating_medians(runs, repeats):
    """Calls each of `runs` in turn for `repeats` rounds; returns each one's median seconds.

    Warm the runs up (trace their graphs) before calling this.
    """
    times = [[] for _ in runs]
    for _ in range(repeats):
        for index, run in enumerate(runs):
            start = time.perf_counter()
            run()
            times[index].append(time.perf_counter() - start)
    return [float(np.median(samples)) for samples in times]


def alternating_training_steps(models, clips, labels, repeats, warmup_steps=1):
    """Median seconds of a `train_on_batch(clips, labels)` step of each compiled model.

    Each model first takes `warmup_steps` steps (tracing its graph), then the
    models take alternate timed steps.
    """
    for model in models:
        for _ in range(warmup_steps):
            model.train_on_batch(clips, labels)
    return alternating_medians(
        [lambda model=model: model.train_on_batch(clips, labels) for model in models], repeats
    )


def print_table_header(columns):
    """Prints the header row and the separator row of a Markdown table."""
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
