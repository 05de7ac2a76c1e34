"""Writing results: images, label maps, statistics and manifests, atomically.

Everything here turns a :class:`~segshift.Segmentation` (or a list of batch
records) into bytes, and writes bytes to a file so that the file either does
not change or holds the whole new content: the data go to a hidden temporary
file in the same folder (``.NAME.XXXXXXXX.tmp``), are flushed to disk, and
the temporary file is renamed over the target with :func:`os.replace`. An
exception of any kind, ``KeyboardInterrupt`` included, removes the temporary
file.

Formats follow the file's extension, the same on every path (a label map in
memory or a memory map of a huge image):

- pictures (mode colours, boundaries, label colours): ``.png`` and
  ``.tif``/``.tiff``, written strip by strip in bounded memory whatever the
  size; ``.jpg``/``.jpeg``, ``.webp`` and ``.bmp`` (Pillow), which are
  encoded whole: assembled in memory when the picture fits the memory limit,
  refused before anything is written when it does not;
- label maps: ``.png`` (16-bit grayscale, label = pixel value, at most
  65535), ``.tif``/``.tiff`` (tiled, zlib-compressed, uint32; BigTIFF when
  large) or ``.npy`` (int32);
- contour maps (the hierarchy's UCM): ``.png`` (16-bit grayscale, heights
  scaled so that the largest is 65535, see :func:`encode_ucm`),
  ``.tif``/``.tiff`` or ``.npy`` (float64 heights as they are);
- statistics: ``.json``;
- manifests: ``.json`` (a list of records) or ``.csv``.

Streamed writing (:func:`write_output`, :func:`write_labels`,
:func:`write_modes`, :func:`write_boundaries`, :func:`write_label_colours`,
:func:`write_ucm`) reads the label map a strip of rows at a time, the strip's
height chosen so that a strip and its encoding stay within ``memory_limit``
bytes; the bytes written do not depend on it (PNG, NPY) or only in how the
file is laid out (TIFF tiles of a very wide picture), the pixels never.

Nothing in this module prints; the command line decides what goes to stdout.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import struct
import sys
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Union

import numpy as np
from numpy.typing import NDArray

from .errors import OutputError, ParameterError, SegshiftError

__all__ = [
    "write_output",
    "encode_output",
    "check_output",
    "check_output_fits",
    "output_format",
    "write_labels",
    "write_modes",
    "write_boundaries",
    "write_label_colours",
    "write_ucm",
    "write_stats",
    "write_image",
    "encode_image",
    "encode_labels",
    "encode_ucm",
    "encode_stats",
    "segmentation_stats",
    "encode_manifest",
    "read_manifest",
    "write_manifest",
    "write_atomic",
    "atomic_open",
    "atomic_path",
    "remove_temp_files",
    "remove_stale_temp_files",
    "temp_name_pattern",
    "ScratchFolder",
    "remove_abandoned_scratch",
    "default_memory_limit",
    "Rows",
    "array_rows",
    "label_rows",
    "mode_rows",
    "boundary_rows",
    "ucm_rows",
]

PathLike = Union[str, "os.PathLike[str]"]

#: Picture formats by extension (Pillow format names).
IMAGE_FORMATS: dict[str, str] = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
    ".bmp": "BMP",
}
#: Picture formats written strip by strip, in bounded memory whatever the picture's size.
STREAMED_IMAGE_FORMATS: tuple[str, ...] = (".png", ".tif", ".tiff")
#: Picture formats Pillow encodes whole: the largest side each can hold.
WHOLE_IMAGE_FORMATS: dict[str, int] = {".jpg": 65535, ".jpeg": 65535, ".webp": 16383, ".bmp": 2**31 - 1}
#: Label-map formats by extension.
LABEL_FORMATS: tuple[str, ...] = (".png", ".npy", ".tif", ".tiff")
#: Contour-map (UCM) formats by extension.
UCM_FORMATS: tuple[str, ...] = (".png", ".npy", ".tif", ".tiff")
#: Statistics formats by extension.
STATS_FORMATS: tuple[str, ...] = (".json",)
#: Manifest formats by extension.
MANIFEST_FORMATS: tuple[str, ...] = (".json", ".csv")

#: What each kind of output accepts (used by :func:`output_format`).
#: Figures (the precision-recall curve of ``segshift evaluate --plot``).
PLOT_FORMATS: tuple[str, ...] = (".png", ".svg")

FORMATS: dict[str, tuple[str, ...]] = {
    "image": tuple(IMAGE_FORMATS),
    "labels": LABEL_FORMATS,
    "ucm": UCM_FORMATS,
    "stats": STATS_FORMATS,
    "manifest": MANIFEST_FORMATS,
    "plot": PLOT_FORMATS,
}

#: The ``kind`` argument of :func:`output_format` for each output of a segmentation.
OUTPUT_KINDS: dict[str, str] = {
    "modes": "image", "boundaries": "image", "labels": "labels", "ucm": "ucm", "stats": "stats",
}


#: Columns of a manifest, in order.
MANIFEST_FIELDS: tuple[str, ...] = ("input", "outputs", "regions", "seconds", "status", "error")

#: The largest label a 16-bit PNG can hold.
MAX_PNG_LABEL = 65535
#: The largest label of an int32 ``.npy`` label map.
MAX_NPY_LABEL = 2**31 - 1
#: The largest label of a uint32 TIFF label map.
MAX_TIFF_LABEL = 2**32 - 1


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #


def output_format(path: PathLike, kind: str) -> str:
    """Return the lower-case extension of ``path`` if ``kind`` supports it.

    Parameters
    ----------
    path : str or path-like
        The output file name.
    kind : {"image", "labels", "ucm", "stats", "manifest", "plot"}
        What will be written there.

    Returns
    -------
    str
        The extension with its dot, lower case (``".png"``).

    Raises
    ------
    ParameterError
        The extension is missing or not one ``kind`` supports; the message
        names the supported ones.

    Examples
    --------
    >>> output_format("out/photo.JPG", "image")
    '.jpg'
    """
    if kind not in FORMATS:
        raise ParameterError(f"kind must be one of {', '.join(FORMATS)}; got {kind!r}")
    ext = Path(path).suffix.lower()
    supported = FORMATS[kind]
    if ext not in supported:
        what = f"extension {ext!r}" if ext else "no extension"
        raise ParameterError(f"{path}: {what} is not a supported {kind} format; use one of {', '.join(supported)}")
    return ext


def check_output(
    path: PathLike,
    kind: str,
    *,
    overwrite: bool = False,
    inputs: Sequence[PathLike] = (),
) -> Path:
    """Check, before any work is done, that an output file can be written.

    Parameters
    ----------
    path : str or path-like
        The output file.
    kind : {"image", "labels", "ucm", "stats", "manifest", "plot"}
        What will be written (decides the accepted extensions).
    overwrite : bool
        Allow replacing an existing file.
    inputs : sequence of path-like
        Input files the output must not replace, whatever ``overwrite`` says.

    Returns
    -------
    pathlib.Path
        ``path`` as a :class:`~pathlib.Path`.

    Raises
    ------
    ParameterError
        Unsupported extension, or ``path`` is one of ``inputs``.
    OutputError
        The file exists and ``overwrite`` is false, the path is a folder, its
        folder does not exist or is not writable.
    """
    target = Path(path)
    output_format(target, kind)
    for source in inputs:
        if _same_file(target, Path(source)):
            raise ParameterError(f"{str(target)!r}: output would replace the input file {str(source)!r}")
    if target.is_dir():
        raise OutputError(f"{target}: is a folder, not a file name")
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: already exists (use --overwrite to replace it)")
    folder = target.parent
    if not folder.is_dir():
        raise OutputError(f"{target}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{target}: folder {folder} is not writable")
    return target


def _same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` name the same file (existing or not)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


# --------------------------------------------------------------------------- #
# Atomic writing
# --------------------------------------------------------------------------- #

_umask_lock = threading.Lock()
_umask: int | None = None


def _current_umask() -> int:
    """The process umask (read once; os.umask can only read it by setting it)."""
    global _umask
    with _umask_lock:
        if _umask is None:
            _umask = os.umask(0o022)
            os.umask(_umask)
        return _umask


def temp_name_pattern(path: PathLike) -> str:
    """The glob pattern of the temporary files :func:`atomic_open` makes for ``path``."""
    return f".{Path(path).name}.*.tmp"


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "wb", *, encoding: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary file that replaces ``path`` only when the block succeeds.

    Parameters
    ----------
    path : str or path-like
        The file to write. Its folder must exist.
    mode : {"wb", "w"}
        Binary or text.
    encoding : str, optional
        Text encoding (text mode only; default UTF-8).

    Yields
    ------
    file object
        Write to it; on leaving the block without an exception the data are
        flushed, fsync'ed and renamed onto ``path``. On any exception
        (``KeyboardInterrupt`` too) the temporary file is removed and
        ``path`` is left as it was.

    Raises
    ------
    OutputError
        The temporary file cannot be created or renamed (folder missing or
        not writable, disk full, ...).
    """
    if mode not in ("wb", "w"):
        raise ParameterError(f"mode must be 'wb' or 'w', got {mode!r}")
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    except OSError as exc:
        raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from None
    try:
        # mkstemp makes the file 0600; give it the permissions open() would.
        with contextlib.suppress(OSError, AttributeError):
            os.fchmod(fd, 0o666 & ~_current_umask())
        if mode == "wb":
            handle: IO[Any] = os.fdopen(fd, "wb")
        else:
            handle = os.fdopen(fd, "w", encoding=encoding or "utf-8", newline="")
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, SegshiftError):
            raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from None
        raise
    _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable (POSIX; best effort)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path: PathLike, data: bytes | str) -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` atomically.

    Parameters
    ----------
    path : str or path-like
        The file to (re)place.
    data : bytes or str
        The whole content.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OutputError
        The file cannot be written.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def write_npy_strips(handle: IO[bytes], dtype, shape: tuple[int, int], strips) -> None:
    """A ``.npy`` array of ``shape`` written to ``handle`` strip by strip, through the file.

    Not through a memory map: the written pages of a map count as the
    process's resident memory until it is closed, so a large array written
    through one would hold its whole size however small the strips. Raises
    ValueError if the strips do not hold exactly ``shape[0]`` rows.
    """
    dtype = np.dtype(dtype)
    np.lib.format.write_array_header_1_0(handle, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                  "fortran_order": False, "shape": tuple(shape)})
    rows = 0
    for strip in strips:
        strip = np.ascontiguousarray(strip, dtype=dtype)
        if strip.shape[1:] != tuple(shape[1:]):
            raise ValueError(f"a strip of shape {strip.shape} in an array of shape {shape}")
        handle.write(strip.tobytes())
        rows += len(strip)
    if rows != shape[0]:
        raise ValueError(f"{rows} rows written of {shape[0]}")


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[str]:
    """A temporary file name beside ``path``, renamed onto it when the block succeeds.

    For writers that need a file name rather than an open file (a memory map,
    a library that opens the file itself). Like :func:`atomic_open`: the
    temporary file is flushed to disk and renamed onto ``path`` at the end of
    the block, and removed on any exception (``KeyboardInterrupt`` too).

    Yields
    ------
    str
        The temporary file's name (it exists, empty).

    Raises
    ------
    OutputError
        The temporary file cannot be created, written or renamed.
    """
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    except OSError as exc:
        raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from None
    try:
        os.close(fd)
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, SegshiftError):
            raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from None
        raise
    _fsync_folder(target.parent)


def remove_temp_files(path: PathLike) -> int:
    """Remove temporary files :func:`atomic_open` left for ``path`` (after a kill).

    Returns
    -------
    int
        How many were removed.
    """
    target = Path(path)
    removed = 0
    for tmp in target.parent.glob(temp_name_pattern(target)):
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed += 1
    return removed


def remove_stale_temp_files(paths: Sequence[PathLike]) -> int:
    """Remove the temporary files a killed writer left for any of ``paths``.

    Like :func:`remove_temp_files` for many targets at once: each folder is
    listed once. Meant for the start of a run that will write ``paths``
    (two runs writing the same files at the same time are not supported).

    Returns
    -------
    int
        How many were removed.
    """
    by_folder: dict[Path, set[str]] = {}
    for path in paths:
        target = Path(path)
        by_folder.setdefault(target.parent, set()).add(target.name)
    removed = 0
    for folder, names in by_folder.items():
        try:
            with os.scandir(folder) as listing:
                stale = [
                    e.path for e in listing
                    # ".NAME.XXXXXXXX.tmp" (mkstemp's random part has no dot)
                    if e.name.startswith(".") and e.name.endswith(".tmp")
                    and e.name[1:-4].rpartition(".")[0] in names
                ]
        except OSError:
            continue
        for tmp in stale:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
                removed += 1
    return removed


# --------------------------------------------------------------------------- #
# Scratch folders
# --------------------------------------------------------------------------- #

#: The file in each scratch folder that its run holds locked while it lives.
SCRATCH_LOCK = ".segshift-lock"
#: Names of scratch folders: ``.segshift-XXXX`` or ``.NAME.segshift-STAGE-XXXX``.
_SCRATCH_NAME = re.compile(r"^\.(?:.+\.)?segshift-")


class ScratchFolder:
    """A temporary folder for a run's scratch data, which a later run can tell is abandoned.

    Like :class:`tempfile.TemporaryDirectory` (``name``, ``cleanup()``, a
    context manager that yields the name, removed when garbage-collected),
    and the run holds a lock on a file inside it for as long as it lives.
    A run killed outright (``kill -9``, out of memory, a power cut) cannot
    remove its folder, but the kernel releases its lock, so the next run
    that makes a scratch folder in the same place removes it
    (:func:`remove_abandoned_scratch`) and a live run's folder is never
    touched. Scratch of large images can take gigabytes, so none is left to
    pile up.

    Parameters
    ----------
    prefix : str
        The folder's name prefix; it must match ``.segshift-`` or
        ``.NAME.segshift-`` for later runs to recognise it.
    dir : path-like, optional
        Where to make it (default: the system's temporary folder).
    """

    def __init__(self, prefix: str = ".segshift-", dir: PathLike | None = None) -> None:
        import weakref

        folder = Path(dir) if dir is not None else Path(tempfile.gettempdir())
        remove_abandoned_scratch(folder)
        try:
            self.name = tempfile.mkdtemp(prefix=prefix, dir=folder)
        except OSError as exc:
            raise OutputError(f"{folder}: cannot make a scratch folder ({exc.strerror or exc})") from None
        self._fd = _hold_lock(os.path.join(self.name, SCRATCH_LOCK))
        self._finalizer = weakref.finalize(self, _remove_scratch, self.name, self._fd)

    def cleanup(self) -> None:
        """Remove the folder (and release its lock); again is a no-op."""
        self._finalizer()

    def __enter__(self) -> str:
        return self.name

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        return f"<ScratchFolder {self.name!r}>"


def is_scratch_name(name: str) -> bool:
    """Whether a file or folder name is that of a scratch folder (:class:`ScratchFolder`)."""
    return bool(_SCRATCH_NAME.match(name))


def _hold_lock(path: str) -> int | None:
    """Create ``path`` and hold an exclusive lock on it; its descriptor (None where there are no file locks)."""
    if sys.platform == "win32":  # pragma: no cover - no flock; such folders are never taken for abandoned
        return None
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # a file system without locks: the folder stays unlocked, and is never swept
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        return None
    return fd


def _remove_scratch(name: str, fd: int | None) -> None:
    import shutil

    shutil.rmtree(name, ignore_errors=True)  # before the lock goes, so no sweep sees it half-removed
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


def remove_abandoned_scratch(folder: PathLike) -> int:
    """Remove the scratch folders in ``folder`` whose run has ended without removing them.

    A folder is abandoned when its lock file (:data:`SCRATCH_LOCK`) exists and
    no process holds it: the run that made it was killed. Folders being made
    (no lock file yet) and folders of live runs are left alone, so two runs in
    one place are safe. Returns how many were removed.
    """
    if sys.platform == "win32":  # pragma: no cover
        return 0
    import fcntl
    import shutil

    try:
        with os.scandir(folder) as listing:
            candidates = [e.path for e in listing if is_scratch_name(e.name) and e.is_dir(follow_symlinks=False)]
    except OSError:
        return 0
    removed = 0
    for path in candidates:
        try:
            fd = os.open(os.path.join(path, SCRATCH_LOCK), os.O_RDWR)
        except OSError:  # no lock file: being made, or not ours
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # held: a live run
                continue
            shutil.rmtree(path, ignore_errors=True)  # while holding the lock: no one else sweeps it meanwhile
            removed += not os.path.exists(path)
        finally:
            os.close(fd)
    return removed


# --------------------------------------------------------------------------- #
# Rasters made a strip of rows at a time
# --------------------------------------------------------------------------- #

#: Bytes a PNG strip needs per byte of its rows besides making them (the
#: rows in big-endian order; the filter's temporaries are bounded apart).
PNG_BYTES_PER_BYTE = 2
#: Bytes of rows filtered at a time (the five candidate filters and the
#: Paeth predictor's terms take about 30 times that; kept small, they stay
#: in the processor's cache).
PNG_FILTER_BYTES = 1 << 16
#: Bytes a pixel of a picture that Pillow encodes whole (JPEG, WebP, BMP)
#: needs: the assembled picture (3), Pillow's own copy (4) and the encoded file.
WHOLE_BYTES_PER_PIXEL = 10
#: Side of the tiles of TIFF files (halved, down to 16, for a picture so wide
#: that a row of tiles would take more than a third of the memory limit).
TIFF_TILE = 256
#: Data bytes of a PNG's IDAT chunks (the last one holds the rest).
PNG_CHUNK = 1 << 20
#: zlib level of PNG and TIFF files.
ZLIB_LEVEL = 6
#: Uncompressed size above which a TIFF is written as a BigTIFF.
BIGTIFF_BYTES = 2**31

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def default_memory_limit() -> int:
    """A quarter of the machine's physical memory (at least 256 MB; 2 GB when unknown)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2 * 10**9
    return max(256 * 10**6, total // 4)


def _budget(memory_limit: int | None) -> int:
    if memory_limit is None:
        return default_memory_limit()
    if isinstance(memory_limit, bool) or not isinstance(memory_limit, (int, np.integer)) or memory_limit < 1:
        raise ParameterError(f"memory_limit must be a number of bytes >= 1, got {memory_limit!r}")
    return int(memory_limit)


@dataclass(frozen=True)
class Rows:
    """A raster that is made a strip of rows at a time: what the file encoders take.

    Attributes
    ----------
    height, width : int
        Size in pixels.
    channels : int
        1 (labels, heights, gray) or 3 (RGB).
    dtype : numpy.dtype
        Of the values (uint8, uint16, uint32, int32 or float64).
    read : callable
        ``read(y0, y1)`` -> (y1 - y0, width) or (y1 - y0, width, 3) ndarray
        of ``dtype``: rows ``y0..y1-1``, the same whatever strips they are
        asked in.
    cost : int
        Bytes a pixel of a strip needs while ``read`` makes it (what it
        reads, its temporaries and the result).
    overlap : int
        Rows ``read`` reads above and below the strip (each costing ``cost``).
    """

    height: int
    width: int
    channels: int
    dtype: np.dtype
    read: Callable[[int, int], NDArray[Any]]
    cost: int
    overlap: int = 0

    @property
    def pixel_bytes(self) -> int:
        """Bytes a pixel of the result."""
        return self.channels * np.dtype(self.dtype).itemsize

    @property
    def shape(self) -> tuple[int, ...]:
        """(height, width) or (height, width, 3)."""
        return (self.height, self.width) if self.channels == 1 else (self.height, self.width, self.channels)

    def strip_rows(self, budget: int, extra: int = 0) -> int:
        """Rows of a strip that, made and encoded at ``extra`` more bytes a pixel, fit ``budget`` bytes."""
        per_row = max(1, self.width) * (self.cost + extra)
        # a tenth is left to what is not counted by the pixel (buffers, the encoders' state)
        return max(1, int(budget) * 9 // 10 // per_row - 2 * self.overlap)

    def strips(self, rows: int, y0: int = 0, y1: int | None = None) -> Iterator[tuple[int, NDArray[Any]]]:
        """(first row, strip) of ``rows`` rows (the last may be shorter) from ``y0`` to ``y1``."""
        end = self.height if y1 is None else y1
        for a in range(y0, end, rows):
            b = min(end, a + rows)
            yield a, self._checked(self.read(a, b), b - a)

    def assemble(self, budget: int) -> NDArray[Any]:
        """The whole raster as one array, made in strips of at most ``budget`` bytes."""
        out = np.empty(self.shape, dtype=self.dtype)
        for y0, strip in self.strips(self.strip_rows(budget)):
            out[y0:y0 + len(strip)] = strip
            del strip  # before the next is made: one strip at a time
        return out

    def _checked(self, strip: NDArray[Any], rows: int) -> NDArray[Any]:
        strip = np.asarray(strip)
        shape = (rows,) + self.shape[1:]
        if strip.shape != shape:
            raise ParameterError(f"a strip of {rows} rows has shape {strip.shape}, expected {shape}")
        return strip.astype(self.dtype, copy=False)


def array_rows(array: NDArray[Any], dtype: Any = None) -> Rows:
    """:class:`Rows` of an (H, W) or (H, W, 3) array or memory map, cast to ``dtype``."""
    shape = array.shape
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in (1, 3)):
        raise ParameterError(f"expected an (H, W) or (H, W, 3) array, got shape {shape}")
    channels = 1 if len(shape) == 2 else shape[2]
    target = np.dtype(array.dtype if dtype is None else dtype)
    if channels == 1 and len(shape) == 3:
        return Rows(shape[0], shape[1], 1, target, lambda y0, y1: np.asarray(array[y0:y1, :, 0]).astype(target),
                    array.dtype.itemsize + target.itemsize)
    return Rows(shape[0], shape[1], channels, target, lambda y0, y1: np.asarray(array[y0:y1]).astype(target),
                channels * (array.dtype.itemsize + target.itemsize))


def label_rows(labels: NDArray[np.integer], dtype: Any) -> Rows:
    """:class:`Rows` of a label map (an array or a memory map) as ``dtype``."""
    labels = _label_map(labels)
    return array_rows(labels, dtype)


def mode_rows(labels: NDArray[np.integer], modes_rgb: NDArray[np.uint8], *, start_label: int = 0) -> Rows:
    """:class:`Rows` of the mode-colour picture: pixel labelled ``k`` painted
    ``modes_rgb[k - start_label]``, black where ``k < start_label`` (nodata)."""
    from . import _render as render

    labels = _label_map(labels)
    table = render.colour_table(np.asarray(modes_rgb, dtype=np.uint8), start_label)
    height, width = labels.shape
    return Rows(height, width, 3, np.dtype(np.uint8), lambda y0, y1: render.mode_rows(labels, table, y0, y1),
                labels.dtype.itemsize + 8 + 3)


def boundary_rows(
    labels: NDArray[np.integer],
    image_rows: Callable[[int, int], NDArray[Any]],
    *,
    colour: tuple[int, int, int] = (255, 0, 0),
    thickness: int | None = None,
) -> Rows:
    """:class:`Rows` of the boundary overlay (:func:`segshift._render.draw_boundaries`),
    the image read through ``image_rows(y0, y1)`` -> (y1 - y0, W, 3) float32 in [0, 1]."""
    from . import _render as render

    labels = _label_map(labels)
    height, width = labels.shape
    t = render.boundary_thickness(height, width) if thickness is None else render.check_thickness(thickness)
    colour = tuple(int(c) for c in colour)
    return Rows(height, width, 3, np.dtype(np.uint8),
                lambda y0, y1: render.boundary_rows(labels, image_rows, y0, y1, colour, t),
                # labels, masks and their filters; image rows, x255, rounded, clipped, uint8
                labels.dtype.itemsize + 8 + 4 * 12 + 3, overlap=t)


def ucm_rows(ucm: NDArray[np.floating], top: float | None = None) -> Rows:
    """:class:`Rows` of a UCM: float64 heights, or with ``top`` (the largest
    height) the 16-bit values of :func:`encode_ucm`'s PNG."""
    ucm = np.asarray(ucm) if not isinstance(ucm, np.ndarray) else ucm
    if ucm.ndim != 2:
        raise ParameterError(f"a UCM is (H, W), got shape {ucm.shape}")
    if top is None:
        return array_rows(ucm, np.float64)
    scale = 65535.0 / top if top > 0 else 0.0

    def read(y0: int, y1: int) -> NDArray[np.uint16]:
        heights = np.asarray(ucm[y0:y1], dtype=np.float64)
        scaled = np.round(heights * scale).astype(np.uint16)
        scaled[(heights > 0) & (scaled == 0)] = 1  # a border stays a border
        return scaled

    return Rows(ucm.shape[0], ucm.shape[1], 1, np.dtype(np.uint16), read, 8 + 8 + 2 + 2)


def _label_map(labels: NDArray[np.integer]) -> NDArray[np.integer]:
    """``labels`` as an (H, W) integer array, a memory map staying one."""
    if not isinstance(labels, np.ndarray):
        labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ParameterError(f"a label map is an (H, W) array of integers, got {labels.dtype} of shape {labels.shape}")
    return labels


def _label_range(labels: NDArray[np.integer], budget: int) -> tuple[int, int]:
    """(smallest, largest) label, read in strips; (0, -1) for an empty map."""
    rows = label_rows(labels, labels.dtype)
    lows, tops = [], []
    for _, strip in rows.strips(rows.strip_rows(budget)):
        if strip.size:
            lows.append(int(strip.min()))
            tops.append(int(strip.max()))
        del strip
    return (min(lows), max(tops)) if lows else (0, -1)


# --------------------------------------------------------------------------- #
# Encoders: rows -> PNG, TIFF, NPY, Pillow formats
# --------------------------------------------------------------------------- #


def _png_chunk(handle: IO[bytes], tag: bytes, data: bytes | bytearray | memoryview) -> None:
    handle.write(struct.pack(">I", len(data)))
    handle.write(tag)
    handle.write(data)
    handle.write(struct.pack(">I", zlib.crc32(data, zlib.crc32(tag)) & 0xFFFFFFFF))


def _png_filter(raw: NDArray[np.uint8], previous: NDArray[np.uint8], bpp: int) -> NDArray[np.uint8]:
    """Rows ``raw`` (h, n) with their PNG filter byte: of None, Sub, Up,
    Average and Paeth, the one with the smallest sum of |signed bytes| (as
    libpng chooses), each row deciding from itself and the row above only."""
    h, n = raw.shape
    up = np.empty_like(raw)
    up[0] = previous
    up[1:] = raw[:-1]
    left = np.zeros_like(raw)
    left[:, bpp:] = raw[:, :-bpp]
    corner = np.zeros_like(raw)
    corner[:, bpp:] = up[:, :-bpp]
    candidates = np.empty((5, h, n), dtype=np.uint8)
    candidates[0] = raw
    np.subtract(raw, left, out=candidates[1])  # uint8 arithmetic wraps, as PNG's does
    np.subtract(raw, up, out=candidates[2])
    average = left.astype(np.uint16)
    average += up
    average >>= 1
    np.subtract(raw, average.astype(np.uint8), out=candidates[3])
    del average
    # Paeth: pa = |b - c|, pb = |a - c|, pc = |a + b - 2c|
    c = corner.astype(np.int16)
    pb = left.astype(np.int16)
    pb -= c
    pa = up.astype(np.int16)
    pa -= c
    del c
    pc = pa + pb
    np.abs(pc, out=pc)
    np.abs(pa, out=pa)
    np.abs(pb, out=pb)
    predictor = np.where(pb <= pc, up, corner)
    np.copyto(predictor, left, where=(pa <= pb) & (pa <= pc))
    del pa, pb, pc, left, up, corner
    np.subtract(raw, predictor, out=candidates[4])
    del predictor
    costs = np.add.reduce(np.abs(candidates.view(np.int8)).view(np.uint8), axis=2, dtype=np.int64)
    choice = np.argmin(costs, axis=0)
    out = np.empty((h, n + 1), dtype=np.uint8)
    out[:, 0] = choice
    out[:, 1:] = candidates[choice, np.arange(h)]
    return out


def _encode_png(handle: IO[bytes], rows: Rows, budget: int, *, text: Mapping[str, str] | None = None) -> None:
    """A PNG (8-bit gray or RGB, 16-bit gray) written as the strips are made:
    IHDR, tEXt, IDAT chunks of :data:`PNG_CHUNK` bytes, IEND."""
    depth = np.dtype(rows.dtype).itemsize * 8
    if depth not in (8, 16) or np.dtype(rows.dtype).kind != "u" or rows.channels not in (1, 3):
        raise ParameterError(f"PNG holds 8-bit gray or RGB and 16-bit gray, not {rows.channels} x {rows.dtype}")
    if rows.height < 1 or rows.width < 1 or rows.height > 2**31 - 1 or rows.width > 2**31 - 1:
        raise ParameterError(f"a PNG cannot hold a {rows.width}x{rows.height} picture")
    bpp = rows.pixel_bytes
    row_bytes = rows.width * bpp
    handle.write(_PNG_SIGNATURE)
    _png_chunk(handle, b"IHDR", struct.pack(">IIBBBBB", rows.width, rows.height, depth,
                                            2 if rows.channels == 3 else 0, 0, 0, 0))
    for key, value in (text or {}).items():
        _png_chunk(handle, b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1"))
    compressor = zlib.compressobj(ZLIB_LEVEL)
    pending = bytearray()
    previous = np.zeros(row_bytes, dtype=np.uint8)
    big_endian = np.dtype(rows.dtype).newbyteorder(">")
    step = max(1, PNG_FILTER_BYTES // row_bytes)  # the filter's temporaries stay in cache
    filtering = 32 * max(PNG_FILTER_BYTES, row_bytes)
    for _, strip in rows.strips(rows.strip_rows(max(1, budget - filtering), PNG_BYTES_PER_BYTE * bpp)):
        raw = np.ascontiguousarray(strip, dtype=big_endian).view(np.uint8).reshape(len(strip), row_bytes)
        del strip
        for a in range(0, len(raw), step):
            # deflate's output does not depend on how its input is split, so
            # neither do the chunks: the bytes are those of any strip height
            pending += compressor.compress(_png_filter(raw[a:a + step], previous, bpp))
            previous = raw[min(a + step, len(raw)) - 1]
            while len(pending) >= PNG_CHUNK:
                _png_chunk(handle, b"IDAT", memoryview(pending)[:PNG_CHUNK])
                del pending[:PNG_CHUNK]
        previous = previous.copy()
        del raw
    pending += compressor.flush()
    for start in range(0, len(pending), PNG_CHUNK):
        _png_chunk(handle, b"IDAT", memoryview(pending)[start:start + PNG_CHUNK])
    _png_chunk(handle, b"IEND", b"")


def _encode_tiff(handle: IO[bytes], rows: Rows, budget: int) -> None:
    """A tiled, zlib-compressed (Big)TIFF whose tiles are made a row of tiles at a time."""
    import tifffile

    if rows.height < 1 or rows.width < 1:
        raise ParameterError(f"a TIFF cannot hold a {rows.width}x{rows.height} picture")
    tile = TIFF_TILE
    while tile > 16 and 3 * tile * rows.width * rows.pixel_bytes > budget:
        tile //= 2
    band_bytes = tile * rows.width * rows.pixel_bytes
    strip = min(tile, rows.strip_rows(max(1, budget - band_bytes - tile * tile * rows.pixel_bytes)))
    tail = rows.shape[2:]

    def tiles() -> Iterator[NDArray[Any]]:
        band = np.zeros((tile, rows.width) + tail, dtype=rows.dtype)
        block = np.zeros((tile, tile) + tail, dtype=rows.dtype)
        for ty in range(0, rows.height, tile):
            h = min(tile, rows.height - ty)
            for y0, part in rows.strips(strip, ty, ty + h):
                band[y0 - ty:y0 - ty + len(part)] = part
                del part
            band[h:] = 0
            for tx in range(0, rows.width, tile):
                w = min(tile, rows.width - tx)
                block[:, :w] = band[:, tx:tx + w]
                block[:, w:] = 0
                yield block

    photometric = "rgb" if rows.channels == 3 else "minisblack"
    bigtiff = rows.height * rows.width * rows.pixel_bytes > BIGTIFF_BYTES
    tifffile.imwrite(handle, data=tiles(), shape=rows.shape, dtype=rows.dtype, tile=(tile, tile),
                     photometric=photometric, compression="zlib", compressionargs={"level": ZLIB_LEVEL},
                     predictor=np.dtype(rows.dtype).kind in "ui", bigtiff=bigtiff, metadata=None, maxworkers=1)


#: Pillow's save options for the formats it encodes.
_PILLOW_OPTIONS: dict[str, dict[str, Any]] = {
    # JPEG at quality 95 with 4:4:4 chroma so that region edges stay sharp; WebP lossless
    "JPEG": {"quality": 95, "subsampling": 0},
    "WEBP": {"lossless": True},
    "BMP": {},
}


def _check_whole(target: Any, ext: str, height: int, width: int, budget: int | None) -> None:
    """Refuse, before anything is written, a JPEG/WebP/BMP picture its format or the memory limit cannot hold."""
    name = f"{target}: " if target is not None else ""
    streamed = "write .png or .tif instead, which are written in strips"
    side = WHOLE_IMAGE_FORMATS[ext]
    if max(height, width) > side:
        raise OutputError(f"{name}{ext} pictures are at most {side} pixels a side, not {width}x{height}; {streamed}")
    if budget is not None and height * width * WHOLE_BYTES_PER_PIXEL > budget:
        need = height * width * WHOLE_BYTES_PER_PIXEL
        raise OutputError(
            f"{name}a {width}x{height} {ext} picture is encoded whole and needs about {_megabytes(need)}, "
            f"over the memory limit of {_megabytes(budget)}; {streamed}, or raise the memory limit"
        )


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 10**6 else f"{n / 1e6:.2f} MB"


def _encode_whole(handle: IO[bytes], rows: Rows, fmt: str, budget: int) -> None:
    from PIL import Image

    picture = rows.assemble(max(1, budget - rows.height * rows.width * WHOLE_BYTES_PER_PIXEL))
    Image.fromarray(picture).save(handle, format=fmt, **_PILLOW_OPTIONS[fmt])


def _encode(handle: IO[bytes], ext: str, rows: Rows, budget: int, *, text: Mapping[str, str] | None = None) -> None:
    """Write ``rows`` to an open binary file in the format of ``ext``."""
    if ext == ".png":
        _encode_png(handle, rows, budget, text=text)
    elif ext in (".tif", ".tiff"):
        _encode_tiff(handle, rows, budget)
    elif ext == ".npy":
        np.save(handle, rows.assemble(budget), allow_pickle=False)
    else:
        _encode_whole(handle, rows, IMAGE_FORMATS[ext], budget)


def _write_rows(path: PathLike, ext: str, rows: Rows, budget: int, *, text: Mapping[str, str] | None = None) -> Path:
    """Write ``rows`` to ``path`` atomically, in strips within ``budget`` bytes."""
    if ext in WHOLE_IMAGE_FORMATS:
        _check_whole(path, ext, rows.height, rows.width, budget)
    if ext == ".npy":
        with atomic_open(path, "wb") as handle:
            write_npy_strips(handle, rows.dtype, rows.shape,
                             (strip for _, strip in rows.strips(rows.strip_rows(budget))))
        return Path(path)
    if ext in (".tif", ".tiff"):  # tifffile wants a file with a name
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            _encode(handle, ext, rows, budget, text=text)
        return Path(path)
    with atomic_open(path, "wb") as handle:
        _encode(handle, ext, rows, budget, text=text)
    return Path(path)


def _bytes_of(ext: str, rows: Rows, budget: int, *, text: Mapping[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    _encode(buffer, ext, rows, budget, text=text)
    return buffer.getvalue()


def _ext(ext: str) -> str:
    return ext.lower() if ext.startswith(".") else "." + ext.lower()


# --------------------------------------------------------------------------- #
# Encoders: results -> bytes
# --------------------------------------------------------------------------- #


def encode_image(image: NDArray[np.uint8], ext: str = ".png") -> bytes:
    """Encode an RGB (or gray) uint8 picture in the format of extension ``ext``.

    Parameters
    ----------
    image : (H, W, 3) or (H, W) ndarray of uint8
    ext : str
        One of :data:`IMAGE_FORMATS` (``".png"``, ``".jpg"``, ...), with or
        without the dot.

    Returns
    -------
    bytes
        The bytes :func:`write_image` writes.

    Raises
    ------
    ParameterError
        An unsupported format.
    OutputError
        A picture larger than the format holds (JPEG 65535 pixels a side, WebP 16383).

    Notes
    -----
    PNG is written by segshift's own encoder (the one that writes huge
    pictures strip by strip, zlib level 6, the row filter libpng would
    choose); TIFF is tiled and zlib-compressed (tifffile); JPEG is written at
    quality 95 with 4:4:4 chroma so that region edges stay sharp; WebP is
    written lossless.
    """
    ext = _ext(ext)
    if ext not in IMAGE_FORMATS:
        raise ParameterError(f"image format {ext!r} is not supported; use one of {', '.join(IMAGE_FORMATS)}")
    image = np.asarray(image)
    if ext in WHOLE_IMAGE_FORMATS:
        _check_whole(None, ext, image.shape[0], image.shape[1], None)
    return _bytes_of(ext, array_rows(image, np.uint8), default_memory_limit())


def _labels_as(
    labels: NDArray[np.integer], ext: str, start_label: int, n_regions: int | None, budget: int, target: Any
) -> Rows:
    """The label map as the values ``ext`` holds, after checking they fit."""
    labels = _label_map(labels)
    if n_regions is None:
        low, top = _label_range(labels, budget)
    else:
        low, top = 0, start_label + int(n_regions) - 1
    name = f"{target}: " if target is not None else ""
    if low < 0:
        raise OutputError(f"{name}label maps hold labels >= 0, got {low}")
    regions = top - start_label + 1
    if ext == ".png" and top > MAX_PNG_LABEL:
        raise OutputError(
            f"{name}{regions:,} regions do not fit a 16-bit PNG (labels up to {top:,}, at most {MAX_PNG_LABEL:,}); "
            "write the labels to a .tif or .npy file instead"
        )
    if ext == ".npy" and top > MAX_NPY_LABEL:
        raise OutputError(f"{name}{regions:,} regions do not fit int32 labels; write the labels to a .tif file instead")
    if ext in (".tif", ".tiff") and top > MAX_TIFF_LABEL:
        raise OutputError(f"{name}{regions:,} regions do not fit uint32 labels")
    dtype = {".png": np.uint16, ".npy": np.int32, ".tif": np.uint32, ".tiff": np.uint32}[ext]
    return label_rows(labels, dtype)


def encode_labels(labels: NDArray[np.integer], ext: str = ".png", *, start_label: int = 0) -> bytes:
    """Encode a label map as a 16-bit grayscale PNG, a TIFF (uint32) or a ``.npy`` file (int32).

    Parameters
    ----------
    labels : (H, W) ndarray of int
        Region labels, from ``start_label``.
    ext : {".png", ".tif", ".tiff", ".npy"}
    start_label : int
        The first region's label (only used to count regions in messages).

    Returns
    -------
    bytes
        The bytes :func:`write_labels` writes.

    Raises
    ------
    OutputError
        A PNG cannot hold labels above 65535; the message suggests ``.tif``
        and ``.npy``.
    """
    ext = _ext(ext)
    if ext not in LABEL_FORMATS:
        raise ParameterError(f"labels format {ext!r} is not supported; use one of {', '.join(LABEL_FORMATS)}")
    budget = default_memory_limit()
    return _bytes_of(ext, _labels_as(labels, ext, start_label, None, budget, None), budget)


def _hierarchy_stats(seg: Any) -> dict[str, Any]:
    """``finest_regions`` and ``threshold`` of a level of a hierarchy; nothing without one."""
    hierarchy = getattr(seg, "hierarchy", None)
    if hierarchy is None:
        return {}
    return {"finest_regions": int(hierarchy.n_finest), "threshold": round(float(seg.threshold), 6)}


def _ucm_as(ucm: NDArray[np.floating], ext: str, budget: int) -> tuple[Rows, dict[str, str] | None]:
    """The UCM as ``ext`` holds it, and the PNG's text chunk."""
    if not isinstance(ucm, np.ndarray):
        ucm = np.asarray(ucm, dtype=np.float64)
    if ext != ".png":
        return ucm_rows(ucm), None
    rows = ucm_rows(ucm)
    top = 0.0
    for _, strip in rows.strips(rows.strip_rows(budget)):
        if strip.size:
            top = max(top, float(strip.max()))
        del strip
    return ucm_rows(ucm, top), {"segshift:ucm_max": repr(top)}


def encode_ucm(ucm: NDArray[np.floating], ext: str = ".png") -> bytes:
    """Encode an ultrametric contour map as a 16-bit grayscale PNG, a float64 TIFF or a ``.npy`` file.

    The PNG holds ``round(ucm / ucm.max() * 65535)``: 0 stays 0 (inside the
    finest regions), the highest border is 65535, and the order of the
    heights is kept (heights closer than ``ucm.max() / 65535`` may share a
    value). The largest height is stored in the PNG's text chunk
    ``segshift:ucm_max``, so ``png / 65535 * ucm_max`` gives the heights
    back to 16 bits. ``.tif`` and ``.npy`` keep the float64 heights exactly.

    Parameters
    ----------
    ucm : (H, W) ndarray of float
        Heights >= 0 (:attr:`segshift.Segmentation.ucm`).
    ext : {".png", ".tif", ".tiff", ".npy"}

    Returns
    -------
    bytes
        The bytes :func:`write_ucm` writes.
    """
    ext = _ext(ext)
    if ext not in UCM_FORMATS:
        raise ParameterError(f"UCM format {ext!r} is not supported; use one of {', '.join(UCM_FORMATS)}")
    budget = default_memory_limit()
    rows, text = _ucm_as(ucm, ext, budget)
    return _bytes_of(ext, rows, budget, text=text)


def _start_label(seg: Any) -> int:
    return int(getattr(seg, "start_label", 0))


def _region_extents(
    labels: NDArray[np.integer], n: int, start_label: int, budget: int
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Coordinate sums (n, 2) and boxes (n, 4) of regions ``start_label ..
    start_label + n - 1`` (:func:`segshift._region_kernels.extents`), read in strips."""
    from ._region_kernels import extents

    labels = _label_map(labels)
    height, width = labels.shape
    if type(labels) is np.ndarray:  # in memory: one pass (labels below start_label in the slots cut off)
        sums, boxes = extents(np.ascontiguousarray(labels), n + start_label)
        return sums[start_label:], boxes[start_label:]
    sums = np.zeros((n, 2))
    boxes = np.zeros((n, 4), dtype=np.int64)
    seen = np.zeros(n, dtype=bool)
    rows = max(1, budget // (max(width, 1) * 48))
    for y0 in range(0, height, rows):
        strip = np.asarray(labels[y0:y0 + rows]).astype(np.int64) - start_label
        if strip.size == 0:
            continue
        if n + 1 <= strip.size:  # the regions' own numbers (nodata in slot n)
            ids = np.arange(n + 1)
            local = np.where((strip < 0) | (strip >= n), n, strip)
        else:  # few pixels for many regions: number those present
            ids, local = np.unique(strip, return_inverse=True)
            local = local.reshape(strip.shape)
        m = len(ids)
        part_sums, part_boxes = extents(np.ascontiguousarray(local), m)
        counts = np.bincount(local.ravel(), minlength=m)
        keep = (counts > 0) & (ids >= 0) & (ids < n)
        ids, counts, part_sums, part_boxes = ids[keep], counts[keep], part_sums[keep], part_boxes[keep]
        sums[ids, 0] += part_sums[:, 0]
        sums[ids, 1] += part_sums[:, 1] + y0 * counts
        part_boxes[:, 1] += y0
        part_boxes[:, 3] += y0
        new = ~seen[ids]
        boxes[ids[new]] = part_boxes[new]
        old, grown = ids[~new], part_boxes[~new]
        boxes[old, 0] = np.minimum(boxes[old, 0], grown[:, 0])
        boxes[old, 2] = np.maximum(boxes[old, 2], grown[:, 2])
        boxes[old, 3] = grown[:, 3]  # strips come top to bottom
        seen[ids] = True
    return sums, boxes


def _stats_parts(
    seg: Any, source: PathLike | None, budget: int
) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """The statistics of :func:`segmentation_stats` without ``regions``, and the regions one by one."""
    from ._version import __version__

    height, width = seg.labels.shape
    n = int(seg.n_regions)
    start = _start_label(seg)
    areas = np.asarray(seg.areas, dtype=np.int64)
    sums, boxes = _region_extents(seg.labels, n, start, budget)  # coordinate sums and boxes
    safe = np.maximum(areas, 1)
    cx = sums[:, 0] / safe
    cy = sums[:, 1] / safe

    def regions() -> Iterator[dict[str, Any]]:
        for k in range(n):
            yield {
                "label": k + start,
                "area": int(areas[k]),
                "rgb": [int(c) for c in seg.modes_rgb[k]],
                "luv": [round(float(c), 3) for c in seg.modes_luv[k]],
                "bbox": [int(v) for v in boxes[k]],
                "centroid": [round(float(cx[k]), 2), round(float(cy[k]), 2)],
            }

    head = {
        "segshift_version": __version__,
        "input": None if source is None else str(source),
        "params": seg.params.resolved() if hasattr(seg.params, "resolved") else dict(seg.params),
        "width": int(width),
        "height": int(height),
        "n_regions": n,
        "seconds": round(float(seg.seconds), 4),
        **_hierarchy_stats(seg),
        "bbox_format": "[x_min, y_min, x_max, y_max], pixels, maxima exclusive",
    }
    return head, regions()


def segmentation_stats(
    seg: Any, *, source: PathLike | None = None, memory_limit: int | None = None
) -> dict[str, Any]:
    """Describe a segmentation and each of its regions as plain JSON-ready data.

    Parameters
    ----------
    seg : Segmentation
        The result of :func:`segshift.segment` (its label map may be a
        memory map: it is read in strips).
    source : str or path-like, optional
        The input file, recorded as ``"input"``.
    memory_limit : int, optional
        Bytes a strip of the label map may take (default
        :func:`default_memory_limit`).

    Returns
    -------
    dict
        ``segshift_version``, ``input``, ``params``, ``width``, ``height``,
        ``n_regions``, ``seconds``, with a hierarchy ``finest_regions`` and
        ``threshold`` (the merge height of the level), ``bbox_format`` and ``regions``: one dict
        per region with ``label``, ``area`` (pixels), ``rgb`` (mode colour,
        8-bit sRGB), ``luv`` (mode colour, CIE L*u*v*), ``bbox``
        (``[x_min, y_min, x_max, y_max]`` in pixels, maxima exclusive, so
        ``labels[y_min:y_max, x_min:x_max]`` holds the region) and
        ``centroid`` (``[x, y]``, mean pixel position).
    """
    head, regions = _stats_parts(seg, source, _budget(memory_limit))
    return {**head, "regions": list(regions)}


def _stats_text(stats: Mapping[str, Any]) -> Iterator[str]:
    """The text of :func:`encode_stats` in pieces; ``stats["regions"]`` may be any iterable."""
    head = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in stats.items() if k != "regions"]
    yield "{\n" + ",\n".join(head)
    if "regions" in stats:
        yield ",\n" if head else ""
        yield '  "regions": ['
        first = True
        for region in stats["regions"]:
            yield ("\n    " if first else ",\n    ") + json.dumps(region)
            first = False
        yield "]" if first else "\n  ]"
    yield "\n}\n"


def encode_stats(stats: Mapping[str, Any]) -> bytes:
    """JSON text of :func:`segmentation_stats`, one region per line, UTF-8."""
    return "".join(_stats_text(stats)).encode("utf-8")


def write_stats(path: PathLike, stats: Mapping[str, Any]) -> Path:
    """Write :func:`encode_stats`'s text to ``path`` atomically, a region at a time.

    ``stats["regions"]`` may be any iterable (a generator), so that the
    regions of a huge image need not be held as a list
    (:meth:`segshift.RegionTable.as_stats` gives a dict to pass as it is).
    """
    output_format(path, "stats")
    with atomic_open(path, "w") as handle:
        pieces: list[str] = []
        size = 0
        for piece in _stats_text(stats):
            pieces.append(piece)
            size += len(piece)
            if size > 1 << 20:
                handle.write("".join(pieces))
                pieces, size = [], 0
        handle.write("".join(pieces))
    return Path(path)


def encode_manifest(records: Sequence[Mapping[str, Any]], ext: str = ".json") -> bytes:
    """Encode batch records as JSON (a list, one record per line) or CSV.

    Parameters
    ----------
    records : sequence of mapping
        With the keys of :data:`MANIFEST_FIELDS`; ``outputs`` is a list of
        paths (joined with ``;`` in CSV; a path holding ``;``, ``"`` or a
        line break is quoted as in CSV).
    ext : {".json", ".csv"}

    Returns
    -------
    bytes
    """
    ext = ext.lower() if ext.startswith(".") else "." + ext.lower()
    rows = [{key: record.get(key) for key in MANIFEST_FIELDS} for record in records]
    if ext == ".json":
        body = ",\n".join("  " + json.dumps(row) for row in rows)
        return ("[\n" + body + "\n]\n" if rows else "[]\n").encode("utf-8")
    if ext == ".csv":
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            row = dict(row)
            row["outputs"] = _join_outputs(row.get("outputs") or [])
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        # Names that are not UTF-8 (POSIX bytes, held as surrogates) stay the same bytes.
        return buffer.getvalue().encode("utf-8", "surrogateescape")
    raise ParameterError(f"manifest format {ext!r} is not supported; use one of {', '.join(MANIFEST_FORMATS)}")


def _join_outputs(paths: Sequence[str]) -> str:
    """The CSV cell of a list of outputs: ``a.png;a.stats.json``, quoted as CSV where a name holds ``;``."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerow(paths)  # quotes names with \r or \n
    return buffer.getvalue()[:-2]


def _split_outputs(cell: str) -> list[str]:
    """Inverse of :func:`_join_outputs`."""
    if not cell:
        return []
    return [p for p in next(csv.reader(io.StringIO(cell, newline=""), delimiter=";")) if p]


def read_manifest(path: PathLike) -> list[dict[str, Any]]:
    """Read a manifest written by :func:`encode_manifest` (JSON or CSV).

    Returns an empty list when the file is missing or unreadable: a manifest
    is a record of past runs, never needed to run again.
    """
    target = Path(path)
    try:
        text = target.read_bytes().decode("utf-8", "surrogateescape")
    except OSError:
        return []
    try:
        if target.suffix.lower() == ".csv":
            rows: list[dict[str, Any]] = []
            for row in csv.DictReader(io.StringIO(text)):
                record: dict[str, Any] = dict(row)
                record["outputs"] = _split_outputs(row.get("outputs") or "")
                record["regions"] = int(row["regions"]) if row.get("regions") else None
                record["seconds"] = float(row["seconds"]) if row.get("seconds") else None
                record["error"] = row.get("error") or None
                rows.append(record)
            return rows
        data = json.loads(text)
    except (ValueError, KeyError, csv.Error):
        return []
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


# --------------------------------------------------------------------------- #
# Writers: results -> files
# --------------------------------------------------------------------------- #


def write_manifest(path: PathLike, records: Sequence[Mapping[str, Any]]) -> Path:
    """Write batch records as ``.json`` or ``.csv`` (by extension), atomically."""
    return write_atomic(path, encode_manifest(records, output_format(path, "manifest")))


def write_image(path: PathLike, image: NDArray[np.uint8], *, memory_limit: int | None = None) -> Path:
    """Write an (H, W, 3) or (H, W) uint8 picture (an array or a memory map), atomically.

    ``.png`` and ``.tif`` are written in strips of at most ``memory_limit``
    bytes; ``.jpg``, ``.webp`` and ``.bmp`` are encoded whole, and refused
    (before anything is written) when that does not fit ``memory_limit``.
    """
    ext = output_format(path, "image")
    return _write_rows(path, ext, array_rows(image, np.uint8), _budget(memory_limit))


def write_labels(
    path: PathLike,
    labels: NDArray[np.integer],
    *,
    start_label: int = 0,
    n_regions: int | None = None,
    memory_limit: int | None = None,
) -> Path:
    """Write a label map (an array, or a memory map of a huge image), atomically, in strips.

    Parameters
    ----------
    path : str or path-like
        ``.png`` (16-bit grayscale, labels up to 65535), ``.tif``/``.tiff``
        (tiled, zlib-compressed uint32, BigTIFF when over 2 GB
        uncompressed) or ``.npy`` (int32).
    labels : (H, W) ndarray or memmap of int
        Region labels from ``start_label`` (smaller values are nodata).
    start_label : int
        The first region's label.
    n_regions : int, optional
        Regions (the largest label is ``start_label + n_regions - 1``);
        default read from ``labels`` (one more pass).
    memory_limit : int, optional
        Bytes a strip and its encoding may take (default
        :func:`default_memory_limit`). It decides how many rows are read at a
        time, never the pixels written.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    OutputError
        The labels do not fit the format (the one-line message names the
        formats that hold them), or the file cannot be written; nothing is
        left behind.
    """
    ext = output_format(path, "labels")
    budget = _budget(memory_limit)
    return _write_rows(path, ext, _labels_as(labels, ext, start_label, n_regions, budget, path), budget)


def write_modes(
    path: PathLike,
    labels: NDArray[np.integer],
    modes_rgb: NDArray[np.uint8],
    *,
    start_label: int = 0,
    memory_limit: int | None = None,
) -> Path:
    """Write the mode-colour picture (each pixel its region's ``modes_rgb``), atomically, in strips.

    Parameters
    ----------
    path : str or path-like
        A picture format (:data:`IMAGE_FORMATS`).
    labels : (H, W) ndarray or memmap of int
        Region labels from ``start_label``; smaller values (nodata) are painted black.
    modes_rgb : (n_regions, 3) ndarray of uint8
        Colour of the region labelled ``start_label + k`` at row ``k``.
    start_label : int
    memory_limit : int, optional
        See :func:`write_labels`; JPEG, WebP and BMP pictures that do not fit
        it whole are refused before anything is written.

    Returns
    -------
    pathlib.Path
    """
    ext = output_format(path, "image")
    return _write_rows(path, ext, mode_rows(labels, modes_rgb, start_label=start_label), _budget(memory_limit))


def write_boundaries(
    path: PathLike,
    labels: NDArray[np.integer],
    image_rows: Callable[[int, int], NDArray[Any]],
    *,
    colour: tuple[int, int, int] = (255, 0, 0),
    thickness: int | None = None,
    memory_limit: int | None = None,
) -> Path:
    """Write the image with the region boundaries drawn over it, atomically, in strips.

    Parameters
    ----------
    path : str or path-like
        A picture format (:data:`IMAGE_FORMATS`).
    labels : (H, W) ndarray or memmap of int
    image_rows : callable
        ``image_rows(y0, y1)`` -> (y1 - y0, W, 3) float32 RGB in [0, 1]
        (:meth:`segshift.Segmentation.image_rows`; a tiled run reads its file).
    colour : (int, int, int)
    thickness : int, optional
        Outline width in pixels; default
        :func:`segshift._render.boundary_thickness` (1 up to about 2
        megapixels, thicker beyond so that outlines stay visible on a screen).
    memory_limit : int, optional
        See :func:`write_modes`.

    Returns
    -------
    pathlib.Path
    """
    ext = output_format(path, "image")
    rows = boundary_rows(labels, image_rows, colour=colour, thickness=thickness)
    return _write_rows(path, ext, rows, _budget(memory_limit))


def write_label_colours(
    path: PathLike,
    labels: NDArray[np.integer],
    n_regions: int,
    *,
    start_label: int = 0,
    seed: int = 0,
    memory_limit: int | None = None,
) -> Path:
    """Write every region in a random colour (:meth:`segshift.Segmentation.label_image`),
    atomically, in strips: a label map to look at (the 16-bit label PNG is data
    and shows nearly black)."""
    from . import _render as render

    ext = output_format(path, "image")
    rows = mode_rows(labels, render.random_colours(int(n_regions), seed), start_label=start_label)
    return _write_rows(path, ext, rows, _budget(memory_limit))


def write_ucm(path: PathLike, ucm: NDArray[np.floating], *, memory_limit: int | None = None) -> Path:
    """Write an ultrametric contour map (an array or a memory map) as :func:`encode_ucm` encodes it,
    atomically, in strips (a PNG reads the map twice: its largest height first)."""
    ext = output_format(path, "ucm")
    budget = _budget(memory_limit)
    rows, text = _ucm_as(ucm, ext, budget)
    return _write_rows(path, ext, rows, budget, text=text)


#: Kinds :func:`write_output` writes: those of :data:`OUTPUT_KINDS` and the
#: random-colour label picture.
WRITE_KINDS: dict[str, str] = {**OUTPUT_KINDS, "label_colours": "image"}


def _image_rows(seg: Any) -> Callable[[int, int], NDArray[Any]]:
    reader = getattr(seg, "image_rows", None)
    if reader is not None:
        return reader
    image = seg.image
    return lambda y0, y1: image[y0:y1]


def _seg_ucm(seg: Any) -> NDArray[np.float64]:
    ucm = seg.ucm  # computed on each access: once
    if ucm is None:
        raise ParameterError("a UCM needs the region hierarchy; it cannot be written with scale='fixed'")
    return ucm


def write_output(
    kind: str, path: PathLike, seg: Any, *, source: PathLike | None = None, memory_limit: int | None = None
) -> Path:
    """Write one kind of output of a segmentation, atomically.

    Parameters
    ----------
    kind : {"modes", "boundaries", "labels", "ucm", "stats", "label_colours"}
        Mode-colour picture, boundaries over the input, label map, contour
        map, JSON statistics, or every region in a random colour.
    path : str or path-like
        Target file; the format follows its extension.
    seg : Segmentation
        Its ``labels`` may be an array or a memory map; labels are numbered
        from ``seg.start_label`` (0 when it has none).
    source : path-like, optional
        The input file (recorded in the statistics).
    memory_limit : int, optional
        Bytes the writing may take besides the segmentation (default
        :func:`default_memory_limit`); see :func:`write_labels`.

    Returns
    -------
    pathlib.Path
        The same bytes :func:`encode_output` gives.

    Raises
    ------
    ParameterError
        Unknown kind or unsupported extension.
    OutputError
        The file cannot be written, or the output does not fit the format
        (too many labels for PNG; a JPEG/WebP/BMP over the memory limit or
        its format's size); nothing is then left behind.
    """
    if kind not in WRITE_KINDS:
        raise ParameterError(f"output kind must be one of {', '.join(WRITE_KINDS)}; got {kind!r}")
    output_format(path, WRITE_KINDS[kind])
    budget = _budget(memory_limit)
    start = _start_label(seg)
    if kind == "modes":
        return write_modes(path, seg.labels, seg.modes_rgb, start_label=start, memory_limit=budget)
    if kind == "boundaries":
        return write_boundaries(path, seg.labels, _image_rows(seg), memory_limit=budget)
    if kind == "label_colours":
        return write_label_colours(path, seg.labels, seg.n_regions, start_label=start, memory_limit=budget)
    if kind == "labels":
        return write_labels(path, seg.labels, start_label=start, n_regions=seg.n_regions, memory_limit=budget)
    if kind == "ucm":
        return write_ucm(path, _seg_ucm(seg), memory_limit=budget)
    head, regions = _stats_parts(seg, source, budget)
    return write_stats(path, {**head, "regions": regions})


def encode_output(
    kind: str, seg: Any, ext: str, *, source: PathLike | None = None, memory_limit: int | None = None
) -> bytes:
    """Bytes of one kind of output (see :func:`write_output`), for stdout.

    Raises
    ------
    OutputError
        As :func:`write_output`; a JPEG, WebP or BMP is also refused when it
        does not fit ``memory_limit``.
    """
    if kind not in WRITE_KINDS:
        raise ParameterError(f"output kind must be one of {', '.join(WRITE_KINDS)}; got {kind!r}")
    ext = _ext(ext)
    if ext not in FORMATS[OUTPUT_KINDS.get(kind, "image")]:
        supported = FORMATS[OUTPUT_KINDS.get(kind, "image")]
        raise ParameterError(f"{kind} format {ext!r} is not supported; use one of {', '.join(supported)}")
    budget = _budget(memory_limit)
    start = _start_label(seg)
    if kind == "stats":
        head, regions = _stats_parts(seg, source, budget)
        return encode_stats({**head, "regions": regions})
    text = None
    if kind == "modes":
        rows = mode_rows(seg.labels, seg.modes_rgb, start_label=start)
    elif kind == "boundaries":
        rows = boundary_rows(seg.labels, _image_rows(seg))
    elif kind == "label_colours":
        from . import _render as render

        rows = mode_rows(seg.labels, render.random_colours(int(seg.n_regions)), start_label=start)
    elif kind == "labels":
        rows = _labels_as(seg.labels, ext, start, seg.n_regions, budget, None)
    else:
        rows, text = _ucm_as(_seg_ucm(seg), ext, budget)
    if ext in WHOLE_IMAGE_FORMATS:
        _check_whole(None, ext, rows.height, rows.width, budget)
    return _bytes_of(ext, rows, budget, text=text)


def check_output_fits(
    kind: str, path: PathLike, shape: tuple[int, int], *, n_regions: int | None = None,
    start_label: int = 0, memory_limit: int | None = None,
) -> None:
    """Check, before any work, that an output of a segmentation of ``shape`` can be written.

    Raises :class:`~segshift.errors.OutputError` with the one-line message
    :func:`write_output` would give for a JPEG/WebP/BMP picture over its
    format's size or the memory limit, or for labels that do not fit the
    format (when ``n_regions`` is known).
    """
    if kind not in WRITE_KINDS:
        raise ParameterError(f"output kind must be one of {', '.join(WRITE_KINDS)}; got {kind!r}")
    ext = output_format(path, WRITE_KINDS[kind])
    height, width = shape
    if ext in WHOLE_IMAGE_FORMATS:
        _check_whole(path, ext, height, width, _budget(memory_limit))
    if kind == "labels" and n_regions is not None:
        _labels_as(np.zeros((1, 1), dtype=np.int32), ext, start_label, n_regions, 1, path)
