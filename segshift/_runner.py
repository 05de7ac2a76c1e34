"""Where a batch's files are segmented: in this process, in a local process
pool, or on any :class:`concurrent.futures.Executor` (a Dask client's too).

:mod:`segshift.batch` decides *what* is done per file (a picklable task and
a plain function that segments it, writes its outputs atomically and
returns a plain result); this module decides *where* it runs and keeps the
promises that do not depend on the file:

- every result is stored as soon as it is known, so that an interrupt at any
  point loses nothing;
- Ctrl-C (KeyboardInterrupt) stops submitting, cancels what has not started
  and waits for what is running; a second one stops at once;
- a local worker process that dies costs only the file it was segmenting
  (the others running with it are redone one at a time), and an executor's
  failure (a Dask worker that died each time it ran the file) is a failed
  file, never a stopped batch;
- at most as many files are in flight as the executor can run at once, so
  that a million inputs are not a million futures.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    CancelledError,
    Executor,
    Future,
    ProcessPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from ._signals import SigintCount, count_sigint, hold_sigint
from .writers import remove_temp_files


#: How long the runner waits for results before it looks again for an interrupt.
POLL_SECONDS = 0.2

#: How often a local worker looks whether the process that started it is still there
#: (where the operating system cannot tell it: see :func:`die_with_parent`).
PARENT_POLL_SECONDS = 1.0

#: ``prctl`` option of Linux: the signal a process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


class Task(Protocol):
    """What the runner needs to know of a task: its position, its input and
    the output paths it writes (``(kind, path)`` pairs)."""

    @property
    def index(self) -> int: ...

    @property
    def source(self) -> str: ...

    @property
    def outputs(self) -> tuple[tuple[str, str], ...]: ...


#: ``notify(kind, task, running)``: ``"start"`` (task None), ``"file"`` after a
#: result was stored, ``"stopping"`` when an interrupt arrives.
Notify = Callable[[str, Any, int], None]


class Runner:
    """Runs ``work(task)`` for every task and keeps the results.

    Parameters
    ----------
    tasks : sequence of Task
    work : callable
        ``work(task) -> dict`` with at least ``"status"``; it catches its own
        errors (a raised exception is recorded as a failed file).
    notify : callable
        Called as ``notify(kind, task, running)`` (see :data:`Notify`).

    Attributes
    ----------
    results : dict
        ``results[task.index]``: the result of each finished task.
    interrupted : bool
        True once a KeyboardInterrupt arrived.
    """

    def __init__(self, tasks: Sequence[Task], work: Callable[[Any], dict[str, Any]], notify: Notify) -> None:
        self.tasks = list(tasks)
        self.work = work
        self.notify = notify
        self.results: dict[int, dict[str, Any]] = {}
        self.interrupted = False

    def _notify_quietly(self, kind: str, running: int) -> None:
        with contextlib.suppress(Exception, KeyboardInterrupt):
            self.notify(kind, None, running)

    def _keep_quietly(self, future: Future, task: Task, slots: Slots) -> None:
        """Store the result of a future that finished while an interrupt was handled."""
        if slots.restartable and _broken(future):
            return  # its pool broke: the file is left interrupted, not failed
        self.results[task.index] = _future_result(future, task)
        with contextlib.suppress(Exception, KeyboardInterrupt):
            self.notify("file", task, 0)

    # -- in this process -------------------------------------------------- #

    def run_serial(self) -> None:
        """Run in this process; Ctrl-C stops at once (writes are atomic)."""
        try:
            self.notify("start", None, 0)
            for task in self.tasks:
                self.results[task.index] = self.work(task)
                self.notify("file", task, 0)
        except KeyboardInterrupt:
            self.interrupted = True
            self._notify_quietly("stopping", 0)

    # -- on an executor --------------------------------------------------- #

    def run_pool(self, jobs: int, numba_threads: int | None) -> None:
        """Run in ``jobs`` local worker processes (see :class:`LocalPool`)."""
        self.run_on(LocalPool(jobs, numba_threads))

    def run_executor(self, executor: Executor, capacity: Callable[[], int]) -> None:
        """Run on any executor, with at most ``capacity()`` files in flight."""
        self.run_on(ExecutorSlots(executor, capacity))

    def run_on(self, slots: Slots) -> None:
        """Run every task through ``slots``, at most ``slots.capacity()`` at a time.

        The first KeyboardInterrupt stops submitting, cancels the files that
        have not started and lets the running ones finish; a second one
        stops at once (local workers are terminated and their temporary
        files removed).

        A local worker that dies (killed, out of memory, a crash in a
        decoder) breaks the pool, and every running file with it. A file
        that was running alone is the one that killed it and fails; the
        others are run again one at a time, so that only the guilty file is
        lost.
        """
        with count_sigint() as sigints:
            self._run_on(slots, sigints)

    def _run_on(self, slots: Slots, sigints: SigintCount) -> None:
        queue = deque(self.tasks)
        alone: deque[Task] = deque()  # suspects of a crash, run one at a time
        inflight: dict[Future, Task] = {}
        started = terminated = False
        seen = 0  # SIGINTs handled so far
        try:
            while True:
                try:
                    if not started:
                        started = True
                        self.notify("start", None, 0)
                    while not self.interrupted and (alone or queue):
                        if len(inflight) >= (1 if alone else max(1, slots.capacity())):
                            break
                        source = alone if alone else queue
                        task = source.popleft()
                        if not slots.submit(self.work, task, inflight):
                            source.appendleft(task)  # the pool broke: _collect finds out why
                            break
                    if not inflight:
                        break
                    self._collect(inflight, slots, alone)
                    if sigints.count > seen:  # its KeyboardInterrupt was lost (raised in a finaliser)
                        raise KeyboardInterrupt
                except KeyboardInterrupt:
                    seen = sigints.count
                    if not self.interrupted:
                        self.interrupted = True
                        for future, task in list(inflight.items()):
                            if future.cancel():
                                del inflight[future]
                            elif future.done():  # finished before it was collected: keep it
                                del inflight[future]
                                self._keep_quietly(future, task, slots)
                        self._notify_quietly("stopping", len(inflight))
                        continue
                    slots.terminate(inflight)
                    terminated = True
                    inflight.clear()
                    break
        finally:
            for future in list(inflight):
                if not future.done():
                    future.cancel()
            slots.shutdown(wait=not terminated)
            for future, task in inflight.items():  # finished while we were leaving
                if future.done() and not future.cancelled() and task.index not in self.results:
                    if not (slots.restartable and _broken(future)):
                        self.results[task.index] = _future_result(future, task)

    def _collect(self, inflight: dict[Future, Task], slots: Slots, alone: deque[Task]) -> None:
        """Wait a moment for a running file to finish and store its result; sort out a broken pool."""
        done, _ = wait(list(inflight), timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
        suspects = []
        for future in done:
            task = inflight.pop(future)
            if slots.restartable and _broken(future):
                suspects.append(task)
                continue
            self.results[task.index] = _future_result(future, task)
            self.notify("file", task, 0)
        if not suspects:
            return
        # The pool is broken: every file still running is lost with it,
        # except one that happened to finish first.
        for future, task in list(inflight.items()):
            if future.done() and not future.cancelled() and not _broken(future):
                self.results[task.index] = _future_result(future, task)
                self.notify("file", task, 0)
            else:
                suspects.append(task)
        inflight.clear()
        slots.restart()
        for task in suspects:
            for _, path in task.outputs:
                remove_temp_files(path)
        if len(suspects) == 1:
            task = suspects[0]
            self.results[task.index] = {
                "status": "failed",
                "error": f"{task.source}: the worker process died while segmenting it (crashed, killed, "
                "or out of memory?)",
            }
            self.notify("file", task, 0)
        else:
            alone.extendleft(reversed(suspects))


class Slots(Protocol):
    """Where :meth:`Runner.run_on` submits: an executor and what to do with it."""

    #: A broken executor can be replaced (a local pool): the runner then
    #: sorts out which file broke it.
    restartable: bool

    def capacity(self) -> int:
        """Files that may be in flight now."""

    def submit(self, work: Callable[[Any], dict[str, Any]], task: Task, inflight: dict[Future, Task]) -> bool:
        """Submit ``work(task)`` and record its future in ``inflight``; False if the executor broke."""

    def restart(self) -> None:
        """Replace a broken executor."""

    def terminate(self, inflight: dict[Future, Task]) -> None:
        """Stop the running files now (a second Ctrl-C)."""

    def shutdown(self, wait: bool = True) -> None:
        """Release what this object owns."""


class LocalPool:
    """A process pool whose workers ignore SIGINT; restarted if a worker dies.

    Workers share the cores: each gets ``numba_threads`` numba threads
    (default: numba's thread count divided by ``jobs``, at least 1).
    """

    restartable = True

    def __init__(self, jobs: int, numba_threads: int | None) -> None:
        self.jobs = jobs
        self.numba_threads = numba_threads
        self.executor: ProcessPoolExecutor | None = None
        self._start()

    def _start(self) -> None:
        # Workers start with SIGINT ignored (an ignored signal stays ignored
        # across exec, and Python then installs no handler of its own), so a
        # Ctrl-C in the terminal reaches the workers harmlessly and only this
        # process decides what to do. "spawn": no fork of a threaded process.
        # Each worker ends when this process does, however it ends (kill -9
        # too): see die_with_parent.
        with hold_sigint():
            self.executor = ProcessPoolExecutor(
                max_workers=self.jobs,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.numba_threads, self.jobs, os.getpid()),
            )

    def capacity(self) -> int:
        return self.jobs

    def submit(self, work: Callable[[Any], dict[str, Any]], task: Task, inflight: dict[Future, Task]) -> bool:
        """Submit ``work(task)`` and record its future in ``inflight``.

        Returns False, submitting nothing, when the pool is broken while
        files are running (their futures say which broke it).
        """
        assert self.executor is not None
        with hold_sigint():  # a worker may be spawned here
            try:
                future = self.executor.submit(work, task)
            except BrokenProcessPool:
                if inflight:
                    return False
                self.restart()  # a worker died while idle
                future = self.executor.submit(work, task)
            inflight[future] = task
        return True

    def restart(self) -> None:
        """Replace a broken pool by a fresh one."""
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        self._start()

    def terminate(self, inflight: dict[Future, Task]) -> None:
        """Stop the workers now and remove the temporary files they may have left."""
        processes = list(getattr(self.executor, "_processes", {}).values())
        for process in processes:
            with contextlib.suppress(Exception):
                process.terminate()
        for process in processes:
            with contextlib.suppress(Exception):
                process.join(5)
        for task in inflight.values():
            for _, path in task.outputs:
                remove_temp_files(path)

    def shutdown(self, wait: bool = True) -> None:
        """Release the pool (pending work, if any, is cancelled)."""
        if self.executor is not None:
            self.executor.shutdown(wait=wait, cancel_futures=True)


class ExecutorSlots:
    """Any executor (not owned: never shut down here), at most ``capacity()``
    files in flight.

    ``capacity`` is asked at most once a second (a cluster's size may change
    while it runs). A second Ctrl-C stops waiting for the running files;
    they finish (or not) on their own, their writes atomic as always.
    """

    restartable = False

    def __init__(self, executor: Executor, capacity: Callable[[], int], refresh: float = 1.0) -> None:
        self.executor = executor
        self._capacity = capacity
        self._refresh = refresh
        self._known = (-float("inf"), 1)

    def capacity(self) -> int:
        now = time.monotonic()
        if now - self._known[0] >= self._refresh:
            self._known = (now, max(1, int(self._capacity())))
        return self._known[1]

    def submit(self, work: Callable[[Any], dict[str, Any]], task: Task, inflight: dict[Future, Task]) -> bool:
        inflight[self.executor.submit(work, task)] = task
        return True

    def restart(self) -> None:  # pragma: no cover - not restartable
        raise RuntimeError("an executor passed in cannot be restarted")

    def terminate(self, inflight: dict[Future, Task]) -> None:
        for future in inflight:
            future.cancel()

    def shutdown(self, wait: bool = True) -> None:
        pass


def _broken(future: Future) -> bool:
    """True when ``future`` failed because its local worker process died."""
    return future.done() and not future.cancelled() and isinstance(future.exception(), BrokenProcessPool)


def _init_worker(numba_threads: int | None, jobs: int, parent: int | None = None) -> None:
    """Worker start-up: end with the parent; ignore SIGINT; share the cores among the workers."""
    if parent is not None:
        die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import numba

    available = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    threads = numba_threads if numba_threads is not None else max(1, available // jobs)
    numba.set_num_threads(max(1, min(threads, available)))


def die_with_parent(parent: int, *, poll: float = PARENT_POLL_SECONDS) -> None:
    """Make this process end when ``parent`` (the process that started it) ends, however it ends.

    A pool worker waits on a queue whose writing end it holds itself, so
    it never learns that the batch that started it was killed (kill -9,
    out of memory): it would wait for ever, holding its memory, and keep
    multiprocessing's resource tracker alive (the tracker ends when every
    process holding its pipe has ended, which then happens).

    - On Linux the kernel sends SIGKILL to this process when its parent
      dies (``prctl(PR_SET_PDEATHSIG)``), even in the middle of a compiled
      kernel that holds the GIL. The signal follows the parent *thread*
      that created this process; the pool is started, and used, by the
      thread that runs the batch, which outlives it.
    - Everywhere, a daemon thread looks every ``poll`` seconds whether the
      parent is still this process's parent (an orphan is adopted by
      another process), and ends the process if not: the fallback where
      there is no ``prctl``, and, on Linux, a second guard.

    Parameters
    ----------
    parent : int
        The parent's process id, as the parent saw it (``os.getpid()``
        there), so that a parent that died before this call is noticed.
    poll : float
        Seconds between two looks of the watching thread.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # died before the signal was asked for
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent, poll), name="segshift-watch-parent",
                     daemon=True).start()


