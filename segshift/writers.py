"""Writing results: images, label maps, statistics and manifests, atomically.

Everything here turns a :class:`~segshift.Segmentation` (or a list of batch
records) into bytes, and writes bytes to a file so that the file either does
not change or holds the whole new content: the data go to a hidden temporary
file in the same folder (``.NAME.XXXXXXXX.tmp``), are flushed to disk, and
the temporary file is renamed over the target with :func:`os.replace`. An
exception of any kind, ``KeyboardInterrupt`` included, removes the temporary
file.

Formats follow the file's extension:

- pictures (mode colours, boundaries): ``.png``, ``.jpg``/``.jpeg``,
  ``.tif``/``.tiff``, ``.webp``, ``.bmp`` (Pillow);
- label maps: ``.png`` (16-bit grayscale, label = pixel value) or ``.npy``
  (int32, :func:`numpy.save`);
- contour maps (the hierarchy's UCM): ``.png`` (16-bit grayscale, heights
  scaled so that the largest is 65535, see :func:`encode_ucm`) or ``.npy``
  (float64 heights as they are);
- statistics: ``.json``;
- manifests: ``.json`` (a list of records) or ``.csv``.

Nothing in this module prints; the command line decides what goes to stdout.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Union

import numpy as np
from numpy.typing import NDArray

from .errors import OutputError, ParameterError, SegshiftError

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
#: Label-map formats by extension.
LABEL_FORMATS: tuple[str, ...] = (".png", ".npy")
#: Contour-map (UCM) formats by extension.
UCM_FORMATS: tuple[str, ...] = (".png", ".npy")
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
            raise ParameterError(f"{target}: output would replace the input {source}")
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

    Notes
    -----
    JPEG is written at quality 95 with 4:4:4 chroma so that region edges stay
    sharp; WebP is written lossless.
    """
    from PIL import Image

    ext = ext.lower() if ext.startswith(".") else "." + ext.lower()
    fmt = IMAGE_FORMATS.get(ext)
    if fmt is None:
        raise ParameterError(f"image format {ext!r} is not supported; use one of {', '.join(IMAGE_FORMATS)}")
    options: dict[str, Any] = {}
    if fmt == "JPEG":
        options = dict(quality=95, subsampling=0)
    elif fmt == "WEBP":
        options = dict(lossless=True)
    elif fmt == "PNG":
        options = dict(compress_level=6)
    elif fmt == "TIFF":
        options = dict(compression="tiff_deflate")
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def encode_labels(labels: NDArray[np.integer], ext: str = ".png") -> bytes:
    """Encode a label map as a 16-bit grayscale PNG or a ``.npy`` file.

    Parameters
    ----------
    labels : (H, W) ndarray of int
        Region labels from 0.
    ext : {".png", ".npy"}

    Returns
    -------
    bytes

    Raises
    ------
    OutputError
        A PNG cannot hold labels above 65535; the message suggests ``.npy``.
    """
    from PIL import Image

    ext = ext.lower() if ext.startswith(".") else "." + ext.lower()
    labels = np.asarray(labels)
    buffer = io.BytesIO()
    if ext == ".npy":
        np.save(buffer, labels.astype(np.int32, copy=False), allow_pickle=False)
    elif ext == ".png":
        top = int(labels.max()) if labels.size else 0
        if top > MAX_PNG_LABEL or (labels.size and int(labels.min()) < 0):
            raise OutputError(
                f"{top + 1:,} regions do not fit a 16-bit PNG (at most {MAX_PNG_LABEL + 1:,}); "
                "write the labels to a .npy file instead"
            )
        Image.fromarray(labels.astype(np.uint16)).save(buffer, format="PNG", compress_level=6)
    else:
        raise ParameterError(f"labels format {ext!r} is not supported; use one of {', '.join(LABEL_FORMATS)}")
    return buffer.getvalue()


def _hierarchy_stats(seg: Any) -> dict[str, Any]:
    """``finest_regions`` and ``threshold`` of a level of a hierarchy; nothing without one."""
    hierarchy = getattr(seg, "hierarchy", None)
    if hierarchy is None:
        return {}
    return {"finest_regions": int(hierarchy.n_finest), "threshold": round(float(seg.threshold), 6)}


