"""Images in, joint spatial-range features out.

:func:`load_image` reads a file or takes an array and returns RGB as float32
in [0, 1]; :func:`rgb_to_luv` converts it to CIE L*u*v* (D65 white, L in
[0, 100]) through scikit-image; :func:`image_features` lays out the joint
feature vectors (x, y, L, u, v) that mean shift works on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import ImageError, ImageReadError, ImageTooLargeError, ParameterError

#: Default limit on the number of pixels of an image (width x height). An image
#: above it is refused before it is decoded: segmentation needs about 60 bytes
#: a pixel, so 100 megapixels already asks for about 6 GB of memory.
DEFAULT_MAX_PIXELS = 100_000_000

#: File extensions taken for images when scanning folders (case-insensitive);
#: a file's content, not its name, decides how it is decoded.
IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif", ".ppm", ".pgm", ".pbm", ".pnm",
)  # fmt: skip

ImageSource = Union[str, "os.PathLike[str]", ArrayLike]

_log = logging.getLogger("segshift._loader")

# Pillow's decompression-bomb guard is one global (PIL.Image.MAX_IMAGE_PIXELS);
# segshift sets it for the length of one decode, so decodes take turns.
_PILLOW_GUARD = threading.Lock()

# EXIF orientation -> how to turn the stored array upright (as a viewer does).
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}


def load_image(source: ImageSource, *, max_pixels: int | None = DEFAULT_MAX_PIXELS,
               channel_axis: int | None = None) -> NDArray[np.float32]:
    """Read an image file or take an array, and return it as RGB.

    Parameters
    ----------
    source : path or array_like
        A file path (any format Pillow reads: PNG, JPEG, TIFF, WebP, GIF,
        BMP, ...; the content decides, not the extension) or an array of
        shape ``(H, W)`` (gray), ``(H, W, 1)``, ``(H, W, 2)`` (gray + alpha),
        ``(H, W, 3)`` (RGB) or ``(H, W, 4)`` (RGBA). Arrays may be ``uint8``
        (0..255), ``uint16`` (0..65535), ``bool``, other integers whose values
        fit 0..255 (read as 8-bit) or 0..65535 (read as 16-bit), or floats in
        [0, 1]; any memory layout (strided, Fortran-order, read-only).
    max_pixels : int or None, optional
        Refuse images with more pixels than this (checked from the file
        header, before decoding). ``None`` removes the limit.
    channel_axis : int, optional
        Of an array, the axis that holds the channels (1 gray, 2 gray +
        alpha, 3 RGB, 4 RGBA), as in scikit-image. Default: the last axis of
        a 3-D array; a 2-D array is gray. Files decide for themselves.

    Returns
    -------
    rgb : (H, W, 3) ndarray of float32
        RGB values in [0, 1]. A new array: the caller's array is never
        modified.

    Raises
    ------
    ImageReadError
        The file does not exist, is not a readable regular file, or is not
        an image (unknown format, truncated or corrupt data).
    ImageTooLargeError
        The image has more than ``max_pixels`` pixels.
    ImageError
        The array (or decoded file) has a shape, dtype or values that are
        not an image.
    ParameterError
        ``max_pixels`` is not a positive integer or None.

    Notes
    -----
    - EXIF orientation is applied, so the result is upright as a viewer
      shows it.
    - Alpha is composited over a white background: fully transparent pixels
      become white, as most viewers show them on a white page.
    - Palette images are expanded to RGB (with their transparency, if any);
      CMYK, YCbCr, LAB and HSV images are converted to RGB.
    - 16-bit PNG and TIFF files keep their 16-bit precision.
    - Of an animated GIF or PNG, or a multi-page TIFF, only the first frame
      is read (and segmented).

    Examples
    --------
    >>> import numpy as np
    >>> load_image(np.zeros((2, 3), dtype=np.uint8)).shape
    (2, 3, 3)
    """
    if max_pixels is not None and (
        isinstance(max_pixels, (bool, np.bool_))
        or not isinstance(max_pixels, (int, np.integer))
        or max_pixels < 1
    ):
        raise ParameterError(f"max_pixels must be a positive integer or None, got {max_pixels!r}")
    if isinstance(source, (str, os.PathLike)):
        array = _read_file(source, max_pixels)
        name = os.fspath(source)
    else:
        array = source
        name = "image"
        if channel_axis is not None:
            array = _channels_last(array, channel_axis)
    return _to_rgb(array, name, max_pixels)


def _channels_last(array, channel_axis) -> np.ndarray:
    """``array`` with its ``channel_axis`` moved last (a view)."""
    array = np.asarray(array)
    if isinstance(channel_axis, bool) or not isinstance(channel_axis, (int, np.integer)):
        raise ParameterError(f"channel_axis must be an integer or None, got {channel_axis!r}")
    if array.ndim != 3 or not -3 <= channel_axis < 3:
        raise ParameterError(
            f"channel_axis={channel_axis} needs a 3-D array (rows, columns and channels), got shape {array.shape}")
    return np.moveaxis(array, int(channel_axis), -1)


def _check_file(path: Path) -> None:
    """Refuse paths that are not readable regular files, with a one-line reason."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied") from None
    except (OSError, ValueError) as exc:  # name too long, embedded NUL, symlink loop, ...
        raise ImageReadError(f"{path}: cannot access file ({_reason(exc)})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageReadError(f"{path}: is a directory, not an image file")
    if not stat.S_ISREG(info.st_mode):
        # FIFOs and devices could block or never end.
        raise ImageReadError(f"{path}: not a regular file")
    if not os.access(path, os.R_OK):
        raise ImageReadError(f"{path}: permission denied")
    if info.st_size == 0:
        raise ImageReadError(f"{path}: empty file")


def _reason(exc: BaseException) -> str:
    """A short one-line description of an exception (for messages)."""
    text = " ".join(str((exc.strerror if isinstance(exc, OSError) else None) or exc).split())
    if not isinstance(exc, (OSError, ValueError, SyntaxError, EOFError)):
        # KeyError('x') reads as "'x'": say what kind of failure it was.
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    text = text or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


class _LibraryMessages:
    """Route the decoders' warnings and tifffile's log records to segshift's loggers (as DEBUG records).

    ``warnings.catch_warnings`` swaps process-wide state, so nested or
    concurrent reads (the tiled path decodes the next block on a thread)
    share one capture: the first reader to enter installs it, the last to
    leave restores what was there. Warnings of any thread are forwarded while
    it is installed; each is also kept for the thread that raised it, so that
    a reader can act on its own (a decompression-bomb warning becomes an
    error).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._catcher: warnings.catch_warnings | None = None
        self._propagate = True
        self._handler = _ForwardHandler()
        self._local = threading.local()

    @contextlib.contextmanager
    def capture(self, logger: logging.Logger) -> Iterator[list]:
        """While inside: library warnings become records of ``logger``; yields this thread's warnings."""
        caught: list = []
        outer = getattr(self._local, "stack", None)
        self._local.stack = stack = outer if outer is not None else []
        stack.append((logger, caught))
        with self._lock:
            if self._depth == 0:
                self._catcher = warnings.catch_warnings()
                self._catcher.__enter__()
                # every warning is forwarded, whatever the filters outside say
                # ("error" would turn a harmless decoder remark into a failure)
                warnings.simplefilter("always")
                warnings.showwarning = self._show
                tiff_log = logging.getLogger("tifffile")
                self._propagate = tiff_log.propagate
                tiff_log.addHandler(self._handler)
                tiff_log.propagate = False
            self._depth += 1
        try:
            yield caught
        finally:
            stack.pop()
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    tiff_log = logging.getLogger("tifffile")
                    tiff_log.removeHandler(self._handler)
                    tiff_log.propagate = self._propagate
                    self._catcher.__exit__(None, None, None)
                    self._catcher = None

    def target(self) -> tuple[logging.Logger, list | None]:
        """The logger (and list of caught warnings) of the innermost capture of this thread."""
        stack = getattr(self._local, "stack", None)
        if stack:
            return stack[-1]
        return _log, None

    def _show(self, message, category, filename, lineno, file=None, line=None) -> None:
        logger, caught = self.target()
        if caught is not None:
            caught.append(warnings.WarningMessage(message, category, filename, lineno))
        # DEBUG: a decoder's remark on a file it still reads is detail; a file it
        # cannot read ends in segshift's own one-line error, which says what matters
        logger.debug("%s: %s", category.__name__, " ".join(str(message).split()))


class _ForwardHandler(logging.Handler):
    """Re-emit tifffile's records as records of the reading segshift logger."""

    def emit(self, record: logging.LogRecord) -> None:
        logger, _ = _LIBRARY_MESSAGES.target()
        # DEBUG for the same reason as the warnings (tifffile logs a tolerated defect as ERROR)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("tifffile %s: %s", record.levelname, " ".join(record.getMessage().split()))


_LIBRARY_MESSAGES = _LibraryMessages()


def library_messages(logger: logging.Logger = _log):
    """Context manager: while reading, the decoders' warnings and tifffile's
    log records become records of ``logger`` (a ``segshift.*`` logger) instead
    of reaching stderr; yields the list of warnings this thread raised."""
    return _LIBRARY_MESSAGES.capture(logger)


def _read_tiff_whole(path: Path, max_pixels: int | None) -> np.ndarray | None:
    """The first image of a TIFF that Pillow cannot decode, read by tifffile
    (float or 32-bit samples, for example), or None when tifffile cannot
    either; gray, RGB or RGBA only (other layouts are multiband rasters)."""
    import tifffile

    try:
        with library_messages(_log), tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            shape = tuple(page.shape)
            height, width = (shape[0], shape[1]) if page.planarconfig == 1 or len(shape) == 2 else shape[1:3]
            if max_pixels is not None and width * height > max_pixels:
                raise ImageTooLargeError(
                    f"{path}: image is {width}x{height} = {width * height:,} pixels, "
                    f"above the limit of {max_pixels:,} (raise max_pixels / --max-pixels to allow it)")
            array = page.asarray()
    except ImageTooLargeError:
        raise
    except Exception:  # noqa: BLE001 - the caller reports the file as undecodable
        return None
    if array.ndim == 3 and page.planarconfig == 2:
        array = np.moveaxis(array, 0, -1)
    if array.ndim == 3 and array.shape[2] not in (1, 2, 3, 4):
        return None
    if array.dtype.kind == "f":
        array = array.astype(np.float32)
    return array


def _read_file(source, max_pixels: int | None) -> np.ndarray:
    """Decode ``source`` into an upright array (uint8/uint16/bool/float32), checking size first."""
    from PIL import Image, UnidentifiedImageError

    if os.fspath(source) in ("", b""):
        raise ImageReadError("empty path: no such file")
    path = Path(source)
    _check_file(path)

    with _PILLOW_GUARD:
        previous = Image.MAX_IMAGE_PIXELS
        try:
            with library_messages(_log) as caught:
                # Pillow's own guard is off while the header is read, so that
                # max_pixels decides with segshift's message; it is back on
                # (at the larger of its value and max_pixels) while decoding,
                # for the frames and tiles a header can also declare.
                Image.MAX_IMAGE_PIXELS = None
                with Image.open(path) as im:
                    width, height = im.size
                    if max_pixels is not None and width * height > max_pixels:
                        raise ImageTooLargeError(
                            f"{path}: image is {width}x{height} = {width * height:,} pixels, "
                            f"above the limit of {max_pixels:,} (raise max_pixels / --max-pixels to allow it)"
                        )
                    Image.MAX_IMAGE_PIXELS = None if max_pixels is None else max(max_pixels, previous or 0)
                    im.seek(0)
                    fmt = im.format
                    deep = fmt in ("PNG", "TIFF") and _maybe_16bit(im)
                    orientation = _orientation(im)
                    array = _pil_to_array(im, path)
                bombs = [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
                if bombs:
                    # Pillow only warns between its limit and twice it; segshift refuses.
                    raise ImageTooLargeError(f"{path}: a frame or tile is too large ({_reason(bombs[0].message)})")
        except (ImageReadError, ImageError):
            raise
        except UnidentifiedImageError:
            kind = _sniff(path)
            if kind == "TIFF":  # sample formats Pillow does not decode (float RGB, ...): tifffile, as the tiled path reads them
                array = _read_tiff_whole(path, max_pixels)
                if array is not None:
                    return array
            if kind:  # the magic number of an image, but Pillow cannot parse the rest
                raise ImageReadError(f"{path}: cannot decode image (truncated or damaged {kind} data)") from None
            raise ImageReadError(f"{path}: not a recognised image file") from None
        except PermissionError:
            raise ImageReadError(f"{path}: permission denied") from None
        except Image.DecompressionBombError as exc:
            raise ImageTooLargeError(f"{path}: a frame or tile is too large ({_reason(exc)})") from None
        except MemoryError:
            raise ImageReadError(f"{path}: not enough memory to decode the image") from None
        except Exception as exc:  # noqa: BLE001
            # Hostile or corrupt files make Pillow's decoders raise almost
            # anything (OSError, SyntaxError, struct.error, IndexError, ...);
            # the caller gets one kind of error naming the file.
            raise ImageReadError(f"{path}: cannot decode image ({_reason(exc)})") from None
        finally:
            Image.MAX_IMAGE_PIXELS = previous

    if deep and array.dtype == np.uint8 and array.ndim == 3:
        # Pillow reduces 16-bit colour PNG/TIFF to 8 bits; OpenCV keeps 16.
        wide = _read_16bit_colour(path, array.shape[:2])
        if wide is not None:
            array = wide
    if orientation in _ORIENT:
        array = np.ascontiguousarray(_ORIENT[orientation](array))
    return array


# Leading bytes of common image formats, to tell a damaged image from a non-image.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)


def _sniff(path: Path) -> str | None:
    """The format whose magic number the file starts with, if any."""
    try:
        with open(path, "rb") as file:
            head = file.read(16)
    except OSError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


def _maybe_16bit(im) -> bool:
    """Whether the (not yet decoded) frame may hold 16-bit samples."""
    try:
        rawmodes = [t.args if isinstance(t.args, str) else t.args[0] for t in im.tile]
    except Exception:  # noqa: BLE001 - unknown tile layout: look with OpenCV
        return True
    return not rawmodes or any(not isinstance(r, str) or "16" in r for r in rawmodes)


def _orientation(im) -> int:
    """The EXIF orientation (1..8) of an image; 1 when absent or unreadable."""
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block is ignored, as viewers do
        return 1
    return value if isinstance(value, int) and value in _ORIENT else 1


def _pil_to_array(im, path) -> np.ndarray:
    """Convert a Pillow image of any mode to a uint8/uint16/float32 array."""
    mode = im.mode
    if mode == "P" or mode == "PA":
        im = im.convert("RGBA" if ("transparency" in im.info or mode == "PA") else "RGB")
    elif mode in ("1",):
        im = im.convert("L")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        im = im.convert("RGB")
    elif mode == "La":
        im = im.convert("LA")
    elif mode == "RGBa":
        im = im.convert("RGBA")
    elif mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16)
    elif mode == "I":
        data = np.asarray(im)
        if data.size and (data.min() < 0 or data.max() > 65535):
            raise ImageError(
                f"{path}: 32-bit integer image with values outside 0..65535 ({data.min()}..{data.max()})"
            )
        return data.astype(np.uint16)
    elif mode == "F":
        return np.asarray(im, dtype=np.float32)
    im.load()
    return np.array(im)


def _read_16bit_colour(path: Path, shape: tuple) -> np.ndarray | None:
    """Return the 16-bit RGB(A) data of a PNG/TIFF as stored (not yet
    turned by its EXIF orientation), or None if it is 8-bit."""
    import cv2

    try:
        buffer = np.fromfile(path, dtype=np.uint8)
        data = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except (cv2.error, OSError, ValueError, MemoryError):
        return None
    if data is None or data.dtype != np.uint16 or data.ndim != 3 or data.shape[:2] != tuple(shape):
        return None
    if data.shape[2] == 3:
        return np.ascontiguousarray(data[..., ::-1])
    if data.shape[2] == 4:
        return np.ascontiguousarray(data[..., [2, 1, 0, 3]])
    return None


def _to_rgb(array: ArrayLike, name: str, max_pixels: int | None) -> NDArray[np.float32]:
    """Validate an image array and return float32 RGB in [0, 1]."""
    try:
        data = np.asarray(array)
    except Exception as exc:  # noqa: BLE001 - ragged lists and the like
        raise ImageError(f"{name}: cannot be read as an array ({_reason(exc)})") from None
    if data.dtype == object or data.dtype.kind not in "biuf":
        raise ImageError(f"{name}: unsupported dtype {data.dtype}; use uint8, uint16, bool or float in [0, 1]")
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[..., 0]
    if data.ndim not in (2, 3) or (data.ndim == 3 and data.shape[2] not in (2, 3, 4)):
        raise ImageError(
            f"{name}: image must have shape (H, W), (H, W, 1), (H, W, 2), (H, W, 3) or (H, W, 4), got {data.shape}"
        )
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise ImageError(f"{name}: image is empty (shape {data.shape})")
    if max_pixels is not None and data.shape[0] * data.shape[1] > max_pixels:
        raise ImageTooLargeError(
            f"{name}: image has {data.shape[0] * data.shape[1]:,} pixels, above the limit of {max_pixels:,}"
        )

    values = _normalise(data, name)
    if values.ndim == 2:
        values = values[..., None]
    channels = values.shape[2]
    if channels in (2, 4):
        colour, alpha = values[..., :-1], values[..., -1:]
        values = colour * alpha + (1.0 - alpha)  # composite over white
        channels -= 1
    if channels == 1:
        values = np.repeat(values, 3, axis=2)
    return np.ascontiguousarray(values, dtype=np.float32)


def _normalise(data: np.ndarray, name: str) -> np.ndarray:
    """Scale integer/bool/float data to float32 in [0, 1]."""
    kind = data.dtype.kind
    if kind == "b":
        return data.astype(np.float32)
    if kind == "f":
        # Finite in its own dtype first: 1e300 (float64) is a bad value, not an infinity.
        if not np.isfinite(data).all():
            raise ImageError(f"{name}: image contains NaN or infinite values")
        with np.errstate(over="ignore"):  # 1e300 becomes inf, refused below
            values = data.astype(np.float32)  # always a copy
        if float(values.min()) < 0.0 or float(values.max()) > 1.0:
            lo, hi = float(data.min()), float(data.max())
            raise ImageError(f"{name}: float image values must lie in [0, 1], got {lo:g}..{hi:g}")
        return values
    # Any byte order: a big-endian uint16 array is 16-bit like a native one.
    if kind == "u" and data.dtype.itemsize == 1:
        return _scaled(data, 255)
    if kind == "u" and data.dtype.itemsize == 2:
        return _scaled(data, 65535)
    lo, hi = int(data.min()), int(data.max())
    if lo < 0:
        raise ImageError(f"{name}: integer image has negative values (min {lo})")
    if hi <= 255:
        return _scaled(data, 255)
    if hi <= 65535:
        return _scaled(data, 65535)
    raise ImageError(f"{name}: integer image values must fit 0..65535, got max {hi}")


#: EDISON's RGB -> XYZ matrix (D65), applied to RGB values taken as linear.
EDISON_RGB_TO_XYZ = np.array(
    [[0.4125, 0.3576, 0.1804], [0.2125, 0.7154, 0.0721], [0.0193, 0.1192, 0.9502]]
)


def rgb_to_luv(rgb: NDArray[np.floating], *, compat: str | None = None) -> NDArray[np.float32]:
    """Convert RGB in [0, 1] to CIE L*u*v* (D65 white point, L in [0, 100]).

    The sRGB values are decoded (linearised) and converted with the formulas
    and constants of scikit-image's :func:`skimage.color.rgb2luv`, in float32
    (within 2e-4 of a float64 conversion), by a compiled loop over the pixels
    (chunks of pixels on threads) that needs no temporaries of the whole image.

    Parameters
    ----------
    rgb : (H, W, 3) ndarray
        RGB values in [0, 1].
    compat : {None, "edison"}
        ``"edison"`` converts as EDISON does: the 8-bit RGB values are taken
        as linear (no sRGB decoding), multiplied by EDISON's RGB -> XYZ matrix
        and converted as :func:`skimage.color.xyz2luv` does. Dark colours get
        higher L* than in true CIE L*u*v*.

    Returns
    -------
    luv : (H, W, 3) ndarray of float32
    """
    from skimage.color import xyz_tristimulus_values
    from skimage.color.colorconv import xyz_from_rgb

    from . import _colour_kernels

    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb_to_luv needs an (H, W, 3) array, got shape {rgb.shape}")
    edison = compat == "edison"
    matrix = EDISON_RGB_TO_XYZ if edison else xyz_from_rgb
    white = xyz_tristimulus_values(illuminant="D65", observer="2")
    flat = rgb.reshape(-1, 3)  # a view of a C-contiguous image, else a copy
    out = np.empty(flat.shape, dtype=np.float32)
    _colour_kernels.rgb_to_luv(flat, matrix.astype(np.float32), white.astype(np.float32), not edison, edison, out)
    return out.reshape(rgb.shape)


def luv_to_rgb(luv: NDArray[np.floating], *, compat: str | None = None) -> NDArray[np.float64]:
    """Invert :func:`rgb_to_luv`: L*u*v* colours (..., 3) to RGB in [0, 1], clipped.

    With ``compat="edison"`` the inverse of EDISON's conversion (its matrix,
    no sRGB encoding), so that the colours come back as they went in.
    """
    from skimage.color import luv2rgb, luv2xyz

    luv = np.asarray(luv, dtype=np.float64)
    flat = luv.reshape(-1, 1, 3)
    if compat == "edison":
        rgb = luv2xyz(flat) @ np.linalg.inv(EDISON_RGB_TO_XYZ).T
    else:
        rgb = luv2rgb(flat)
    return np.clip(rgb, 0.0, 1.0).reshape(luv.shape)


def image_features(luv: NDArray[np.floating]) -> NDArray[np.float32]:
    """Joint spatial-range feature vectors of an L*u*v* image.

    Parameters
    ----------
    luv : (H, W, 3) ndarray

    Returns
    -------
    features : (H * W, 5) ndarray of float32
        Row ``i = y * W + x`` holds ``(x, y, L, u, v)`` of pixel ``(y, x)``.
    """
    luv = np.asarray(luv, dtype=np.float32)
    height, width = luv.shape[:2]
    features = np.empty((height * width, 5), dtype=np.float32)
    ys, xs = np.divmod(np.arange(height * width), width)
    features[:, 0] = xs
    features[:, 1] = ys
    features[:, 2:] = luv.reshape(-1, 3)
    return features


def _scaled(data: np.ndarray, top: int) -> NDArray[np.float32]:
    """``data / top`` as a new float32 array, divided in place (one copy, not two)."""
    values = data.astype(np.float32)
    values /= np.float32(top)
    return values
