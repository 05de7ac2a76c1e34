"""Georeferenced rasters: segmentation that keeps the scene's grid, mask and CRS.

The ``segshift[geo]`` extra (rasterio, pyogrio, shapely), imported lazily.
:func:`segment_raster` segments any raster GDAL reads (GeoTIFF, Cloud-Optimised
GeoTIFF, JPEG 2000, VRT, ...) tile by tile with the full-resolution mean shift
of :func:`segshift.tiled.segment_blocks`, and writes

- the label raster: a tiled, compressed GeoTIFF of uint32 labels numbered from
  1 in raster order of each segment's first pixel (independent of tiling),
  0 (its nodata value) where the input is masked;
- the mode raster: every pixel the mode of its segment in the bands' own
  units and type, with the input's nodata;
- the polygons (:mod:`segshift.vectors`): one (multi)polygon per segment
  with its pixel count, area, perimeter and per-band statistics.

All three carry the input's CRS and geotransform. How it reads:

- :class:`GeoRaster` is a window reader (the interface of
  :class:`segshift._raster.Raster`: ``shape``, ``bands``, ``multiband``,
  ``read``/``read_rgb``/``read_bands`` of a window, ``close``) over a GDAL
  dataset, so the tiled path reads it without importing rasterio itself.
- The dataset mask is GDAL's (:meth:`rasterio.io.DatasetReader.dataset_mask`:
  a per-dataset mask band, an alpha band, or the bands' nodata values), plus
  non-finite samples. Masked pixels are not segmented: they weigh nothing in
  any window, never climb, connect to no valid pixel, and no segment is fused
  or pruned into them.
- Every band is a range component in its own units, optionally divided by a
  per-band scale (``band_scale="std"``: each band's standard deviation over
  the valid pixels, computed exactly in one streamed pass) so that one range
  radius fits bands of unequal spread.
- Radii may be given in map units (``"30m"``, ``"0.5km"``, ``"0.001deg"``),
  converted with the pixel size, and the minimum size as an area
  (``"1ha"``, ``"900m2"``), converted with the pixel area.

Defaults for georeferenced rasters (:data:`GEO_DEFAULTS`) are in pixels and
standard deviations, so they depend on the input and the settings only; see
``docs/geo-comparison.md`` for how they were chosen.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import writers
from .errors import ImageError, ImageReadError, MissingDependencyError, OutputError, ParameterError

__all__ = [
    "segment_raster",
    "segment_scene",
    "GeoSegmentation",
    "GeoRaster",
    "open_geo",
    "Grid",
    "geo_available",
    "is_georeferenced",
    "georeferenced_hint",
    "map_length_to_pixels",
    "map_area_to_pixels",
    "scratch_prefix",
    "check_units",
    "require",
]

#: The defaults of :func:`segment_raster`: a 5-pixel spatial radius, half a
#: standard deviation of each band as the range radius (bands scaled by their
#: standard deviation), segments of at least 20 pixels, convergence in
#: bandwidth units and each segment's mode the mean of its pixels' modes
#: (``compat=None``: no segment painted with the mode of its first pixel, and
#: no slower than EDISON's numerics, see docs/benchmarks/geo_numerics.json). Measured on the
#: 791 x 718 Landsat subset of rasterio's test data (``RGB.byte.tif``) and on
#: synthetic 4-band scenes: see docs/geo-comparison.md.
GEO_DEFAULTS = dict(spatial_radius=5.0, range_radius=0.5, min_size=20, band_scale="std", kernel="uniform",
                    compat=None)
#: With ``band_scale="std"`` the filter sees each band in hundredths of its
#: standard deviation (the range radius is scaled alike): neighbouring modes
#: connect when they agree within one unit (EDISON's test), so a unit must be
#: fine beside the radius, as one L*u*v* unit is beside a photo's radius of 12
#: (one standard deviation would join most of a scene at the connect stage).
STD_STEPS = 100.0
#: Label raster: uint32, 0 is nodata (masked pixels; labels start at 1).
LABEL_NODATA = 0
#: Tile side of written GeoTIFFs; strips of this many rows are written at once.
GEOTIFF_TILE = 256
#: Raster formats written (GeoTIFF; ``cog=True`` makes it Cloud-Optimised).
RASTER_FORMATS = (".tif", ".tiff")

_HINT = ("{path} is georeferenced: install segshift[geo] (pip install 'segshift[geo]') to keep its CRS and "
         "transform in the label raster, respect its nodata mask and write one polygon per segment (--polygons)")

#: Length units of map distances, in metres (the CRS's own unit converts them).
_LENGTHS = {"m": 1.0, "km": 1000.0, "ft": 0.3048, "us-ft": 1200 / 3937}
#: Area units of a minimum size, in square metres.
_AREAS = {"m2": 1.0, "km2": 1e6, "ha": 1e4}


def _rasterio():
    """rasterio, or a one-line error saying which extra brings it."""
    try:
        import rasterio
    except ImportError:
        raise MissingDependencyError(
            "georeferenced rasters need rasterio: pip install 'segshift[geo]'"
        ) from None
    return rasterio


#: GDAL's block cache during a run: this fraction of the memory limit, within the bounds below.
CACHE_FRACTION = 1 / 16
CACHE_BOUNDS = (16 * 2**20, 256 * 2**20)


def _block_cache(memory_limit):
    """GDAL's block cache bounded by the memory limit while a run reads and writes (its
    default is 5 % of the physical memory, well above a small limit); a smaller
    ``GDAL_CACHEMAX`` already set is kept. Memory only: the results do not depend on it."""
    from rasterio.env import get_gdal_config

    from .tiled import parse_memory
    from .writers import default_memory_limit

    limit = default_memory_limit() if memory_limit is None else parse_memory(memory_limit)
    cache = int(min(max(limit * CACHE_FRACTION, CACHE_BOUNDS[0]), CACHE_BOUNDS[1]))
    current = get_gdal_config("GDAL_CACHEMAX")
    if isinstance(current, int) and current > 0:  # bytes (a number below 100000 would be megabytes)
        cache = min(cache, current if current >= 100000 else current * 2**20)
    return _rasterio().Env(GDAL_CACHEMAX=cache)


def require() -> None:
    """Raise MissingDependencyError (one line: how to install the extra) unless rasterio can be imported."""
    _rasterio()


def check_units(value, what: str, kind: str) -> None:
    """Check a ``kind`` ("length" or "area") given as pixels or with a unit, before any raster is open
    (a folder of scenes checks its settings once, not in every scene).

    Raises
    ------
    ParameterError
        Not a number with an optional unit, or an unknown unit (the message lists the known ones).
    """
    units = ("px", "pixel", "pixels", *(("deg", *_LENGTHS) if kind == "length" else _AREAS))
    _, unit = _split_unit(value, what)
    if unit not in units:
        raise ParameterError(f"{what}: unknown unit {unit!r} in {value!r} (use {', '.join(units)})")


def geo_available() -> bool:
    """Whether the ``segshift[geo]`` extra (rasterio, pyogrio, shapely) can be imported."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("rasterio", "pyogrio", "shapely"))


