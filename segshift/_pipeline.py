"""The in-memory pipeline of :func:`segshift.segment`, shared by the streamed runs.

loader (RGB -> L*u*v*) -> mean-shift core (every pixel to its mode) ->
regions (connect, fuse, prune) -> region hierarchy -> :class:`Segmentation`
(renders itself). :func:`segment_grid` is everything after the image is at
its working resolution, the one tail of the in-memory run
(:func:`segshift._segment.segment`) and of the streamed one
(:func:`segshift.tiled.segment_streamed`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _regions as _regions
from . import _render as render
from . import _resolution as _resolution
from .errors import ParameterError
from .params import SCALE_DEFAULTS, Params
from ._hierarchy import (
    COST,
    Hierarchy,
    auto_scale,
    boundary_strength,
    build_hierarchy,
    check_level,
    code_histograms,
    colour_affinity,
    quantise,
    texture_histograms,
)
from ._loader import rgb_to_luv
from ._meanshift import (
    check_positive,
    filter_image,
)

log = logging.getLogger("segshift")

#: The fixed scale's defaults (``scale="fixed"``), kept for callers of 0.x;
#: the parameter model (:mod:`segshift.params`) is where every default lives.
DEFAULTS = dict(
    spatial_radius=None,
    range_radius=SCALE_DEFAULTS["fixed"]["range_radius"],
    min_size=SCALE_DEFAULTS["fixed"]["min_size"],
    kernel="uniform",
    compat="edison",
    speedup="none",
    resolution="auto",
    scale="auto",
)
#: The default spatial radius with ``scale="fixed"``, in pixels of the working resolution.
WORKING_RADIUS = SCALE_DEFAULTS["fixed"]["working_radius"]
#: The hierarchy's finest level's radii (``scale="auto"``), see :data:`segshift.params.SCALE_DEFAULTS`.
FINEST_WORKING_RADIUS = SCALE_DEFAULTS["auto"]["working_radius"]
FINEST_RANGE_RADIUS = SCALE_DEFAULTS["auto"]["range_radius"]

#: The values of ``scale``: a level of the region hierarchy picked per image, or mean shift's fixed scale.
SCALES = ("auto", "fixed")

#: Default smallest region of the hierarchy's finest level, as a fraction of the image's area.
FINEST_MIN_SIZE = SCALE_DEFAULTS["auto"]["min_size"]
#: Thin regions of the finest level, joined to their closest neighbour before
#: the hierarchy is built (:func:`segshift._regions.prune_thin`): mean width
#: under ``width`` pixels and area under ``area`` of the image. They are the
#: strips of blended colours along sharp edges, which otherwise outlive the
#: regions on either side (and, on a photo segmented below or above the
#: working resolution, give it regions the other resolutions do not have).
#: On 100 BSDS500 train photos the scores did not move (Covering 0.610, PRI
#: 0.816 -> 0.815, VI 1.63).
THIN = dict(width=1.5, area=0.002)
@dataclass(frozen=True, eq=False)
class Segmentation:
    """A segmentation of an image into regions.

    Attributes
    ----------
    labels : (H, W) ndarray of int32
        Region of each pixel, contiguous from ``start_label`` (1 by
        default), numbered in raster order of each region's first pixel:
        region ``labels == start_label + i`` has ``modes_rgb[i]`` and
        ``areas[i]``. Every region is one 8-connected set. When
        the image was segmented at a working resolution (the default for
        large photos, see :mod:`segshift._resolution`), the numbering and the
        connectivity are those of the working resolution, up to one working
        pixel at the boundaries.
    modes_luv : (n_regions, 3) ndarray of float32
        Mode colour of each region in L*u*v* (D65): EDISON's L*u*v* with
        ``compat="edison"`` (the default), CIE L*u*v* with ``compat=None``
        (see :func:`segshift._loader.rgb_to_luv`).
    modes_rgb : (n_regions, 3) ndarray of uint8
        The same colours in 8-bit sRGB.
    areas : (n_regions,) ndarray of int64
        Pixels per region.
    image : (H, W, 3) ndarray of float32
        The RGB input in [0, 1] (used to draw boundaries).
    params : Params
        The algorithm's options the segmentation was made with.
    seconds : float
        Wall time of :func:`segment`.
    hierarchy : Hierarchy or None
        The merge tree over the finest partition that this segmentation is
        a level of (:mod:`segshift._hierarchy`); None for a fixed-scale
        segmentation (``scale="fixed"``). :meth:`at` and :attr:`ucm` use it.
    threshold : float or None
        The merge height this level was cut at (None without a hierarchy).
    start_label : int
        The label of the first region.
    """

    labels: NDArray[np.int32]
    modes_luv: NDArray[np.float32]
    modes_rgb: NDArray[np.uint8]
    areas: NDArray[np.int64]
    image: NDArray[np.float32] | None = field(repr=False)
    params: Params = field(default_factory=Params)
    seconds: float = 0.0
    hierarchy: Hierarchy | None = field(default=None, repr=False)
    threshold: float | None = None
    start_label: int = 0
    source: str | None = field(default=None, repr=False)
    scratch: Any = field(default=None, repr=False)

    @property
    def n_regions(self) -> int:
        """Number of regions."""
        return len(self.areas)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the image."""
        return self.labels.shape

    def image_rows(self, y0: int, y1: int) -> NDArray[np.float32]:
        """(y1 - y0, W, 3) float32: rows ``y0..y1-1`` of the RGB input in [0, 1].

        How the writers read the image a strip at a time (to draw boundaries);
        a segmentation of a huge image reads them from its file instead.
        """
        if self.image is not None:
            return self.image[y0:y1]
        if self.source is None:
            raise ParameterError("this segmentation keeps no image to read")
        return self._raster.read_rgb(y0, y1, 0, self.shape[1])

    @cached_property
    def _raster(self) -> Any:
        from ._raster import open_raster

        return open_raster(self.source)

    def mode_image(self) -> NDArray[np.uint8]:
        """(H, W, 3) uint8: every pixel painted with its region's mode colour."""
        return render.paint_modes(self.labels, self.modes_rgb, start_label=self.start_label)

    def boundary_image(self, colour: tuple[int, int, int] = (255, 0, 0)) -> NDArray[np.uint8]:
        """(H, W, 3) uint8: the input with region boundaries drawn in ``colour``
        (of a huge image, write it in strips: ``writers.write_output("boundaries", path, seg)``)."""
        if self.image is None:
            raise ParameterError("this segmentation was streamed from its file and keeps no image in memory; "
                                 "write its boundaries with segshift.writers.write_output('boundaries', path, seg)")
        return render.draw_boundaries(self.image, self.labels, colour)

    def label_image(self, seed: int = 0) -> NDArray[np.uint8]:
        """(H, W, 3) uint8: every region in a random colour, for viewing."""
        return render.paint_modes(self.labels, render.random_colours(self.n_regions, seed),
                                  start_label=self.start_label)

    @property
    def ucm(self) -> NDArray[np.float64] | None:
        """The ultrametric contour map, (H, W) float64, or None without a hierarchy.

        0 inside the finest regions; on a border, the merge height at which
        its two sides become one region. A pixel holds the largest height
        between its region and those of its east, south and south-east
        neighbours (BSDS500's ``seg2bmap`` convention), so that for every
        threshold ``t`` the pixels with ``ucm > t`` are exactly the boundary
        map of ``at(threshold=t)`` (:func:`segshift._hierarchy.boundary_pixels`,
        the map the BSDS benchmarks score).
        """
        return None if self.hierarchy is None else self.hierarchy.ucm()

    def at(self, n_regions: int | None = None, *, threshold: float | None = None) -> Segmentation:
        """Another level of the hierarchy: ``n_regions`` regions, or the cut at ``threshold``.

        Parameters
        ----------
        n_regions : int, optional
            Regions wanted, >= 1: exactly that many, or the finest level when
            it has fewer.
        threshold : float, optional
            Merge height, >= 0: every merge at or below it is made.

        Returns
        -------
        Segmentation
            The level, with the same hierarchy (levels are nested: every
            region of a finer level lies inside one region of a coarser one).

        Raises
        ------
        ParameterError
            Neither or both arguments, ``n_regions`` < 1, a threshold that is
            negative or NaN, or a segmentation without hierarchy.
        """
        n_regions, threshold = check_level(n_regions, threshold)
        if self.hierarchy is None:
            raise ParameterError(
                "this segmentation has no hierarchy (made with scale='fixed'); segment with scale='auto'"
            )
        h = self.hierarchy
        n_merges = h.merges_for(n_regions=n_regions, threshold=threshold)
        seg = level(h, n_merges, image=self.image, params=self.params, seconds=self.seconds,
                    compat=self.params.compat)
        return _numbered(replace(seg, source=self.source, scratch=self.scratch), self.start_label)

    def __repr__(self) -> str:
        h, w = self.shape
        return f"Segmentation({w}x{h}, n_regions={self.n_regions}, start_label={self.start_label}, params={self.params})"


