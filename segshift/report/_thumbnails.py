"""Small JPEG pictures for the reports: photos, mode colours, boundaries (and boundaries at full size).

Thumbnails are made at report time from the files on disk and kept beside
the report; one that is newer than the file it was made from is not made
again, so rebuilding the report of a large folder costs only the new files.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Longest side of a thumbnail, pixels.
THUMB_SIZE = 256

#: JPEG quality of thumbnails.
THUMB_QUALITY = 82

# Colour changes in a JPEG picture are region boundaries only when larger than this.
_LOSSY_STEP = 24  # largest channel difference treated as compression noise in a lossy picture
_BOUNDARY_COLOUR = (255, 32, 32)


def fresh(target: Path, source: Path) -> bool:
    """True when ``target`` exists and is not older than ``source``."""
    try:
        return target.stat().st_mtime_ns >= source.stat().st_mtime_ns
    except OSError:
        return False


def open_picture(path: Path, *, max_pixels: int | None, draft: int | None = None) -> Any:
    """Open a picture with Pillow, upright, refusing more than ``max_pixels`` pixels before decoding.

    With ``draft``, a JPEG is decoded at the smallest scale (1/2, 1/4, 1/8)
    whose longest side still has at least ``draft`` pixels, which is far
    quicker. Returns ``(image, (width, height))``: a loaded
    ``PIL.Image.Image`` (any mode) and the full upright size. Raises
    ``OSError`` or ``ValueError`` on unreadable files.
    """
    from PIL import Image, ImageOps

    # Pillow's global decompression-bomb limit is left as it is (thumbnails
    # are made in threads); a picture above it fails and gets no thumbnail.
    with Image.open(path) as opened:
        width, height = opened.size
        if max_pixels is not None and width * height > max_pixels:
            raise ValueError(f"{path}: {width}x{height} pixels, too large for a thumbnail")
        if draft and opened.format == "JPEG":
            scale = draft / max(width, height)
            opened.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
        opened.load()
        orientation = 1
        with contextlib.suppress(Exception):
            orientation = int(opened.getexif().get(0x0112, 1))
        if orientation in (5, 6, 7, 8):
            width, height = height, width
        im = ImageOps.exif_transpose(opened) if orientation != 1 else opened
    return im, (width, height)  # leaving "with" closes the file; the decoded pixels stay


def to_rgb(im: Any) -> Any:
    """A Pillow image of any mode as 8-bit RGB (alpha composited over white, deep images scaled)."""
    from PIL import Image

    mode = im.mode
    if mode.startswith("I") or mode == "F":
        data = np.asarray(im, dtype=np.float64)
        top = 1.0 if mode == "F" else (65535.0 if data.max(initial=0) > 255 else 255.0)
        return Image.fromarray(np.clip(data / top * 255.0 + 0.5, 0, 255).astype(np.uint8)).convert("RGB")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im if mode == "RGB" else im.convert("RGB")


def shrink(im: Any, size: int = THUMB_SIZE) -> Any:
    """``im`` with its longest side at most ``size`` pixels (area averaging: quick, and no aliasing)."""
    from PIL import Image

    width, height = im.size
    scale = size / max(width, height)
    if scale >= 1:
        return im
    return im.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BOX)


def encode_jpeg(im: Any) -> bytes:
    """JPEG bytes of an RGB Pillow image, for thumbnails."""
    buffer = io.BytesIO()
    im.save(buffer, format="JPEG", quality=THUMB_QUALITY, subsampling=0)  # 4:4:4: thin lines keep their colour
    return buffer.getvalue()


def save_thumbnail(im: Any, target: Path) -> tuple[int, int]:
    """Write ``im`` (already small) as a JPEG; return its size.

    Written under a temporary name and renamed, so that a reader never sees
    half a file, but not flushed to disk: a thumbnail is a cache, remade
    whenever it is missing or older than its source.
    """
    write_cache_file(target, encode_jpeg(im))
    return im.size


def write_cache_file(target: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``target`` and rename it over ``target`` (no fsync)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_labels(path: Path) -> NDArray[np.integer]:
    """A label map written by segshift: 16-bit PNG or ``.npy``."""
    if path.suffix.lower() == ".npy":
        labels = np.load(path, allow_pickle=False)
    else:
        from PIL import Image

        with Image.open(path) as im:
            labels = np.asarray(im)
    if labels.ndim != 2:
        raise ValueError(f"{path}: not a label map (shape {labels.shape})")
    return labels


def label_edges(labels: NDArray[Any]) -> NDArray[np.bool_]:
    """Pixels whose right or lower neighbour has another value (region boundaries)."""
    edge = np.zeros(labels.shape[:2], dtype=bool)
    if labels.ndim == 3:
        right = np.any(labels[:, 1:] != labels[:, :-1], axis=2)
        down = np.any(labels[1:] != labels[:-1], axis=2)
    else:
        right = labels[:, 1:] != labels[:, :-1]
        down = labels[1:] != labels[:-1]
    edge[:, :-1] |= right
    edge[:-1] |= down
    return edge


def colour_edges(rgb: NDArray[np.uint8], lossy: bool) -> NDArray[np.bool_]:
    """Boundaries of a mode-colour picture: where the colour changes (beyond compression noise if lossy)."""
    if not lossy:
        return label_edges(rgb)
    data = rgb.astype(np.int16)
    edge = np.zeros(rgb.shape[:2], dtype=bool)
    edge[:, :-1] |= np.abs(data[:, 1:] - data[:, :-1]).max(axis=2) > _LOSSY_STEP
    edge[:-1] |= np.abs(data[1:] - data[:-1]).max(axis=2) > _LOSSY_STEP
    return edge


def overlay_edges(base: Any, edges: NDArray[np.bool_], colour: tuple[int, int, int] = _BOUNDARY_COLOUR) -> Any:
    """Draw full-resolution ``edges`` over the small RGB picture ``base`` as thin lines."""
    from PIL import Image

    mask = Image.fromarray(edges.astype(np.uint8) * 255).resize(base.size, Image.Resampling.BOX)
    # A thumbnail pixel is on a boundary when a good part of its block is:
    # one line of a full-size picture shrunk 4x covers a quarter of a block.
    on = np.asarray(mask) >= 40
    out = np.array(base.convert("RGB"))
    out[on] = colour
    return Image.fromarray(out)


def draw_edges(base: Any, edges: NDArray[np.bool_], colour: tuple[int, int, int] = _BOUNDARY_COLOUR) -> Any:
    """``edges`` drawn over ``base`` (an RGB Pillow image of the same size), one pixel wide, at full size."""
    from PIL import Image

    out = np.array(base.convert("RGB"))
    out[edges] = colour
    return Image.fromarray(out)


def encode_png(im: Any) -> bytes:
    """PNG bytes of an RGB Pillow image (lossless: one-pixel lines stay sharp), quick rather than small."""
    buffer = io.BytesIO()
    im.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def picture_kind(output: str, source: str) -> str | None:
    """The kind of a batch output (``modes``, ``boundaries``, ``labels``, ``stats``), from its name.

    ``output`` is named after ``source`` (the input) as :mod:`segshift.batch`
    names outputs: the input without its extension (or with it, when two
    inputs would clash), then ``""``/``.boundaries``/``.labels``/``.stats``,
    then the format's extension.
    """
    base_short = source.rsplit(".", 1)[0] if "." in source.rsplit("/", 1)[-1] else source
    for base in (base_short, source):
        if not output.startswith(base):
            continue
        rest = output[len(base):]
        for kind, pattern in _KIND_PATTERNS:
            if pattern.fullmatch(rest):
                return kind
    return None


_KIND_PATTERNS = (
    ("stats", re.compile(r"\.stats\.json", re.IGNORECASE)),
    ("labels", re.compile(r"\.labels\.(png|npy)", re.IGNORECASE)),
    ("boundaries", re.compile(r"\.boundaries\.[A-Za-z0-9]+")),
    ("modes", re.compile(r"\.[A-Za-z0-9]+")),
)


def is_lossy(path: Path) -> bool:
    """Whether a picture's format may change colours (JPEG; WebP as segshift writes it is lossless)."""
    return path.suffix.lower() in {".jpg", ".jpeg"}


def remove_unused(folder: Path, keep: set[str]) -> int:
    """Remove the thumbnails (and full-size boundary pictures) of ``folder`` not named in ``keep``; return how many."""
    removed = 0
    try:
        with os.scandir(folder) as listing:
            names = [e.name for e in listing if e.is_file() and e.name.endswith((".jpg", ".png"))]
    except OSError:
        return 0
    for name in names:
        if name not in keep:
            with contextlib.suppress(OSError):
                os.unlink(folder / name)
                removed += 1
    return removed