def georeferenced_hint(path) -> str | None:
    """The one-line hint to install the extra when ``path`` is a georeferenced TIFF
    and the extra is missing; None otherwise (read with tifffile, no GDAL needed)."""
    if geo_available() or Path(path).suffix.lower() not in (".tif", ".tiff"):
        return None
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            tags = tif.pages[0].tags
            # ModelPixelScale, ModelTiepoint, ModelTransformation, GeoKeyDirectory
            if any(code in tags for code in (33550, 33922, 34264, 34735)):
                return _HINT.format(path=path)
    except Exception:  # noqa: BLE001 - the reader proper says what is wrong with the file
        return None
    return None


def is_georeferenced(path) -> bool:
    """Whether GDAL reads ``path`` with a CRS or a non-identity geotransform (False without the extra)."""
    if not geo_available():
        return False
    rasterio = _rasterio()
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with rasterio.open(path) as ds:
                return ds.crs is not None or not ds.transform.is_identity
    except Exception:  # noqa: BLE001 - not a raster GDAL reads: not georeferenced
        return False


# --------------------------------------------------------------------------- #
# Map units
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class Grid:
    """The georeferencing of a raster: CRS (WKT, or None), affine transform
    (a, b, c, d, e, f as rasterio's Affine), size."""

    height: int
    width: int
    transform: tuple[float, float, float, float, float, float]
    crs_wkt: str | None
    geographic: bool = False
    metres_per_unit: float | None = None

    @property
    def pixel_area(self) -> float:
        """Area of one pixel in the CRS's units squared (|determinant| of the transform)."""
        a, b, _, d, e, _ = self.transform
        return abs(a * e - b * d)

    def pixel_size(self) -> tuple[float, float]:
        """Lengths of a pixel's column and row steps, in CRS units."""
        a, b, _, d, e, _ = self.transform
        return math.hypot(a, d), math.hypot(b, e)

    def square(self) -> bool:
        """Pixels are squares (north-up or rotated, not sheared or stretched)."""
        a, b, _, d, e, _ = self.transform
        sx, sy = self.pixel_size()
        return abs(sx - sy) <= 1e-6 * max(sx, sy) and abs(a * b + d * e) <= 1e-9 * sx * sy


def _split_unit(value, what: str) -> tuple[float, str]:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value), "px"
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zA-Z0-9-]*)\s*", str(value))
    if not match:
        raise ParameterError(f"{what} must be a number of pixels or a map distance such as 30m, got {value!r}")
    return float(match.group(1)), (match.group(2).lower() or "px")


