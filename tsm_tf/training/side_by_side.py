"""`train_side_by_side(configs)`: several training runs at once, one process each."""

import csv
import logging
import multiprocessing
import os
import time

from tsm_tf.training.trainer import CSV_LOG


def train_side_by_side(configs):
    """Trains every configuration at once, one process each; returns seconds per run.

    Small models leave cores idle between TensorFlow ops: on 2 cores, two
    runs side by side on one core each finished their epochs about as fast as
    one run alone on both, so the pair takes half the time it would one after
    the other. If a run fails, the others are stopped. Each process writes
    its console output to `<run_dir>/console.log`; this prints every run's
    validation accuracy as epochs complete.

    Processes are spawned, so a calling script needs the usual
    `if __name__ == "__main__":` guard.

    Args:
        configs: `{name: TrainConfig}`, each with its own `run_dir`.

    Returns:
        `{name: seconds}`, wall time from the start until that run ended.

    Raises:
        RuntimeError: a run failed; the message names its console log.
    """
    context = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // len(configs))
    consoles = {
        name: os.path.join(config.run_dir, "console.log") for name, config in configs.items()
    }
    processes, started = {}, time.time()
    for name, config in configs.items():
        os.makedirs(config.run_dir, exist_ok=True)
        processes[name] = context.Process(
            target=_train_quietly, args=(config, threads, consoles[name]), name=name
        )
        processes[name].start()
    seconds, reported = {}, {}
    while len(seconds) < len(processes):
        time.sleep(2)
        for name, process in processes.items():
            if name not in seconds and not process.is_alive():
                seconds[name] = time.time() - started
                if process.exitcode != 0:
                    for other in processes.values():
                        other.terminate()
                    raise RuntimeError(
                        f"Training {name} failed (exit code {process.exitcode}); see {consoles[name]}"
                    )
        progress = {name: validation_accuracies(config.run_dir) for name, config in configs.items()}
        if progress != reported:
            reported = progress
            print(
                "  ".join(
                    f"{name.upper()} epoch {len(accuracies)}/{configs[name].epochs}"
                    + (f" val {accuracies[-1]:.1%}" if accuracies else "")
                    for name, accuracies in progress.items()
                ),
                flush=True,
            )
    return seconds


def _train_quietly(config, threads, console_path):
    """Subprocess body: `train(config)` on `threads` cores, output to a file."""
    with open(console_path, "a", encoding="utf-8") as console:
        os.dup2(console.fileno(), 1)
        os.dup2(console.fileno(), 2)
    logging.getLogger().setLevel(logging.INFO)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from tsm_tf.training import train

    train(config)


def validation_accuracies(run_dir):
    """Validation accuracy per completed epoch, from the run's CSV log."""
    path = os.path.join(run_dir, CSV_LOG)
    if not os.path.exists(path):
        return []
    accuracies = []
    with open(path, encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            try:
                accuracies.append(float(row["val_accuracy"]))
            except (KeyError, TypeError, ValueError):
                break  # no validation, or a row still being written
    return accuracies
