"""Runs shard-writing tasks in worker processes, with a progress bar on stderr.

Workers are started with "spawn" (never fork a process that has TensorFlow
threads running), without re-running the caller's `__main__`: the tasks are
module-level functions of tsm_tf, so the workers never need the caller's
script, and a script without an `if __name__ == "__main__":` guard (or code
piped to `python -`, or a notebook) works as it is. Each task reports
finished items to the parent so the bar moves per video, not per shard.
Ctrl-C or a SIGTERM (`kill`, a job scheduler) to the parent stops the
workers too: the parent terminates them (workers keep SIGTERM's default,
so they end at once). A worker that dies (SIGKILL, the out-of-memory
killer, a crash in native code) is a `WorkerDiedError` naming its task,
and the other workers are stopped.

The pool is our own, one pipe per worker, because neither standard pool
does both: `multiprocessing.Pool` loses a dead worker's task and waits for
it forever, and `concurrent.futures.ProcessPoolExecutor` (before Python
3.14) can neither stop its running workers nor say which task died.
"""

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any

# Where `report_progress` sends its counts: the bar in this process, the pipe in a worker.
_report = None


class WorkerDiedError(BrokenProcessPool, OSError):
    """A worker process ended without finishing its task (killed, out of memory, crashed)."""


def report_progress(count: int = 1) -> None:
    """Called by a task for every item it finishes (a no-op outside `run_tasks`)."""
    if _report is not None:
        _report(count)


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
    task_names: Sequence[str] | None = None,
) -> list[Any]:
    """Runs `function(task)` for every task, in `num_workers` processes.

    `function` must be importable (module level) and call `report_progress`
    per finished item. With one worker (or one task) it runs in this process.
    A task's exception is raised here once the workers are stopped.

    Args:
        task_names: what an error calls each task (a shard's path);
            defaults to "task i of n".

    Returns:
        The results, in task order.

    Raises:
        WorkerDiedError: a worker process ended while running a task.
    """
    if task_names is None:
        task_names = [f"task {index + 1} of {len(tasks)}" for index in range(len(tasks))]
    bar = ProgressBar(total_items, description)
    with _signal_handled(signal.SIGTERM, _exit_on_terminate):
        if num_workers <= 1 or len(tasks) <= 1:
            results = _run_here(function, tasks, bar)
        else:
            results = _run_in_workers(
                function, tasks, min(num_workers, len(tasks)), task_names, bar
            )
    bar.close()
    return results


def _run_here(function, tasks, bar):
    global _report
    previous, _report = _report, bar.update
    try:
        return [function(task) for task in tasks]
    finally:
        _report = previous


def _run_in_workers(function, tasks, num_workers, task_names, bar):
    """Deals the tasks to `num_workers` spawned workers, one at a time each, over a pipe each."""
    context = multiprocessing.get_context("spawn")
    workers = []  # (process, connection)
    try:
        # Ctrl-C reaches the whole process group: workers started ignoring it (an ignored signal
        # stays ignored in a child) leave the parent to answer, by terminating them.
        with _main_module_hidden(), _signal_handled(signal.SIGINT, signal.SIG_IGN):
            for _ in range(num_workers):
                connection, worker_end = context.Pipe()
                process = context.Process(
                    target=_serve, args=(worker_end, function), name="tsm_tf-worker", daemon=True
                )
                process.start()
                worker_end.close()
                workers.append((process, connection))
        results = [None] * len(tasks)
        next_task = iter(range(len(tasks)))
        running = {}  # connection -> (process, task index)

        def give_next_task(process, connection):
            index = next(next_task, None)
            connection.send(None if index is None else tasks[index])
            if index is not None:
                running[connection] = (process, index)

        for process, connection in workers:
            give_next_task(process, connection)
        while running:
            sentinels = {
                process.sentinel: connection for connection, (process, _) in running.items()
            }
            for ready in multiprocessing.connection.wait([*running, *sentinels]):
                connection = sentinels.get(ready, ready)
                if connection not in running:
                    continue
                process, index = running[connection]
                message = _receive(connection)
                if message is None:
                    process.join()
                    raise WorkerDiedError(
                        f"a worker process ended ({_exit_description(process.exitcode)}) "
                        f"while running {task_names[index]}; the other workers were stopped"
                    )
                kind, value = message
                if kind == "progress":
                    bar.update(value)
                elif kind == "done":
                    del running[connection]
                    results[index] = value
                    give_next_task(process, connection)
                else:  # "failed": the task's exception, with the worker's traceback as its cause
                    error, worker_traceback = value
                    raise error from _WorkerTraceback(worker_traceback)
        return results
    finally:
        for process, _ in workers:
            if process.is_alive():
                process.terminate()
        for process, connection in workers:
            process.join()
            connection.close()


def _receive(connection):
    """The next message from a worker, or None if it died (its end of the pipe closed)."""
    try:
        return connection.recv() if connection.poll() else None
    except (EOFError, OSError):
        return None


def _exit_description(exit_code):
    if exit_code is not None and exit_code < 0:
        name = signal.Signals(-exit_code).name
        if -exit_code == signal.SIGKILL:
            return f"killed by {name}, as the out-of-memory killer does"
        return f"killed by {name}"
    return f"exit status {exit_code}"


class _WorkerTraceback(Exception):
    """A worker's traceback text, shown as the cause of the exception it raised."""

    def __str__(self):
        return "\n" + self.args[0]


def _serve(connection, function):
    """A worker's life: run each task it is sent until it is sent None."""
    global _report
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger().setLevel(logging.WARNING)
    _report = lambda count: connection.send(("progress", count))  # noqa: E731
    while (task := connection.recv()) is not None:
        try:
            connection.send(("done", function(task)))
        except Exception as error:
            text = traceback.format_exc()
            try:
                connection.send(("failed", (error, text)))
            except Exception:  # an exception that does not pickle goes as its text
                connection.send(("failed", (RuntimeError(repr(error)), text)))


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
