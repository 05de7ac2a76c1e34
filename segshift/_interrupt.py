"""Ctrl-C inside compiled kernels: a process-wide flag that kernels poll.

Python runs a SIGINT handler only in the main thread, between bytecodes, so
a Ctrl-C that arrives while the main thread is inside a compiled kernel (which
runs for minutes on a large image, with the GIL released) waits for the
kernel to return. What does happen at once is CPython's C-level handler
writing the signal number to the *wakeup fd* (:func:`signal.set_wakeup_fd`).

Inside :func:`interruptible` (entered by :func:`segshift.segment` and the
command line, in the main thread) a small thread blocks on that wakeup fd;
when SIGINT arrives it sets :data:`FLAG`. Long kernels call
:func:`interrupted` between blocks of work (a tile of climbs, a row) and
return early when it is set; their wrappers call :func:`check`, which raises
KeyboardInterrupt. Python's own handler raises KeyboardInterrupt as usual as
soon as the kernel has returned, so one Ctrl-C is one KeyboardInterrupt.

:func:`interrupted` reads the flag through an external symbol that
``llvmlite`` resolves to the flag's address in each process (the way numba
links its own runtime), so kernels take no extra argument and stay in the
on-disk cache. Reading it is one relaxed atomic load: kernels poll it per
tile or per row, never per pixel.

Outside :func:`interruptible` (worker threads of another program, worker
processes that ignore SIGINT) the flag stays 0 and kernels run to the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator

import numpy as np
from llvmlite import binding as _llvm
from llvmlite import ir as _ir
from numba import njit as _njit
from numba import types as _types
from numba.core import cgutils as _cgutils
from numba.extending import intrinsic as _intrinsic

from ._config import JIT

_SYMBOL = "segshift_interrupt_flag"

#: The flag kernels poll: nonzero once SIGINT arrived inside :func:`interruptible`.
FLAG = np.zeros(1, dtype=np.int32)
_llvm.add_symbol(_SYMBOL, FLAG.ctypes.data)


@_intrinsic
def _load_flag(typingctx):
    def codegen(context, builder, signature, args):
        module = builder.module
        flag = module.globals.get(_SYMBOL)
        if flag is None:
            flag = _cgutils.add_global_variable(module, _ir.IntType(32), _SYMBOL)
            flag.linkage = "external"
        # atomic, so that LLVM reads it again at every poll instead of once
        return builder.load_atomic(flag, "monotonic", 4)

    return _types.int32(), codegen


@_njit(inline="always", **JIT)
def interrupted():
    """True once SIGINT arrived inside :func:`interruptible` (for kernels: poll
    between blocks of work and return early)."""
    return _load_flag() != 0


def is_set() -> bool:
    """True once SIGINT arrived inside the current :func:`interruptible` block."""
    return bool(FLAG[0])


def check() -> None:
    """Raise KeyboardInterrupt when SIGINT arrived (call after a kernel that
    polls :func:`interrupted`: its results may then be incomplete)."""
    if FLAG[0]:
        raise KeyboardInterrupt


class _Watcher:
    """The thread that turns a SIGINT (a byte on the wakeup fd) into FLAG = 1,
    while the main thread may be inside a kernel."""

    def __init__(self) -> None:
        self.reader, self.writer = socket.socketpair()
        self.writer.setblocking(False)
        self.previous = signal.set_wakeup_fd(self.writer.fileno(), warn_on_full_buffer=False)
        self.thread = threading.Thread(target=self._run, name="segshift-sigint", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                data = self.reader.recv(256)
            except InterruptedError:
                continue
            except OSError:
                return
            if not data:
                return
            if signal.SIGINT in data:
                FLAG[0] = 1
            if self.previous >= 0 and data.strip(b"\0"):
                # a wakeup fd set before ours (an event loop's) still hears of every signal
                with contextlib.suppress(OSError):
                    os.write(self.previous, data.replace(b"\0", b""))
            if 0 in data:  # stop byte (see close): every byte before it is handled
                return

    def close(self) -> None:
        signal.set_wakeup_fd(self.previous, warn_on_full_buffer=False)
        with contextlib.suppress(OSError):
            self.writer.send(b"\0")
        self.thread.join()
        self.reader.close()
        self.writer.close()


_depth = 0


def _unraisable(previous):
    def hook(info) -> None:
        # A KeyboardInterrupt that Python drops (raised in a finaliser, a
        # weakref callback) is not printed as "Exception ignored"; FLAG
        # still records it, and interruptible() raises it.
        if not (issubclass(info.exc_type, KeyboardInterrupt) or (
                FLAG[0] and info.exc_type is not None and issubclass(info.exc_type, Exception))):
            previous(info)

    return hook


def _caused_by_interrupt(exc: BaseException) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


class Interrupt:
    """What :func:`interruptible` yields: set ``handled`` once the block has
    dealt with a Ctrl-C itself (a batch that stopped cleanly), so that the
    block does not raise KeyboardInterrupt again at its end."""

    handled = False


@contextlib.contextmanager
def interruptible() -> Iterator[Interrupt]:
    """Make SIGINT stop compiled kernels within the block, promptly.

    In the main thread, where SIGINT has a Python handler and no other block is
    active, a watcher thread sets :data:`FLAG` on SIGINT (kernels return
    early) and the block:

    - raises KeyboardInterrupt, never another exception, once SIGINT arrived
      (an exception that a Ctrl-C caused, such as numba's "SystemError: ...
      returned a result with an exception set", becomes KeyboardInterrupt);
    - raises KeyboardInterrupt at its end when SIGINT arrived but its
      KeyboardInterrupt was lost (raised where Python drops exceptions),
      and keeps that loss from being printed as "Exception ignored".

    Elsewhere (another thread, SIGINT ignored, nested blocks) it does nothing.
    The flag is cleared when the outermost block starts and ends. Usable as
    a decorator too (``@interruptible()``).
    """
    global _depth
    state = Interrupt()
    handler = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    if _depth or not callable(handler):
        yield state
        return
    FLAG[0] = 0
    _depth += 1
    watcher = _Watcher()
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _unraisable(previous_hook)
    try:
        try:
            yield state
        finally:
            watcher.close()
        if FLAG[0] and not state.handled:
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if FLAG[0] or _caused_by_interrupt(exc):
            raise KeyboardInterrupt from exc
        raise
    finally:
        sys.unraisablehook = previous_hook
        _depth -= 1
        FLAG[0] = 0
