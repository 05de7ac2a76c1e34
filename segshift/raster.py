"""Raster files read in windows, for images too large to hold in memory.

:func:`open_raster` opens a file and returns a :class:`Raster`, whose
:meth:`Raster.read` decodes one rectangle of pixels. TIFF and BigTIFF files
(tiled or striped, any compression tifffile decodes) are read lazily: only
the tiles or strips a window touches are read and decoded. Other formats
(JPEG, PNG, WebP, ...) have decoders that read whole images; they are decoded
whole when that fits the memory limit, and refused otherwise, with a message
that says so.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .errors import ImageError, ImageReadError
from .loader import _check_file, _reason, _sniff, _to_rgb

#: Sample types read in windows: their scaling to [0, 1] does not depend on
#: the values (unlike other integer types, see segshift.load_image).
WINDOW_DTYPES = ("uint8", "uint16", "float32", "float64", "bool")


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
        page = self._tiff.pages[0]
        out = np.empty((y1 - y0, x1 - x0, self.bands), dtype=self.dtype)
        if y1 <= y0 or x1 <= x0:
            return out
        separate = page.planarconfig == 2
        planes = self.bands if separate else 1
        if page.is_tiled:
            seg_h, seg_w = page.tilelength, page.tilewidth
        else:
            seg_h, seg_w = page.rowsperstrip, self.width
            seg_h = min(seg_h, self.height) or self.height
        across = -(-self.width // seg_w)
        down = -(-self.height // seg_h)
        per_plane = across * down
        decode = page.decode
        fh = self._tiff.filehandle
        for plane in range(planes):
            for ty in range(y0 // seg_h, (y1 - 1) // seg_h + 1):
                for tx in range(x0 // seg_w, (x1 - 1) // seg_w + 1):
                    index = plane * per_plane + ty * across + tx
                    try:
                        offset = page.dataoffsets[index]
                        count = page.databytecounts[index]
                        with self._lock:
                            fh.seek(offset)
                            data = fh.read(count) if count else None
                        if data is not None and len(data) != count:
                            raise EOFError(f"{count - len(data)} bytes missing")
                        segment, _, shape = decode(data, index, jpegtables=page.jpegtables)
                    except Exception as exc:  # noqa: BLE001 - decoders raise many kinds
                        raise ImageReadError(
                            f"{self.path}: cannot decode {'tile' if page.is_tiled else 'strip'} {index} "
                            f"(rows {ty * seg_h}-{min(self.height, (ty + 1) * seg_h) - 1}): {_reason(exc)}"
                        ) from None
                    if segment is None:  # an empty (sparse) segment reads as zeros
                        segment = np.zeros(shape, dtype=self.dtype)
                    segment = segment.reshape(shape[1], shape[2], shape[3])
                    sy0, sx0 = ty * seg_h, tx * seg_w
                    a0, a1 = max(y0, sy0), min(y1, sy0 + segment.shape[0])
                    b0, b1 = max(x0, sx0), min(x1, sx0 + segment.shape[1])
                    bands = slice(plane, plane + 1) if separate else slice(None)
                    out[a0 - y0:a1 - y0, b0 - x0:b1 - x0, bands] = segment[a0 - sy0:a1 - sy0, b0 - sx0:b1 - sx0]
        return out


def open_raster(path, *, memory_limit: int | None = None) -> Raster:
    """Open a raster file for reading in windows.

    Parameters
    ----------
    path : str or path-like
        A TIFF or BigTIFF file (tiled or striped: read lazily), or any image
        file :func:`segshift.load_image` reads (decoded whole).
    memory_limit : int, optional
        Bytes: a file that cannot be read in windows is refused when its
        decoded pixels would not fit.

    Returns
    -------
    Raster

    Raises
    ------
    ImageReadError
        The file cannot be read, or cannot be read in windows and is too
        large to decode whole; the message says why.
    ImageError
        The samples are of a type that cannot be read in windows.
    """
    path = Path(path)
    _check_file(path)
    if _sniff(path) == "TIFF" or _is_bigtiff(path):
        return _open_tiff(path)
    return _open_whole(path, memory_limit)


def _is_bigtiff(path: Path) -> bool:
    try:
        with open(path, "rb") as file:
            head = file.read(4)
    except OSError:
        return False
    return head in (b"II+\x00", b"MM\x00+")


def _open_tiff(path: Path) -> Raster:
    import tifffile

    try:
        tif = tifffile.TiffFile(path)
        page = tif.pages[0]
        shape = page.shape
        dtype = page.dtype
        photometric = int(page.photometric)
        extras = tuple(int(e) for e in (page.extrasamples or ()))
        orientation = int(page.tags.valueof(274, 1) or 1)
        compression = page.compression
    except Exception as exc:  # noqa: BLE001
        raise ImageReadError(f"{path}: cannot read TIFF structure ({_reason(exc)})") from None
    try:
        if dtype is None:
            raise ImageError(f"{path}: TIFF sample format is not supported")
        if page.imagedepth > 1:
            raise ImageError(f"{path}: volumetric TIFF (depth {page.imagedepth}) is not an image")
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
        height, width = int(page.imagelength), int(page.imagewidth)
        bands = int(page.samplesperpixel)
        alpha = bool(extras) and extras[-1] in (1, 2)
        multiband = bands > 4 or (bands >= 3 and photometric != 2) or (bands == 4 and not alpha)
        if bands == 2 and not multiband and photometric == 2:
            raise ImageError(f"{path}: RGB TIFF with 2 samples")
    except ImageError:
        tif.close()
        raise
    del shape, compression
    return Raster(path, height, width, bands, np.dtype(dtype), multiband, True, _tiff=tif, _lock=threading.Lock())


def _open_whole(path: Path, memory_limit: int | None) -> Raster:
    from PIL import Image

    from .loader import _read_file

    try:
        with Image.open(path) as im:
            width, height = im.size
            fmt = im.format or "this format"
    except Exception:  # noqa: BLE001 - the full decode below says what is wrong
        width = height = 0
        fmt = "this format"
    need = width * height * 3 * 4
    if memory_limit is not None and need > memory_limit:
        raise ImageReadError(
            f"{path}: {fmt} images cannot be read in parts (the decoder reads the whole image), and the decoded "
            f"image ({width}x{height}, {need / 1e9:.1f} GB) is above the memory limit ({memory_limit / 1e9:.1f} GB); "
            "convert it to a tiled TIFF or raise the memory limit"
        )
    array = _read_file(path, None)
    if array.ndim == 2:
        array = array[..., None]
    bands = array.shape[2]
    return Raster(path, array.shape[0], array.shape[1], bands, array.dtype, False, False, _array=array)


def image_size(path) -> tuple[int, int, bool] | None:
    """(height, width, multiband) from a file's header, or None when it cannot be read."""
    path = Path(path)
    try:
        if _sniff(path) == "TIFF" or _is_bigtiff(path):
            raster = _open_tiff(path)
            raster.close()
            return raster.height, raster.width, raster.multiband
        from PIL import Image

        with Image.open(path) as im:
            width, height = im.size
        return height, width, False
    except Exception:  # noqa: BLE001 - the reader proper says what is wrong
        return None
