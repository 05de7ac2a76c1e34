"""The working resolution: segment a photo of any size as if it were BSDS500-sized.

Mean shift's spatial window is measured in pixels, so on a photo with more
pixels the same window sees less of the scene and the same photo gives other
regions at every resolution, at a cost that grows with the pixel count. With
the default spatial radius (``spatial_radius=None``), :func:`segshift.segment`
therefore works at a *working resolution* of about :data:`WORKING_PIXELS`
pixels (BSDS500's 481 x 321, the size its defaults were chosen at):

1. :func:`plan` decides the working size: the photo's aspect ratio at about
   WORKING_PIXELS pixels. A photo no more than 10 % larger (by side) is
   segmented as it is, with the spatial radius scaled to its diagonal
   (upsampling a smaller photo only blurs it: on BSDS500 train photos at
   half size it lost more regions than it kept); a thumbnail (over
   THUMBNAIL times smaller a side, under about 190 x 130) is segmented as it
   is with the working radius in its own pixels, as if it were a crop of a
   working-resolution photo.
2. :func:`resample` resizes the photo with an anti-aliased filter (pixel-area
   averaging, :func:`area_resize`), whose every output row can be computed
   from the input rows under it alone, bitwise as from the whole image, so
   that a photo larger than memory is reduced strip by strip
   (:func:`area_resize_rows`) to the very same working image.
3. The whole pipeline runs there: every working pixel climbs, then regions
   are connected, fused and pruned.
4. :func:`place_labels` brings the working labels back to full resolution,
   keeping their region ids. A full-resolution pixel whose nearest working
   pixel has all its 8 neighbours in one region takes that region; any other
   pixel (near a boundary) joins the one of the 3 x 3 working pixels around
   it that is nearest in the joint domain, its own colour against each one's
   mode and its position against each one's centre (in bandwidths), the mode
   its own climb would most likely reach. Boundaries thus follow the
   full-resolution colours, not the working grid. Each pixel's label
   depends on its own colour and the working resolution only, so the
   labels are placed strip by strip (:class:`Placement`, ``strip_rows``)
   with the same result, into a memory map for an image larger than memory.

The regions' modes are those found at the working resolution, their areas
are counted at full resolution, and the label map keeps the working
resolution's region ids, so that anything computed over them (a merge tree
over the regions) holds at full resolution unchanged. A region keeps at
least one pixel; a region that is one 8-connected set at the working
resolution may, at full resolution, lose connectivity at the scale of one
working pixel.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from . import _resolution_kernels as _kernels

#: Pixels of the working resolution: BSDS500's 481 x 321.
WORKING_PIXELS = 481 * 321
#: Its diagonal: a spatial radius of r working pixels is r / WORKING_DIAGONAL of
#: the image's diagonal.
WORKING_DIAGONAL = math.hypot(481, 321)
#: A photo whose side is within this factor of the working size is segmented as it is.
NEAR = 1.1
#: A photo smaller than the working size by more than this factor a side is a
#: thumbnail: its radius stays the working radius, in its own pixels.
THUMBNAIL = 2.5
#: ``speedup="fast"``: the working resolution's side times FAST_SCALE (a quarter
#: of its pixels, every one climbing), the spatial radius scaled with it. On
#: 90 BSDS500 train photos its scores were within 0.005 of the exact mode's
#: (radii 10 % larger or a smaller range radius did no better).
FAST_SCALE = 0.5
#: Below this many pixels the placement passes run on one thread: each is a
#: fraction of a millisecond there, less than waking a second thread costs on
#: a busy machine. On a BSDS500-sized photo (154,000 pixels) in the fast mode
#: a third of the pixels are placed, and two threads took 5.0 ms a photo
#: against one's 7.4.
SERIAL_PIXELS = 1 << 16


class Plan(NamedTuple):
    """Where the pipeline runs: ``shape`` (h, w) of the working image, or None
    to run on the image as it is; ``spatial_radius`` in the pixels of the
    grid it runs on; ``speedup`` of the climbs there
    (:func:`segshift._meanshift.filter_image`)."""

    shape: tuple[int, int] | None
    spatial_radius: float
    speedup: str = "none"


def plan(shape: tuple[int, int], working_radius: float, resolution: str = "auto", speedup: str = "none") -> Plan:
    """The working size of an image of ``shape`` (h, w) for a spatial radius of
    ``working_radius`` pixels at the working resolution; with ``resolution``
    ``"full"``, the image as it is with the radius scaled to its diagonal
    (thumbnails keep ``working_radius`` pixels either way).

    ``speedup="fast"`` (with ``"auto"``) works at FAST_SCALE of the working
    resolution's side, where every pixel climbs, with the radius scaled
    likewise; an image smaller than that keeps the
    working resolution and climbs from a quarter of its pixels.
    """
    height, width = shape
    diagonal = math.hypot(height, width)
    if speedup == "fast" and resolution == "auto":
        f = FAST_SCALE * math.sqrt(WORKING_PIXELS / (height * width))
        if f <= NEAR:
            work = None if f >= 1.0 / NEAR else (max(1, round(height * f)), max(1, round(width * f)))
            grid = diagonal if work is None else math.hypot(*work)
            return Plan(work, working_radius * (grid / WORKING_DIAGONAL))
    f = math.sqrt(WORKING_PIXELS / (height * width))
    if f > THUMBNAIL:  # a thumbnail: as it is, the radius in working pixels
        return Plan(None, working_radius, speedup)
    if resolution == "full" or f >= 1.0 / NEAR:
        return Plan(None, working_radius * (diagonal / WORKING_DIAGONAL), speedup)
    work = (max(1, round(height * f)), max(1, round(width * f)))
    return Plan(work, working_radius * (math.hypot(*work) / WORKING_DIAGONAL), speedup)


def working_min_size(min_pixels: int, area: int, working_area: int) -> int:
    """A minimum region of ``min_pixels`` full-resolution pixels, in working pixels."""
    return min_pixels if min_pixels <= 1 else max(1, round(min_pixels * working_area / area))


#: A reader of full-resolution rows: ``read(y0, y1)`` -> rows y0..y1-1 of the
#: image, (y1 - y0, W, 3) float32 RGB in [0, 1] (as :func:`segshift.load_image`
#: makes the whole image).
RowReader = Callable[[int, int], NDArray[np.float32]]


def resample(rgb: NDArray[np.float32], shape: tuple[int, int]) -> NDArray[np.float32]:
    """``rgb`` (H, W, 3) float32 in [0, 1] resized to ``shape`` (h, w): pixel-area
    averaging when it shrinks (anti-aliased, :func:`area_resize`), bicubic when it
    grows (clipped to [0, 1]; :func:`plan` never grows an image)."""
    height, width = rgb.shape[:2]
    h, w = shape
    if h <= height and w <= width:
        return area_resize(rgb, shape)
    import cv2

    out = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_CUBIC)
    np.clip(out, 0.0, 1.0, out=out)
    return np.ascontiguousarray(out, dtype=np.float32)


def area_resize(rgb: NDArray[np.float32], shape: tuple[int, int]) -> NDArray[np.float32]:
    """The pixel-area average of ``rgb`` (H, W, c) float32 at the smaller ``shape`` (h, w).

    Each output pixel is the mean of the input pixels under it, weighted by
    the area each overlaps (OpenCV's ``INTER_AREA`` for a shrink), computed
    with weights from global coordinates in one fixed order per output pixel,
    so that :func:`area_resize_rows` (the image read in strips of rows) gives
    bitwise the same values. Returns (h, w, c) float32.
    """
    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    if rgb.ndim == 2:
        rgb = rgb[..., None]
    height, width, c = rgb.shape
    h, w = shape
    out = np.empty((h, w, c), dtype=np.float32)
    _kernels.area_rows(rgb, 0, height, width, h, w, 0, h, out)
    return out


def area_strips(full: tuple[int, int], shape: tuple[int, int], max_rows: int):
    """Output rows of the pixel-area resize of ``full`` (H, W) to ``shape`` (h, w)
    in strips of at most ``max_rows`` input rows (at least one output row's):
    yields (a, b, y0, y1), output rows a..b-1 from input rows y0..y1-1."""
    height, h = full[0], shape[0]
    a = 0
    while a < h:
        y0 = (a * height) // h
        b = a + 1
        while b < h and ((b + 1) * height - 1) // h + 1 - y0 <= max_rows:
            b += 1
        yield a, b, y0, ((b * height) - 1) // h + 1
        a = b


def area_resize_rows(read: RowReader, full: tuple[int, int], shape: tuple[int, int], max_rows: int,
                     progress: Callable[[int, int], None] | None = None) -> NDArray[np.float32]:
    """:func:`area_resize` of an image read in strips of rows through ``read``
    (see :data:`RowReader`), at most ``max_rows`` rows at a time (more when one
    output row needs more): bitwise the whole image's resize. ``progress``
    is called as ``progress(rows read, H)``."""
    height, width = full
    h, w = shape
    out = np.empty((h, w, 3), dtype=np.float32)
    for a, b, y0, y1 in area_strips(full, shape, max_rows):
        rows = np.ascontiguousarray(read(y0, y1), dtype=np.float32)
        _kernels.area_rows(rows, y0, height, width, h, w, a, b, out[a:b])
        if progress is not None:
            progress(y1, height)
    return out


def row_strips(height: int, rows: int | None):
    """(y0, y1) of strips of ``rows`` rows (one strip when ``rows`` is None)."""
    step = height if not rows else max(1, int(rows))
    for y0 in range(0, height, max(step, 1)):
        yield y0, min(height, y0 + step)


def _reader(rgb) -> RowReader:
    """A :data:`RowReader` of an array, or ``rgb`` itself when it is one."""
    if callable(rgb):
        return rgb
    return lambda y0, y1: rgb[y0:y1]


def place_labels(
    rgb: NDArray[np.float32] | RowReader,
    labels: NDArray[np.int32],
    modes: NDArray[np.float32],
    n_regions: int,
    spatial_radius: float,
    range_radius: float,
    *,
    compat: str | None = None,
    shape: tuple[int, int] | None = None,
    out: NDArray[np.int32] | None = None,
    strip_rows: int | None = None,
) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """Full-resolution labels from a working-resolution segmentation.

    Parameters
    ----------
    rgb : (H, W, 3) ndarray of float32, or callable
        The full-resolution image in [0, 1], or a reader of its rows
        (:data:`RowReader`; then ``shape`` is needed).
    labels : (h, w) ndarray of int32
        The working resolution's labels, 0 to ``n_regions - 1``.
    modes : (h, w, 3) ndarray of float32
        Each working pixel's L*u*v* mode (the mean-shift filter's output).
    n_regions : int
    spatial_radius : float
        Spatial bandwidth in working pixels.
    range_radius : float
        Range bandwidth in L*u*v* units.
    compat : {None, "edison"}
        The colour conversion the modes were made with.
    shape : (int, int), optional
        (H, W) of the image; required when ``rgb`` is a reader.
    out : (H, W) array of int32, optional
        Where to write the labels (e.g. a :func:`numpy.lib.format.open_memmap`).
    strip_rows : int, optional
        Place that many full-resolution rows at a time (default: all): the
        result does not depend on it.

    Returns
    -------
    labels : (H, W) ndarray of int32
        The same region ids, at full resolution (``out`` when given).
    areas : (n_regions,) ndarray of int64
        Full-resolution pixels per region (each at least 1).
    """
    shape = _shape_of(rgb, shape)
    identity = np.arange(int(n_regions), dtype=np.int32)  # the finest regions are a level of their own
    return _single_threaded_when_small(shape, _place, _reader(rgb), shape, labels, modes, n_regions, spatial_radius,
                                       range_radius, compat, identity, out, strip_rows)


def _shape_of(rgb, shape) -> tuple[int, int]:
    if shape is not None:
        return int(shape[0]), int(shape[1])
    if callable(rgb):
        raise TypeError("the shape of an image read through a callable is needed")
    return int(rgb.shape[0]), int(rgb.shape[1])


def _place(read, shape, labels, modes, n_regions, spatial_radius, range_radius, compat, region_of, out=None,
           strip_rows=None):
    """The full-resolution labels of a level, ``region_of`` (finest region ->
    region of the level) applied to the placed finest labels, and the
    level's areas; only the pixels near the level's boundaries are placed
    (see :meth:`Placement.level`). Rows are placed ``strip_rows`` at a time,
    reading their RGB through ``read``; every pixel's label depends only on
    its own colour and the working resolution, so any strips give the same
    labels. Which finest regions no pixel chose is known only after the last
    strip: their forced pixels are written last, and the areas corrected."""
    from scipy.ndimage import binary_dilation

    from ._loader import rgb_to_luv

    height, width = shape
    h, w = labels.shape
    labels = np.ascontiguousarray(labels, dtype=np.int32)
    region_of = np.ascontiguousarray(region_of, dtype=np.int32)
    modes = np.ascontiguousarray(modes, dtype=np.float32)
    m = int(region_of.max()) + 1 if len(region_of) else 0
    rows = _kernels.nearest_index(height, h)
    cols = _kernels.nearest_index(width, w)
    if out is None:
        out = np.empty((height, width), dtype=np.int32)
    settled = _kernels.settled(labels)
    target = region_of[labels]
    keep = _kernels.settled(target)
    # A finest region without a settled working pixel may get no pixel at
    # full resolution, and then keeps one (below): the pixels that may choose
    # it are placed too, to know which ones get none (for the finest level
    # itself they are placed anyway: none of them is settled).
    fragile = np.ones(n_regions, dtype=bool)
    fragile[labels[settled]] = False
    if fragile.any():
        keep &= ~binary_dilation(fragile[labels], structure=np.ones((3, 3), dtype=bool))
    chosen = np.zeros(n_regions, dtype=bool)  # the finest regions a placed pixel chose
    areas = np.zeros(m, dtype=np.int64)
    whole = strip_rows is None or strip_rows >= height
    for y0, y1 in row_strips(height, None if whole else strip_rows):
        # a memory map is written a strip at a time from a buffer in memory
        buffer = out if whole and type(out) is np.ndarray else np.empty((y1 - y0, width), dtype=np.int32)
        n = int(_kernels.spread_settled(target, keep, rows[y0:y1], cols, buffer))
        if n:
            rgb = np.ascontiguousarray(read(y0, y1), dtype=np.float32)
            pixels, colours = _kernels.unsettled_rgb(
                rgb, buffer, n, np.empty(n, dtype=np.int64), np.empty((n, 1, 3), dtype=np.float32)
            )
            del rgb
            luv = rgb_to_luv(colours, compat=compat)
            _kernels.place_unsettled(pixels, luv, labels, region_of, modes, h / height, w / width,
                                     float(spatial_radius), float(range_radius), buffer, chosen, y0)
        areas += _kernels.count_labels(buffer, m)
        if buffer is not out:
            out[y0:y1] = buffer
    missing = np.flatnonzero(fragile & ~chosen)
    if len(missing):
        # A region no full-resolution pixel chose keeps the pixel at the centre
        # of its first working pixel, so that every region id stays in use.
        first = np.full(n_regions, -1, dtype=np.int64)
        flat = labels.ravel()
        order = np.arange(flat.size - 1, -1, -1)
        first[flat[order]] = order
        for region in missing:
            i, j = divmod(int(first[region]), w)
            y = min(height - 1, int((i + 0.5) * height / h))
            x = min(width - 1, int((j + 0.5) * width / w))
            areas[out[y, x]] -= 1
            out[y, x] = region_of[region]
            areas[region_of[region]] += 1
    if isinstance(out, np.memmap):
        out.flush()
    return out, areas


def _map_level(finest: NDArray[np.int32], region_of: NDArray[np.integer], out=None, strip_rows=None):
    """(labels, areas) of a level: ``region_of`` applied to the placed finest
    labels, ``strip_rows`` rows at a time, into ``out`` when given."""
    region_of = np.ascontiguousarray(region_of, dtype=np.int32)
    height = finest.shape[0]
    m = int(region_of.max()) + 1 if len(region_of) else 0
    if out is None:
        out = np.empty(finest.shape, dtype=np.int32)
    areas = np.zeros(m, dtype=np.int64)
    for y0, y1 in row_strips(height, strip_rows):
        part = region_of[np.asarray(finest[y0:y1])]
        areas += _kernels.count_labels(part, m)
        out[y0:y1] = part
    return out, areas


@dataclass(frozen=True, eq=False)
class Placement:
    """How a region hierarchy built at the working resolution comes back to
    the photo's: the working resolution's finest labels and modes, the
    full-resolution image (or a reader of its rows), and the placement's
    bandwidths (see :func:`place_labels`).

    :meth:`level` gives the full-resolution labels of one level of the
    tree, equal to :attr:`finest`'s labels mapped to the level, but places
    only the pixels near that level's boundaries (and near finest regions
    that might lose every pixel): on a 12-megapixel photo a third of the
    pixels lie near a finest boundary, a few percent near the boundaries of
    the level :func:`segshift.segment` returns. :attr:`finest` (the UCM
    needs it) is computed once, when first asked for.

    For an image larger than memory, ``rgb`` is a :data:`RowReader`,
    ``shape`` its (H, W), ``strip_rows`` the rows placed at a time and
    ``allocate`` makes the full-resolution outputs (``allocate(dtype)`` ->
    an (H, W) array such as a memory map); the labels are the same.
    """

    rgb: NDArray[np.float32] | RowReader = field(repr=False)
    labels: NDArray[np.int32] = field(repr=False)
    modes: NDArray[np.float32] = field(repr=False)
    n_regions: int
    spatial_radius: float
    range_radius: float
    compat: str | None = None
    shape: tuple[int, int] | None = None
    strip_rows: int | None = None
    allocate: Callable[[np.dtype], NDArray] | None = field(default=None, repr=False)

    @property
    def full_shape(self) -> tuple[int, int]:
        """(H, W) of the full resolution."""
        return _shape_of(self.rgb, self.shape)

    def empty(self, dtype) -> NDArray:
        """An (H, W) array of ``dtype`` for a full-resolution output (``allocate``'s, if given)."""
        if self.allocate is not None:
            return self.allocate(np.dtype(dtype))
        return np.empty(self.full_shape, dtype=dtype)

    @cached_property
    def finest(self) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
        """The finest regions at full resolution: (labels (H, W) int32, areas (n_regions,) int64)."""
        return place_labels(self.rgb, self.labels, self.modes, self.n_regions, self.spatial_radius,
                            self.range_radius, compat=self.compat, shape=self.full_shape,
                            out=self.empty(np.int32), strip_rows=self.strip_rows)

    def level(self, region_of: NDArray[np.integer]) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
        """A level's full-resolution (labels (H, W) int32, areas int64):
        ``region_of`` (finest region -> the level's region, numbered from 0)
        applied to :attr:`finest`'s labels, exactly."""
        if "finest" in self.__dict__:  # already placed: map it
            return _map_level(self.finest[0], region_of, self.empty(np.int32), self.strip_rows)
        shape = self.full_shape
        return _single_threaded_when_small(shape, _place, _reader(self.rgb), shape, self.labels, self.modes,
                                           self.n_regions, self.spatial_radius, self.range_radius, self.compat,
                                           region_of, self.empty(np.int32), self.strip_rows)


def _single_threaded_when_small(shape, fn, *args):
    """``fn(*args)``, on one numba thread below :data:`SERIAL_PIXELS` pixels of ``shape`` (H, W)."""
    import numba

    height, width = shape[:2]
    threads = numba.get_num_threads()
    if height * width < SERIAL_PIXELS:
        numba.set_num_threads(1)
    try:
        return fn(*args)
    finally:
        numba.set_num_threads(threads)


def to_full_resolution(seg, rgb: NDArray[np.float32], modes: NDArray[np.float32], spatial_radius: float,
                       range_radius: float, *, compat: str | None = None):
    """A working-resolution :class:`segshift.Segmentation` brought to the full
    resolution of ``rgb`` (see :func:`place_labels`): same region ids and
    modes, full-resolution labels, areas and image."""
    from dataclasses import replace

    labels, areas = place_labels(rgb, seg.labels, modes, seg.n_regions, spatial_radius, range_radius, compat=compat)
    return replace(seg, labels=labels, areas=areas, image=rgb)
