"""Ctrl-C and worker processes: the parent handles it, the workers never do."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def hold_sigint() -> Iterator[None]:
    """Hold SIGINT back inside the block, so that worker processes started
    here inherit it blocked, while a Ctrl-C that arrives meanwhile is
    delivered to this process when the block ends rather than lost.

    Blocking (``pthread_sigmask``) where the platform has it; elsewhere
    ignoring it for the block (main thread only).
    """
    if hasattr(signal, "pthread_sigmask"):
        previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        return
    previous = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    if previous is None:  # not the main thread, or a handler installed outside Python
        yield
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class SigintCount:
    """How many SIGINTs arrived (see :func:`count_sigint`)."""

    count = 0


@contextlib.contextmanager
def count_sigint() -> Iterator[SigintCount]:
    """Inside the block, SIGINT raises KeyboardInterrupt as usual and is also
    counted, so that one raised where Python drops exceptions (a finaliser,
    a weakref callback: a Dask future released in this thread) is still seen.

    Only in the main thread, and only when SIGINT has Python's default
    handler; otherwise the count stays 0.
    """
    counter = SigintCount()
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield counter
        return

    def handler(signum: int, frame: object) -> None:
        counter.count += 1
        raise KeyboardInterrupt

    previous_hook = sys.unraisablehook

    def unraisable(info) -> None:
        # A KeyboardInterrupt dropped in a finaliser is counted above; Python
        # would also print it as "Exception ignored in ..." with a traceback.
        if info.exc_type is not KeyboardInterrupt:
            previous_hook(info)

    previous = signal.signal(signal.SIGINT, handler)
    sys.unraisablehook = unraisable
    try:
        yield counter
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = previous_hook
