"""Polygons of segments: one (multi)polygon per label, with its statistics.

Part of the ``segshift[geo]`` extra (rasterio traces the polygons, shapely
joins them, pyogrio writes them), imported lazily.

A label raster is read in strips of whole rows, top to bottom, and each strip
is traced on its own (:func:`rasterio.features.shapes`, 4-connected pixel
edges, exact integer pixel coordinates). A segment lying in one strip is
finished at once; the pieces of a segment that crosses strip seams are kept
until the strip holding its last row, then joined as a coverage (they share
edges and never overlap; integer coordinates make the union exact) and the seam's collinear
vertices dropped: the polygon is the one the whole label array would give,
never split at a strip or tile edge. Pixel coordinates go to the CRS through
the raster's affine transform (rotated and sheared grids included).

The band statistics of each segment (count, mean, standard deviation with
``ddof=0``, minimum, maximum) are running moments added strip by strip in
the same pass (Welford's recurrence in raster order), so no second pass over
the data is needed. Memory: one strip, the unfinished pieces, the finished
polygons and the attribute table.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from . import _vector_kernels as _vk
from .errors import MissingDependencyError, OutputError, ParameterError

__all__ = [
    "labels_to_polygons",
    "write_polygons",
    "write_polygons_atomic",
    "attribute_table",
    "PolygonBuilder",
    "BandStats",
    "Georef",
    "finish_geometries",
    "perimeters",
    "require",
]

#: Vector formats by extension (GDAL/OGR driver names).
DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".fgb": "FlatGeobuf"}
#: Rows of a strip traced at once by :func:`labels_to_polygons`.
STRIP_ROWS = 256


def require() -> None:
    """Raise a one-line :class:`MissingDependencyError` unless rasterio, shapely and pyogrio import."""
    missing = []
    for name in ("rasterio", "shapely", "pyogrio"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingDependencyError(
            f"polygons need {', '.join(missing)}: pip install 'segshift[geo]'"
        )


class Georef(NamedTuple):
    """Where polygons go: the affine transform (a, b, c, d, e, f as rasterio's Affine) from pixel
    coordinates to the CRS, and the CRS as WKT (None: none). :class:`segshift.geo.Grid` has the same
    attributes; every function here takes either."""

    transform: tuple[float, float, float, float, float, float]
    crs_wkt: str | None = None

    @property
    def pixel_area(self) -> float:
        """Area of one pixel in the CRS's units squared."""
        a, b, _, d, e, _ = self.transform
        return abs(a * e - b * d)


class BandStats:
    """Running per-segment band statistics (count, mean, M2, min, max), added strip by strip.

    Parameters
    ----------
    n : int
        Segments (labels 1..n).
    bands : int
        Bands of the raster the statistics come from.
    """

    def __init__(self, n: int, bands: int) -> None:
        self.n, self.bands = n, bands
        self.count = np.zeros(n + 1, dtype=np.int64)
        self.mean = np.zeros((n + 1, bands))
        self.m2 = np.zeros((n + 1, bands))
        self.vmin = np.full((n + 1, bands), np.nan)
        self.vmax = np.full((n + 1, bands), np.nan)
        self.separate = False

    def add(self, labels: NDArray, samples: NDArray, valid: NDArray | None = None) -> None:
        """Add a strip: labels (h, w) (0: none), samples (h, w, bands), valid (h, w) bool or None (all)."""
        if valid is not None:
            self.separate = True
        labels = np.ascontiguousarray(labels, dtype=np.uint32)
        use = valid is not None
        valid = np.ascontiguousarray(valid if use else np.zeros((1, 1), dtype=bool), dtype=np.bool_)
        _vk.add_moments(labels, np.ascontiguousarray(samples), valid, use, self.count, self.mean, self.m2,
                        self.vmin, self.vmax)

    def columns(self) -> dict[str, NDArray[np.float64]]:
        """``b{k}_mean``, ``b{k}_std``, ``b{k}_min``, ``b{k}_max`` per band k (1-based), segments 1..n; NaN
        for a segment with no valid sample."""
        out = {}
        count = self.count[1:]
        empty = count == 0
        for b in range(self.bands):
            mean = np.where(empty, np.nan, self.mean[1:, b])
            std = np.sqrt(np.where(empty, np.nan, self.m2[1:, b] / np.maximum(count, 1)))
            out[f"b{b + 1}_mean"] = mean
            out[f"b{b + 1}_std"] = std
            out[f"b{b + 1}_min"] = self.vmin[1:, b].copy()
            out[f"b{b + 1}_max"] = self.vmax[1:, b].copy()
        return out


class PolygonBuilder:
    """Polygons of a label raster traced strip by strip, joined across the seams.

    Parameters
    ----------
    n : int
        Labels 1..n.
    last_row : (n + 1,) ndarray of int64, optional
        The last row of each label: its polygon is finished when the strip
        holding that row is traced (else every polygon is finished at the end).
    """

    def __init__(self, n: int, last_row: NDArray[np.int64] | None = None) -> None:
        self.n = n
        self.last_row = last_row
        self.pieces: dict[int, list] = {}
        self.strips: dict[int, int] = {}  # label -> strips its pieces came from
        self.done: dict[int, Any] = {}

    def add(self, y0: int, labels: NDArray) -> None:
        """Trace a strip whose first row is image row ``y0``: labels (h, w), 0 for no segment."""
        from affine import Affine
        from rasterio.features import shapes
        from shapely.geometry import shape

        labels = np.ascontiguousarray(labels)
        if labels.dtype != np.int32:
            if labels.size and int(labels.max()) > np.iinfo(np.int32).max:
                raise ParameterError("more than 2**31 - 1 segments cannot be traced")
            labels = labels.astype(np.int32)
        seen = set()
        for geom, value in shapes(labels, mask=labels > 0, connectivity=4, transform=Affine.translation(0, y0)):
            k = int(value)
            self.pieces.setdefault(k, []).append(shape(geom))
            if k not in seen:
                seen.add(k)
                self.strips[k] = self.strips.get(k, 0) + 1
        if self.last_row is not None:
            end = y0 + labels.shape[0]
            for k in seen:
                if self.last_row[k] < end:
                    self._finish(k)

    def _finish(self, k: int) -> None:
        import shapely
        from shapely.geometry import MultiPolygon

        pieces = self.pieces.pop(k)
        strips = self.strips.pop(k)
        if strips == 1:
            # one strip's pieces of one label touch at most at corners: a valid multipolygon as they are
            geom = MultiPolygon(pieces)
        else:
            joined = shapely.union_all(pieces)
            # a seam leaves collinear vertices along it; without them the polygon is the untiled one
            geom = shapely.simplify(joined, 0.0)
            if geom.geom_type == "Polygon":
                geom = MultiPolygon([geom])
        self.done[k] = geom

    def finish(self) -> NDArray:
        """(n,) array of shapely MultiPolygons in pixel coordinates, label k at index k - 1 (None: no pixels)."""
        for k in list(self.pieces):
            self._finish(k)
        out = np.empty(self.n, dtype=object)
        for k, geom in self.done.items():
            out[k - 1] = geom
        return out


def finish_geometries(builder: PolygonBuilder, grid) -> NDArray:
    """The builder's polygons in the CRS of ``grid`` (a :class:`Georef` or :class:`segshift.geo.Grid`):
    (n,) shapely objects."""
    import shapely

    geoms = builder.finish()
    a, b, c, d, e, f = grid.transform
    matrix = np.array([[a, d], [b, e]])
    offset = np.array([c, f])

    def to_map(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        return xy @ matrix + offset

    present = np.array([g is not None for g in geoms], dtype=bool)
    out = geoms.copy()
    if present.any():
        out[present] = shapely.transform(geoms[present], to_map)
    return out


def perimeters(geoms: NDArray) -> NDArray[np.float64]:
    """Length of every boundary (outer and inner rings) of each geometry, in CRS units."""
    import shapely

    return np.asarray(shapely.length(geoms), dtype=np.float64)


def attribute_table(areas: NDArray[np.int64], grid, stats: BandStats | None, builder=None) -> dict[str, NDArray]:
    """The attribute columns, segments 1..n in label order: ``label``, ``pixels``, ``area`` (CRS units
    squared: pixels times the pixel's area), then the band statistics (see :meth:`BandStats.columns`)."""
    n = len(areas) - 1
    table: dict[str, NDArray] = {
        "label": np.arange(1, n + 1, dtype=np.int64),
        "pixels": np.asarray(areas[1:], dtype=np.int64),
        "area": np.asarray(areas[1:], dtype=np.float64) * grid.pixel_area,
    }
    if builder is not None:
        table["perimeter"] = np.full(n, np.nan)
    if stats is not None:
        if stats.separate:
            table["stats_pixels"] = stats.count[1:].copy()
        table.update(stats.columns())
    return table


def write_polygons(path, geoms: NDArray, attributes: dict[str, NDArray], grid, *, layer: str = "segments") -> None:
    """Write one feature per segment (MultiPolygon) with ``attributes`` to ``path`` by its extension
    (``.gpkg``, ``.geojson``/``.json``, ``.fgb``), in the CRS of ``grid``."""
    import pyogrio.raw
    import shapely

    path = Path(path)
    driver = DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise ParameterError(f"{path}: polygons are written as {', '.join(DRIVERS)}, not {path.suffix!r}")
    keep = np.array([g is not None for g in geoms], dtype=bool)
    fields = list(attributes)
    data = [np.ascontiguousarray(attributes[name][keep]) for name in fields]
    try:
        pyogrio.raw.write(
            str(path), geometry=shapely.to_wkb(geoms[keep]), field_data=data, fields=fields,
            crs=grid.crs_wkt, geometry_type="MultiPolygon", driver=driver,
            **({"layer": layer} if driver != "GeoJSON" else {}),
        )
    except Exception as exc:  # noqa: BLE001 - GDAL raises its own kinds
        raise OutputError(f"{path}: cannot write the polygons ({' '.join(str(exc).split())})") from None


def write_polygons_atomic(path, geoms: NDArray, attributes: dict[str, NDArray], grid) -> None:
    """:func:`write_polygons` to a temporary file beside ``path``, renamed onto it when complete."""
    import os
    import shutil
    import tempfile

    path = Path(path)
    if path.suffix.lower() not in DRIVERS:
        raise ParameterError(f"{path}: polygons are written as {', '.join(DRIVERS)}, not {path.suffix!r}")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: folder {path.parent} does not exist")
    tmpdir = tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        tmp = Path(tmpdir) / path.name
        write_polygons(tmp, geoms, attributes, grid)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def labels_to_polygons(
    labels: NDArray,
    path=None,
    *,
    transform: Iterable[float] | None = None,
    crs: Any = None,
    values: NDArray | None = None,
) -> dict[str, NDArray]:
    """Polygons and attributes of an in-memory label map (e.g. :attr:`segshift.Segmentation.labels`).

    Parameters
    ----------
    labels : (H, W) ndarray of int
        Labels; 0 and negative values are no segment (labels from 1).
    path : str or path-like, optional
        Write the polygons (``.gpkg``, ``.geojson``, ``.fgb``).
    transform : 6 floats, optional
        Affine transform (a, b, c, d, e, f) from pixels to the CRS (default: pixel coordinates).
    crs : optional
        Anything :class:`rasterio.crs.CRS` accepts (EPSG code, WKT, ``"EPSG:32631"``).
    values : (H, W) or (H, W, B) ndarray, optional
        The bands whose per-segment statistics are added.

    Returns
    -------
    dict
        The attribute columns (see :func:`attribute_table`) and ``geometry``: (n,) shapely
        MultiPolygons in the CRS (None for a label without pixels).
    """
    require()
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.dtype.kind not in "ui":
        raise ParameterError(f"labels must be a 2-D integer array, got {labels.dtype} of shape {labels.shape}")
    labels = np.where(labels > 0, labels, 0).astype(np.uint32)
    n = int(labels.max()) if labels.size else 0
    wkt = None
    if crs is not None:
        from rasterio.crs import CRS

        wkt = CRS.from_user_input(crs).to_wkt()
    grid = Georef(tuple(float(v) for v in (transform or (1, 0, 0, 0, 1, 0)))[:6], wkt)
    stats = None
    if values is not None:
        values = np.asarray(values)
        if values.ndim == 2:
            values = values[..., None]
        if values.shape[:2] != labels.shape:
            raise ParameterError(f"values of shape {values.shape} do not match labels of shape {labels.shape}")
        stats = BandStats(n, values.shape[2])
    builder = PolygonBuilder(n)
    for y0 in range(0, labels.shape[0], STRIP_ROWS):
        strip = labels[y0:y0 + STRIP_ROWS]
        builder.add(y0, strip)
        if stats is not None:
            stats.add(strip, values[y0:y0 + STRIP_ROWS])
    areas = np.bincount(labels.ravel(), minlength=n + 1).astype(np.int64)
    table = attribute_table(areas, grid, stats, builder)
    geoms = finish_geometries(builder, grid)
    table["perimeter"] = perimeters(geoms)
    if path is not None:
        write_polygons_atomic(path, geoms, table, grid)
    table["geometry"] = geoms
    return table
