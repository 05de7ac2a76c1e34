"""The one small exception hierarchy of segshift.

Every error a user can cause derives from :class:`SegshiftError`; each also
derives from the built-in exception it is (``ValueError`` for bad arguments,
``OSError`` for files), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "SegshiftError",
    "ParameterError",
    "ImageError",
    "ImageReadError",
    "ImageTooLargeError",
    "OutputError",
    "MissingDependencyError",
    "SchedulerError",
]


class SegshiftError(Exception):
    """Base class of every error segshift raises on purpose."""


class ParameterError(SegshiftError, ValueError):
    """A parameter has a value segshift cannot use."""


class ImageError(SegshiftError, ValueError):
    """An image (array or decoded file) cannot be segmented."""


class ImageReadError(SegshiftError, OSError):
    """A file cannot be read or decoded as an image."""


class ImageTooLargeError(ImageReadError):
    """An image has more pixels than the ``max_pixels`` limit allows."""


class OutputError(SegshiftError, OSError):
    """An output file cannot be written (exists, folder missing, not writable, ...)."""


class MissingDependencyError(SegshiftError, ImportError):
    """An optional dependency a feature needs is not installed (the message says what to install)."""


class SchedulerError(SegshiftError, ConnectionError):
    """A Dask scheduler cannot be reached (or its scheduler file read)."""