def encode_ucm(ucm: NDArray[np.floating], ext: str = ".png") -> bytes:
    """Encode an ultrametric contour map as a 16-bit grayscale PNG or a ``.npy`` file.

    The PNG holds ``round(ucm / ucm.max() * 65535)``: 0 stays 0 (inside the
    finest regions), the highest border is 65535, and the order of the
    heights is kept (heights closer than ``ucm.max() / 65535`` may share a
    value). The largest height is stored in the PNG's text chunk
    ``segshift:ucm_max``, so ``png / 65535 * ucm_max`` gives the heights
    back to 16 bits. ``.npy`` keeps the float64 heights exactly.

    Parameters
    ----------
    ucm : (H, W) ndarray of float
        Heights >= 0 (:attr:`segshift.Segmentation.ucm`).
    ext : {".png", ".npy"}

    Returns
    -------
    bytes
    """
    from PIL import Image, PngImagePlugin

    ext = ext.lower() if ext.startswith(".") else "." + ext.lower()
    ucm = np.asarray(ucm, dtype=np.float64)
    buffer = io.BytesIO()
    if ext == ".npy":
        np.save(buffer, ucm, allow_pickle=False)
    elif ext == ".png":
        top = float(ucm.max()) if ucm.size else 0.0
        scaled = np.zeros(ucm.shape, dtype=np.uint16)
        if top > 0:
            scaled = np.round(ucm * (65535.0 / top)).astype(np.uint16)
            scaled[(ucm > 0) & (scaled == 0)] = 1  # a border stays a border
        info = PngImagePlugin.PngInfo()
        info.add_text("segshift:ucm_max", repr(top))
        Image.fromarray(scaled).save(buffer, format="PNG", compress_level=6, pnginfo=info)
    else:
        raise ParameterError(f"UCM format {ext!r} is not supported; use one of {', '.join(UCM_FORMATS)}")
    return buffer.getvalue()


def segmentation_stats(seg: Any, *, source: PathLike | None = None) -> dict[str, Any]:
    """Describe a segmentation and each of its regions as plain JSON-ready data.

    Parameters
    ----------
    seg : Segmentation
        The result of :func:`segshift.segment`.
    source : str or path-like, optional
        The input file, recorded as ``"input"``.

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
    from ._version import __version__
    from ._region_kernels import extents

    labels = np.ascontiguousarray(seg.labels)
    height, width = labels.shape
    n = int(seg.n_regions)
    first = int(getattr(seg, "start_label", 0))
    areas = np.asarray(seg.areas, dtype=np.int64)
    sums, boxes = extents(labels, n + first)  # coordinate sums and boxes, one pass
    sums, boxes = sums[first:], boxes[first:]
    safe = np.maximum(areas, 1)
    cx = sums[:, 0] / safe
    cy = sums[:, 1] / safe
    regions = []
    for k in range(n):
        bbox = boxes[k]
        regions.append(
            {
                "label": k + first,
                "area": int(areas[k]),
                "rgb": [int(c) for c in seg.modes_rgb[k]],
                "luv": [round(float(c), 3) for c in seg.modes_luv[k]],
                "bbox": [int(v) for v in bbox],
                "centroid": [round(float(cx[k]), 2), round(float(cy[k]), 2)],
            }
        )
    return {
        "segshift_version": __version__,
        "input": None if source is None else str(source),
        "params": seg.params.resolved() if hasattr(seg.params, "resolved") else dict(seg.params),
        "width": int(width),
        "height": int(height),
        "n_regions": n,
        "seconds": round(float(seg.seconds), 4),
        **_hierarchy_stats(seg),
        "bbox_format": "[x_min, y_min, x_max, y_max], pixels, maxima exclusive",
        "regions": regions,
    }


def encode_stats(stats: Mapping[str, Any]) -> bytes:
    """JSON text of :func:`segmentation_stats`, one region per line, UTF-8."""
    head = {k: v for k, v in stats.items() if k != "regions"}
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in head.items()]
    if "regions" in stats:
        rows = ",\n".join("    " + json.dumps(r) for r in stats["regions"])
        lines.append('  "regions": [\n' + rows + "\n  ]" if rows else '  "regions": []')
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode("utf-8")


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


def write_output(kind: str, path: PathLike, seg: Any, *, source: PathLike | None = None) -> Path:
    """Write one kind of output of a segmentation, atomically.

    Parameters
    ----------
    kind : {"modes", "boundaries", "labels", "ucm", "stats"}
        Mode-colour picture, boundaries over the input, label map, or JSON
        statistics.
    path : str or path-like
        Target file; the format follows its extension.
    seg : Segmentation
    source : path-like, optional
        The input file (recorded in the statistics).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ParameterError
        Unknown kind or unsupported extension.
    OutputError
        The file cannot be written (or too many labels for PNG).
    """
    if kind not in OUTPUT_KINDS:
        raise ParameterError(f"output kind must be one of {', '.join(OUTPUT_KINDS)}; got {kind!r}")
    ext = output_format(path, OUTPUT_KINDS[kind])
    return write_atomic(path, encode_output(kind, seg, ext, source=source))


def encode_output(kind: str, seg: Any, ext: str, *, source: PathLike | None = None) -> bytes:
    """Bytes of one kind of output (see :func:`write_output`), for stdout."""
    if kind == "modes":
        return encode_image(seg.mode_image(), ext)
    if kind == "boundaries":
        return encode_image(seg.boundary_image(), ext)
    if kind == "labels":
        return encode_labels(seg.labels, ext)
    if kind == "ucm":
        ucm = seg.ucm  # computed on each access: once
        if ucm is None:
            raise ParameterError("a UCM needs the region hierarchy; it cannot be written with scale='fixed'")
        return encode_ucm(ucm, ext)
    if kind == "stats":
        return encode_stats(segmentation_stats(seg, source=source))
    raise ParameterError(f"output kind must be one of {', '.join(OUTPUT_KINDS)}; got {kind!r}")