def _watch_parent(parent: int, poll: float) -> None:
    while True:
        time.sleep(poll)
        if os.getppid() != parent:
            # The parent is gone: nobody will read a result. Leave at once,
            # without Python's exit handlers (they would wait for the queues).
            os._exit(1)


def _future_result(future: Future, task: Task) -> dict[str, Any]:
    """The result of a finished future; an executor's failure as a failed file."""
    try:
        return future.result()
    except BrokenProcessPool:
        error = "the worker process died while segmenting it (killed, or out of memory?)"
    except CancelledError:
        error = "cancelled by the executor (was the cluster restarted or lost?)"
    except Exception as exc:  # the work catches its own: this is the executor's (pickling, a lost worker)
        if type(exc).__name__ == "KilledWorker":  # dask.distributed, known by name: not imported here
            tries = getattr(exc, "allowed_failures", None)
            times = f" each of the {tries + 1} times" if isinstance(tries, int) else ""
            error = f"the worker process died{times} it was segmenting it (crashed, killed, or out of memory?)"
        else:
            error = " ".join(f"{type(exc).__name__}: {exc}".split())
    return {"status": "failed", "error": f"{task.source}: {error}"}



def capacity_of(executor: Executor) -> Callable[[], int]:
    """How many files to keep in flight on ``executor``: on a Dask cluster
    its worker threads (:func:`segshift._dask_cluster.capacity`), else its
    ``max_workers`` when it says (a ``ProcessPoolExecutor``), else the cores here."""
    from ._dask_cluster import capacity, client_of

    client = client_of(executor)
    if client is not None:
        return capacity(client)
    workers = getattr(executor, "_max_workers", None)
    if isinstance(workers, int) and workers > 0:
        return lambda: workers
    return default_jobs


def default_jobs() -> int:
    """The number of CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
