"""Running a batch on a Dask cluster (``pip install 'segshift[dask]'``).

segshift does not schedule anything itself here: a Dask client's
``concurrent.futures`` executor runs :func:`segshift.batch.segment_file`, one
task per input, and Dask's scheduler places the tasks, moves them off
workers that die and gives up on a task after its
``distributed.scheduler.allowed-failures`` worker deaths (default 3). The
workers write the outputs straight to the output folder (a file system they
share with this process), each atomically; this process writes the manifest.

>>> from distributed import Client                          # doctest: +SKIP
>>> from segshift.batch import run_batch                    # doctest: +SKIP
>>> client = connect("tcp://10.0.0.5:8786")                 # doctest: +SKIP
>>> run_batch("photos", "segments", executor=executor(client))  # doctest: +SKIP

``dask.distributed`` is imported only by the functions that need it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent import futures
from concurrent.futures import Executor, Future, InvalidStateError
from typing import Any

from .errors import MissingDependencyError, ParameterError, SchedulerError

#: What to install for the cluster path.
INSTALL_HINT = "pip install 'segshift[dask]'"

#: Seconds to wait for the scheduler before giving up, unless told otherwise.
DEFAULT_TIMEOUT = 10.0

#: Seconds :func:`warm_workers` waits for the workers before going on without them.
WARM_TIMEOUT = 120.0


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise MissingDependencyError(
            f"running on a Dask cluster needs dask.distributed: {INSTALL_HINT}"
        ) from None
    return distributed


def read_scheduler_file(path: str | os.PathLike[str]) -> str:
    """The scheduler address in a file written by ``dask scheduler --scheduler-file``.

    Raises
    ------
    SchedulerError
        The file is missing, unreadable, or names no address.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            info = json.load(handle)
    except OSError as exc:
        raise SchedulerError(f"{path}: cannot read the scheduler file ({exc.strerror or exc})") from None
    except ValueError:
        raise SchedulerError(f"{path}: not a scheduler file (not JSON)") from None
    address = info.get("address") if isinstance(info, dict) else None
    if not isinstance(address, str) or not address:
        raise SchedulerError(f'{path}: not a scheduler file (no "address")')
    return address


