"""Huge images: segmentation tile by tile, identical to the untiled run, in bounded memory.

:func:`segment_streamed` is the path of :func:`segshift.segment` for an
image that does not fit its memory limit: at a working resolution (the
default) the file is reduced to the working image strip by strip, bitwise
as the whole image would be (:func:`segshift._resolution.area_resize_rows`),
the unchanged working-resolution pipeline runs on it, and the labels are
placed back at full resolution strip by strip into memory maps
(:class:`segshift._resolution.Placement`); at full resolution with the fixed
scale it runs the block-wise filter below. Either way the labels equal the
in-memory run's, pixel for pixel.

:func:`segment_blocks` segments an image file of any size (TIFF/BigTIFF read
lazily, see :mod:`segshift._raster`) with the full-resolution, fixed-scale
mean shift of :func:`segshift.segment` (every pixel climbs, radii in
pixels; connect, fuse, prune), and returns the table of regions instead of
the label map, which it writes tile by tile to a file on request.

How it stays exact:

1. Filtering. The image is cut into blocks whose origins are multiples of
   the compiled filter's own tiles of climbs (32 rows, 64 columns), so every
   tile of climbs (and its table of shared windows) is the untiled run's.
   Each block is read with a margin of real pixels (the image's own padding
   at its borders), and every climb runs in image coordinates with the
   whole image's arithmetic, so its mode is bitwise the untiled one. A climb
   whose window would need data beyond the margin is stopped; its tile of
   climbs is filtered again from a larger window of the file (margins
   doubled until they suffice), so the result never depends on a guess of
   how far climbs go.
2. Regions. Strips of whole rows are connected as the untiled run connects
   the whole image (8-neighbours whose modes agree, every L*u*v* component
   within 1), strips are joined across their seams by the same test, and
   connected regions are numbered by their first pixel in raster order;
   their modes (the first pixel's with EDISON's numerics, else the mean
   summed in raster order), areas and adjacency are those of the whole
   image. That graph can have a region for every few pixels (a noisy scene
   at a small radius), so it is never held whole: its edges go to a scratch
   file, and the first fusing pass reads them in chunks, with the untiled
   pass's test, grouping and arithmetic. The graph it leaves is small (a
   region for hundreds of pixels), and the second pass and pruning run on it
   with the code of the untiled run.
3. Outputs are written tile by tile (labels as a tiled BigTIFF of uint32 or
   a ``.npy`` memory map; mode colours as a tiled TIFF), each to a temporary
   file renamed into place at the end.

Memory: one block with its margins, one strip of modes and labels, and the
region graph: while the first fusing pass runs, 9 bytes per strip component
and 24 + 8 x bands bytes per connected region (its area, mode and group),
a few tens of bytes per region after it. The strip component of each pixel
(4 bytes a pixel) and the graph's areas and edges (about 40 bytes a strip
component) go to temporary files beside the outputs; with ``compat=None``
so do each strip component's sum of modes (8 bytes a band) and the modes of
the pixels whose region a seam may join (4 bytes a band each: the regions
that cross or touch the seams between strips, a small share of a scene),
never every pixel's mode.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np
from numpy.typing import NDArray

from . import _band_kernels as _bk
from . import _filter_kernels as _fk
from . import _interrupt
from . import _region_kernels as _rk
from . import _tile_kernels as _tk
from . import _regions as _regions
from . import writers
from .writers import default_memory_limit
from ._hierarchy import Hierarchy
from .errors import ImageError, OutputError, ParameterError, SegshiftError
from ._meanshift import _check_convergence, check_compat, check_kernel, check_positive
from ._raster import Raster, open_raster
from ._pipeline import DEFAULTS, WORKING_RADIUS, check_min_size, min_size_pixels

__all__ = [
    "segment_streamed",
    "segment_blocks",
    "segment_large",
    "Streamed",
    "RegionTable",
    "parse_memory",
    "default_memory_limit",
    "needs_tiling",
    "block_shape",
    "default_margin",
    "stretch_bands",
]

log = logging.getLogger(__name__)

#: Bytes a pixel that in-memory segmentation needs (image, L*u*v*, modes,
#: labels and their temporaries), used to decide when to tile.
IN_MEMORY_BYTES_PER_PIXEL = 60
#: Bytes a pixel of a block with its margins (samples, RGB, L*u*v*, planes, modes).
BLOCK_BYTES_PER_PIXEL = 64
#: Bytes a pixel of a strip of rows (modes, labels, their temporaries).
STRIP_BYTES_PER_PIXEL = 48
#: Bytes a full-resolution pixel of a strip that :func:`segment_streamed` reads
#: or places: the stored samples (up to 8), RGB float32 (12), a label buffer
#: (4), and for the pixels near a boundary their index, RGB and L*u*v* (32).
STREAM_BYTES_PER_PIXEL = 64
#: Blocks are whole tiles of climbs of the compiled filter.
BLOCK_ROWS = _fk.TILE_ROWS
BLOCK_COLS = _fk.TILE_COLS
#: Largest block side chosen automatically.
MAX_BLOCK = 2048
#: Flags of a strip component: its pixels' modes are summed once the seams have joined it (_Graph).
DEFERRED = np.uint8(1)
#: Flags of a strip component: masked pixels.
MASKED_PIECE = np.uint8(2)
#: Edges (pairs) the region stage reads from its scratch file at a time.
EDGE_CHUNK = 1 << 20
#: Side of the tiles of written TIFF files.
OUTPUT_TILE = 256
#: What a window reader's ``read_bands`` returns for a masked pixel (in every
#: band): the filter's padding value, outside every range ball, so masked
#: pixels weigh nothing in any window; the filter does not climb from them.
MASKED = _fk.PAD_VALUE
#: Modes at or above this (in the first band) are those of masked regions.
MASKED_MIN = float(MASKED) / 2
#: Label-map formats of a tiled run by extension; the mode picture is a TIFF.
LABEL_FORMATS = (".tif", ".tiff", ".npy")
MODES_FORMATS = (".tif", ".tiff")

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_memory(text) -> int:
    """Bytes from a size such as ``2GB``, ``512MB``, ``1.5GiB`` or ``4000000000``.

    Raises
    ------
    ParameterError
        Not a positive size with a known unit.

    Examples
    --------
    >>> parse_memory("2GB"), parse_memory("512 MiB")
    (2000000000, 536870912)
    """
    if isinstance(text, (int, np.integer)) and not isinstance(text, bool):
        value = int(text)
    else:
        import re

        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][0-9]+)?)\s*([a-zA-Z]*)\s*", str(text))
        unit = match.group(2).lower() if match else None
        if not match or unit not in _UNITS:
            raise ParameterError(f"memory_limit must be a size such as 2GB or 512MB, got {text!r}")
        value = int(float(match.group(1)) * _UNITS[unit])
    if value < 64 * 10**6:
        raise ParameterError(f"memory_limit must be at least 64MB, got {text!r}")
    return value


def needs_tiling(height: int, width: int, memory_limit: int) -> bool:
    """Whether an image of this size is above what in-memory segmentation may use."""
    return height * width * IN_MEMORY_BYTES_PER_PIXEL > memory_limit


def block_shape(height: int, width: int, memory_limit: int, margin: int, tile_size: int | None = None,
                channels: int = 3) -> tuple[int, int]:
    """(rows, columns) of the blocks: whole tiles of climbs (multiples of 32
    rows and 64 columns); ``tile_size`` is rounded up to them, else the largest
    square that fits the memory limit with a strip of rows."""
    if tile_size is not None:
        rows = -(-tile_size // BLOCK_ROWS) * BLOCK_ROWS
        cols = -(-tile_size // BLOCK_COLS) * BLOCK_COLS
        return rows, cols
    side = BLOCK_COLS
    while side + BLOCK_COLS <= MAX_BLOCK:
        nxt = side + BLOCK_COLS
        scale = max(channels, 3) / 3
        need = (nxt + 2 * margin) ** 2 * BLOCK_BYTES_PER_PIXEL * scale + nxt * width * STRIP_BYTES_PER_PIXEL * scale
        if need > memory_limit // 2:
            break
        side = nxt
    return side, side


def default_margin(spatial_radius: float) -> int:
    """Rows and columns of real pixels read around a block: room for climbs
    that move a few windows away from their start (rarer ones are redone)."""
    return int(3 * math.ceil(spatial_radius) + 8)


@dataclass(frozen=True, eq=False)
class RegionTable:
    """The regions of a segmentation, without its label map (:func:`segment_blocks`).

    Attributes
    ----------
    shape : (int, int)
        (height, width) of the image.
    areas : (n,) ndarray of int64
        Pixels per region; region ``k`` has label ``k``.
    modes : (n, c) ndarray of float32
        Mode of each region in range units: L*u*v* for photos (as
        :attr:`segshift.Segmentation.modes_luv`), the bands' own values for
        multiband rasters.
    modes_rgb : (n, 3) ndarray of uint8
        The colour each region is painted with in the mode picture.
    bbox : (n, 4) ndarray of int64
        ``[x_min, y_min, x_max, y_max]``, maxima exclusive.
    centroid : (n, 2) ndarray of float64
        Mean ``[x, y]`` of each region's pixels.
    params : dict
        The parameters.
    seconds : float
        Wall time.
    tiled : bool
        Whether the image was processed in blocks (else as one block).
    block : (int, int)
        Rows and columns of a block.
    refiltered : int
        Tiles of climbs filtered again from a larger window (a climb left
        its block's margin).
    connected : int
        Regions of the connect stage (the region graph that fusing and
        pruning start from).
    """

    shape: tuple[int, int]
    areas: NDArray[np.int64]
    modes: NDArray[np.float32]
    modes_rgb: NDArray[np.uint8]
    bbox: NDArray[np.int64]
    centroid: NDArray[np.float64]
    params: dict = field(default_factory=dict)
    seconds: float = 0.0
    tiled: bool = True
    block: tuple[int, int] = (0, 0)
    refiltered: int = 0
    connected: int = 0

    @property
    def n_regions(self) -> int:
        """Number of regions."""
        return len(self.areas)

    def as_array(self) -> np.ndarray:
        """The table as a structured array: label, area, mode, rgb, bbox, centroid."""
        n, c = self.modes.shape
        dtype = [("label", np.int64), ("area", np.int64), ("mode", np.float32, (c,)), ("rgb", np.uint8, (3,)),
                 ("bbox", np.int64, (4,)), ("centroid", np.float64, (2,))]
        out = np.empty(n, dtype=dtype)
        out["label"] = np.arange(n)
        out["area"] = self.areas
        out["mode"] = self.modes
        out["rgb"] = self.modes_rgb
        out["bbox"] = self.bbox
        out["centroid"] = self.centroid
        return out

    def as_stats(self, source=None) -> dict:
        """The JSON statistics of ``segshift segment --stats`` (see
        :func:`segshift.writers.segmentation_stats`)."""
        from ._version import __version__

        key = "luv" if self.params.get("bands") is None else "bands"
        regions = [
            {"label": k, "area": int(self.areas[k]), "rgb": [int(v) for v in self.modes_rgb[k]],
             key: [round(float(v), 3) for v in self.modes[k]], "bbox": [int(v) for v in self.bbox[k]],
             "centroid": [round(float(v), 2) for v in self.centroid[k]]}
            for k in range(self.n_regions)
        ]
        return {
            "segshift_version": __version__, "input": None if source is None else str(source),
            "params": dict(self.params), "width": int(self.shape[1]), "height": int(self.shape[0]),
            "n_regions": self.n_regions, "seconds": round(float(self.seconds), 4),
            "bbox_format": "[x_min, y_min, x_max, y_max], pixels, maxima exclusive", "regions": regions,
        }


def segment_blocks(
    path,
    spatial_radius: float | None = WORKING_RADIUS,
    range_radius: float = DEFAULTS["range_radius"],
    min_size: int | float = DEFAULTS["min_size"],
    *,
    labels_path=None,
    modes_path=None,
    memory_limit: int | str | None = None,
    tile_size: int | None = None,
    bands: tuple[int, ...] | None = None,
    kernel: str = DEFAULTS["kernel"],
    tol: float = 0.01,
    max_iter: int = 100,
    compat: str | None = DEFAULTS["compat"],
    overwrite: bool = False,
    margin: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    scratch_dir=None,
    read_labels: Callable[[RegionTable, Iterator[tuple[int, NDArray[np.int32]]]], None] | None = None,
) -> RegionTable:
    """Segment an image file of any size, block by block, with mean shift at its fixed scale at full resolution.

    Exactly what ``segshift.segment(path, scale="fixed", spatial_radius=r)``
    computes for a 3-band image (the block-wise filter of the streamed runs),
    and the same for multiband rasters, whose range space is their bands';
    it returns the table of regions and writes the label map on request.

    The full-resolution, fixed-scale mean shift of :func:`segshift.segment`
    (every pixel climbs to its mode, radii in pixels; regions connected,
    fused and pruned) on blocks read lazily from the file, in memory bounded
    by ``memory_limit`` plus the region graph (9 bytes a strip component and
    24 + 8 x bands bytes a connected region while the first fusing pass
    runs, a few tens of bytes a region after it; see :mod:`segshift.tiled`).
    The label map equals the untiled one pixel for pixel.

    Parameters
    ----------
    path : str or path-like
        The image: a TIFF or BigTIFF (tiled or striped) is read in windows;
        other formats are decoded whole, and refused when that would not
        fit ``memory_limit``.
    spatial_radius, range_radius, min_size
        As :func:`segshift.segment`, but the spatial radius is in pixels of
        the image (a tiled run is the full-resolution computation); it
        defaults to the working resolution's 10 pixels. ``None`` is the
        relative radius of :func:`segshift.segment` with ``resolution="full"``
        (10 / 578 of the image's diagonal, :func:`segshift._resolution.plan`),
        as everywhere else. For multiband
        rasters the range radius is in the bands' own units.
    labels_path : str or path-like, optional
        Write the label map: ``.tif``/``.tiff`` (tiled BigTIFF, uint32) or
        ``.npy`` (int32).
    modes_path : str or path-like, optional
        Write every pixel painted with its region's mode colour, a tiled
        RGB TIFF (``.tif``/``.tiff``).
    memory_limit : int or str, optional
        Bytes (or a size such as ``"2GB"``) the run's blocks and strips may
        use, besides the region graph; default a quarter of the physical memory.
    tile_size : int, optional
        Process in blocks of this side (rounded up to 32 rows and 64
        columns) even when the image would fit in memory.
    bands : sequence of 3 int, optional
        Of a multiband raster, the bands (1-based) the mode picture shows as
        red, green and blue; default the first three.
    kernel, tol, max_iter, compat
        As :func:`segshift.segment`.
    overwrite : bool
        Replace existing output files.
    margin : int, optional
        Rows and columns of real pixels read around each block (default
        ``3 * ceil(spatial_radius) + 8``). Any margin gives the same result:
        a tile of climbs in which a climb needs data beyond it is filtered
        again from a larger window; a small margin only costs those redos.
    progress : callable, optional
        Called as ``progress(done, total)`` in pixels filtered.
    scratch_dir : str or path-like, optional
        Where the scratch data goes (default: beside the first output, else
        the system's temporary folder).
    read_labels : callable, optional
        Called once the regions are known, as ``read_labels(table, strips)``:
        ``strips`` yields ``(y0, labels)``, the label map (int32, labels
        from 0 as in ``table``) in consecutive strips of whole rows, read
        from the scratch data. A way to consume the label map (write it in
        another form, gather statistics, trace polygons) without a copy of
        it on disk; what it raises, ``segment_blocks`` raises.

    Returns
    -------
    RegionTable

    Raises
    ------
    ParameterError
        A parameter out of range, or an output of an unsupported format.
    ImageReadError
        The file cannot be read (the message says which tile or strip) or
        cannot be read in parts and is too large.
    OutputError
        An output exists (without ``overwrite``) or cannot be written; no
        output is then left half-written.

    Examples
    --------
    >>> import numpy as np, tifffile, tempfile, os
    >>> image = np.zeros((100, 150, 3), dtype=np.uint8)
    >>> image[:, 70:] = (200, 40, 40)
    >>> path = os.path.join(tempfile.mkdtemp(), "two.tif")
    >>> tifffile.imwrite(path, image, tile=(64, 64))
    >>> table = segment_blocks(path, 10, 12, 20, tile_size=64)
    >>> table.n_regions, table.areas.tolist()
    (2, [7000, 8000])
    """
    start = time.perf_counter()
    relative = spatial_radius is None
    if not relative:
        spatial_radius = check_positive("spatial_radius", spatial_radius)
    range_radius = check_positive("range_radius", range_radius)
    min_size = check_min_size(min_size)
    kernel_id = check_kernel(kernel)
    compat = check_compat(compat)
    tol, max_iter = _check_convergence(tol, max_iter)
    limit = default_memory_limit() if memory_limit is None else parse_memory(memory_limit)
    if tile_size is not None:
        tile_size = int(check_positive("tile_size", tile_size, integer=True))
    outputs = _check_outputs(labels_path, modes_path, overwrite, path)

    # a window reader (e.g. segshift.geo's GDAL reader) is read as it is; the caller closes it
    reader = path if _is_window_reader(path) else None
    with contextlib.nullcontext(reader) if reader is not None else open_raster(path, memory_limit=limit) as raster:
        if raster.shape[0] < 1 or raster.shape[1] < 1:  # before any block planning
            raise ImageError(f"{path}: the image has no pixels ({raster.shape[1]}x{raster.shape[0]})")
        band_order = _check_bands(bands, raster)
        height, width = raster.shape
        min_pixels = min_size_pixels(min_size, height * width)
        if relative:  # segment(resolution="full")'s relative radius, in this image's pixels
            from ._resolution import plan

            spatial_radius = plan((height, width), WORKING_RADIUS, "full").spatial_radius
        # the whole-image run's clamps (segshift._meanshift.filter_image)
        hs = max(min(spatial_radius, 1e4 * (float(np.hypot(height, width)) + 1.0)), 1e-100)
        hr = max(range_radius, 1e-100)
        margin = default_margin(hs) if margin is None else int(check_positive("margin", margin, integer=True,
                                                                                  allow_zero=True))
        tiled = tile_size is not None or needs_tiling(height, width, limit)
        if tiled:
            rows, cols = block_shape(height, width, limit, margin, tile_size, raster.bands)
            log.info("tiled: %s, in blocks of %dx%d", _why(height, width, limit, tile_size), rows, cols)
        else:
            rows, cols = -(-height // BLOCK_ROWS) * BLOCK_ROWS, -(-width // BLOCK_COLS) * BLOCK_COLS
        run = _Run(raster, hs, hr, kernel_id, tol, max_iter, compat, margin, rows, cols, progress)
        params = dict(
            spatial_radius=None if relative else spatial_radius, range_radius=range_radius, min_size=min_size,
            kernel=kernel.lower(), compat=compat, bands=None if not raster.multiband else [b + 1 for b in band_order],
        )
        if scratch_dir is not None:
            folder = Path(scratch_dir)
        else:
            folder = Path(outputs[0]).parent if outputs else None
        with writers.ScratchFolder(".segshift-", folder) as scratch:
            with _scratch_space(scratch):
                graph = run.filter_and_connect(Path(scratch))
                table = run.regions(graph, min_pixels, band_order)
                _write_outputs(run, graph, table, labels_path, modes_path)
            result = RegionTable(
                shape=(height, width), areas=table["areas"], modes=table["modes"].astype(np.float32),
                modes_rgb=table["rgb"], bbox=table["bbox"], centroid=table["centroid"], params=params,
                seconds=time.perf_counter() - start, tiled=tiled, block=(rows, cols), refiltered=run.refiltered,
                connected=table["connected"],
            )
            if read_labels is not None:
                read_labels(result, ((y0, labels.astype(np.int32, copy=False))
                                     for y0, labels in _label_rows(run, graph, BLOCK_ROWS * 8)))
    return result


#: Errors of a full disk (or quota, or file size limit).
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


@contextlib.contextmanager
def _scratch_space(folder):
    """A full disk while the scratch data is written becomes one line naming the folder."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, SegshiftError) or exc.errno not in _DISK_FULL:
            raise
        where = Path(folder).parent
        while writers.is_scratch_name(where.name):  # the folder the user chose, not a scratch folder in it
            where = where.parent
        raise OutputError(
            f"{where}: no room for the run's scratch data ({exc.strerror}); it takes about "
            "4 bytes a pixel and some 50 bytes a connected region"
        ) from None


def _is_window_reader(obj) -> bool:
    """Whether ``obj`` is an open window reader (shape, bands, multiband, read_bands, read_rgb, close) rather
    than a path. A reader's ``read_bands`` returns the pixels it masks as ``MASKED`` in every band."""
    return all(hasattr(obj, name) for name in ("shape", "bands", "multiband", "read_bands", "read_rgb", "close"))


def _check_outputs(labels_path, modes_path, overwrite, source) -> list:
    outputs = []
    for dest, formats, what in [(labels_path, LABEL_FORMATS, "labels"), (modes_path, MODES_FORMATS, "mode picture")]:
        if dest is None:
            continue
        ext = Path(dest).suffix.lower()
        if ext not in formats:
            raise ParameterError(
                f"{dest}: a tiled run writes the {what} as {' or '.join(formats)}, not {ext or 'no extension'!r}"
            )
        inputs = [getattr(source, "path", source)]
        writers.check_output(dest, "labels" if ext == ".npy" else "image", overwrite=overwrite, inputs=inputs)
        outputs.append(dest)
    if len(outputs) == 2 and os.path.abspath(outputs[0]) == os.path.abspath(outputs[1]):
        raise ParameterError(f"{outputs[0]}: named for both the labels and the mode picture")
    return outputs


def _check_bands(bands, raster: Raster) -> list[int]:
    if not raster.multiband:
        if bands is not None:
            raise ParameterError(f"bands applies to multiband rasters; {raster.path} is a photo (RGB or gray)")
        return [0, 1, 2]
    if bands is None:
        return [0, 1, 2] if raster.bands >= 3 else [0] * 3
    values = list(bands)
    if len(values) != 3 or not all(isinstance(b, (int, np.integer)) and not isinstance(b, bool) for b in values):
        raise ParameterError(f"bands must be three band numbers such as 3,2,1, got {bands!r}")
    for b in values:
        if not 1 <= b <= raster.bands:
            raise ParameterError(f"bands must be between 1 and {raster.bands} (1-based), got {b}")
    return [int(b) - 1 for b in values]


class _Graph:
    """What the strips leave for the region stage: the union-find of strip
    components joined across seams and their flags in memory (9 bytes a
    component), the rest in files read back strip by strip or in chunks.

    The mean mode of a connected region (``compat=None``) is the sum of its
    pixels' modes in raster order. A strip component that cannot be joined
    to another strip (it touches neither seam of its strip through a join)
    is its region alone, so its strip sums it, in that order, and only its
    sum is kept; the pixels of the others ("deferred") keep their modes, in
    raster order, to be summed once the seams have joined them. Masked
    pixels are never summed: their regions' mode is the masked value.
    """

    def __init__(self, scratch: Path, height: int, width: int, keep_modes: bool, keep_seeds: bool) -> None:
        self.labels_file = scratch / "components.i32"  # strip component of each pixel
        self.modes_file = scratch / "modes.f32" if keep_modes else None  # mode of each pixel
        self.areas_file = scratch / "areas.i64"  # area of each strip component
        self.edges_file = scratch / "edges.i64"  # pairs of touching strip components
        self.seeds_file = scratch / "seeds.f32" if keep_seeds else None  # mode of each one's first pixel
        means = not keep_seeds
        self.sums_file = scratch / "sums.f64" if means else None  # each one's sum of modes (0: deferred)
        self.deferred_file = scratch / "deferred.f32" if means else None  # modes of deferred pixels
        self.row_offset = np.zeros(height, dtype=np.int64)
        # component ids (never more than the pixels) in 4 bytes where they fit
        self.ids = np.int32 if height * width < 2**31 else np.int64
        self.parent = np.empty(1024, dtype=self.ids)
        self.flags = np.zeros(1024, dtype=np.uint8)  # DEFERRED, MASKED_PIECE
        self.count = 0
        self.final: NDArray | None = None

    def add(self, n: int) -> int:
        offset = self.count
        if offset + n > len(self.parent):
            size = max(2 * len(self.parent), offset + n)
            grown = np.empty(size, dtype=self.ids)
            grown[:offset] = self.parent[:offset]
            self.parent = grown
            flags = np.zeros(size, dtype=np.uint8)
            flags[:offset] = self.flags[:offset]
            self.flags = flags
        self.parent[offset:offset + n] = np.arange(offset, offset + n, dtype=self.ids)
        self.flags[offset:offset + n] = 0
        self.count += n
        return offset


class _Run:
    """One tiled run: the parameters and the block loop."""

    def __init__(self, raster, hs, hr, kernel_id, tol, max_iter, compat, margin, rows, cols, progress) -> None:
        self.raster = raster
        self.height, self.width = raster.shape
        self.hs, self.hr = hs, hr
        self.kernel_id, self.tol, self.max_iter = kernel_id, tol, max_iter
        self.compat = compat
        self.raw_units = compat == "edison"
        self.margin = margin
        self.rows, self.cols = rows, cols
        self.progress = progress
        self.pad = _fk.window_reach(hs, self.width) + _fk.LANES + 1
        self.refiltered = 0
        self.multiband = raster.multiband
        self.channels = raster.bands if raster.multiband else 3

    # -- filtering ---------------------------------------------------------------
    def _window(self, i0, i1, j0, j1, margin):
        """The planes of rows i0..i1-1, columns j0..j1-1 with ``margin`` real pixels around."""
        from ._loader import rgb_to_luv

        height, width = self.height, self.width
        r_lo, r_hi = max(i0 - margin, 0), min(i1 + margin, height)
        c_lo, c_hi = max(j0 - margin, 0), min(j1 + margin, width)
        left = self.pad if c_lo == 0 else 0
        right = self.pad if c_hi == width else 0
        if self.multiband:
            values = self.raster.read_bands(r_lo, r_hi, c_lo, c_hi)
            planes, stride = _fk.pad_planes(values, left, right)
        else:
            luv = rgb_to_luv(self.raster.read_rgb(r_lo, r_hi, c_lo, c_hi), compat=self.compat)
            planes, stride = _fk.pad_planes(luv, left, right)
        first = c_lo - left
        bounds = np.array([r_lo, r_hi - 1, first, c_hi - 1 + right], dtype=np.int64)
        whole = r_lo == 0 and r_hi == height and c_lo == 0 and c_hi == width
        return planes, stride, -r_lo * stride - first, bounds, whole

    def _filter(self, window, i0, i1, j0, j1, out):
        planes, stride, offset, bounds, _ = window
        tiles = (-(-(i1 - i0) // BLOCK_ROWS)) * (-(-(j1 - j0) // BLOCK_COLS))
        escaped = np.zeros(tiles, dtype=np.bool_)
        with numba.parallel_chunksize(1):
            (_bk.filter_bands_block if self.multiband else _tk.filter_block)(planes, stride, offset, bounds, self.height, self.width, i0, i1, j0, j1, self.hs,
                             self.hr, self.kernel_id, self.tol, self.max_iter, self.raw_units, out, escaped)
        _interrupt.check()  # the kernels stop early on Ctrl-C
        return escaped

    def _filter_block(self, window, i0, i1, j0, j1, out) -> None:
        escaped = self._filter(window, i0, i1, j0, j1, out)
        across = -(-(j1 - j0) // BLOCK_COLS)
        for t in np.flatnonzero(escaped):
            a0 = i0 + (t // across) * BLOCK_ROWS
            b0 = j0 + (t % across) * BLOCK_COLS
            a1, b1 = min(i1, a0 + BLOCK_ROWS), min(j1, b0 + BLOCK_COLS)
            margin = max(2 * self.margin, 2 * int(math.ceil(self.hs)) + 16)
            while True:
                self.refiltered += 1
                window = self._window(a0, a1, b0, b1, margin)
                part = out[a0 - i0:a1 - i0, b0 - j0:b1 - j0]
                if not self._filter(window, a0, a1, b0, b1, part).any():
                    break
                if window[4]:  # the whole image: no climb can leave it
                    raise AssertionError("a climb left the whole image")
                margin *= 2

    def filter_and_connect(self, scratch: Path, keep_modes: bool = False) -> _Graph:
        height, width, rows, cols = self.height, self.width, self.rows, self.cols
        edison = self.compat == "edison"
        graph = _Graph(scratch, height, width, keep_modes=keep_modes, keep_seeds=edison)
        blocks = [(i0, min(i0 + rows, height), j0, min(j0 + cols, width))
                  for i0 in range(0, height, rows) for j0 in range(0, width, cols)]
        done = 0
        previous = None
        strip = None
        with contextlib.ExitStack() as stack:
            files = {name: stack.enter_context(open(path, "wb")) for name, path in
                     [("labels", graph.labels_file), ("modes", graph.modes_file), ("areas", graph.areas_file),
                      ("edges", graph.edges_file), ("seeds", graph.seeds_file), ("sums", graph.sums_file),
                      ("deferred", graph.deferred_file)] if path is not None}
            # the next block is read and converted while this one is filtered
            pool = stack.enter_context(ThreadPoolExecutor(1))
            ahead = pool.submit(self._window, *blocks[0], self.margin)
            for k, (i0, i1, j0, j1) in enumerate(blocks):
                window = ahead.result()
                if k + 1 < len(blocks):
                    ahead = pool.submit(self._window, *blocks[k + 1], self.margin)
                if j0 == 0:
                    strip = np.empty((i1 - i0, width, self.channels), dtype=np.float32)
                self._filter_block(window, i0, i1, j0, j1, strip[:, j0:j1])
                del window
                done += (i1 - i0) * (j1 - j0)
                if self.progress is not None:
                    self.progress(done, height * width)
                if j1 == width:
                    previous = self._connect_strip(graph, strip, i0, previous, files)
                    strip = None
        return graph

    # -- regions -------------------------------------------------------------------
    def _connect_strip(self, graph: _Graph, strip, i0, previous, files):
        labels, first = _rk.connect_close(strip, _regions.AGREE)  # any number of bands
        _interrupt.check()  # it stops early on Ctrl-C
        n = len(first)
        offset = graph.add(n)
        graph.row_offset[i0:i0 + strip.shape[0]] = offset
        files["areas"].write(np.bincount(labels.ravel(), minlength=n).astype(np.int64).tobytes())
        if "seeds" in files:
            files["seeds"].write(np.ascontiguousarray(strip.reshape(-1, self.channels)[first]).tobytes())
        edges = _rk.adjacent_pairs(labels)
        if len(edges):  # each pair once (as one int64 key: a sort of one column)
            keys = np.unique(edges[:, 0] * n + edges[:, 1])
            edges = np.stack([keys // n, keys % n], axis=1) + offset
            files["edges"].write(np.ascontiguousarray(edges, dtype=np.int64).tobytes())
        ids = labels[0].astype(np.int64) + offset
        joins = None
        if previous is not None:
            joins, touches = _tk.seam_pairs(previous[0], previous[1], strip[0], ids, _regions.AGREE)
            _rk.union(graph.parent, joins)
            files["edges"].write(np.ascontiguousarray(touches, dtype=np.int64).tobytes())
        files["labels"].write(labels.tobytes())
        if "modes" in files:
            files["modes"].write(strip.tobytes())
        if "sums" in files:
            flags = graph.flags[offset:offset + n]
            if i0 + strip.shape[0] < self.height:  # the next strip may join what touches this one's last row
                flags[np.unique(labels[-1])] = DEFERRED
            if joins is not None and len(joins):  # joined to the strip above
                flags[joins[:, 1] - offset] = DEFERRED
            if self.multiband:  # a component is masked or not throughout: its first pixel says which
                flags[strip.reshape(-1, self.channels)[first, 0] >= MASKED_MIN] |= MASKED_PIECE
            sums, deferred = _tk.strip_sums(labels, strip, flags, n)
            files["sums"].write(sums.tobytes())
            files["deferred"].write(deferred.tobytes())
        return strip[-1].copy(), labels[-1].astype(np.int64) + offset

    def _strips(self, graph: _Graph, rows: int, *, modes: bool = True):
        """(y0, strip components (h, w) int32, each row's first component id (h,), modes (h, w, c)
        or None) of the strips of ``rows`` rows, from the scratch files; ``modes`` False: None."""
        width = self.width
        with open(graph.labels_file, "rb") as lf, (open(graph.modes_file, "rb") if graph.modes_file and modes
                                                   else contextlib.nullcontext()) as mf:
            for y0 in range(0, self.height, rows):
                h = min(rows, self.height - y0)
                local = np.frombuffer(lf.read(h * width * 4), dtype=np.int32).reshape(h, width)
                modes = None
                if mf is not None:
                    c = self.channels
                    modes = np.frombuffer(mf.read(h * width * c * 4), dtype=np.float32).reshape(h, width, c)
                yield y0, local, graph.row_offset[y0:y0 + h], modes

    def _edges(self, graph: _Graph, component, masked):
        """The edges between connected regions (a < b), read in chunks, in the order the strips
        wrote them; edges of masked regions left out (masked pixels form regions of their own
        that join nothing: no valid region is fused or pruned into them, nor they into one)."""
        with open(graph.edges_file, "rb") as f:
            while True:
                pairs = np.fromfile(f, dtype=np.int64, count=2 * EDGE_CHUNK).reshape(-1, 2)
                if not len(pairs):
                    return
                edges = component[pairs]
                edges = edges[edges[:, 0] != edges[:, 1]]
                edges = np.sort(edges, axis=1)
                if masked is not None:
                    edges = edges[~(masked[edges[:, 0]] | masked[edges[:, 1]])]
                yield np.ascontiguousarray(edges)

    def _chunks(self, path: Path, dtype, columns: int):
        """(first row, rows) of a file of ``columns``-wide rows, EDGE_CHUNK rows at a time."""
        start = 0
        with open(path, "rb") as f:
            while True:
                rows = np.fromfile(f, dtype=dtype, count=columns * EDGE_CHUNK).reshape(-1, columns)
                if not len(rows):
                    return
                yield start, rows
                start += len(rows)

    def _mean_modes(self, graph: _Graph, component, n0: int, areas) -> NDArray[np.float64]:
        """Each connected region's mean mode: the sums of the components no seam joins, then the
        deferred pixels' modes added in raster order; masked regions get the masked value."""
        flags = graph.flags[:graph.count]
        modes = np.zeros((n0, self.channels))
        for start, rows in self._chunks(graph.sums_file, np.float64, self.channels):
            _tk.place_sums(component, flags, start, rows, modes)
        c = self.channels
        with open(graph.deferred_file, "rb") as values:
            for y0, local, offsets, _ in self._strips(graph, BLOCK_ROWS * 8, modes=False):
                count = _tk.count_deferred(local, offsets, flags)
                pixels = np.fromfile(values, dtype=np.float32, count=count * c).reshape(count, c)
                if len(pixels) != count:
                    raise AssertionError("the deferred modes end early")
                _tk.add_deferred(local, offsets, component, flags, pixels, modes)
        modes /= areas[:, None]
        masked = np.zeros(n0, dtype=np.bool_)
        masked[component[(flags & MASKED_PIECE) != 0]] = True
        modes[masked] = MASKED
        return modes

    def regions(self, graph: _Graph, min_pixels: int, band_order) -> dict:
        """Connect, fuse and prune the region graph the strips left, as the untiled run does.

        The region graph before fusing can have a region for every few pixels; it is never
        held whole. Its first fusing pass joins regions over the edges read in chunks from
        the scratch file; only the graph after that pass (a region for every few hundred
        pixels on a photo or a scene) is held, and the rest runs on it with the untiled
        run's code. Each step is the untiled step's arithmetic in the untiled order, so
        the labels are those of :func:`segshift._regions.fuse_regions` on the whole graph.
        """
        from . import _render as render

        component = graph.parent[:graph.count].copy()  # without the room left for more
        graph.parent = None
        n0 = _rk.number_sets(component)  # in place: the connected region of each strip component
        areas = np.zeros(n0, dtype=graph.ids)  # a region's pixels fit where its id does
        for start, rows in self._chunks(graph.areas_file, np.int64, 1):
            _tk.add_at(areas, component, start, rows[:, 0])
        if graph.seeds_file is not None:  # EDISON's numerics: the mode of a region's first pixel
            modes = np.empty((n0, self.channels))
            met = 0
            for start, rows in self._chunks(graph.seeds_file, np.float32, self.channels):
                met = _tk.first_rows(component, start, rows, modes, met)
        else:  # the mean of its pixels' modes, summed in raster order (see _Graph)
            modes = self._mean_modes(graph, component, n0, areas)
        masked = None
        if self.multiband:
            masked = modes[:, 0] >= MASKED_MIN
            masked = masked if masked.any() else None
        bright = not self.multiband
        # the first fusing pass (segshift._regions.fuse_regions) over the edges in chunks
        group = np.arange(n0, dtype=graph.ids)
        limit2 = 0.25 * self.hr * self.hr
        joined = False
        for edges in self._edges(graph, component, masked):
            close = _rk.close_pairs(edges, modes, limit2, bright)
            if len(close):
                _rk.union(group, close)
                joined = True
            _interrupt.check()
        if joined:
            m = _rk.number_sets(group)  # in place: the region of each connected region after the pass
            sizes, means = _rk.joined_means(group, m, areas, modes)
            del modes, areas
            edges = [pairs[pairs[:, 0] != pairs[:, 1]] for pairs in
                     (group[e] for e in self._edges(graph, component, masked))]
            regions = _regions.Regions(np.zeros((0, 0), dtype=np.int32), group, means, sizes, _concat(edges))
            regions = _regions.fuse_regions(regions, self.hr, passes=1, bright=bright)
        else:  # nothing fuses (nor would a second pass): the whole graph is needed to prune
            edges = _concat(list(self._edges(graph, component, masked)))
            regions = _regions.Regions(np.zeros((0, 0), dtype=np.int32), np.arange(n0, dtype=np.int64), modes,
                                       areas.astype(np.int64), edges)
        regions = _regions.prune_regions(regions, min_pixels)
        final = regions.region_label[component]  # final label of each strip component
        del component, group
        graph.final = final
        n = len(regions.areas)
        bbox = np.empty((n, 4), dtype=np.int64)
        bbox[:, :2] = 1 << 62
        bbox[:, 2:] = -1
        sums = np.zeros((n, 2), dtype=np.int64)
        for y0, labels in _label_rows(self, graph, BLOCK_ROWS * 8):
            _tk.label_stats(labels, y0, bbox, sums)
        centroid = sums / np.maximum(regions.areas, 1)[:, None]
        if self.multiband:
            rgb = stretch_bands(regions.modes[:, band_order])
        else:
            rgb = render.luv_to_rgb8(regions.modes, compat=self.compat)
        return dict(areas=regions.areas, modes=regions.modes, rgb=rgb, bbox=bbox, centroid=centroid, connected=n0)


def _concat(edges: list) -> NDArray[np.int64]:
    return np.ascontiguousarray(np.concatenate(edges) if edges else np.empty((0, 2), dtype=np.int64), dtype=np.int64)


def stretch_bands(modes: NDArray[np.floating]) -> NDArray[np.uint8]:
    """Colours of multiband modes (n, 3): each band stretched linearly from
    its smallest to its largest mode onto 0..255."""
    modes = np.asarray(modes, dtype=np.float64)
    valid = modes[:, 0] < MASKED_MIN if len(modes) else np.zeros(0, dtype=bool)
    if not valid.any():
        return np.zeros((len(modes), 3), dtype=np.uint8)
    lo = modes[valid].min(axis=0)  # masked regions (MASKED modes) are painted black
    span = np.maximum(modes[valid].max(axis=0) - lo, 1e-12)
    modes = np.where(valid[:, None], modes, lo)
    return np.clip(np.round((modes - lo) / span * 255.0), 0, 255).astype(np.uint8)


def _label_rows(run: _Run, graph: _Graph, rows: int):
    """(y0, final labels (h, w) int64) of strips of ``rows`` rows."""
    for y0, local, offset, _ in run._strips(graph, rows, modes=False):
        yield y0, graph.final[local + offset[:, None]]


def _write_outputs(run: _Run, graph: _Graph, table: dict, labels_path, modes_path) -> None:
    """Write the label map and the mode picture tile by tile; both or neither."""
    written = []
    try:
        if labels_path is not None:
            _write_labels(run, graph, Path(labels_path), table)
            written.append(labels_path)
        if modes_path is not None:
            colours = table["rgb"]
            with writers.atomic_path(modes_path) as tmp:
                _write_tiff(tmp, run, graph, lambda labels: colours[labels], 3, np.uint8, photometric="rgb")
            written.append(modes_path)
    except BaseException:
        for dest in written:
            with contextlib.suppress(OSError):
                os.unlink(dest)
        raise


def _write_labels(run: _Run, graph: _Graph, dest: Path, table: dict) -> None:
    if dest.suffix.lower() == ".npy":
        if len(table["areas"]) > np.iinfo(np.int32).max:
            raise OutputError(f"{dest}: too many regions for int32 labels; write a .tif instead")
        with writers.atomic_open(dest, "wb") as handle:
            writers.write_npy_strips(handle, np.int32, (run.height, run.width),
                                     (labels for _, labels in _label_rows(run, graph, BLOCK_ROWS * 8)))
        return
    with writers.atomic_path(dest) as tmp:
        _write_tiff(tmp, run, graph, lambda labels: labels.astype(np.uint32), 1, np.uint32, photometric="minisblack")


def _write_tiff(target, run: _Run, graph: _Graph, paint, samples: int, dtype, *, photometric: str) -> None:
    """A tiled (Big)TIFF of ``paint(labels)`` for every tile, written as the tiles are made."""
    import tifffile

    height, width, tile = run.height, run.width, OUTPUT_TILE

    def tiles():
        for y0, labels in _label_rows(run, graph, tile):
            row = paint(labels)
            for x0 in range(0, width, tile):
                block = np.zeros((tile, tile) + ((samples,) if samples > 1 else ()), dtype=dtype)
                part = row[:, x0:x0 + tile]
                block[:part.shape[0], :part.shape[1]] = part
                yield block

    shape = (height, width, samples) if samples > 1 else (height, width)
    bigtiff = height * width * samples * np.dtype(dtype).itemsize > 2**31
    tifffile.imwrite(target, data=tiles(), shape=shape, dtype=dtype, tile=(tile, tile), photometric=photometric,
                     compression="zlib", bigtiff=bigtiff or dtype == np.uint32)


@dataclass(frozen=True, eq=False)
class Streamed:
    """What :func:`segment_streamed` makes: the parts of a :class:`segshift.Segmentation`.

    Attributes
    ----------
    labels : (H, W) ndarray or numpy.memmap of int32
        Region of each pixel, from 0, numbered as the in-memory run numbers them.
    modes_luv : (n, 3) ndarray of float32
    modes_rgb : (n, 3) ndarray of uint8
    areas : (n,) ndarray of int64
    hierarchy : segshift._hierarchy.Hierarchy or None
        With a placement that reads the file's rows and writes other levels
        and the UCM into memory maps (``scale="auto"``); None with the fixed scale.
    threshold : float or None
    image : (H, W, 3) ndarray of float32 or None
        The RGB image when it was held in memory (not streamed), else None.
    streamed : bool
        Whether the image was processed in strips or blocks.
    how : str
        How it was computed (the log line).
    scratch : tempfile.TemporaryDirectory or None
        The folder of the memory maps, removed when this object (and the
        hierarchy, whose placement keeps it for later levels) is collected:
        keep a reference while the labels are used.
    """

    labels: NDArray[np.int32]
    modes_luv: NDArray[np.float32]
    modes_rgb: NDArray[np.uint8]
    areas: NDArray[np.int64]
    hierarchy: Hierarchy | None = field(default=None, repr=False)
    threshold: float | None = None
    image: NDArray[np.float32] | None = field(default=None, repr=False)
    streamed: bool = False
    how: str = ""
    scratch: object = field(default=None, repr=False)

    @property
    def n_regions(self) -> int:
        """Number of regions."""
        return len(self.areas)


def segment_streamed(
    source,
    params=None,
    *,
    memory_limit: int | str | None = None,
    tile_size: int | None = None,
    scratch_dir=None,
    progress: Callable[[int, int], None] | None = None,
    **options,
) -> Streamed:
    """Segment an image file as :func:`segshift.segment` does, in memory bounded by ``memory_limit``.

    The settings decide the result, the memory limit and the tile size only
    how it is computed: the labels, areas, modes, hierarchy, automatic level
    and UCM equal those of the in-memory run, pixel for pixel.

    - An image that fits the limit (and no ``tile_size``) is segmented in memory.
    - At a working resolution (the default, ``spatial_radius=None`` with
      ``resolution="auto"``), the file is read in strips of rows and reduced
      to the working image (:func:`segshift._resolution.area_resize_rows`),
      bitwise the whole image's; the working-resolution pipeline runs on it
      (:func:`segshift._segment.segment_grid`), and the labels are placed at
      full resolution strip by strip into a memory map in a scratch folder,
      as are later levels (:meth:`segshift.Segmentation.at`) and the UCM.
    - At full resolution with the fixed scale (a radius in pixels, or
      ``resolution="full"``, with ``scale="fixed"``), the block-wise filter
      of :func:`segment_blocks`, into a label memory map.
    - At full resolution with the hierarchy (``scale="auto"``) on an image
      that does not fit: refused (the hierarchy's texture and colour
      statistics are made over the whole image in memory).

    Parameters
    ----------
    source : str or path-like
        An image file: TIFF/BigTIFF read in windows; other formats decoded
        whole when that fits ``memory_limit`` (:func:`segshift._raster.open_raster`).
    params : segshift.Params, optional
        The algorithm's options (default: the defaults).
    **options
        Options that override ``params`` (``spatial_radius=7``, ``scale="fixed"``, ...).
    memory_limit : int or str, optional
        Bytes (or a size such as ``"2GB"``); default :func:`default_memory_limit`.
    tile_size : int, optional
        Process in strips of this many rows (blocks of this side at full
        resolution) even when the image fits in memory.
    scratch_dir : str or path-like, optional
        Folder of the scratch folder that holds the memory maps (default:
        the system's temporary folder). It is removed when the result and
        its hierarchy are no longer referenced.
    progress : callable, optional
        Called as ``progress(done, total)`` while pixels climb.

    Returns
    -------
    Streamed

    Raises
    ------
    ParameterError
        A parameter out of range, or a computation that cannot be made
        within the limit (the message says what works).
    ImageReadError
        The file cannot be read.
    """
    from . import _resolution as _resolution
    from ._loader import load_image
    from .params import from_options
    from ._pipeline import segment_grid, segment_rgb, working_plan

    p = from_options(params, **options)
    limit = default_memory_limit() if memory_limit is None else parse_memory(memory_limit)
    if tile_size is not None:
        tile_size = int(check_positive("tile_size", tile_size, integer=True))

    raster = open_raster(source, memory_limit=limit)
    height, width = raster.shape
    if raster.multiband:
        raster.close()
        raise ParameterError(f"{source}: a multiband raster is segmented by segshift.geo.segment_raster or segshift.tiled.segment_blocks (full resolution, "
                             "scale='fixed'), not as a photo")
    work = working_plan((height, width), p)
    fits = not needs_tiling(height, width, limit)
    why = _why(height, width, limit, tile_size)

    if work.shape is None and p.scale == "fixed" and (tile_size is not None or not fits):
        if work.speedup == "fast":
            raster.close()
            raise ParameterError(
                f"speedup='fast' at full resolution needs the whole image in memory ({why}); use "
                "resolution='auto' (the default), speedup='none', or a larger memory limit")
        return _fixed_full_resolution(raster, work.spatial_radius, p, limit, tile_size, scratch_dir, progress, why)
    if fits and (tile_size is None or work.shape is None):
        raster.close()
        rgb = load_image(source, max_pixels=None)
        seg = segment_rgb(rgb, p, progress=progress)
        return Streamed(seg.labels, seg.modes_luv, seg.modes_rgb, seg.areas, seg.hierarchy, seg.threshold, rgb,
                        False, "in memory")
    if work.shape is None:
        raster.close()
        raise ParameterError(
            f"scale='auto' at full resolution (resolution='full' or a spatial radius in pixels) needs the whole "
            f"image in memory ({why}); use resolution='auto' (the default), scale='fixed', or a larger memory limit")

    rows = tile_size if tile_size is not None else max(1, (limit // 2) // (width * STREAM_BYTES_PER_PIXEL))
    how = f"tiled: {why}, in strips of {rows} rows"
    log.info(how)
    scratch = writers.ScratchFolder(".segshift-", scratch_dir)
    allocate = _allocator(scratch, (height, width))

    def read(y0: int, y1: int) -> NDArray[np.float32]:
        return raster.read_rgb(y0, y1, 0, width)

    grid = _resolution.area_resize_rows(read, (height, width), work.shape, rows)
    seg = segment_grid(grid, work, read, p, shape=(height, width), strip_rows=rows, allocate=allocate,
                       progress=progress)
    return Streamed(seg.labels, seg.modes_luv, seg.modes_rgb, seg.areas, seg.hierarchy, seg.threshold, None, True,
                    how, scratch)


def _why(height: int, width: int, limit: int, tile_size: int | None) -> str:
    """Why a run tiles, for its log line."""
    if needs_tiling(height, width, limit):
        return f"{height * width / 1e6:.1f} MP image above the {limit / 1e6:.0f} MB memory limit"
    return f"tile size {tile_size} given"


def _allocator(scratch, shape: tuple[int, int]):
    """``allocate(dtype)``: a new (H, W) ``.npy`` memory map in the scratch folder
    (a :class:`tempfile.TemporaryDirectory`, kept alive by the function)."""
    counter = itertools.count()

    def allocate(dtype) -> np.memmap:
        path = Path(scratch.name) / f"{next(counter)}.npy"
        return np.lib.format.open_memmap(path, mode="w+", dtype=np.dtype(dtype), shape=shape)

    return allocate


def _fixed_full_resolution(raster, spatial_radius, p, limit, tile_size, scratch_dir, progress, why) -> Streamed:
    """The fixed scale at full resolution, block by block (see the module's
    description): labels into a memory map, numbered as in memory, and the
    regions' colours of ``p.region_colour``: the mean of their pixels' modes
    (summed in raster order, as in memory) or the seeded modes."""
    from . import _render as render

    height, width = raster.shape
    # the whole-image run's clamps (segshift._meanshift.filter_image)
    hs = max(min(spatial_radius, 1e4 * (float(np.hypot(height, width)) + 1.0)), 1e-100)
    hr = max(p.range_radius_value, 1e-100)
    min_pixels = min_size_pixels(p.min_size_value, height * width)
    mean = p.region_colour != "seed"
    height, width = raster.shape
    margin = default_margin(hs)
    rows, cols = block_shape(height, width, limit, margin, tile_size, raster.bands)
    how = f"tiled: {why}, in blocks of {rows}x{cols}"
    log.info(how)
    scratch = writers.ScratchFolder(".segshift-", scratch_dir)
    try:
        run = _Run(raster, hs, hr, check_kernel(p.kernel), p.tol, p.max_iter, p.compat, margin, rows, cols, progress)
        with tempfile.TemporaryDirectory(prefix="graph-", dir=scratch.name) as work, _scratch_space(work):
            graph = run.filter_and_connect(Path(work), keep_modes=mean)
            table = run.regions(graph, min_pixels, [0, 1, 2])
            labels = _allocator(scratch, (height, width))(np.int32)
            for y0, part in _label_rows(run, graph, BLOCK_ROWS * 8):
                labels[y0:y0 + len(part)] = part
            labels.flush()
            colours = table["modes"]
            if mean:  # segshift._segment.mean_modes, in the same order
                sums = np.zeros((len(table["areas"]), 3))
                for _, local, offsets, strip_modes in run._strips(graph, BLOCK_ROWS * 8):
                    _tk.add_modes(local, offsets, graph.final, strip_modes, sums)
                colours = sums / np.maximum(table["areas"], 1)[:, None]
    except BaseException:
        scratch.cleanup()
        raise
    finally:
        raster.close()
    return Streamed(labels, colours.astype(np.float32), render.luv_to_rgb8(colours, compat=p.compat), table["areas"],
                    None, None, None, True, how, scratch)


def segment_large(path, *args, **kwargs) -> RegionTable:
    """Deprecated since 1.0: :func:`segment_blocks` under its 0.x name.

    For a photo of any size, ``segshift.segment(path, memory_limit=...)``
    gives a :class:`segshift.Segmentation` with the same labels as in
    memory, at every setting (the defaults included); for a multiband or
    georeferenced raster, :func:`segshift.geo.segment_raster`. This name
    keeps working, with a FutureWarning, until segshift 1.1.
    """
    import warnings

    warnings.warn(
        "segment_large is deprecated and will be removed in segshift 1.1: use segshift.segment(path, "
        "memory_limit=...) for photos (the same labels as in memory, at every setting), "
        "segshift.geo.segment_raster for multiband rasters, or segshift.tiled.segment_blocks",
        FutureWarning, stacklevel=2,
    )
    return segment_blocks(path, *args, **kwargs)
