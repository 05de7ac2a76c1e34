"""``segment(image)``: the whole pipeline in a few readable lines.

loader (RGB -> L*u*v*) -> mean-shift core (every pixel to its mode) ->
regions (connect, fuse, prune) -> :class:`Segmentation` (renders itself).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from . import regions as _regions
from . import render
from . import resolution as _resolution
from .errors import ParameterError
from .hierarchy import (
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
from .loader import DEFAULT_MAX_PIXELS, ImageSource, load_image, rgb_to_luv
from .meanshift import (
    check_compat,
    check_kernel,
    check_positive,
    check_speedup,
    filter_image,
)

#: segshift's default parameters, the one place the library, the command line
#: and the batch runner read them from. Chosen on the BSDS500 train photos for
#: the best mean rank over the region benchmarks (Covering, PRI, VI) by
#: scripts/tune_bsds.py; EDISON's own defaults are (7, 6.5, 20 pixels). The
#: minimum region is a fraction of the image's area, so the defaults suit a
#: small web image and a 12-megapixel photo alike.
DEFAULTS = dict(
    spatial_radius=None,
    range_radius=12.0,
    min_size=0.013,
    kernel="uniform",
    compat="edison",
    speedup="none",
    resolution="auto",
    scale="auto",
)
#: The default spatial radius with ``scale="fixed"``, in pixels of the working
#: resolution (BSDS500's 481 x 321, see :mod:`segshift.resolution`): 10 / 578
#: of the image's diagonal.
WORKING_RADIUS = 10.0
#: The hierarchy's finest level (``scale="auto"``, the default) is made with
#: smaller radii than the fixed scale: its boundaries are candidates that the
#: merging may drop, so it should miss few. The relative spatial radius is 7
#: working pixels (7 / 578 of the diagonal) and the range radius 8. On the
#: 200 BSDS500 train photos, at the automatic scale's cut, they scored
#: Covering 0.621, PRI 0.825, VI 1.60 against 0.604, 0.812, 1.66 with the
#: fixed scale's 10 and 12 (``scripts/tune_bsds.py --hierarchy --segment``).
FINEST_WORKING_RADIUS = 7.0
FINEST_RANGE_RADIUS = 8.0

#: The values of ``scale``: a level of the region hierarchy picked per image, or mean shift's fixed scale.
SCALES = ("auto", "fixed")

#: Default smallest region of the hierarchy's finest level, as a fraction of the image's area.
FINEST_MIN_SIZE = 0.00013
#: Thin regions of the finest level, joined to their closest neighbour before
#: the hierarchy is built (:func:`segshift.regions.prune_thin`): mean width
#: under ``width`` pixels and area under ``area`` of the image. They are the
#: strips of blended colours along sharp edges, which otherwise outlive the
#: regions on either side (and, on a photo segmented below or above the
#: working resolution, give it regions the other resolutions do not have).
#: On 100 BSDS500 train photos the scores did not move (Covering 0.610, PRI
#: 0.816 -> 0.815, VI 1.63).
THIN = dict(width=1.5, area=0.002)
#: The defaults that depend on ``scale`` (see :func:`scale_defaults`); the
#: others are in DEFAULTS.
_SCALE_DEFAULTS = {
    "auto": dict(working_radius=FINEST_WORKING_RADIUS, range_radius=FINEST_RANGE_RADIUS, min_size=FINEST_MIN_SIZE),
    "fixed": dict(working_radius=WORKING_RADIUS, range_radius=DEFAULTS["range_radius"], min_size=DEFAULTS["min_size"]),
}


@dataclass(frozen=True, eq=False)
class Segmentation:
    """A segmentation of an image into regions.

    Attributes
    ----------
    labels : (H, W) ndarray of int32
        Region of each pixel, contiguous from 0, numbered in raster order of
        each region's first pixel. Every region is one 8-connected set. When
        the image was segmented at a working resolution (the default for
        large photos, see :mod:`segshift.resolution`), the numbering and the
        connectivity are those of the working resolution, up to one working
        pixel at the boundaries.
    modes_luv : (n_regions, 3) ndarray of float32
        Mode colour of each region in L*u*v* (D65): EDISON's L*u*v* with
        ``compat="edison"`` (the default), CIE L*u*v* with ``compat=None``
        (see :func:`segshift.loader.rgb_to_luv`).
    modes_rgb : (n_regions, 3) ndarray of uint8
        The same colours in 8-bit sRGB.
    areas : (n_regions,) ndarray of int64
        Pixels per region.
    image : (H, W, 3) ndarray of float32
        The RGB input in [0, 1] (used to draw boundaries).
    params : dict
        The parameters the segmentation was made with.
    seconds : float
        Wall time of :func:`segment`.
    hierarchy : Hierarchy or None
        The merge tree over the finest partition that this segmentation is
        a level of (:mod:`segshift.hierarchy`); None for a fixed-scale
        segmentation (``scale="fixed"``). :meth:`at` and :attr:`ucm` use it.
    threshold : float or None
        The merge height this level was cut at (None without a hierarchy).
    """

    labels: NDArray[np.int32]
    modes_luv: NDArray[np.float32]
    modes_rgb: NDArray[np.uint8]
    areas: NDArray[np.int64]
    image: NDArray[np.float32] = field(repr=False)
    params: dict = field(default_factory=dict)
    seconds: float = 0.0
    hierarchy: Hierarchy | None = field(default=None, repr=False)
    threshold: float | None = None

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
        return self.image[y0:y1]

    def mode_image(self) -> NDArray[np.uint8]:
        """(H, W, 3) uint8: every pixel painted with its region's mode colour."""
        return render.paint_modes(self.labels, self.modes_rgb)

    def boundary_image(self, colour: tuple[int, int, int] = (255, 0, 0)) -> NDArray[np.uint8]:
        """(H, W, 3) uint8: the input with region boundaries drawn in ``colour``."""
        return render.draw_boundaries(self.image, self.labels, colour)

    def label_image(self, seed: int = 0) -> NDArray[np.uint8]:
        """(H, W, 3) uint8: every region in a random colour, for viewing."""
        return render.paint_modes(self.labels, render.random_colours(self.n_regions, seed))

    @property
    def ucm(self) -> NDArray[np.float64] | None:
        """The ultrametric contour map, (H, W) float64, or None without a hierarchy.

        0 inside the finest regions; on a border, the merge height at which
        its two sides become one region. A pixel holds the largest height
        between its region and those of its east, south and south-east
        neighbours (BSDS500's ``seg2bmap`` convention), so that for every
        threshold ``t`` the pixels with ``ucm > t`` are exactly the boundary
        map of ``at(threshold=t)`` (:func:`segshift.hierarchy.boundary_pixels`,
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
        return level(h, n_merges, image=self.image, params=self.params, seconds=self.seconds,
                     compat=self.params.get("compat", "edison"))

    def __repr__(self) -> str:
        h, w = self.shape
        return f"Segmentation({w}x{h}, n_regions={self.n_regions}, params={self.params})"


def segment(
    image: ImageSource,
    spatial_radius: float | None = DEFAULTS["spatial_radius"],
    range_radius: float | None = None,
    min_size: float | None = None,
    *,
    kernel: str = DEFAULTS["kernel"],
    tol: float = 0.01,
    max_iter: int = 100,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    compat: str | None = DEFAULTS["compat"],
    speedup: str = DEFAULTS["speedup"],
    resolution: str = DEFAULTS["resolution"],
    scale: str = DEFAULTS["scale"],
    n_regions: int | None = None,
) -> Segmentation:
    """Segment an image by mean shift (Comaniciu & Meer 2002).

    Every pixel, as a joint (x, y, L*, u*, v*) feature vector, climbs the
    kernel density estimate to its mode (by default at a working resolution
    of about BSDS500's size, see ``resolution``); 8-connected pixels with the same
    mode form regions. With ``scale="fixed"`` (mean shift as published),
    adjacent regions whose modes are within half the range radius are fused
    and regions under ``min_size`` pixels are merged into their closest
    neighbour. Otherwise (the default) regions under ``min_size`` pixels are
    merged into their closest neighbour to make the finest partition, whose
    regions are then merged pairwise into a hierarchy
    (:mod:`segshift.hierarchy`), and one level of it is returned: the one
    :func:`segshift.hierarchy.auto_scale` picks for this image, or the one
    with ``n_regions`` regions. Other levels are a call away
    (:meth:`Segmentation.at`).

    Parameters
    ----------
    image : path or array_like
        A file path or an image array; see :func:`segshift.load_image`.
    spatial_radius : float or None
        Radius of the spatial window (EDISON's ``hs``). ``None`` (default):
        relative to the image, 7 pixels at BSDS500's 481 x 321 (1/83 of
        the diagonal; ``FINEST_WORKING_RADIUS``) for the hierarchy's finest
        level, 10 (1/58, ``WORKING_RADIUS``) with ``scale="fixed"``, so
        that the result depends on the scene, not on the pixel count (see
        ``resolution``). A number: pixels of this image, every pixel climbs
        (the full-resolution computation, which is what reproduces EDISON).
    range_radius : float, optional
        Radius of the range window in L*u*v* units (EDISON's ``hr``).
        Default: ``FINEST_RANGE_RADIUS`` (8) with the hierarchy,
        ``DEFAULTS["range_radius"]`` (12) with ``scale="fixed"``.
    min_size : int or float, optional
        Smallest region kept (EDISON's ``M``): an int is a number of pixels
        (0 or 1 keeps all), a float in (0, 1) a fraction of the image's
        area, so that the same setting suits any resolution. Both count pixels
        of the image, whatever resolution the regions are found at.
        With the hierarchy it is the smallest region of the finest level.
        Default: ``FINEST_MIN_SIZE`` (0.00013, 20 pixels of a BSDS500 photo) of the area with the
        hierarchy, ``DEFAULTS["min_size"]`` (0.013) with ``scale="fixed"``.
    kernel : {"uniform", "gaussian", "epanechnikov"}
        Weights of the mean-shift update; see :func:`segshift.meanshift.filter_image`.
    tol : float
        Convergence tolerance on the squared shift, in bandwidth units.
    max_iter : int
        Most mean-shift iterations per pixel.
    max_pixels : int or None
        Refuse images larger than this many pixels (``None``: no limit).
    compat : {None, "edison"}
        ``"edison"`` reproduces the numerics of EDISON, the authors' C++
        system, to match its label maps: its RGB -> L*u*v* conversion (RGB
        taken as linear, see :func:`segshift.loader.rgb_to_luv`), its
        convergence test (raw units after the first shift, see
        :func:`segshift.meanshift.filter_image`) and its region seeds (a
        region starts with its first pixel's mode). With EDISON's parameters
        (7, 6.5, 20) and ``scale="fixed"`` the labels agree with EDISON's at
        a mean adjusted Rand index of about 0.97 on the BSDS500 val photos
        (``scripts/edison_agreement.py``).
    speedup : {"none", "fast"}
        ``"none"`` (default): exact mean shift, every pixel (of the working
        resolution) climbs to its mode. ``"fast"``: with the relative
        spatial radius, a working resolution of half the side (a quarter of
        the pixels, the radius scaled with it), about ten times less work
        than the exact mode on a BSDS500-sized photo at about the same BSDS
        scores (:mod:`segshift.resolution`); with a radius in pixels or
        ``resolution="full"``, climbs from a quarter of the pixels only
        (:func:`segshift.meanshift.filter_image`).
    resolution : {"auto", "full"}
        With the relative spatial radius (``spatial_radius=None``):
        ``"auto"`` (default) segments at a working resolution of about
        481 x 321 pixels (an anti-aliased resize) and places the boundaries
        at full resolution, keeping the working resolution's region ids
        (:mod:`segshift.resolution`); ``"full"`` lets every pixel of the
        image climb, with the radius scaled to its diagonal. A radius given
        in pixels always runs at full resolution.
    scale : {"auto", "fixed"}
        ``"auto"`` (default): build the hierarchy and return the level
        picked for this image (or the one with ``n_regions`` regions).
        ``"fixed"``: no hierarchy; the regions of fusing at half the range
        radius and pruning at ``min_size``, as mean shift was published
        (segshift's behaviour before the hierarchy).
    n_regions : int, optional
        Return the level of the hierarchy with exactly this many regions
        (or the finest level, when it has fewer) instead of the automatic one.

    Returns
    -------
    Segmentation

    Raises
    ------
    ValueError
        For a parameter out of range (the message names it) or an array that
        is not an image.
    OSError
        For a file that cannot be read as an image.

    References
    ----------
    D. Comaniciu and P. Meer, "Mean Shift: A Robust Approach Toward Feature
    Space Analysis", IEEE TPAMI 24(5), 2002.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((20, 30, 3), dtype=np.uint8)
    >>> image[:, 15:] = (200, 40, 40)
    >>> seg = segment(image)
    >>> seg.n_regions, seg.areas.tolist()
    (2, [300, 300])
    >>> seg.at(n_regions=1).n_regions
    1
    """
    start = time.perf_counter()
    spatial_radius = check_spatial_radius(spatial_radius)
    scale = check_scale(scale)
    chosen = scale_defaults(scale, working_radius=None, range_radius=range_radius, min_size=min_size)
    range_radius = check_positive("range_radius", chosen["range_radius"])
    n_regions = check_n_regions(n_regions, scale)
    min_size = check_min_size(chosen["min_size"])
    _resolution.check_resolution(resolution)
    check_kernel(kernel)
    check_compat(compat)
    check_speedup(speedup)
    params = dict(
        spatial_radius=spatial_radius,
        range_radius=range_radius,
        min_size=min_size,
        kernel=kernel.lower(),
        compat=compat,
        speedup=speedup,
        resolution=resolution,
        scale=scale,
    )
    if n_regions is not None:
        params["n_regions"] = n_regions

    rgb = load_image(image, max_pixels=max_pixels)
    min_pixels = min_size_pixels(min_size, rgb.shape[0] * rgb.shape[1])
    # The default radius is relative: segment at the working resolution (resolution.py).
    working_radius = chosen["working_radius"]
    work = (_resolution.plan(rgb.shape[:2], working_radius, resolution, speedup) if spatial_radius is None
            else _resolution.Plan(None, spatial_radius, speedup))
    grid = rgb if work.shape is None else _resolution.resample(rgb, work.shape)
    min_pixels = _resolution.working_min_size(min_pixels, rgb.shape[0] * rgb.shape[1], grid.shape[0] * grid.shape[1])
    luv = rgb_to_luv(grid, compat=compat)
    modes = filter_image(
        luv, work.spatial_radius, range_radius, kernel=kernel, tol=tol, max_iter=max_iter, compat=compat,
        speedup=work.speedup,
        overwrite_input=scale == "fixed",  # the hierarchy's colour histograms read luv; else its memory takes the modes
    )
    if scale == "fixed":
        seg = regions_from_modes(grid, modes, range_radius, min_pixels, compat=compat)
        if work.shape is not None:
            seg = _resolution.to_full_resolution(seg, rgb, modes, work.spatial_radius, range_radius, compat=compat)
    else:
        # the gradient's scale follows the spatial radius's, like every other length
        sigma = COST["gradient_sigma"] * (1.0 if spatial_radius is not None else work.spatial_radius / working_radius)
        hierarchy = hierarchy_from_modes(grid, modes, min_pixels, compat=compat, luv=luv, gradient_sigma=sigma)
        if work.shape is not None:
            # the levels come to full resolution with the finest regions' ids, so the tree carries over
            hierarchy = replace(hierarchy, placement=_resolution.Placement(
                rgb, hierarchy.labels, modes, hierarchy.n_finest, work.spatial_radius, range_radius, compat=compat
            ))
        n_merges = auto_scale(hierarchy) if n_regions is None else hierarchy.merges_for(n_regions=n_regions)
        seg = level(hierarchy, n_merges, image=rgb, compat=compat)
    return replace(seg, params=params, seconds=time.perf_counter() - start)


def check_scale(scale) -> str:
    """Validate ``scale``: "auto" or "fixed" (any case)."""
    if not isinstance(scale, str) or scale.lower() not in SCALES:
        raise ParameterError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
    return scale.lower()


def check_n_regions(n_regions, scale: str) -> int | None:
    """Validate ``n_regions``: None or an integer >= 1, and only with the hierarchy."""
    if n_regions is None:
        return None
    if scale == "fixed":
        raise ParameterError("n_regions needs the hierarchy; it cannot be used with scale='fixed'")
    return check_level(n_regions, None)[0]


def scale_defaults(scale: str, **given):
    """``given`` (any of ``working_radius``, ``range_radius``, ``min_size``)
    with each None replaced by the default for ``scale``: the hierarchy's
    finest level's (``FINEST_*``), or with ``"fixed"`` the fixed scale's
    (``WORKING_RADIUS`` and ``DEFAULTS``). Returns a dict."""
    table = _SCALE_DEFAULTS["fixed" if scale == "fixed" else "auto"]
    return {name: table[name] if value is None else value for name, value in given.items()}


def segmentation_from_modes(
    rgb: NDArray[np.float32],
    modes: NDArray[np.float32],
    range_radius: float,
    min_size: int,
    *,
    compat: str | None = DEFAULTS["compat"],
    scale: str = DEFAULTS["scale"],
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
    compat: str | None = DEFAULTS["compat"],
    luv: NDArray[np.float32] | None = None,
    gradient_sigma: float = COST["gradient_sigma"],
) -> Hierarchy:
    """The finest partition of the modes (:func:`finest_regions`) and its
    merge tree (:func:`hierarchy_over`)."""
    regions = finest_regions(modes, min_size, compat=compat)
    return hierarchy_over(regions, rgb, modes, compat=compat, luv=luv, gradient_sigma=gradient_sigma)


def finest_regions(modes: NDArray[np.float32], min_size: int, *, compat: str | None = DEFAULTS["compat"]):
    """The hierarchy's finest partition: connect the modes, prune at
    ``min_size`` pixels, join the thin strips along edges (:data:`THIN`).
    Returns :class:`segshift.regions.Regions`."""
    regions = _regions.connect_modes(modes, seed_modes=compat == "edison")
    regions = _regions.prune_regions(regions, min_size)
    thin_area = max(min_size, round(THIN["area"] * modes.shape[0] * modes.shape[1]))
    return _regions.prune_thin(regions, THIN["width"], thin_area)


def hierarchy_over(
    regions,
    rgb: NDArray[np.float32],
    modes: NDArray[np.float32],
    *,
    compat: str | None = DEFAULTS["compat"],
    luv: NDArray[np.float32] | None = None,
    gradient_sigma: float = COST["gradient_sigma"],
) -> Hierarchy:
    """The merge tree over a partition of the modes (:class:`segshift.regions.Regions`).

    The boundary strength is the colour gradient (at ``gradient_sigma``
    pixels) of the mean-shift filtered image (the modes), where the filter
    has flattened texture and noise and kept the edges; the regions' colour
    and texture histograms are of the photo's own colours, quantised
    (:func:`segshift.hierarchy.quantise`), and luminance
    (:func:`segshift.hierarchy.texture_histograms` at the gradient's scale),
    and the border's colour affinity is fitted to the same quantised colours
    (:func:`segshift.hierarchy.colour_affinity`),
    ``luv`` when the caller has converted ``rgb`` already.
    """
    labels = _regions.final_labels(regions)
    if luv is None:
        luv = rgb_to_luv(rgb, compat=compat)
    codes, bins = quantise(luv, COST["histogram_bins"])  # the photo's colours
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
    kernel: str = DEFAULTS["kernel"],
    tol: float = 0.01,
    max_iter: int = 100,
    compat: str | None = DEFAULTS["compat"],
    speedup: str = DEFAULTS["speedup"],
) -> NDArray[np.float32]:
    """The mean-shift stage of :func:`segment`: every pixel's L*u*v* mode.

    Converts ``rgb`` (as :func:`segshift.load_image` returns it) to L*u*v*
    and filters it (:func:`segshift.meanshift.filter_image`), the modes
    taking the memory of the L*u*v* image. Returns (H, W, 3) float32.
    """
    luv = rgb_to_luv(rgb, compat=compat)
    return filter_image(
        luv, spatial_radius, range_radius, kernel=kernel, tol=tol, max_iter=max_iter, compat=compat, speedup=speedup,
        overwrite_input=True,  # luv is ours: its memory takes the modes
    )


def check_spatial_radius(spatial_radius) -> float | None:
    """Validate ``spatial_radius``: None (relative, the default) or pixels > 0."""
    return None if spatial_radius is None else check_positive("spatial_radius", spatial_radius)


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
) -> Segmentation:
    """The region stage of :func:`segment`: connect, fuse, prune, and package.

    Parameters
    ----------
    rgb : (H, W, 3) ndarray of float32
        The image (as :func:`segshift.load_image` returns it).
    modes : (H, W, 3) ndarray
        The L*u*v* mode of every pixel (:func:`segshift.meanshift.filter_image`).
    range_radius : float
        Range bandwidth; regions whose modes are within half of it are fused.
    min_size : int
        Regions smaller than this many pixels are merged into a neighbour.
    compat : {None, "edison"}
        ``"edison"`` seeds each region with its first pixel's mode.

    Returns
    -------
    Segmentation
        With empty ``params`` and zero ``seconds``.
    """
    regions = _regions.connect_modes(modes, seed_modes=compat == "edison")
    regions = _regions.fuse_regions(regions, range_radius)
    regions = _regions.prune_regions(regions, min_size)
    return Segmentation(
        labels=_regions.final_labels(regions),
        modes_luv=regions.modes.astype(np.float32),
        modes_rgb=render.luv_to_rgb8(regions.modes, compat=compat),
        areas=regions.areas,
        image=rgb,
    )


def level(
    hierarchy: Hierarchy,
    n_merges: int,
    *,
    image: NDArray[np.float32],
    params: dict | None = None,
    seconds: float = 0.0,
    compat: str | None = DEFAULTS["compat"],
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
        params=dict(params or {}),
        seconds=seconds,
        hierarchy=h,
        threshold=threshold,
    )