def map_length_to_pixels(value, grid: Grid, what: str = "spatial_radius") -> float:
    """A length in pixels from pixels (a number, ``"12"``, ``"12px"``) or map units (``"30m"``, ``"1.5km"``,
    ``"100ft"``; ``"0.001deg"`` in a geographic CRS), converted with the pixel size.

    Raises
    ------
    ParameterError
        An unknown unit, a map unit without a CRS, metres in a geographic CRS, or pixels that are not square.
    """
    number, unit = _split_unit(value, what)
    if unit in ("px", "pixel", "pixels"):
        return number
    if unit not in _LENGTHS and unit != "deg":
        raise ParameterError(f"{what}: unknown unit {unit!r} in {value!r} (use px, m, km, ft or deg)")
    if grid.crs_wkt is None:
        raise ParameterError(f"{what}={value!r} is in map units but the raster has no CRS; give it in pixels")
    if not grid.square():
        sx, sy = grid.pixel_size()
        raise ParameterError(
            f"{what}={value!r}: a radius in map units needs square pixels, and this raster's are "
            f"{sx:g} x {sy:g} (or sheared); give it in pixels"
        )
    size = grid.pixel_size()[0]
    if grid.geographic:
        if unit != "deg":
            raise ParameterError(
                f"{what}={value!r}: the raster's CRS is geographic (degrees); give it in pixels or degrees "
                f"(a pixel is {size:g} deg)"
            )
        return number / size
    if unit == "deg":
        raise ParameterError(f"{what}={value!r}: the raster's CRS is projected; give it in pixels or metres")
    return number * _LENGTHS[unit] / (grid.metres_per_unit * size)


def map_area_to_pixels(value, grid: Grid, what: str = "min_size") -> int:
    """A whole number of pixels from pixels or an area (``"900m2"``, ``"1ha"``, ``"0.5km2"``), rounded up."""
    number, unit = _split_unit(value, what)
    if unit in ("px", "pixel", "pixels"):
        if not number.is_integer():
            raise ParameterError(f"{what} must be a whole number of pixels or an area such as 1ha, got {value!r}")
        return int(number)
    if unit not in _AREAS:
        raise ParameterError(f"{what}: unknown unit {unit!r} in {value!r} (use px, m2, ha or km2)")
    if grid.crs_wkt is None or grid.geographic:
        raise ParameterError(f"{what}={value!r} is an area but the raster has no projected CRS; give it in pixels")
    pixel_m2 = grid.pixel_area * grid.metres_per_unit ** 2
    return math.ceil(number * _AREAS[unit] / pixel_m2 - 1e-9)


# --------------------------------------------------------------------------- #
# The window reader
# --------------------------------------------------------------------------- #


