"""Raster files read in windows, for images too large to hold in memory.

:func:`open_raster` opens a file and returns a :class:`Raster`, whose
:meth:`Raster.read` decodes one rectangle of pixels. TIFF and BigTIFF files
(tiled or striped, any compression tifffile decodes) are read lazily: only
the tiles or strips a window touches are read and decoded. Other formats
(JPEG, PNG, WebP, ...) have decoders that read whole images; they are decoded
whole when that fits the memory limit, and refused otherwise, with a message
that says so.

Before anything is allocated, :func:`open_raster` checks what a TIFF header
declares against the file and the limits (dimensions, tile or strip sizes,
offsets and byte counts, sample type, and the declared pixel data against
the file size and how far its compression can expand it): a corrupt or
hostile file ends in one :class:`~segshift.errors.ImageReadError` naming the
file and the problem, and reads stay bounded by the validated sizes. The
decoders' warnings and tifffile's log records go to the ``segshift._raster``
logger.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .errors import ImageError, ImageReadError
from ._loader import _check_file, _reason, _sniff, _to_rgb, library_messages

_log = logging.getLogger("segshift._raster")

#: Sample types read in windows: their scaling to [0, 1] does not depend on
#: the values (unlike other integer types, see segshift.load_image).
WINDOW_DTYPES = ("uint8", "uint16", "float32", "float64", "bool")

#: How many times its stored size the pixel data of a compression can be
#: when decoded, at most (deflate: 1032; LZW: a 12-bit code gives at most
#: 4096 bytes; PackBits: 2 bytes give 128). A header declaring more pixel data
#: than its file could expand to is corrupt. Other compressions: a bound no
#: real image comes near.
EXPANSION = {1: 1, 5: 2731, 8: 1032, 32946: 1032, 32773: 64}
OTHER_EXPANSION = 4096
#: Declared pixel data always allowed whatever the file size (sparse tiles
#: read as zeros; a few such images cost little).
SLACK_BYTES = 1 << 20
#: Working bytes a sample of one full-width row needs when windows are
#: segmented (strips of whole rows hold modes, labels and their temporaries:
#: 48 bytes a pixel of 3 channels): an image with a row wider than the memory
#: limit allows cannot be read within it.
ROW_BYTES_PER_SAMPLE = 16
#: Largest decoded tile or strip without a memory limit (one is decoded at a
#: time per reader, so this is what one read may allocate at most).
MAX_SEGMENT_BYTES = 1 << 30


@dataclass
class Raster:
    """A raster image read in windows (see :func:`open_raster`).

    Attributes
    ----------
    path : pathlib.Path
    height, width : int
    bands : int
        Samples per pixel.
    dtype : numpy.dtype
        The stored sample type.
    multiband : bool
        The bands are not RGB, gray or alpha (more than four bands, or extra
        bands that are not alpha); their values are the range space.
    lazy : bool
        Windows are decoded from the file on demand (TIFF); False when the
        whole image was decoded into memory.
    """

    path: Path
    height: int
    width: int
    bands: int
    dtype: np.dtype
    multiband: bool
    lazy: bool
    _array: np.ndarray | None = None
    _tiff: object = None
    _lock: threading.Lock | None = None
    _layout: object = None

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width)."""
        return self.height, self.width

    def read(self, y0: int, y1: int, x0: int, x1: int) -> NDArray:
        """The stored samples of rows y0..y1-1, columns x0..x1-1: (h, w, bands).

        Raises
        ------
        ImageReadError
            A tile or strip the window needs cannot be read or decoded.
        """
        if self._array is not None:
            return self._array[y0:y1, x0:x1]
        with library_messages(_log):
            return self._read_tiff(y0, y1, x0, x1)

    def read_rgb(self, y0: int, y1: int, x0: int, x1: int) -> NDArray[np.float32]:
        """A window as :func:`segshift.load_image` makes the whole image: RGB float32 in [0, 1]."""
        return _to_rgb(self.read(y0, y1, x0, x1), str(self.path), None)

    def read_bands(self, y0: int, y1: int, x0: int, x1: int) -> NDArray[np.float32]:
        """A window of a multiband raster: (h, w, bands) float32 in the bands' own units."""
        return np.ascontiguousarray(self.read(y0, y1, x0, x1), dtype=np.float32)

    def close(self) -> None:
        """Close the file."""
        if self._tiff is not None:
            self._tiff.close()
            self._tiff = None

    def __enter__(self) -> Raster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read_tiff(self, y0: int, y1: int, x0: int, x1: int) -> NDArray:
        # Every size here was checked against the file by _check_layout when
        # the raster was opened, so the loops below are bounded by the window.
        y0, y1 = max(int(y0), 0), min(int(y1), self.height)
        x0, x1 = max(int(x0), 0), min(int(x1), self.width)
        out = np.empty((max(y1 - y0, 0), max(x1 - x0, 0), self.bands), dtype=self.dtype)
        if y1 <= y0 or x1 <= x0:
            return out
        page = self._tiff.pages[0]
        layout = self._layout
        seg_h, seg_w, across, per_plane = layout.seg_h, layout.seg_w, layout.across, layout.per_plane
        kind = "tile" if layout.tiled else "strip"
        fh = self._tiff.filehandle
        for plane in range(layout.planes):
            for ty in range(y0 // seg_h, (y1 - 1) // seg_h + 1):
                for tx in range(x0 // seg_w, (x1 - 1) // seg_w + 1):
                    index = plane * per_plane + ty * across + tx
                    sy0, sx0 = ty * seg_h, tx * seg_w
                    try:
                        offset = int(layout.offsets[index])
                        count = int(layout.counts[index])
                        with self._lock:
                            fh.seek(offset)
                            data = fh.read(count) if count else None
                        if data is not None and len(data) != count:
                            raise EOFError(f"{count - len(data)} bytes missing")
                        segment, _, shape = page.decode(data, index, jpegtables=page.jpegtables)
                        rows = min(seg_h, self.height - sy0)
                        cols = min(seg_w, self.width - sx0)
                        samples = 1 if layout.planes > 1 else self.bands
                        if tuple(shape[1:]) < (rows, cols, samples) or shape[3] != samples:
                            raise ValueError(f"decodes to shape {tuple(shape[1:])}, expected {(rows, cols, samples)}")
                        if segment is None:  # an empty (sparse) segment reads as zeros
                            segment = np.zeros(shape, dtype=self.dtype)
                        segment = segment.reshape(shape[1], shape[2], shape[3])
                        a0, a1 = max(y0, sy0), min(y1, sy0 + rows)
                        b0, b1 = max(x0, sx0), min(x1, sx0 + cols)
                        bands = slice(plane, plane + 1) if layout.planes > 1 else slice(None)
                        out[a0 - y0:a1 - y0, b0 - x0:b1 - x0, bands] = segment[a0 - sy0:a1 - sy0, b0 - sx0:b1 - sx0]
                    except MemoryError:
                        raise ImageReadError(f"{self.path}: not enough memory to decode {kind} {index}") from None
                    except Exception as exc:  # noqa: BLE001 - decoders raise many kinds
                        raise ImageReadError(
                            f"{self.path}: cannot decode {kind} {index} "
                            f"(rows {sy0}-{min(self.height, sy0 + seg_h) - 1}): {_reason(exc)}"
                        ) from None
        return out


@dataclass(frozen=True)
class _Layout:
    """Where a TIFF page's tiles or strips are, as checked against its file."""

    tiled: bool
    seg_h: int
    seg_w: int
    planes: int
    across: int
    down: int
    offsets: np.ndarray
    counts: np.ndarray

    @property
    def per_plane(self) -> int:
        return self.across * self.down


def open_raster(path, *, memory_limit: int | None = None) -> Raster:
    """Open a raster file for reading in windows.

    Parameters
    ----------
    path : str or path-like
        A TIFF or BigTIFF file (tiled or striped: read lazily), or any image
        file :func:`segshift.load_image` reads (decoded whole).
    memory_limit : int, optional
        Bytes: a file that cannot be read in windows is refused when its
        decoded pixels would not fit; a TIFF, when one of its tiles or
        strips decoded, or one row of it while segmented, would not fit.

    Returns
    -------
    Raster

    Raises
    ------
    ImageReadError
        The file cannot be read, is corrupt (a TIFF header whose sizes,
        offsets or byte counts do not fit the file or the limits), or cannot
        be read in windows and is too large to decode whole; the message
        names the file and says why.
    ImageError
        The samples are of a type, or the image of a width, that cannot be
        read in windows.
    """
    path = Path(path)
    _check_file(path)
    if _sniff(path) == "TIFF" or _is_bigtiff(path):
        return _open_tiff(path, memory_limit)
    return _open_whole(path, memory_limit)


def _is_bigtiff(path: Path) -> bool:
    try:
        with open(path, "rb") as file:
            head = file.read(4)
    except OSError:
        return False
    return head in (b"II+\x00", b"MM\x00+")


def _open_tiff(path: Path, memory_limit: int | None = None) -> Raster:
    import tifffile

    with library_messages(_log):
        try:
            tif = tifffile.TiffFile(path)
        except MemoryError:
            raise ImageReadError(f"{path}: not enough memory to read the TIFF structure") from None
        except Exception as exc:  # noqa: BLE001 - a corrupt structure raises many kinds
            raise ImageReadError(f"{path}: cannot read TIFF structure ({_reason(exc)})") from None
        try:
            return _tiff_raster(path, tif, memory_limit)
        except BaseException:
            tif.close()
            raise


def _tiff_raster(path: Path, tif, memory_limit: int | None) -> Raster:
    try:
        page = tif.pages[0]
        dtype = page.dtype
        photometric = int(page.photometric)
        extras = tuple(int(e) for e in (page.extrasamples or ()))
        orientation = int(page.tags.valueof(274, 1) or 1)
        height, width = int(page.imagelength), int(page.imagewidth)
        bands = int(page.samplesperpixel)
        depth = int(page.imagedepth)
        planar = int(page.planarconfig)
    except Exception as exc:  # noqa: BLE001
        raise ImageReadError(f"{path}: cannot read TIFF structure ({_reason(exc)})") from None
    if height < 1 or width < 1:
        raise ImageReadError(f"{path}: corrupt TIFF: the image is {width}x{height} pixels")
    if bands < 1:
        raise ImageReadError(f"{path}: corrupt TIFF: {bands} samples per pixel")
    if planar not in (1, 2):
        raise ImageReadError(f"{path}: corrupt TIFF: planar configuration {planar} (must be 1 or 2)")
    if dtype is None:
        raise ImageError(
            f"{path}: TIFF sample format is not supported ({page.bitspersample}-bit, sample format {page.sampleformat})"
        )
    if depth > 1:
        raise ImageError(f"{path}: volumetric TIFF (depth {depth}) is not an image")
    if depth < 1:
        raise ImageReadError(f"{path}: corrupt TIFF: image depth {depth}")
    if orientation != 1:
        raise ImageError(f"{path}: TIFF orientation {orientation} cannot be read in windows; store it upright")
    if photometric == 3:
        raise ImageError(f"{path}: palette TIFF cannot be read in windows; store it as RGB")
    if photometric not in (0, 1, 2):
        raise ImageError(
            f"{path}: TIFF photometric interpretation {photometric} cannot be read in windows "
            "(use gray, RGB or multiband samples)"
        )
    if str(np.dtype(dtype)) not in WINDOW_DTYPES:
        raise ImageError(
            f"{path}: {np.dtype(dtype)} samples cannot be read in windows; use 8- or 16-bit unsigned or float"
        )
    alpha = bool(extras) and extras[-1] in (1, 2)
    multiband = bands > 4 or (bands >= 3 and photometric != 2) or (bands == 4 and not alpha)
    if bands == 2 and not multiband and photometric == 2:
        raise ImageError(f"{path}: RGB TIFF with 2 samples")
    layout = _check_layout(path, page, height, width, bands, planar, np.dtype(dtype), memory_limit)
    return Raster(path, height, width, bands, np.dtype(dtype), multiband, True, _tiff=tif, _lock=threading.Lock(),
                  _layout=layout)


def _positions(values) -> np.ndarray:
    """Offsets or byte counts as int64, values beyond any file clipped to 2**61 (so sums cannot overflow)."""
    try:
        array = np.asarray(values, dtype=np.uint64).ravel()
    except (OverflowError, TypeError, ValueError):  # negative or not numbers: no valid position
        array = np.array([2**61] * len(values), dtype=np.uint64)
    return np.minimum(array, 2**61).astype(np.int64)


def _check_layout(path: Path, page, height: int, width: int, bands: int, planar: int, dtype: np.dtype,
                  memory_limit: int | None) -> _Layout:
    """The page's tiles or strips, checked against the file and the limits (see the module docstring)."""
    import tifffile

    size = os.path.getsize(path)
    compression = int(page.compression)
    if compression != 1 and compression not in tifffile.TIFF.DECOMPRESSORS:
        raise ImageError(f"{path}: TIFF compression {compression} cannot be decoded (is imagecodecs installed?)")
    bits = int(page.bitspersample)
    # a tile tag makes the image tiled, even one tifffile takes for strips because its value is 0
    tiled = bool(page.is_tiled) or 322 in page.tags or 323 in page.tags
    if tiled:
        seg_h, seg_w = int(page.tags.valueof(323, 0)), int(page.tags.valueof(322, 0))
        if seg_h < 1 or seg_w < 1:
            raise ImageReadError(f"{path}: corrupt TIFF: tile size {seg_w}x{seg_h}")
        if int(page.tiledepth) != 1:
            raise ImageReadError(f"{path}: corrupt TIFF: tile depth {page.tiledepth}")
    else:
        seg_h, seg_w = int(page.rowsperstrip), width
        if seg_h < 1:
            raise ImageReadError(f"{path}: corrupt TIFF: {seg_h} rows per strip")
        seg_h = min(seg_h, height)
    planes = bands if planar == 2 else 1
    samples = bands // planes
    segment_bytes = seg_h * seg_w * samples * dtype.itemsize
    cap = MAX_SEGMENT_BYTES if memory_limit is None else min(MAX_SEGMENT_BYTES, memory_limit // 4)
    if segment_bytes > cap:
        raise ImageReadError(
            f"{path}: corrupt or unreadable TIFF: one {'tile' if tiled else 'strip'} of {seg_w}x{seg_h} pixels "
            f"decodes to {segment_bytes:,} bytes, above the {cap:,} a read may use"
        )
    if memory_limit is not None and width * max(bands, 3) * ROW_BYTES_PER_SAMPLE > memory_limit:
        raise ImageError(
            f"{path}: the image is {width:,} pixels wide: one row of it needs "
            f"{width * max(bands, 3) * ROW_BYTES_PER_SAMPLE:,} bytes of working memory, above the memory limit "
            f"({memory_limit:,} bytes)"
        )
    # bytes of the declared pixel data as stored (1-bit samples are packed)
    row_bytes = -(-width * samples * bits // 8)
    declared = height * row_bytes * planes
    expansion = EXPANSION.get(compression, OTHER_EXPANSION)
    if declared > expansion * size + SLACK_BYTES:
        raise ImageReadError(
            f"{path}: corrupt TIFF: the header declares {width}x{height} pixels of {bands} x {bits}-bit samples "
            f"({declared:,} bytes), more than a {size:,}-byte file can hold"
            + ("" if compression == 1 else f" with compression {compression}")
        )
    across, down = -(-width // seg_w), -(-height // seg_h)
    needed = planes * across * down
    offsets, counts = _positions(page.dataoffsets), _positions(page.databytecounts)
    what = "tile" if tiled else "strip"
    if len(offsets) < needed or len(counts) < needed:
        raise ImageReadError(
            f"{path}: corrupt TIFF: the image needs {needed} {what}s but the header lists "
            f"{min(len(offsets), len(counts))}"
        )
    offsets, counts = offsets[:needed], counts[:needed]
    bad = np.flatnonzero((offsets < 0) | (counts < 0) | ((counts > 0) & (offsets + counts > size)))
    if len(bad):
        k = int(bad[0])
        raise ImageReadError(
            f"{path}: corrupt TIFF: {what} {k} lies outside the file (bytes {offsets[k]}..{offsets[k] + counts[k]}, "
            f"file size {size})"
        )
    if compression == 1:
        # uncompressed: a stored tile or strip has all its bytes (the last strip may hold fewer rows)
        rows = np.full(needed, seg_h, dtype=np.int64)
        if not tiled:
            rows.reshape(planes, down)[:, -1] = height - (down - 1) * seg_h
        need_bytes = rows * -(-seg_w * samples * bits // 8)
        short = np.flatnonzero((counts > 0) & (counts < need_bytes))
        if len(short):
            k = int(short[0])
            raise ImageReadError(
                f"{path}: corrupt TIFF: uncompressed {what} {k} has {counts[k]} bytes, needs {need_bytes[k]}"
            )
    return _Layout(tiled, seg_h, seg_w, planes, across, down, offsets, counts)


def _open_whole(path: Path, memory_limit: int | None) -> Raster:
    from PIL import Image

    from ._loader import _PILLOW_GUARD, _read_file

    with _PILLOW_GUARD:
        # Pillow's bomb guard is off for the header: the memory limit decides, with segshift's message.
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            with library_messages(_log), Image.open(path) as im:
                width, height = im.size
                fmt = im.format or "this format"
        except Exception:  # noqa: BLE001 - the full decode below says what is wrong
            width = height = 0
            fmt = "this format"
        finally:
            Image.MAX_IMAGE_PIXELS = previous
    need = width * height * 3 * 4
    if memory_limit is not None and need > memory_limit:
        raise ImageReadError(
            f"{path}: {fmt} images cannot be read in parts (the decoder reads the whole image), and the decoded "
            f"image ({width}x{height}, {_sizes(need, memory_limit)[0]}) is above the memory limit "
            f"({_sizes(need, memory_limit)[1]}); "
            "convert it to a tiled TIFF or raise the memory limit"
        )
    array = _read_file(path, None)
    if array.ndim == 2:
        array = array[..., None]
    bands = array.shape[2]
    return Raster(path, array.shape[0], array.shape[1], bands, array.dtype, False, False, _array=array)


def _size(n: int) -> str:
    """A byte count for a message, to three significant digits."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def _sizes(a: int, b: int) -> tuple[str, str]:
    """Two byte counts for one message: exact when they would read alike
    (never "0.1 GB is above the limit of 0.1 GB")."""
    short = _size(a), _size(b)
    return short if short[0] != short[1] else (f"{a:,} bytes", f"{b:,} bytes")


def image_size(path) -> tuple[int, int, bool] | None:
    """(height, width, multiband) from a file's header, or None when it cannot be read
    (a FIFO, a device or a folder is not opened: reading it could block)."""
    import stat

    path = Path(path)
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return None
    except (OSError, ValueError):
        return None
    try:
        if _sniff(path) == "TIFF" or _is_bigtiff(path):
            raster = _open_tiff(path, None)
            raster.close()
            return raster.height, raster.width, raster.multiband
        from PIL import Image

        with library_messages(_log), Image.open(path) as im:
            width, height = im.size
        return height, width, False
    except Exception:  # noqa: BLE001 - the reader proper says what is wrong
        return None
