"""Runs shard-writing tasks in worker processes, with a progress bar on stderr.

Workers are started with "spawn" (never fork a process that has TensorFlow
threads running), without re-running the caller's `__main__`: the tasks are
module-level functions of tsm_tf, so the workers never need the caller's
script, and a script without an `if __name__ == "__main__":` guard (or code
piped to `python -`, or a notebook) works as it is. Each task reports
finished items through a queue so the bar moves per video, not per shard.
Ctrl-C or a SIGTERM (`kill`, a job scheduler) to the parent stops the
workers too: the parent terminates the pool (workers keep SIGTERM's default,
so they end at once, as `Pool.terminate` expects).
"""

import contextlib
import logging
import multiprocessing
import os
import queue as queue_module
import signal
import sys
import time
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

_progress_queue = None


def report_progress(count: int = 1) -> None:
    """Called by a task for every item it finishes (a no-op outside a pool)."""
    if _progress_queue is not None:
        _progress_queue.put(count)


def _exit_on_terminate(signal_number, frame):
    # SIGTERM's default action ends the process at once: no `finally`, no pool shutdown.
    raise SystemExit(128 + signal_number)


@contextlib.contextmanager
def _signal_handled(signal_number, handler):
    """Handles `signal_number` with `handler` within the block (main thread only; elsewhere unchanged)."""
    try:
        previous = signal.signal(signal_number, handler)
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal_number, previous)


def _initialize_worker(progress_queue):
    global _progress_queue
    _progress_queue = progress_queue
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger().setLevel(logging.WARNING)


class ProgressBar:
    """A plain-text progress bar on stderr: redrawn in place on a terminal,
    a line every 10% otherwise (logs, CI)."""

    def __init__(self, total: int, description: str):
        self.total = max(total, 1)
        self.description = description
        self.count = 0
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._last_decile = -1
        self._terminal = sys.stderr.isatty()

    def update(self, count: int) -> None:
        """Advances the bar by `count` items."""
        self.count += count
        now = time.monotonic()
        if self._terminal and now - self._last_draw > 0.2:
            self._last_draw = now
            sys.stderr.write("\r" + self._line(now))
            sys.stderr.flush()
        elif not self._terminal and self.count * 10 // self.total > self._last_decile:
            self._last_decile = self.count * 10 // self.total
            sys.stderr.write(self._line(now) + "\n")

    def close(self) -> None:
        """Draws the final state and ends the line."""
        line = self._line(time.monotonic())
        sys.stderr.write(("\r" + line + "\n") if self._terminal else "")
        sys.stderr.flush()

    def _line(self, now):
        elapsed = max(now - self._start, 1e-6)
        rate = self.count / elapsed
        remaining = (self.total - self.count) / rate if rate > 0 else float("inf")
        filled = int(30 * min(self.count, self.total) / self.total)
        eta = f"{remaining:.0f}s" if remaining != float("inf") else "?"
        return (
            f"{self.description} [{'#' * filled}{'.' * (30 - filled)}] "
            f"{self.count}/{self.total} {rate:.1f}/s eta {eta}"
        )


def run_tasks(
    function: Callable[[Any], Any],
    tasks: Sequence[Any],
    num_workers: int,
    total_items: int,
    description: str,
) -> list[Any]:
    """Runs `function(task)` for every task, in `num_workers` processes.

    `function` must be importable (module level) and call `report_progress`
    per finished item. With one worker (or one task) it runs in this process.

    Returns:
        The results, in task order.
    """
    with _signal_handled(signal.SIGTERM, _exit_on_terminate):
        results = _run_tasks(function, tasks, num_workers, ProgressBar(total_items, description))
    return results


def _run_tasks(function, tasks, num_workers, bar):
    global _progress_queue
    if num_workers <= 1 or len(tasks) <= 1:
        progress_queue = queue_module.SimpleQueue()
        previous, _progress_queue = _progress_queue, progress_queue
        try:
            results = []
            for task in tasks:
                results.append(function(task))
                while not progress_queue.empty():
                    bar.update(progress_queue.get())
        finally:
            _progress_queue = previous
        bar.close()
        return results
    context = multiprocessing.get_context("spawn")
    progress_queue = context.Queue()
    # Ctrl-C reaches the whole process group: workers started ignoring it (an ignored signal
    # stays ignored in a child) leave the parent to answer, by terminating the pool.
    with _main_module_hidden(), _signal_handled(signal.SIGINT, signal.SIG_IGN):
        pool = context.Pool(
            min(num_workers, len(tasks)), initializer=_initialize_worker, initargs=(progress_queue,)
        )
    with pool:
        pending = pool.map_async(function, tasks, chunksize=1)
        while not pending.ready():
            try:
                bar.update(progress_queue.get(timeout=0.2))
            except queue_module.Empty:
                pass
        results = pending.get()
        while True:
            try:
                bar.update(progress_queue.get(timeout=0.05))
            except queue_module.Empty:
                break
    bar.close()
    return results


@contextlib.contextmanager
def _main_module_hidden():
    """Starts workers that skip importing the caller's `__main__`.

    A spawned worker re-runs the parent's main script (or module) before it
    takes tasks, which recurses without a `__main__` guard and fails outright
    for code read from stdin; spawn's preparation skips that step when
    `__main__` has neither a spec nor a file, so both are hidden while the
    workers start.
    """
    main = sys.modules["__main__"]
    missing = object()
    saved = {name: main.__dict__.get(name, missing) for name in ("__spec__", "__file__")}
    main.__spec__ = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                main.__dict__.pop(name, None)
            else:
                main.__dict__[name] = value
