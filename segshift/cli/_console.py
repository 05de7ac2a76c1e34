"""What the command shows: exit statuses, log lines on stderr, progress bars, one-line errors."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from typing import Any

from ..errors import ParameterError
from ._options import _FLAGS

EXIT_OK = 0

EXIT_FAILURE = 1

EXIT_USAGE = 2

EXIT_INTERRUPTED = 130

log = logging.getLogger("segshift.cli")

COMPILING = "compiling the kernels (first run after an install only, a minute or two; later runs load them)"


class _StderrHandler(logging.Handler):
    """Writes to the current sys.stderr through tqdm, so a progress bar stays intact."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.ERROR:
            message = f"segshift: error: {message}"
        elif record.levelno >= logging.WARNING:
            message = f"segshift: warning: {message}"
        else:
            message = f"segshift: {message}"
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        return message


def _setup_logging(verbose: int, quiet: bool, debug: bool) -> None:
    logger = logging.getLogger("segshift")
    for handler in list(logger.handlers):
        if isinstance(handler, _StderrHandler):
            logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(_Formatter())
    logger.addHandler(handler)
    logger.propagate = False
    if debug or verbose:
        logger.setLevel(logging.DEBUG)
    elif quiet:
        logger.setLevel(logging.ERROR)
    else:
        logger.setLevel(logging.INFO)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _pixel_bar(args: argparse.Namespace) -> tuple[Any, Any]:
    """(progress callback, close) of a tqdm bar on stderr, shown once a run has taken a couple of seconds."""
    bar: Any = None
    if args.quiet or not _isatty(sys.stderr):
        # no bar: no callback, so that the filter runs in one call (a few per cent faster)
        return None, lambda: None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="px", unit_scale=True, desc="segshift", file=sys.stderr,
                       dynamic_ncols=True, leave=False, delay=2)
        bar.update(done - bar.n)

    def close() -> None:
        if bar is not None:
            bar.close()

    return progress, close


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, ParameterError):
        text = re.sub(r"^(\w+)\b", lambda m: _FLAGS.get(m.group(1), m.group(1)), text)
    return text