def check_start_label(start_label) -> int:
    """Validate ``start_label``: an integer >= 0."""
    if isinstance(start_label, bool) or not isinstance(start_label, (int, np.integer)) or start_label < 0:
        raise ParameterError(f"start_label must be an integer >= 0, got {start_label!r}")
    return int(start_label)


def _numbered(seg: Segmentation, start_label: int) -> Segmentation:
    """``seg`` (labels from 0) with labels from ``start_label``: a new label
    map (the hierarchy may share the old one)."""
    if start_label == seg.start_label:
        return seg
    step = np.int32(start_label - seg.start_label)
    labels: NDArray[np.int32]
    if isinstance(seg.labels, np.memmap):  # a huge image's, made for this result: in place, by strips
        labels = seg.labels
        rows = max(1, (1 << 24) // max(1, labels.shape[1]))
        for y in range(0, labels.shape[0], rows):
            labels[y:y + rows] += step
    else:
        labels = np.add(seg.labels, step, dtype=np.int32)
    return replace(seg, labels=labels, start_label=start_label)


def segment_rgb(rgb: NDArray[np.float32], p: Params, *, progress=None) -> Segmentation:
    """The pipeline on an image in memory: labels from 0, empty params."""
    # The default radius is relative: segment at the working resolution (resolution.py).
    work = working_plan(rgb.shape[:2], p)
    grid = rgb if work.shape is None else _resolution.resample(rgb, work.shape)
    return segment_grid(grid, work, rgb, p, progress=progress)


def working_plan(shape: tuple[int, int], p: Params) -> _resolution.Plan:
    """Where the climbs of an image of ``shape`` (H, W) run (:func:`segshift._resolution.plan`)."""
    if p.relative:
        return _resolution.plan(shape, p.working_radius, p.resolution, p.speedup)
    return _resolution.Plan(None, float(p.spatial_radius), p.speedup)


def segment_grid(
    grid: NDArray[np.float32],
    work: _resolution.Plan,
    rgb: NDArray[np.float32] | _resolution.RowReader,
    p: Params,
    *,
    shape: tuple[int, int] | None = None,
    strip_rows: int | None = None,
    allocate=None,
    progress=None,
) -> Segmentation:
    """Everything of :func:`segment` after the image is at its working
    resolution: the one pipeline of the in-memory and the streamed runs
    (:func:`segshift.tiled.segment_streamed`).

    ``grid`` is the image the climbs run on (``rgb`` itself when
    ``work.shape`` is None, see :func:`working_plan`); ``rgb`` the
    full-resolution image or a reader of its rows
    (:data:`segshift._resolution.RowReader`, then with ``shape``), which the
    labels are placed back on ``strip_rows`` rows at a time into arrays made
    by ``allocate(dtype)`` (see :class:`segshift._resolution.Placement`).
    Returns labels from 0 and empty params; the Segmentation's ``image`` is
    ``rgb`` when it is an array, else None.
    """
    spatial_radius = None if p.relative else float(p.spatial_radius)
    range_radius = p.range_radius_value
    compat = p.compat
    working_radius = p.working_radius
    image = None if callable(rgb) else rgb
    if shape is None:
        assert image is not None, "a row reader needs the image's shape"
        shape = image.shape[:2]
    area = shape[0] * shape[1]
    min_pixels = min_size_pixels(p.min_size_value, area)
    min_pixels = _resolution.working_min_size(min_pixels, area, grid.shape[0] * grid.shape[1])
    luv = rgb_to_luv(grid, compat=compat)
    modes = filter_image(
        luv, work.spatial_radius, range_radius, kernel=p.kernel, tol=p.tol, max_iter=p.max_iter, compat=compat,
        speedup=work.speedup,
        overwrite_input=p.scale == "fixed",  # the hierarchy's colour histograms read luv; else its memory takes the modes
        **({"progress": progress} if progress is not None else {}),
    )
    seed_colours = p.region_colour == "seed"
    if p.scale == "fixed":
        seg = regions_from_modes(grid, modes, range_radius, min_pixels, compat=compat, seed_colours=seed_colours)
        if work.shape is not None:
            labels, areas = _resolution.place_labels(
                rgb, seg.labels, modes, seg.n_regions, work.spatial_radius, range_radius, compat=compat, shape=shape,
                out=None if allocate is None else allocate(np.dtype(np.int32)), strip_rows=strip_rows,
            )
            seg = replace(seg, labels=labels, areas=areas, image=image)
        return seg
    # the gradient's scale follows the spatial radius's, like every other length
    sigma = COST["gradient_sigma"] * (1.0 if spatial_radius is not None else work.spatial_radius / working_radius)
    hierarchy = hierarchy_from_modes(grid, modes, min_pixels, compat=compat, luv=luv, gradient_sigma=sigma,
                                     seed_colours=seed_colours)
    if work.shape is not None:
        # the levels come to full resolution with the finest regions' ids, so the tree carries over
        hierarchy = replace(hierarchy, placement=_resolution.Placement(
            rgb, hierarchy.labels, modes, hierarchy.n_finest, work.spatial_radius, range_radius, compat=compat,
            shape=shape, strip_rows=strip_rows, allocate=allocate,
        ))
    if p.n_regions is None:
        n_merges = auto_scale(hierarchy)
    else:
        n_merges = hierarchy.merges_for(n_regions=p.n_regions)
        if p.n_regions > hierarchy.n_finest:
            log.warning("asked for %d regions, but the finest level of this image's hierarchy has %d: "
                        "returning that level (a smaller min_size or radii give more)", p.n_regions,
                        hierarchy.n_finest)
    return level(hierarchy, n_merges, image=image, compat=compat)






def scale_defaults(scale: str, **given):
    """``given`` (any of ``working_radius``, ``range_radius``, ``min_size``)
    with each None replaced by the default for ``scale``: the hierarchy's
    finest level's (``FINEST_*``), or with ``"fixed"`` the fixed scale's
    (``WORKING_RADIUS`` and ``DEFAULTS``). Returns a dict."""
    table = SCALE_DEFAULTS["fixed" if scale == "fixed" else "auto"]
    return {name: table[name] if value is None else value for name, value in given.items()}


def segmentation_from_modes(
    rgb: NDArray[np.float32],
    modes: NDArray[np.float32],
    range_radius: float,
    min_size: int,
    *,
    compat: str | None = "edison",
    scale: str = "auto",
    n_regions: int | None = None,
) -> Segmentation:
    """Everything of :func:`segment` after the mean-shift stage.

    ``scale="fixed"``: :func:`regions_from_modes`. Otherwise the finest
    partition (connect, prune at ``min_size`` pixels), its hierarchy, and the
    level with ``n_regions`` regions or the automatic one. Returns a
    Segmentation with empty ``params`` and zero ``seconds``.
    """
    if scale == "fixed":
        return regions_from_modes(rgb, modes, range_radius, min_size, compat=compat)
    hierarchy = hierarchy_from_modes(rgb, modes, min_size, compat=compat)
    if n_regions is not None:
        n_merges = hierarchy.merges_for(n_regions=n_regions)
    else:
        n_merges = auto_scale(hierarchy)
    return level(hierarchy, n_merges, image=rgb, compat=compat)


def hierarchy_from_modes(
    rgb: NDArray[np.float32],
    modes: NDArray[np.float32],
    min_size: int,
    *,
    compat: str | None = "edison",
    luv: NDArray[np.float32] | None = None,
    gradient_sigma: float = COST["gradient_sigma"],
    seed_colours: bool = False,
) -> Hierarchy:
    """The finest partition of the modes (:func:`finest_regions`) and its
    merge tree (:func:`hierarchy_over`).

    The finest regions' colours are the means of their pixels' modes (so
    every level's colours, their area-weighted means, are the means of the
    level's pixels' modes), or with ``seed_colours`` the modes the regions
    were seeded with (EDISON's picture). The tree itself does not depend on
    this choice."""
    regions = finest_regions(modes, min_size, compat=compat)
    hierarchy = hierarchy_over(regions, rgb, modes, compat=compat, luv=luv, gradient_sigma=gradient_sigma)
    if seed_colours:
        return hierarchy
    return replace(hierarchy, modes_luv=mean_modes(hierarchy.labels, modes, hierarchy.n_finest))


def mean_modes(labels: NDArray[np.integer], modes: NDArray[np.floating], n: int) -> NDArray[np.float64]:
    """(n, 3) float64: the mean of the pixels' ``modes`` (H, W, 3) in each of the ``n`` regions of ``labels``
    (labels from 0)."""
    flat = np.asarray(labels).ravel()
    counts = np.maximum(np.bincount(flat, minlength=n), 1)
    pixels = np.asarray(modes).reshape(-1, modes.shape[-1])
    return np.stack([np.bincount(flat, weights=pixels[:, c], minlength=n) for c in range(pixels.shape[1])],
                    axis=1) / counts[:, None]


def finest_regions(modes: NDArray[np.float32], min_size: int, *, compat: str | None = "edison"):
    """The hierarchy's finest partition: connect the modes, prune at
    ``min_size`` pixels, join the thin strips along edges (:data:`THIN`).
    Returns :class:`segshift._regions.Regions`."""
    regions = _regions.connect_modes(modes, seed_modes=compat == "edison")
    regions = _regions.prune_regions(regions, min_size)
    thin_area = max(min_size, round(THIN["area"] * modes.shape[0] * modes.shape[1]))
    return _regions.prune_thin(regions, THIN["width"], thin_area)


def hierarchy_over(
    regions,
    rgb: NDArray[np.float32],
    modes: NDArray[np.float32],
    *,
    compat: str | None = "edison",
    luv: NDArray[np.float32] | None = None,
    gradient_sigma: float = COST["gradient_sigma"],
) -> Hierarchy:
    """The merge tree over a partition of the modes (:class:`segshift._regions.Regions`).

    The boundary strength is the colour gradient (at ``gradient_sigma``
    pixels) of the mean-shift filtered image (the modes), where the filter
    has flattened texture and noise and kept the edges; the regions' colour
    and texture histograms are of the photo's own colours, quantised
    (:func:`segshift._hierarchy.quantise`), and luminance
    (:func:`segshift._hierarchy.texture_histograms` at the gradient's scale),
    and the border's colour affinity is fitted to the same quantised colours
    (:func:`segshift._hierarchy.colour_affinity`),
    ``luv`` when the caller has converted ``rgb`` already.
    """
    labels = _regions.final_labels(regions)
    if luv is None:
        luv = rgb_to_luv(rgb, compat=compat)
    codes, bins = quantise(luv, int(COST["histogram_bins"]))  # the photo's colours
    histograms = code_histograms(codes, labels, len(regions.areas), bins)
    affinity = colour_affinity(codes, bins)
    textures = texture_histograms(luv, labels, len(regions.areas), sigma=gradient_sigma)
    strength = boundary_strength(modes, gradient_sigma)
    return build_hierarchy(
        labels, regions.modes, regions.areas, strength, histograms=histograms, textures=textures, codes=codes,
        affinity=affinity,
    )


def image_modes(
    rgb: NDArray[np.float32],
    spatial_radius: float,
    range_radius: float,
    *,
    kernel: str = "uniform",
    tol: float = 0.01,
    max_iter: int = 100,
    compat: str | None = "edison",
    speedup: str = "none",
) -> NDArray[np.float32]:
    """The mean-shift stage of :func:`segment`: every pixel's L*u*v* mode.

    Converts ``rgb`` (as :func:`segshift.load_image` returns it) to L*u*v*
    and filters it (:func:`segshift._meanshift.filter_image`), the modes
    taking the memory of the L*u*v* image. Returns (H, W, 3) float32.
    """
    luv = rgb_to_luv(rgb, compat=compat)
    return filter_image(
        luv, spatial_radius, range_radius, kernel=kernel, tol=tol, max_iter=max_iter, compat=compat, speedup=speedup,
        overwrite_input=True,  # luv is ours: its memory takes the modes
    )




def check_min_size(min_size) -> int | float:
    """Validate ``min_size``: an int >= 0 (pixels) or a float in (0, 1) (area fraction)."""
    if isinstance(min_size, (float, np.floating)) and not float(min_size).is_integer():
        if not 0.0 < float(min_size) < 1.0:
            raise ParameterError(
                f"min_size must be an integer number of pixels or a fraction of the area in (0, 1), got {min_size!r}"
            )
        return float(min_size)
    return check_positive("min_size", min_size, integer=True, allow_zero=True)


def min_size_pixels(min_size: float, area: int) -> int:
    """The smallest region in pixels for an image of ``area`` pixels."""
    if isinstance(min_size, float):
        return max(1, round(min_size * area))
    return int(min_size)


def regions_from_modes(
    rgb: NDArray[np.float32],
    modes: NDArray[np.float32],
    range_radius: float,
    min_size: int,
    *,
    compat: str | None = None,
    seed_colours: bool = False,
) -> Segmentation:
    """The region stage of :func:`segment`: connect, fuse, prune, and package.

    Parameters
    ----------
    rgb : (H, W, 3) ndarray of float32
        The image (as :func:`segshift.load_image` returns it).
    modes : (H, W, 3) ndarray
        The L*u*v* mode of every pixel (:func:`segshift._meanshift.filter_image`).
    range_radius : float
        Range bandwidth; regions whose modes are within half of it are fused.
    min_size : int
        Regions smaller than this many pixels are merged into a neighbour.
    compat : {None, "edison"}
        ``"edison"`` seeds each region with its first pixel's mode.
    seed_colours : bool
        Report the regions' colours as EDISON does (the seeded modes, fused
        and pruned); by default each region's colour is the mean of its
        pixels' modes.

    Returns
    -------
    Segmentation
        With empty ``params`` and zero ``seconds``.
    """
    regions = _regions.connect_modes(modes, seed_modes=compat == "edison")
    regions = _regions.fuse_regions(regions, range_radius)
    regions = _regions.prune_regions(regions, min_size)
    labels = _regions.final_labels(regions)
    colours = regions.modes if seed_colours else mean_modes(labels, modes, len(regions.areas))
    return Segmentation(
        labels=labels,
        modes_luv=colours.astype(np.float32),
        modes_rgb=render.luv_to_rgb8(colours, compat=compat),
        areas=regions.areas,
        image=rgb,
    )


def level(
    hierarchy: Hierarchy,
    n_merges: int,
    *,
    image: NDArray[np.float32] | None,
    params: Params | None = None,
    seconds: float = 0.0,
    compat: str | None = "edison",
) -> Segmentation:
    """The :class:`Segmentation` after the first ``n_merges`` merges of ``hierarchy``.

    Modes are the means of the finest modes weighted by their areas where
    the tree was built (the working resolution, if any); labels are
    contiguous and in raster order of each region's first pixel.
    """
    h = hierarchy
    n_merges = max(0, min(int(n_merges), max(h.n_finest - 1, 0)))
    region_of = h.cut(n_merges)
    m = int(region_of.max()) + 1 if len(region_of) else 0
    weights = np.bincount(region_of, weights=h.areas, minlength=m)
    sums = np.stack([np.bincount(region_of, weights=h.modes_luv[:, c] * h.areas, minlength=m) for c in range(3)], 1)
    modes = sums / weights[:, None]
    labels, areas = h.level_labels(region_of)
    threshold = float(h.heights[n_merges - 1]) if n_merges > 0 else 0.0
    return Segmentation(
        labels=labels,
        modes_luv=modes.astype(np.float32),
        modes_rgb=render.luv_to_rgb8(modes, compat=compat),
        areas=np.asarray(areas, dtype=np.int64),
        image=image,
        params=Params() if params is None else params,
        seconds=seconds,
        hierarchy=h,
        threshold=threshold,
    )