def connect(
    scheduler: str | None = None,
    *,
    scheduler_file: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Any:
    """Connect to a running Dask scheduler.

    Parameters
    ----------
    scheduler : str, optional
        Its address, e.g. ``"tcp://10.0.0.5:8786"``.
    scheduler_file : path-like, optional
        Or the file ``dask scheduler --scheduler-file`` wrote (one of the two).
    timeout : float
        Seconds to wait for the scheduler.

    Returns
    -------
    distributed.Client
        Not set as Dask's default client; close it when done.

    Raises
    ------
    MissingDependencyError
        ``dask.distributed`` is not installed.
    ParameterError
        Neither or both of ``scheduler`` and ``scheduler_file``, a timeout
        that is not positive, or an address Dask cannot parse.
    SchedulerError
        No scheduler answered within ``timeout`` (or the scheduler file is
        missing or unreadable).
    """
    if (scheduler is None) == (scheduler_file is None):
        raise ParameterError("give either a scheduler address or a scheduler file")
    if not timeout > 0:
        raise ParameterError(f"scheduler_timeout must be > 0, got {timeout!r}")
    distributed = _distributed()
    address = read_scheduler_file(scheduler_file) if scheduler_file is not None else str(scheduler)
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False)
    except ValueError as exc:
        raise ParameterError(f"scheduler address {address!r} is not valid ({' '.join(str(exc).split())})") from None
    except (OSError, TimeoutError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if len(reason) > 160:
            reason = reason[:157] + "..."
        raise SchedulerError(
            f"{address}: no Dask scheduler answered within {timeout:g} s ({reason})"
        ) from None


def executor(client: Any, **submit_kwargs: Any) -> DaskExecutor:
    """The ``concurrent.futures`` executor over ``client`` that :func:`segshift.batch.run_batch` takes.

    Tasks are not "pure" (each submission runs, also for equal inputs);
    a task whose worker dies is moved to another worker by the scheduler, up
    to its ``allowed-failures`` limit. ``submit_kwargs`` go to each
    ``client.submit`` (e.g. ``resources={"GPU": 1}``).
    """
    return DaskExecutor(client, **submit_kwargs)


class DaskExecutor(Executor):
    """A ``concurrent.futures`` executor that runs each call as a task of a Dask client.

    It does what ``client.get_executor()`` does, with one difference: a
    future may be cancelled at any moment, also while its task's outcome is
    on its way. (distributed's own executor sets the outcome without
    checking, and a cancel that lands as the task finishes prints an
    ``InvalidStateError`` traceback from the event loop.) Here the outcome
    of a cancelled future is dropped, and the future counts as done for
    ``concurrent.futures.wait``. Cancelling a future cancels its task.
    """

    def __init__(self, client: Any, **submit_kwargs: Any) -> None:
        self.client = client
        self._kwargs = {"pure": False, **submit_kwargs}
        self._pending: dict[Any, Future] = {}  # task -> its future, until handed over
        self._lock = threading.Lock()
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if self._shutdown:
            raise RuntimeError("cannot submit after shutdown")
        task = self.client.submit(fn, *args, **kwargs, **self._kwargs)
        future: Future = Future()
        with self._lock:
            self._pending[task] = future
        future.add_done_callback(lambda done: self._cancel_task(task) if done.cancelled() else None)
        task.add_done_callback(lambda finished: self._hand_over(finished, future))
        return future

    def _cancel_task(self, task: Any) -> None:
        """Cancel ``task`` because its future was cancelled; nothing when the client is
        already closed (its tasks went with it, and its event loop cannot be called)."""
        if getattr(self.client, "status", "running") not in ("running", "connecting", "newly-created"):
            return
        try:
            task.cancel()
        except RuntimeError:  # the client closed between the check and the call ("IOLoop is closed")
            pass

    def _hand_over(self, task: Any, future: Future) -> None:
        """Give ``task``'s outcome to ``future`` unless it was cancelled (run by Dask when the task is done)."""
        with self._lock:
            self._pending.pop(task, None)
        try:
            if task.status == "cancelled":
                future.cancel()
            else:
                try:
                    value = task.result()
                except Exception as exc:  # the task's error, or the cluster's (a worker that kept dying)
                    future.set_exception(exc)
                else:
                    future.set_result(value)
        except InvalidStateError:  # cancelled here meanwhile: the outcome is not wanted
            pass
        if future.cancelled():
            with contextlib.suppress(RuntimeError):  # notified already
                future.set_running_or_notify_cancel()  # wakes concurrent.futures.wait

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No more submissions; wait for the running tasks, or cancel them (``wait=False`` or ``cancel_futures``)."""
        self._shutdown = True
        with self._lock:
            pending = dict(self._pending)
        if pending and (cancel_futures or not wait):
            self.client.cancel(list(pending))
        elif pending:
            futures.wait(pending.values())


def client_of(executor: Executor) -> Any:
    """The Dask client behind a Dask executor (segshift's or distributed's), or None for any other."""
    if isinstance(executor, DaskExecutor):
        return executor.client
    if type(executor).__module__.split(".")[0] != "distributed":
        return None
    return getattr(executor, "_client", None)


def as_dask_executor(executor: Executor) -> Executor:
    """``executor``, with distributed's own executor replaced by a :class:`DaskExecutor` of the same client."""
    client = client_of(executor)
    if client is None or isinstance(executor, DaskExecutor):
        return executor
    return DaskExecutor(client, **getattr(executor, "_kwargs", {}))


def capacity(client: Any) -> Callable[[], int]:
    """Files to keep in flight on a cluster: its worker threads (at least 1).

    No more, so that a file waits here, not in a worker's queue: when a
    worker dies, the scheduler suspects every task it held, and a file
    queued behind one that kills workers would be suspected with it. Asked
    again as the run goes, it follows workers that join or leave.
    """

    def threads() -> int:
        try:
            return max(1, sum(client.nthreads().values()))
        except Exception:  # the scheduler is busy or gone: the futures will say so
            return 1

    return threads


def _warm_worker(settings: list[dict[str, Any]]) -> bool:
    from ._compile import warm_up

    return warm_up(settings)


def warm_workers(
    client: Any,
    settings: Iterable[Mapping[str, Any]] = ({},),
    *,
    timeout: float = WARM_TIMEOUT,
) -> dict[str, bool]:
    """Compile or load the kernels on every worker of the cluster now.

    One small task pinned to each worker runs the kernels of each setting
    (as ``segshift.segment(image, **setting)`` would) on a tiny image. A
    worker loads them from numba's on-disk cache beside segshift's source
    when they are there (this process fills it first when the workers
    share its file system), and compiles them otherwise, once per worker
    process, not once per file.

    Parameters
    ----------
    client : distributed.Client
    settings : iterable of dict
        Keyword arguments of :func:`segshift.segment` (default: its defaults).
    timeout : float
        Seconds to wait; workers that have not answered by then warm up on
        their first file instead.

    Returns
    -------
    dict
        ``{worker address: True if it compiled, False if it loaded the cache}``
        for the workers that answered.
    """
    distributed = _distributed()
    wanted = [dict(s) for s in settings]
    addresses = list(client.nthreads())
    futures = {
        address: client.submit(_warm_worker, wanted, workers=[address], allow_other_workers=False, pure=False)
        for address in addresses
    }
    try:
        with client.as_current():
            distributed.wait(list(futures.values()), timeout=timeout)
    except TimeoutError:
        pass
    client.cancel([f for f in futures.values() if not f.done()])
    return {address: bool(f.result()) for address, f in futures.items() if f.status == "finished"}
