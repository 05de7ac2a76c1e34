"""The ``segshift`` command: segment a photo, every photo of a folder, or score a data set.

A thin layer over the library: parse the options, resolve paths, call
:func:`segshift.segment`, :func:`segshift.batch.run_batch` or
:func:`segshift._benchmark.evaluate_folder`, and turn errors into one line on
stderr and an exit status:

- 0: success;
- 1: something failed: an input that cannot be read or decoded, an output
  that exists (without ``--overwrite``) or cannot be written, or, for
  ``batch`` and ``evaluate``, any file that failed;
- 2: bad arguments: unknown option, value out of range, unsupported output
  extension, an output that would replace its input;
- 130: interrupted (Ctrl-C).

stdout carries data only (an image or JSON written to ``-``); logs and the
progress bar go to stderr.

One module per command (``_segment``, ``_batch``, ``_evaluate``); their shared
options and value types, generated from the parameter model, in ``_options``;
what the command shows (exit statuses, log lines, progress bars) in ``_console``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from .._version import __version__
from ..errors import ParameterError, SegshiftError
from . import _batch, _evaluate, _segment
from ._console import (
    COMPILING,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,  # noqa: F401 (the exit statuses, for callers of main)
    EXIT_USAGE,
    _one_line,
    _setup_logging,
    log,
)
from ._options import EXIT_HELP, _add_common, _HelpFormatter

__all__ = [
    "main",
    "build_parser",
]

_MAIN_EPILOG = f"""\
examples:
  segshift segment photo.jpg -o segments.png
  segshift batch photos/ segments/ --recursive --stats
  segshift evaluate BSDS500/images/val BSDS500/groundTruth/val -r 6.5,10 -m 20,300

{EXIT_HELP}
Run 'segshift COMMAND --help' for the options of a command."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``segshift`` command (for docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="segshift",
        description="Mean-shift image segmentation (Comaniciu & Meer 2002).",
        epilog=_MAIN_EPILOG,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"segshift {__version__}")
    _add_common(parser, top=True)
    parser.set_defaults(verbose=0)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _segment.add_parser(commands)
    _batch.add_parser(commands)
    _evaluate.add_parser(commands)
    return parser


def _compiling_once() -> Any:
    """Say so when a run compiles the kernels, and then compile every kernel any
    later run can use, after the run's own work (its outputs are written first)
    unless it was interrupted."""
    from .._first_run import compile_once

    return compile_once(lambda: log.info(COMPILING), failed=lambda exc: log.warning(
        "could not compile the kernels of other settings ahead (later runs compile what they use): %s",
        _one_line(exc), exc_info=log.isEnabledFor(logging.DEBUG)))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``segshift`` command; return its exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 success, 1 failure, 2 bad arguments, 130 interrupted.
    """
    # the command's logging setup is undone when it returns, so that calling main() from
    # Python (tests, notebooks) leaves the "segshift" logger as it found it
    logger = logging.getLogger("segshift")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    try:
        return _main(argv)
    except KeyboardInterrupt:  # while parsing the arguments, or logging the error of another
        return EXIT_INTERRUPTED
    finally:
        logger.handlers[:] = saved[0]
        logger.setLevel(saved[1])
        logger.propagate = saved[2]


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help/--version (0) or bad usage (2, message printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    debug = bool(args.debug)
    _setup_logging(args.verbose or 0, bool(args.quiet), debug)
    try:
        from .._interrupt import interruptible

        # Ctrl-C stops the compiled kernels too, and always ends in KeyboardInterrupt
        with interruptible() as interrupt, _compiling_once() as ahead:
            code = int(args.func(args))
            interrupt.handled = code == EXIT_INTERRUPTED  # a batch that stopped cleanly said so itself
            ahead.wanted = code != EXIT_INTERRUPTED  # Ctrl-C: stop now
            return code
    except ParameterError as exc:
        log.error("%s", _one_line(exc), exc_info=debug)
        return EXIT_USAGE
    except KeyboardInterrupt:
        log.error("interrupted", exc_info=debug)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout went away (e.g. '| head'): stop quietly.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILURE
    except (SegshiftError, OSError) as exc:
        log.error("%s", _one_line(exc), exc_info=debug)
        return EXIT_FAILURE
    except MemoryError:
        log.error("out of memory (try a smaller image, or --max-pixels)", exc_info=debug)
        return EXIT_FAILURE
    except Exception as exc:  # a bug: still one line, the traceback with --debug
        log.error(
            "internal error: %s: %s (run with --debug for the traceback)", type(exc).__name__, _one_line(exc),
            exc_info=debug,
        )
        return EXIT_FAILURE


def run() -> None:
    """The ``segshift`` program: :func:`main`, then exit with its status.

    Once the command is done, a Ctrl-C only turns the status into 130 (the
    outputs are whole by then). The program leaves as Python's shutdown
    would (threads joined, ``atexit`` functions run, streams flushed) but
    skips its last part, finalising every object, which takes about a second
    once the compiled kernels are loaded and would let a Ctrl-C kill the
    process (or be ignored) after the status was decided.
    """
    import atexit
    import signal
    import threading

    late: list[int] = []
    try:
        code = main()
    except KeyboardInterrupt:  # after main returned
        code = EXIT_INTERRUPTED
    with contextlib.suppress(ValueError):  # (not the main thread)
        signal.signal(signal.SIGINT, lambda signum, frame: late.append(signum))
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()  # non-daemon threads, as Python's shutdown would
    atexit._run_exitfuncs()  # logging, worker pools, executors
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(EXIT_INTERRUPTED if late else code)