class GeoRaster:
    """A GDAL raster read in windows (the window-reader interface of :class:`segshift._raster.Raster`).

    ``read_bands`` returns the bands in their own units as
    ``(samples - offset) / scale * steps`` (``steps`` is :data:`STD_STEPS`
    with ``band_scale="std"``, else 1), and :data:`segshift.tiled.MASKED` in every
    band of a masked pixel; ``read_mask`` the validity of a window.

    Parameters
    ----------
    path : str or path-like
        Any raster GDAL reads.
    band_scale : {"std", "none"} or sequence of float
        Per-band divisors of the range space: each band's standard deviation
        over the valid pixels, none, or given values (one per band).

    Attributes
    ----------
    path, height, width, bands, dtype, multiband (always True: the range
    space is the bands), indexes (the 1-based GDAL bands segmented: all but
    alpha bands), grid (:class:`Grid`), nodata (the input's, or None),
    masked (the dataset mask marks some pixel of the raster invalid: only
    known after a full pass, else whether the dataset has a mask at all),
    offset, scale ((bands,) float64), steps (float).
    """

    def __init__(self, path, *, band_scale="none") -> None:
        rasterio = _rasterio()
        import warnings

        self.path = Path(path)
        if not self.path.exists():
            raise ImageReadError(f"{self.path}: no such file")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # NotGeoreferencedWarning: a plain TIFF reads in pixels
                self._ds = rasterio.open(self.path)
        except Exception as exc:  # noqa: BLE001 - GDAL raises RasterioIOError and friends
            raise ImageReadError(f"{self.path}: cannot read as a raster ({_reason(exc)})") from None
        ds = self._ds
        self._lock = threading.Lock()  # GDAL datasets are not thread-safe; the tiled path reads ahead
        self.height, self.width = ds.height, ds.width
        alpha = [c.name == "alpha" for c in ds.colorinterp]
        self.indexes = [i + 1 for i in range(ds.count) if not alpha[i]] or [1]  # an alpha band is the mask
        self.bands = len(self.indexes)
        self.dtype = np.dtype(ds.dtypes[self.indexes[0] - 1])
        if len({ds.dtypes[i - 1] for i in self.indexes}) > 1:
            self.close()
            raise ImageError(f"{self.path}: bands of different sample types ({', '.join(ds.dtypes)})")
        if np.dtype(self.dtype).kind == "c":
            self.close()
            raise ImageError(f"{self.path}: complex samples cannot be segmented")
        self.multiband = True
        self.lazy = True
        self.nodata = ds.nodata
        flags = ds.mask_flag_enums
        self.has_mask = any(not (len(f) == 1 and f[0].name == "all_valid") for f in flags) or \
            np.dtype(self.dtype).kind == "f"
        crs = ds.crs
        geographic = bool(crs is not None and crs.is_geographic)
        metres = None
        if crs is not None and not geographic:
            with contextlib.suppress(Exception):
                metres = float(crs.linear_units_factor[1])
        if ds.transform.is_identity and crs is None and ds.gcps[0]:
            self.close()
            raise ImageError(f"{self.path}: georeferenced by ground control points only; warp it to a grid first "
                             "(gdalwarp)")
        self.grid = Grid(self.height, self.width, tuple(ds.transform)[:6], None if crs is None else crs.to_wkt(),
                         geographic, metres)
        self._crs = crs
        self.transform = ds.transform
        self.offset = np.zeros(self.bands)
        self.scale = np.ones(self.bands)
        self.steps = 1.0
        self.valid_pixels: int | None = None
        self.set_band_scale(band_scale)

    # -- the window-reader interface ---------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """(height, width)."""
        return self.height, self.width

    def _window(self, y0, y1, x0, x1):
        from rasterio.windows import Window

        return Window(x0, y0, x1 - x0, y1 - y0)

    def read(self, y0: int, y1: int, x0: int, x1: int) -> NDArray:
        """The stored samples of rows y0..y1-1, columns x0..x1-1: (h, w, bands)."""
        try:
            with self._lock:
                data = self._ds.read(self.indexes, window=self._window(y0, y1, x0, x1))
        except Exception as exc:  # noqa: BLE001
            raise ImageReadError(f"{self.path}: cannot read rows {y0}-{y1 - 1}: {_reason(exc)}") from None
        return np.moveaxis(data, 0, -1)

    def read_mask(self, y0: int, y1: int, x0: int, x1: int, samples: NDArray | None = None) -> NDArray[np.bool_]:
        """Valid pixels of a window: GDAL's dataset mask, and finite samples."""
        if not self.has_mask:
            return np.ones((y1 - y0, x1 - x0), dtype=bool)
        try:
            with self._lock:
                valid = self._ds.dataset_mask(window=self._window(y0, y1, x0, x1)) > 0
        except Exception as exc:  # noqa: BLE001
            raise ImageReadError(f"{self.path}: cannot read the mask of rows {y0}-{y1 - 1}: {_reason(exc)}") from None
        if np.dtype(self.dtype).kind == "f":
            if samples is None:
                samples = self.read(y0, y1, x0, x1)
            valid &= np.isfinite(samples).all(axis=-1)
        return valid

    def read_bands(self, y0: int, y1: int, x0: int, x1: int) -> NDArray[np.float32]:
        """A window (h, w, bands) float32: ``(samples - offset) / scale``, masked pixels MASKED in every band."""
        from .tiled import MASKED, MASKED_MIN

        samples = self.read(y0, y1, x0, x1)
        values = ((samples - self.offset) * (self.steps / self.scale)).astype(np.float32)
        valid = self.read_mask(y0, y1, x0, x1, samples)
        # a valid sample must stay below the mask's marker (float rasters of absurd magnitude)
        valid &= (np.abs(values) < MASKED_MIN).all(axis=-1)
        values[~valid] = MASKED
        return np.ascontiguousarray(values)

    def read_rgb(self, y0: int, y1: int, x0: int, x1: int) -> NDArray[np.float32]:
        """The first three bands (or the first, as gray) scaled to [0, 1] by the type's range: (h, w, 3)."""
        samples = self.read(y0, y1, x0, x1).astype(np.float32)
        if self.dtype.kind in "ui":
            samples /= np.iinfo(self.dtype).max
        rgb = samples[..., :3] if self.bands >= 3 else np.repeat(samples[..., :1], 3, axis=-1)
        return np.ascontiguousarray(np.clip(rgb, 0, 1))

    def close(self) -> None:
        """Close the dataset."""
        if getattr(self, "_ds", None) is not None:
            self._ds.close()
            self._ds = None

    def __enter__(self) -> GeoRaster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- scaling -------------------------------------------------------------------
    def rows(self, rows: int = GEOTIFF_TILE):
        """(y0, y1) of strips of ``rows`` whole rows."""
        for y0 in range(0, self.height, rows):
            yield y0, min(self.height, y0 + rows)

    def band_moments(self) -> tuple[int, NDArray[np.float64], NDArray[np.float64]]:
        """(valid pixels, mean, standard deviation) of each band over the valid pixels, exact, in one pass."""
        n = 0
        mean = np.zeros(self.bands)
        m2 = np.zeros(self.bands)
        # strips of about 32 MB of float64 samples, whatever the width
        rows = int(max(1, min(GEOTIFF_TILE, 2**22 // max(1, self.width * self.bands))))
        for y0, y1 in self.rows(rows):
            samples = self.read(y0, y1, 0, self.width)
            valid = self.read_mask(y0, y1, 0, self.width, samples)
            values = samples[valid].astype(np.float64)
            k = len(values)
            if k == 0:
                continue
            # Chan et al.'s merge of two sets' moments: stable for any number of strips
            m = values.mean(axis=0)
            s = ((values - m) ** 2).sum(axis=0)
            delta = m - mean
            total = n + k
            mean = mean + delta * (k / total)
            m2 = m2 + s + delta ** 2 * (n * k / total)
            n = total
        std = np.sqrt(m2 / n) if n else np.zeros(self.bands)
        return n, mean, std

    def set_band_scale(self, band_scale) -> None:
        """Set ``offset``, ``scale`` and ``steps`` for ``band_scale`` (see :class:`GeoRaster`).

        Raises
        ------
        ParameterError
            Not "std", "none" or one positive number per band.
        """
        if isinstance(band_scale, str):
            kind = band_scale.lower()
            if kind == "none":
                return
            if kind != "std":
                raise ParameterError(f"band_scale must be 'std', 'none' or one number per band, got {band_scale!r}")
            n, mean, std = self.band_moments()
            self.valid_pixels = n
            self.offset = mean
            # a constant band keeps its own units (it separates nothing either way)
            self.scale = np.where(std > 0, std, 1.0)
            self.steps = STD_STEPS
            return
        try:
            values = np.array([float(v) for v in band_scale], dtype=np.float64)
        except (TypeError, ValueError):
            raise ParameterError(f"band_scale must be 'std', 'none' or one number per band, got {band_scale!r}") from None
        if len(values) != self.bands or not (np.isfinite(values) & (values > 0)).all():
            raise ParameterError(f"band_scale must be {self.bands} positive numbers (one per band), got {band_scale!r}")
        self.scale = values


def open_geo(path, *, band_scale="none") -> GeoRaster:
    """Open a raster GDAL reads as a :class:`GeoRaster` window reader."""
    return GeoRaster(path, band_scale=band_scale)


def _reason(exc: BaseException) -> str:
    """One line of why GDAL failed. rasterio's "Read failed. See previous exception for details." holds
    the reason in its chain of causes: GDAL's message and, last, the driver's (which byte was missing)."""
    text = " ".join(str(exc).split())
    if "previous exception" in text or not text:
        chain = []
        cause = exc.__cause__ or exc.__context__
        while cause is not None and len(chain) < 8:
            chain.append(" ".join(str(cause).split()))
            cause = cause.__cause__
        chain = [c for c in chain if c]
        if chain:
            text = re.sub(r"^[^,:]+, (band \d+: )", r"\1", chain[0])  # the file is named already
            if len(chain) > 1 and chain[-1] not in text:
                text += f" ({chain[-1]})"
    return text or type(exc).__name__


# --------------------------------------------------------------------------- #
# Segmentation
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, eq=False)
class GeoSegmentation:
    """What :func:`segment_raster` made.

    Attributes
    ----------
    n_regions : int
        Segments (labels 1..n_regions; 0 is the masked nodata).
    grid : Grid
        The input's georeferencing, carried to every output.
    attributes : dict of str to ndarray
        The polygons' attribute table, one entry per segment in label order
        (see :func:`segshift.vectors.attribute_table`).
    table : segshift.RegionTable
        The tiled run's region table (masked regions included, in the
        tiled run's 0-based numbering).
    label_of_region : (n_table,) ndarray of uint32
        The label (0: masked) of each region of ``table``.
    params : dict
        The settings in pixels (radii converted from map units), the band
        scale and its offsets and divisors.
    seconds : dict
        Wall time of ``segment`` (mean shift and regions), ``outputs``
        (label and mode rasters, statistics) and ``vectors`` (polygons).
    outputs : dict
        The files written, by kind.
    """

    n_regions: int
    grid: Grid
    attributes: dict
    table: Any
    label_of_region: NDArray[np.uint32]
    params: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)


def segment_raster(
    path,
    *,
    spatial_radius: float | str = GEO_DEFAULTS["spatial_radius"],
    range_radius: float = GEO_DEFAULTS["range_radius"],
    min_size: int | str = GEO_DEFAULTS["min_size"],
    band_scale: str | Sequence[float] = GEO_DEFAULTS["band_scale"],
    labels=None,
    modes=None,
    polygons=None,
    stats_from=None,
    cog: bool = False,
    memory_limit: int | str | None = None,
    tile_size: int | None = None,
    kernel: str = GEO_DEFAULTS["kernel"],
    compat: str | None = GEO_DEFAULTS["compat"],
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> GeoSegmentation:
    """Segment a georeferenced raster; write georeferenced labels, modes and polygons.

    The full-resolution, fixed-scale mean shift of :func:`segshift.tiled.segment_blocks`
    (identical tiled or untiled) over the bands, masked pixels left out
    (see :mod:`segshift.geo`); then one pass over the labels writes the
    rasters tile by tile, gathers each segment's band statistics and traces
    its polygon.

    Parameters
    ----------
    path : str or path-like
        Any raster GDAL reads (GeoTIFF, COG, JPEG 2000, VRT, ...).
    spatial_radius : float or str
        Pixels, or a map distance (``"30m"``, ``"0.5km"``, ``"0.001deg"``).
    range_radius : float
        In the scaled band units: standard deviations with ``band_scale="std"``
        (the default), the bands' own units with ``"none"``.
    min_size : int or str
        Smallest segment: pixels, or an area (``"1ha"``, ``"900m2"``). No
        polygon is smaller, except a segment the mask cuts off from every
        other segment.
    band_scale : {"std", "none"} or sequence of float
        Divide each band by its standard deviation over the valid pixels,
        by nothing, or by the given numbers.
    labels, modes : str or path-like, optional
        GeoTIFFs to write: uint32 labels (nodata 0), and the segments' modes in
        the input's bands, type and nodata.
    polygons : str or path-like, optional
        ``.gpkg``, ``.geojson`` or ``.fgb``: one (multi)polygon per segment
        (:mod:`segshift.vectors`).
    stats_from : str or path-like, optional
        Take the polygons' band statistics from this raster (same grid:
        size, transform and CRS) instead of the segmented one.
    cog : bool
        Write the rasters as Cloud-Optimised GeoTIFFs (with overviews).
    memory_limit, tile_size, kernel, compat, progress
        As :func:`segshift.tiled.segment_blocks`.
    overwrite : bool
        Replace existing outputs.

    Returns
    -------
    GeoSegmentation

    Raises
    ------
    MissingDependencyError
        The ``segshift[geo]`` extra is not installed.
    ParameterError
        A bad setting (the message names it), or a ``stats_from`` raster on another grid.
    ImageReadError, OutputError
        An input cannot be read or an output written; no output is then left half-written.

    Examples
    --------
    >>> import numpy as np, os, tempfile, rasterio
    >>> from rasterio.transform import from_origin
    >>> folder = tempfile.mkdtemp()
    >>> scene = os.path.join(folder, "scene.tif")
    >>> data = np.full((2, 64, 96), 100, dtype=np.uint16); data[:, :, 48:] = 900
    >>> with rasterio.open(scene, "w", driver="GTiff", width=96, height=64, count=2, dtype="uint16",
    ...                    crs="EPSG:32631", transform=from_origin(500000, 4000000, 10, 10)) as ds:
    ...     ds.write(data)
    >>> out = segment_raster(scene, spatial_radius="50m", band_scale="none", range_radius=50,
    ...                      polygons=os.path.join(folder, "segments.gpkg"))
    >>> out.n_regions, out.attributes["pixels"].tolist(), out.attributes["area"].tolist()
    (2, [3072, 3072], [307200.0, 307200.0])
    """
    from . import vectors
    from ._meanshift import check_positive
    from .tiled import MASKED_MIN, segment_blocks

    start = time.perf_counter()
    range_radius = check_positive("range_radius", range_radius)
    outputs = _check_outputs(path, labels, modes, polygons, stats_from, overwrite)
    if polygons is not None:
        vectors.require()
    with contextlib.ExitStack() as stack:
        stack.enter_context(_block_cache(memory_limit))
        reader = stack.enter_context(GeoRaster(path, band_scale="none"))
        hs = check_positive("spatial_radius", map_length_to_pixels(spatial_radius, reader.grid, "spatial_radius"))
        min_pixels = map_area_to_pixels(min_size, reader.grid, "min_size")
        if min_pixels < 0:
            raise ParameterError(f"min_size must be >= 0, got {min_size!r}")
        reader.set_band_scale(band_scale)
        source = reader
        if stats_from is not None:
            source = stack.enter_context(GeoRaster(stats_from, band_scale="none"))
            _check_same_grid(reader, source)
        folder = Path(outputs[0][1]).parent if outputs else None
        scratch = Path(stack.enter_context(writers.ScratchFolder(scratch_prefix(outputs, "geo"), folder)))
        done: dict[str, Any] = {}

        def write(table, strips) -> None:  # the outputs, in one pass over the label map as the run makes it
            done["segment"] = time.perf_counter() - start
            masked = table.modes[:, 0] >= MASKED_MIN
            label_of = np.zeros(len(masked), dtype=np.uint32)
            n = int((~masked).sum())
            label_of[~masked] = np.arange(1, n + 1, dtype=np.uint32)  # raster order of first pixels, kept
            areas = np.zeros(n + 1, dtype=np.int64)
            areas[label_of[~masked]] = table.areas[~masked]
            modes_units = table.modes.astype(np.float64)[~masked] * (reader.scale / reader.steps) + reader.offset
            done["n"], done["label_of"] = n, label_of
            done["written"] = _write_all(reader, source, strips, label_of, areas, modes_units, outputs, cog, table, n)

        table = segment_blocks(
            reader, hs, range_radius * reader.steps, min_pixels, memory_limit=memory_limit, tile_size=tile_size,
            kernel=kernel, compat=compat, progress=progress, scratch_dir=scratch, read_labels=write,
        )
        seg_seconds, n, label_of, written = done["segment"], done["n"], done["label_of"], done["written"]
    attributes, vec_seconds, out_seconds = written
    seconds = dict(segment=round(seg_seconds, 4), outputs=round(out_seconds, 4), vectors=round(vec_seconds, 4),
                   total=round(time.perf_counter() - start, 4))
    params = dict(spatial_radius=hs, range_radius=range_radius, min_size=min_pixels, kernel=kernel, compat=compat,
                  band_scale=band_scale if isinstance(band_scale, str) else [float(v) for v in band_scale],
                  band_offset=reader.offset.tolist(), band_divisor=reader.scale.tolist(),
                  tiled=table.tiled, block=list(table.block))
    return GeoSegmentation(n_regions=n, grid=reader.grid, attributes=attributes, table=table, label_of_region=label_of,
                           params=params, seconds=seconds, outputs={k: str(v) for k, v in outputs})


#: The stages whose scratch folders :func:`scratch_prefix` names.
SCRATCH_STAGES = ("geo", "out")


def scratch_prefix(outputs: Sequence[tuple[str, Path]], stage: str) -> str:
    """The name prefix of a scratch folder beside the outputs: ``.NAME.segshift-STAGE-`` after the first
    output's NAME, so that a batch that will write NAME can find (and remove) what a killed run left for it."""
    name = Path(outputs[0][1]).name if outputs else "segshift"
    return f".{name}.segshift-{stage}-"


def _check_outputs(source, labels, modes, polygons, stats_from, overwrite) -> list[tuple[str, Path]]:
    from . import vectors

    plan = []
    inputs = [Path(source)] + ([Path(stats_from)] if stats_from is not None else [])
    for kind, dest, formats in [("labels", labels, RASTER_FORMATS), ("modes", modes, RASTER_FORMATS),
                                ("polygons", polygons, tuple(vectors.DRIVERS))]:
        if dest is None:
            continue
        dest = Path(dest)
        ext = dest.suffix.lower()
        if ext not in formats:
            raise ParameterError(f"{dest}: the {kind} are written as {' or '.join(formats)}, not {ext or 'no extension'!r}")
        for src in inputs:
            if os.path.realpath(dest) == os.path.realpath(src):
                raise ParameterError(f"{str(dest)!r}: output would replace the input file {str(src)!r}")
        if dest.is_dir():
            raise OutputError(f"{dest}: is a folder, not a file name")
        if dest.exists() and not overwrite:
            raise OutputError(f"{dest}: already exists (use --overwrite to replace it)")
        if not dest.parent.is_dir():
            raise OutputError(f"{dest}: folder {dest.parent} does not exist")
        if not os.access(dest.parent, os.W_OK | os.X_OK):
            raise OutputError(f"{dest}: folder {dest.parent} is not writable")
        plan.append((kind, dest))
    names = [os.path.realpath(d) for _, d in plan]
    if len(set(names)) < len(names):
        raise ParameterError("the same file is named for two outputs")
    return plan


def _check_same_grid(reader: GeoRaster, other: GeoRaster) -> None:
    a, b = reader.grid, other.grid
    if (a.height, a.width) != (b.height, b.width):
        raise ParameterError(f"stats_from: {other.path} is {b.width}x{b.height}, the segmented raster "
                             f"{a.width}x{a.height}; it must be on the same grid")
    if not np.allclose(a.transform, b.transform, rtol=0, atol=1e-9 * max(1.0, *map(abs, a.transform))):
        raise ParameterError(f"stats_from: {other.path} has another geotransform than {reader.path}; it must be on "
                             "the same grid")
    if reader._crs != other._crs:
        raise ParameterError(f"stats_from: {other.path} has another CRS than {reader.path}; it must be on the same grid")


def _write_all(reader: GeoRaster, source: GeoRaster, strips, label_of, areas, modes_units, outputs, cog, table, n):
    """One pass over the labels (``strips``: (y0, labels) of the tiled run, in order): the label and mode
    rasters, the band statistics, the polygons; then the vector file. Every output goes to a temporary
    file renamed into place at the end: all or none."""
    from . import vectors

    rasterio = _rasterio()
    dest = dict(outputs)
    width = reader.width
    pending: list[tuple[Path, Path]] = []
    stats = vectors.BandStats(n, source.bands)
    builder = None
    if "polygons" in dest:
        # the last row of each segment: its polygon is finished once that row is traced
        last_row = np.full(n + 1, -1, dtype=np.int64)
        valid = label_of > 0
        last_row[label_of[valid]] = table.bbox[valid, 3] - 1
        builder = vectors.PolygonBuilder(n, last_row)
    t_vec = 0.0
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        tmpdir = Path(stack.enter_context(writers.ScratchFolder(
            scratch_prefix(outputs, "out"), Path(outputs[0][1]).parent if outputs else None)))
        label_ds = modes_ds = None
        profile = dict(driver="GTiff", width=width, height=reader.height, crs=reader._crs,
                       transform=reader.transform, tiled=True, blockxsize=GEOTIFF_TILE, blockysize=GEOTIFF_TILE,
                       compress="deflate", BIGTIFF="IF_SAFER")
        if "labels" in dest:
            label_tmp = tmpdir / ("labels" + dest["labels"].suffix)
            label_ds = stack.enter_context(rasterio.open(label_tmp, "w", count=1, dtype="uint32",
                                                         nodata=LABEL_NODATA, **profile))
            pending.append((label_tmp, dest["labels"]))
        mode_values = None
        if "modes" in dest:
            dtype = reader.dtype
            nodata = reader.nodata
            fill = nodata if nodata is not None else 0
            mode_values = np.empty((n + 1, reader.bands), dtype=dtype)
            mode_values[0] = fill
            mode_values[1:] = _to_dtype(modes_units, dtype)
            if nodata is not None and len(mode_values) > 1:
                # a segment whose mode rounds to the nodata value in every band would read as masked:
                # its first band moves one step (or the smallest float step) away from it
                clash = (mode_values[1:] == np.asarray(nodata, dtype=dtype)).all(axis=1)
                if clash.any():
                    first = mode_values[1:, 0]
                    if np.dtype(dtype).kind in "ui":
                        step = -1 if nodata == np.iinfo(dtype).max else 1
                        first[clash] = first[clash] + step
                    else:
                        first[clash] = np.nextafter(first[clash], np.inf)
            modes_tmp = tmpdir / ("modes" + dest["modes"].suffix)
            with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
                modes_ds = stack.enter_context(rasterio.open(modes_tmp, "w", count=reader.bands, dtype=dtype,
                                                             nodata=nodata, **profile))
            pending.append((modes_tmp, dest["modes"]))
        for y0, labels in strips:
            y1 = y0 + len(labels)
            strip = label_of[labels]
            window = reader._window(y0, y1, 0, width)
            if label_ds is not None:
                label_ds.write(strip, 1, window=window)
            if modes_ds is not None:
                modes_ds.write(np.moveaxis(mode_values[strip], -1, 0), window=window)
                if reader.nodata is None and not (strip > 0).all():
                    modes_ds.write_mask(np.where(strip > 0, 255, 0).astype(np.uint8), window=window)
            samples = source.read(y0, y1, 0, width)
            valid = source.read_mask(y0, y1, 0, width, samples) if source is not reader else None
            stats.add(strip, samples, valid)
            if builder is not None:
                t0 = time.perf_counter()
                builder.add(y0, strip)
                t_vec += time.perf_counter() - t0
        attributes = vectors.attribute_table(areas, reader.grid, stats, builder)
        if label_ds is not None:
            label_ds.close()
        if modes_ds is not None:
            modes_ds.close()
        if cog:
            pending = [(_to_cog(tmp, tmpdir, rasterio), final) for tmp, final in pending]
        if builder is not None:
            t0 = time.perf_counter()
            geoms = vectors.finish_geometries(builder, reader.grid)
            attributes["perimeter"] = vectors.perimeters(geoms)
            vec_tmp = tmpdir / ("polygons" + dest["polygons"].suffix)
            vectors.write_polygons(vec_tmp, geoms, attributes, reader.grid)
            pending.append((vec_tmp, dest["polygons"]))
            t_vec += time.perf_counter() - t0
        _commit(pending)
    total = time.perf_counter() - start
    return attributes, t_vec, total - t_vec


def _to_dtype(values: NDArray[np.float64], dtype: np.dtype) -> NDArray:
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return np.clip(np.round(values), info.min, info.max).astype(dtype)
    return values.astype(dtype)


def _to_cog(tmp: Path, tmpdir: Path, rasterio) -> Path:
    """A Cloud-Optimised copy of a written GeoTIFF (the COG driver writes by copying, with overviews)."""
    from rasterio.shutil import copy

    out = tmpdir / ("cog-" + tmp.name)
    resampling = "NEAREST"  # labels and modes are categorical: no averaging across segments
    copy(tmp, out, driver="COG", COMPRESS="DEFLATE", OVERVIEW_RESAMPLING=resampling, BLOCKSIZE=512,
         BIGTIFF="IF_SAFER")
    os.unlink(tmp)
    return out


def _commit(pending: list[tuple[Path, Path]]) -> None:
    """Move every temporary output onto its name; when one fails, take back those already moved."""
    from .writers import _current_umask

    done: list[Path] = []
    try:
        for tmp, final in pending:
            os.chmod(tmp, 0o666 & ~_current_umask())
            try:
                os.replace(tmp, final)
            except OSError:
                shutil.move(str(tmp), str(final))
            done.append(final)
    except BaseException as exc:
        for final in done:
            with contextlib.suppress(OSError):
                os.unlink(final)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write the outputs ({exc.strerror or exc})") from None
        raise


#: Output kinds of one scene in a batch, and the keyword of :func:`segment_raster` each one is.
SCENE_OUTPUTS = {"labels": "labels", "modes": "modes", "polygons": "polygons"}


def segment_scene(source: str, outputs: Sequence[tuple[str, str]], params: dict[str, Any]) -> dict[str, Any]:
    """The per-file work of a batch of scenes: :func:`segment_raster` on one file, never raising.

    Shaped as :func:`segshift.batch.segment_file` (whose runner can call it):
    outputs already planned and checked by the batch, every output written
    atomically, a failure reported rather than raised.

    Parameters
    ----------
    source : str
        The scene.
    outputs : sequence of (kind, path)
        Kinds ``"labels"``, ``"modes"``, ``"polygons"``; existing files are replaced.
    params : dict
        Keyword arguments of :func:`segment_raster` (settings only).

    Returns
    -------
    dict
        ``status`` (``"ok"`` or ``"failed"``), ``seconds``, and ``regions``
        (ok) or ``error`` (one line naming the file).
    """
    from .errors import SegshiftError

    start = time.perf_counter()
    try:
        unknown = [kind for kind, _ in outputs if kind not in SCENE_OUTPUTS]
        if unknown:
            raise ParameterError(f"a scene's outputs are {', '.join(SCENE_OUTPUTS)}, not {', '.join(unknown)}")
        files = {SCENE_OUTPUTS[kind]: path for kind, path in outputs}
        result = segment_raster(source, **params, **files, overwrite=True)
        return {"status": "ok", "regions": result.n_regions, "seconds": time.perf_counter() - start,
                "timing": result.seconds}
    except (SegshiftError, OSError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
    except MemoryError:
        message = "out of memory (lower the memory limit)"
    if source not in message:
        message = f"{source}: {message}"
    return {"status": "failed", "seconds": time.perf_counter() - start, "error": message}
