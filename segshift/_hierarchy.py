"""The region hierarchy: every scale of a segmentation from one run.

From the finest mean-shift partition, adjacent regions are merged pairwise,
the least dissimilar pair first, until one region is left. The merge tree
(:class:`Hierarchy`) is over the finest regions' ids, so it stays valid for
the finest label map at any resolution. Cutting it gives a partition of any
size (:meth:`Hierarchy.cut`); the ultrametric contour map
(:meth:`Hierarchy.ucm`) draws every level at once.

Dissimilarity of two adjacent regions ``a`` and ``b`` (weights in :data:`COST`)::

    (contrast + colour_weight * |mode_a - mode_b|
              + histogram_weight * chi2(hist_a, hist_b)
              + texture_weight * chi2(texture_a, texture_b))
        * (min(area_a, area_b) / image area) ** size_power
        * (1 - enclosure * min(1, border / min(perimeter_a, perimeter_b)))

``contrast`` is the mean, along the shared border (over the 4-adjacent
pixel pairs across it), of two terms: the colour gradient magnitude of the
mean-shift filtered image (Gaussian derivatives at 1 pixel of the modes,
in L*u*v*) divided by its mean over the image, so that it reads the same
on a dull photo and a vivid one; and ``affinity_weight * max(0, -PMI(c0,
c1))``, where c0 and c1 are the photo's quantised colours 2 pixels beyond
the pair on either side and PMI is their pointwise mutual information over
nearby pixel pairs (:func:`colour_affinity`, after Isola et al.'s "Crisp
boundaries"): colours that make one surface together (a texture's
stripes) have a high PMI, colours that meet only along an object's
border a low one. The colour distance is between the area-weighted mean modes in
L*u*v* units; ``chi2`` is the chi-square distance (half the sum of
``(p - q) ** 2 / (p + q)``) between the two regions' histograms of the
unfiltered photo's colours, quantised into a few colours per photo
(:func:`quantise`, :func:`colour_histograms`; the same colours as the
affinity's), which tells a textured region from a flat one
of the same mean colour; ``texture`` is the histogram of the photo's
textures: every pixel's responses to Gaussian-derivative filters of L* at
two scales, quantised into a few textures (textons) per photo
(:func:`texture_histograms`), which tells apart textures of the same
colours (grass from foliage, stripes from a blend); the size term lets small regions go first; the enclosure term
lets a region mostly surrounded by another go before one that only touches
it. Merge heights are made non-decreasing (each is at least the one
before), so the levels are nested and the heights form an ultrametric.

:func:`auto_scale` picks a level per image without ground truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from . import _hierarchy_kernels as _kernels
from . import _interrupt
from .errors import ParameterError

if TYPE_CHECKING:  # for the annotation only
    from ._resolution import Placement

#: Terms of the dissimilarity (see the module's description), chosen on 60
#: BSDS500 train photos among contrast alone, colour alone and mixtures,
#: size powers 0.1 to 0.35 and enclosure weights 0 to 0.8, for the best
#: single-threshold Covering, PRI and VI; the colour-histogram term (weights
#: 0 to 40, 8 to 32 colours) was checked on 60 further train photos.
#: The texture term (weights 5 to 30, 32 or 64 textures, filter scales 1 and
#: 2, 2 alone, or 1, 2 and 4 pixels) was chosen on all 200 train photos, and
#: so was the affinity term (weights 0.3 to 1, the colours 1 to 3 pixels
#: beyond the border, of the histograms' colours or of colours of its own),
#: with the automatic scale re-chosen for each: the histograms and the
#: affinity share 32 colours (with the histogram weight 7, as good as 16
#: colours at weight 10 and 32 of the affinity's own, at less cost).
COST = dict(gradient_sigma=1.0, colour_weight=0.2, size_power=0.2, enclosure=0.5, histogram_weight=7.0, histogram_bins=32,
            texture_weight=15.0, texture_bins=32, affinity_weight=0.5, affinity_radius=3, affinity_rho=1.25, affinity_offset=2)


@dataclass(frozen=True, eq=False)
class Hierarchy:
    """A merge tree over the regions of the finest partition.

    Attributes
    ----------
    labels : (H, W) ndarray of int32
        The finest partition, regions numbered from 0 in raster order of
        their first pixel.
    modes_luv : (n, 3) ndarray of float64
        Mode of each finest region (L*u*v*).
    areas : (n,) ndarray of int64
        Pixels per finest region.
    merges : (n - 1, 2) ndarray of int64
        The merges in order, in the numbering of :func:`scipy.cluster.hierarchy.linkage`:
        ids below ``n`` are finest regions, merge ``i`` makes cluster ``n + i``.
    heights : (n - 1,) ndarray of float64
        Dissimilarity at each merge, non-decreasing.
    edges : (e, 2) ndarray of int64
        Adjacent finest regions (a < b), sorted.
    edge_heights : (e,) ndarray of float64
        Height at which each adjacent pair joins one region.
    placement : segshift._resolution.Placement or None
        For a tree built at a working resolution (the default for photos
        larger than BSDS500's, see :mod:`segshift._resolution`): how its
        levels come to the photo's resolution. ``labels`` and ``areas`` are
        then those of the working resolution, where the tree was built;
        :meth:`level_labels` and :meth:`ucm` are at the photo's.
    """

    labels: NDArray[np.int32]
    modes_luv: NDArray[np.float64]
    areas: NDArray[np.int64]
    merges: NDArray[np.int64]
    heights: NDArray[np.float64]
    edges: NDArray[np.int64]
    edge_heights: NDArray[np.float64]
    placement: Placement | None = field(default=None, repr=False)

    @property
    def n_finest(self) -> int:
        """Regions of the finest partition."""
        return len(self.areas)

    @property
    def linkage(self) -> NDArray[np.float64]:
        """The tree as a scipy linkage matrix: rows (a, b, height, size)."""
        n = self.n_finest
        size = np.concatenate([np.ones(n), np.zeros(max(n - 1, 0))])
        for i, (a, b) in enumerate(self.merges):
            size[n + i] = size[a] + size[b]
        return np.column_stack([self.merges.astype(np.float64), self.heights, size[n:]])

    def merges_for(self, *, n_regions: int | None = None, threshold: float | None = None) -> int:
        """How many merges make the level with ``n_regions`` regions, or the cut at ``threshold``."""
        if n_regions is not None:
            return self.n_finest - min(int(n_regions), self.n_finest)
        return int(np.searchsorted(self.heights, threshold, side="right"))

    def cut(self, n_merges: int) -> NDArray[np.int64]:
        """Finest region -> region of the level after ``n_merges`` merges.

        The level's regions are numbered from 0 by their smallest finest
        region, hence in raster order of their first pixel.
        """
        return _kernels.cut_tree(self.n_finest, self.merges, int(n_merges))

    def level_labels(self, region_of: NDArray[np.integer]) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
        """A level's labels at the photo's resolution and its regions' areas there:
        ``region_of`` (finest region -> region, from :meth:`cut`) applied to
        the finest partition (placed at full resolution, see ``placement``)."""
        if self.placement is not None:
            return self.placement.level(region_of)
        n = int(region_of.max()) + 1 if len(region_of) else 0
        labels = np.asarray(region_of, dtype=np.int32)[self.labels]
        return labels, np.bincount(region_of, weights=self.areas, minlength=n).round().astype(np.int64)

    @property
    def finest_labels(self) -> NDArray[np.int32]:
        """The finest partition at the photo's resolution: ``labels``, or
        with a ``placement`` its full-resolution labels."""
        return self.labels if self.placement is None else self.placement.finest[0]

    def ucm(self, out: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        """The ultrametric contour map, (H, W) float64, at the photo's resolution.

        Pixel convention (BSDS500's ``seg2bmap``): pixel (y, x) holds the
        largest merge height between its finest region and those of its
        east (y, x + 1), south (y + 1, x) and south-east (y + 1, x + 1)
        neighbours, 0 when all lie in its own finest region. So for every
        threshold ``t``, ``ucm > t`` is exactly the boundary map
        (:func:`boundary_pixels`, the BSDS benchmark's) of the cut at ``t``.

        Computed in bands of rows (each with the row below it), into ``out``
        when given, else into an array the placement makes (a memory map
        for an image larger than memory, see
        :class:`segshift._resolution.Placement`).
        """
        labels = self.finest_labels
        n = self.n_finest
        # Most pairs across a border are adjacent finest regions, whose join
        # heights the tree keeps (edge_heights); the others (regions that
        # touch only at a corner, or only at full resolution) are looked up.
        keys = self.edges[:, 0] * n + self.edges[:, 1]  # ascending: the edges are sorted
        key_heights = np.ascontiguousarray(self.edge_heights, dtype=np.float64)
        if out is None:
            out = self.placement.empty(np.float64) if self.placement is not None else np.empty(labels.shape)
        height, width = labels.shape
        for top, bottom, _, last in _row_bands(height, width, 1):
            part = np.ascontiguousarray(labels[top:last])  # the band and the row below it
            band = np.zeros(part.shape)
            missed = np.zeros(part.shape, dtype=np.uint8)
            _kernels.ucm_pixels(part, n, keys, key_heights, band, missed)
            _interrupt.check()  # the kernel stops early on Ctrl-C
            ys, xs = np.nonzero(missed[:bottom - top])
            if len(ys):
                for bit, (dy, dx) in enumerate(((0, 1), (1, 0), (1, 1))):
                    hit = (missed[ys, xs] >> bit) & 1 == 1
                    y, x = ys[hit], xs[hit]
                    a = part[y, x].astype(np.int64)
                    b = part[y + dy, x + dx].astype(np.int64)
                    found = _kernels.join_heights(n, self.merges, self.heights, np.minimum(a, b), np.maximum(a, b))
                    np.maximum.at(band, (y, x), found)
            out[top:bottom] = band[:bottom - top]
        return out


#: The neighbours a pixel is compared with (BSDS500's seg2bmap): east, south, south-east.
_NEIGHBOURS = (
    (np.s_[:, :-1], np.s_[:, 1:]),
    (np.s_[:-1, :], np.s_[1:, :]),
    (np.s_[:-1, :-1], np.s_[1:, 1:]),
)


def boundary_pixels(labels: NDArray[np.integer]) -> NDArray[np.bool_]:
    """(H, W) bool: pixels whose east, south or south-east neighbour has another label.

    BSDS500's ``seg2bmap`` (the boundary map of its benchmarks) and the
    UCM's convention.
    """
    labels = np.asarray(labels)
    out = np.zeros(labels.shape, dtype=bool)
    for here, there in _NEIGHBOURS:
        out[here] |= labels[here] != labels[there]
    return out


#: Pixels of filter responses held at once: a larger image's texture filters
#: (40 bytes a pixel) and colour derivatives (24) run in bands of rows, each
#: with the rows around it that the kernels reach, so the responses are those
#: of one pass over the whole image.
BAND_PIXELS = 1 << 20


def _row_bands(height: int, width: int, margin: int):
    """(top, bottom, first, last) for bands of rows of about :data:`BAND_PIXELS`
    pixels: rows top..bottom, to be filtered from rows first..last, which add
    the ``margin`` rows a kernel reaches on either side (within the image)."""
    rows = max(1, BAND_PIXELS // max(width, 1))
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        yield top, bottom, max(0, top - margin), min(height, bottom + margin)


def boundary_strength(luv: NDArray[np.floating], sigma: float = COST["gradient_sigma"]) -> NDArray[np.float32]:
    """Colour gradient magnitude of an L*u*v* image, divided by its mean over the image.

    The gradient is the Euclidean norm over the three channels of Gaussian
    derivatives at scale ``sigma`` pixels; dividing by the mean makes the
    contrast of a border relative to the photo's own.
    """
    import cv2

    luv = np.asarray(luv, dtype=np.float32)
    # scipy.ndimage.gaussian_gradient_magnitude(mode="nearest") per channel,
    # all channels in one pass of OpenCV's separable filter: the Gaussian and
    # its derivative sampled to 4 sigma, normalised as scipy does, as
    # correlation weights (the derivative's mirrored).
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    smooth = np.exp(-0.5 * x * x / (sigma * sigma))
    smooth /= smooth.sum()
    derivative = (x / (sigma * sigma) * smooth).astype(np.float32)
    smooth = smooth.astype(np.float32)
    height, width = luv.shape[:2]
    total = np.empty((height, width), dtype=np.float32)
    # in bands of rows on a large image (the derivatives take 24 bytes a
    # pixel), each with the rows its kernel reaches: the values of one pass
    for top, bottom, first, last in _row_bands(height, width, radius):
        band = np.ascontiguousarray(luv[first:last])
        rows = np.s_[top - first: bottom - first]
        gx = cv2.sepFilter2D(band, cv2.CV_32F, derivative, smooth, borderType=cv2.BORDER_REPLICATE)[rows]
        gy = cv2.sepFilter2D(band, cv2.CV_32F, smooth, derivative, borderType=cv2.BORDER_REPLICATE)[rows]
        if gx.ndim == 2:  # a one-channel image
            gx, gy = gx[..., None], gy[..., None]
        gx *= gx
        gy *= gy
        gx += gy
        out = total[top:bottom]
        out[...] = gx[..., 0]
        for c in range(1, gx.shape[2]):
            out += gx[..., c]
    np.sqrt(total, out=total)
    mean = float(total.mean())
    if mean > 0:
        total /= mean
    return total


def colour_histograms(
    luv: NDArray[np.floating],
    labels: NDArray[np.integer],
    n: int,
    bins: int = COST["histogram_bins"],
    *,
    step: int = 23,
    seed: int = 0,
) -> NDArray[np.float64]:
    """Per-region histograms of an L*u*v* image's colours, quantised to
    ``bins`` colours per photo (:func:`quantised_histograms`). Returns (n,
    bins) float64 pixel counts."""
    return quantised_histograms(luv, labels, n, bins, step=step, seed=seed)


def code_histograms(codes: NDArray[np.integer], labels: NDArray[np.integer], n: int, bins: int) -> NDArray[np.float64]:
    """Per-region counts of quantised values (:func:`quantise`): codes and
    labels (H, W) -> (n, bins) float64 pixel counts."""
    codes = np.ascontiguousarray(codes, dtype=np.int32).reshape(-1)
    labels = np.ascontiguousarray(labels, dtype=np.int32).reshape(-1)
    return _kernels.code_histograms(codes, labels, int(n), int(bins))


def texture_features(luminance: NDArray[np.floating], sigma: float = 1.0) -> NDArray[np.float32]:
    """A small filter bank's responses at every pixel, (H, W, 10) float32
    (a view of ten contiguous planes, 40 bytes a pixel).

    The first and second Gaussian derivatives (d/dx, d/dy, d2/dx2, d2/dxdy,
    d2/dy2) of ``luminance`` (H, W) at scales ``sigma`` and ``2 * sigma``
    pixels (kernels sampled to 3 scales, mirrored borders; as correlation
    weights, so the first derivatives' signs are flipped): the oriented
    edges and bars whose mix tells one texture from another (cf. the
    textons of Malik et al., IJCV 2001).
    """
    import cv2

    luminance = np.ascontiguousarray(luminance, dtype=np.float32)
    planes = np.empty((10,) + luminance.shape, dtype=np.float32)
    i = 0
    for s in (sigma, 2.0 * sigma):
        x = np.arange(-math.ceil(3.0 * s), math.ceil(3.0 * s) + 1, dtype=np.float64)
        smooth = np.exp(-0.5 * x * x / (s * s))
        smooth /= smooth.sum()
        first = -x / (s * s) * smooth
        second = (x * x / s**4 - 1.0 / (s * s)) * smooth
        # sampled and cut at 3 sigma, the kernels are corrected as continuous
        # ones are: the second derivative blind to a constant, both exact on
        # a line and a parabola (so flat areas of any luminance look alike)
        second -= smooth * second.sum()
        first /= -(x * first).sum()
        second /= 0.5 * (x * x * second).sum()
        first, second, smooth = first.astype(np.float32), second.astype(np.float32), smooth.astype(np.float32)
        for kx, ky in ((first, smooth), (smooth, first), (second, smooth), (first, first), (smooth, second)):
            cv2.sepFilter2D(luminance, cv2.CV_32F, kx, ky, dst=planes[i], borderType=cv2.BORDER_REFLECT)
            i += 1
    return planes.transpose(1, 2, 0)


def texture_histograms(
    luv: NDArray[np.floating],
    labels: NDArray[np.integer],
    n: int,
    bins: int = COST["texture_bins"],
    *,
    sigma: float = 1.0,
    step: int = 47,
    seed: int = 0,
) -> NDArray[np.float64]:
    """Per-region histograms of textures: every pixel's filter responses
    (:func:`texture_features` of the L* channel at ``sigma``) quantised to
    ``bins`` textures (textons) per photo, as :func:`colour_histograms`
    quantises colours (k-means on every 47th pixel: scored the same on the
    train photos as every 23rd, at half the cost). An image of more than
    :data:`BAND_PIXELS` pixels is filtered in bands of rows (twice: for the
    k-means sample, then for the codes), with the same result. Returns (n, bins) float64 pixel counts."""
    luminance = np.asarray(luv)[..., 0]
    height, width = luminance.shape
    bands = list(_row_bands(height, width, math.ceil(3.0 * 2.0 * sigma)))  # the larger scale's kernel radius

    def responses():  # (first row, (rows, W, 10) filter responses) of each band
        for top, bottom, first, last in bands:
            yield top, texture_features(luminance[first:last], sigma)[top - first: bottom - first]

    # one band (every photo up to BAND_PIXELS) is filtered once and held
    filtered = list(responses()) if len(bands) == 1 else None
    step = _sample_step(height * width, bins, step)
    sample = np.concatenate([
        band.reshape(-1, band.shape[-1])[(-top * width) % step:: step].astype(np.float64)
        for top, band in filtered or responses()
    ])  # every step-th pixel of the image, as quantise takes them
    centres, bins = _centres(sample, bins, seed)
    centres = centres.astype(np.float32)  # float32 distances: twice the lanes
    out = np.zeros((int(n), bins))
    for top, band in filtered or responses():
        codes = _kernels.nearest_codes(band.reshape(-1, band.shape[-1]), centres)
        out += code_histograms(codes, np.asarray(labels)[top: top + band.shape[0]], n, bins)
    return out


def quantised_histograms(
    features: NDArray[np.floating],
    labels: NDArray[np.integer],
    n: int,
    bins: int,
    *,
    step: int = 23,
    seed: int = 0,
    exact: bool = True,
) -> NDArray[np.float64]:
    """Per-region histograms of an image's per-pixel feature vectors (H, W, d)
    quantised to ``bins`` values (:func:`quantise`). Returns (n, bins)
    float64 pixel counts."""
    codes, bins = quantise(features, bins, step=step, seed=seed, exact=exact)
    return code_histograms(codes, labels, n, bins)


def quantise(
    features: NDArray[np.floating], bins: int, *, step: int = 23, seed: int = 0, exact: bool = True
) -> tuple[NDArray[np.int32], int]:
    """Quantise an image's per-pixel feature vectors (H, W, d) to ``bins``
    values: the k-means centres (k-means++ seeded by ``seed``, 10
    iterations) of every ``step``-th pixel; each pixel gets its nearest
    centre, found in float64 arithmetic, as scipy's ``vq`` finds it, or with
    ``exact=False`` in float32 (twice as fast; a pixel almost equidistant
    from two centres may get the other). Returns ((H, W) int32 codes, the
    number of values: fewer than ``bins`` when the image has fewer distinct
    feature vectors)."""
    features = np.asarray(features)
    if features.dtype not in (np.float32, np.float64):
        features = features.astype(np.float64)
    pixels = features.reshape(-1, features.shape[-1])  # a view of planes or of a C-contiguous image
    sample = pixels[:: _sample_step(len(pixels), bins, step)].astype(np.float64)
    centres, bins = _centres(sample, bins, seed)
    if not exact:
        centres = centres.astype(np.float32)
    return _kernels.nearest_codes(pixels, centres).reshape(features.shape[:-1]), bins


def _sample_step(pixels: int, bins: int, step: int) -> int:
    """The k-means sample's step: ``step``, or less on an image too small to give 4 pixels a centre."""
    return max(1, min(int(step), pixels // max(4 * int(bins), 1)))


def _centres(sample: NDArray[np.float64], bins: int, seed: int) -> tuple[NDArray[np.float64], int]:
    """scipy's ``kmeans2(sample, bins, iter=10, minit="++", seed=rng)``,
    compiled: the same random numbers, drawn in the same order. Returns
    (centres, their number: fewer than ``bins`` when the sample has fewer
    distinct rows)."""
    bins = max(1, min(int(bins), _kernels.count_distinct(sample, max(1, int(bins)))))
    rng = np.random.default_rng(seed)
    first = int(rng.integers(len(sample)))
    draws = np.array([rng.uniform() for _ in range(bins - 1)])
    return _kernels.lloyd(sample, _kernels.kmeans_pp(sample, bins, first, draws), 10), bins


def colour_affinity(
    codes: NDArray[np.integer],
    bins: int,
    *,
    radius: int = COST["affinity_radius"],
    rho: float = COST["affinity_rho"],
    smoothing: float = 0.005,
) -> NDArray[np.float64]:
    """How much more often two colours lie near each other in this photo
    than chance would put them there: the pointwise mutual information of
    quantised colours (:func:`quantise`) over nearby pixel pairs, as in
    Isola et al.'s "Crisp boundaries" (ECCV 2014).

    ``codes`` (H, W) are the colours; the pairs are those at distance 1 to
    ``radius`` pixels across rows, columns and both diagonals. With ``P``
    their joint distribution (every cell raised by ``smoothing`` times the
    mean count) and ``p`` its marginal, returns the (bins, bins) float64
    table ``rho * log P(i, j) - log p(i) - log p(j)``: high for colours that
    make one surface together (the stripes of a texture, the two sides of a
    shading), low for colours that meet only along an object's border.
    """
    codes = np.ascontiguousarray(codes, dtype=np.int32)
    counts = _kernels.cooccurrence(codes, int(bins), max(1, int(radius)))
    _interrupt.check()  # the kernel stops early on Ctrl-C
    counts += smoothing * max(counts.sum(), 1.0) / (bins * bins)
    joint = counts / counts.sum()
    marginal = joint.sum(axis=1)
    return rho * np.log(joint) - np.log(marginal)[:, None] - np.log(marginal)[None, :]


def border_statistics(
    labels: NDArray[np.int32],
    strength: NDArray[np.float32],
    n: int,
    *,
    codes: NDArray[np.integer] | None = None,
    affinity: NDArray[np.floating] | None = None,
    affinity_weight: float = COST["affinity_weight"],
    offset: int = COST["affinity_offset"],
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Adjacent region pairs with their summed border value and border length.

    A border is the set of 4-adjacent pixel pairs across it; each pair adds
    the mean strength of its two pixels and, with ``codes`` and their
    ``affinity`` (:func:`quantise`, :func:`colour_affinity`),
    ``affinity_weight * max(0, -affinity[c0, c1])`` where c0 and c1 are the
    colours ``offset`` pixels beyond the pair on either side of the border.
    Returns (edges (e, 2) sorted with a < b, value sums (e,), pixel pairs
    (e,)).
    """
    if codes is None or affinity is None:
        codes, affinity = np.zeros((0, 0), dtype=np.int32), np.zeros((0, 0))
    a, b, v = _kernels.border_pairs(
        labels, strength, np.ascontiguousarray(codes, dtype=np.int32), np.ascontiguousarray(affinity, dtype=np.float64),
        int(offset), float(affinity_weight),
    )
    keys, inverse = np.unique(a * np.int64(n) + b, return_inverse=True)
    sums = np.bincount(inverse, weights=v, minlength=len(keys))
    counts = np.bincount(inverse, minlength=len(keys)).astype(np.float64)
    edges = np.stack([keys // n, keys % n], axis=1)
    return edges, sums, counts


def build_hierarchy(
    labels: NDArray[np.int32],
    modes_luv: NDArray[np.floating],
    areas: NDArray[np.integer],
    strength: NDArray[np.float32],
    *,
    colour_weight: float = COST["colour_weight"],
    size_power: float = COST["size_power"],
    enclosure: float = COST["enclosure"],
    histograms: NDArray[np.floating] | None = None,
    histogram_weight: float = COST["histogram_weight"],
    textures: NDArray[np.floating] | None = None,
    texture_weight: float = COST["texture_weight"],
    codes: NDArray[np.integer] | None = None,
    affinity: NDArray[np.floating] | None = None,
    affinity_weight: float = COST["affinity_weight"],
) -> Hierarchy:
    """Merge the regions of a partition pairwise, least dissimilar first.

    Parameters
    ----------
    labels : (H, W) ndarray of int32
        The finest partition, labels contiguous from 0.
    modes_luv : (n, 3) array_like
        Mode of each region (L*u*v*).
    areas : (n,) array_like of int
        Pixels per region.
    strength : (H, W) ndarray of float32
        Boundary strength of every pixel (:func:`boundary_strength`).
    colour_weight, size_power, enclosure : float
        Terms of the dissimilarity (see the module's description).
    histograms : (n, B) array_like, optional
        Colour histogram of each region (:func:`colour_histograms`); without
        it the histogram term is left out.
    histogram_weight : float
        Weight of the histograms' chi-square distance.
    textures : (n, T) array_like, optional
        Texture histogram of each region (:func:`texture_histograms`);
        without it the texture term is left out.
    texture_weight : float
        Weight of the texture histograms' chi-square distance.
    codes : (H, W) array_like of int, optional
        The photo's quantised colours (:func:`quantise`); with ``affinity``
        (:func:`colour_affinity`), the border contrast gains the affinity
        term (:func:`border_statistics`); without them it is left out.
    affinity : (k, k) array_like, optional
    affinity_weight : float
        Weight of the affinity term.

    Returns
    -------
    Hierarchy
    """
    labels = np.ascontiguousarray(labels, dtype=np.int32)
    modes = np.asarray(modes_luv, dtype=np.float64)
    areas = np.asarray(areas, dtype=np.int64)
    n = len(areas)
    edges, sums, counts = border_statistics(
        labels, np.ascontiguousarray(strength, dtype=np.float32), n, codes=codes, affinity=affinity,
        affinity_weight=affinity_weight,
    )
    if histograms is None or histogram_weight <= 0:
        histograms, histogram_weight = np.zeros((n, 0)), 0.0
    if textures is None or texture_weight <= 0:
        textures, texture_weight = np.zeros((n, 0)), 0.0
    histograms = np.asarray(histograms, dtype=np.float64)
    params = np.array([colour_weight, size_power, enclosure, float(labels.size), histogram_weight, texture_weight,
                       float(histograms.shape[1])])
    region_sums = np.concatenate([modes * areas[:, None], histograms, np.asarray(textures, dtype=np.float64)], axis=1)
    merges, heights, edge_heights = _kernels.merge_regions(
        n, edges, sums, counts, areas.astype(np.float64), region_sums, params
    )
    return Hierarchy(labels, modes, areas, merges, heights, edges, edge_heights)


def check_level(n_regions, threshold) -> tuple[int | None, float | None]:
    """Validate the arguments of ``Segmentation.at``: exactly one of them, in range."""
    if (n_regions is None) == (threshold is None):
        raise ParameterError("give exactly one of n_regions and threshold")
    if n_regions is not None:
        if isinstance(n_regions, (bool, np.bool_)) or not isinstance(n_regions, (int, np.integer)):
            raise ParameterError(f"n_regions must be a positive integer, got {n_regions!r}")
        if n_regions < 1:
            raise ParameterError(f"n_regions must be a positive integer, got {n_regions!r}")
        return int(n_regions), None
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise ParameterError(f"threshold must be a number >= 0, got {threshold!r}") from None
    if math.isnan(t) or t < 0:
        raise ParameterError(f"threshold must be a number >= 0, got {threshold!r}")
    return None, t


#: The automatic scale: the cut of the image-normalised dissimilarity at this
#: height (about 20 regions on a BSDS500 photo, ranging from a few to about 80
#: with the photo's content), but never fewer than ``min_regions`` (when the
#: finest level has more): a photo cut into two or three regions loses most
#: of its PRI. Chosen on the 200 BSDS500 train photos among cuts 3.0 to 9.0
#: in steps of 0.2 and floors of 1, 4, 8, 10, 12, 14, 15, 16, 18 and 20
#: regions, by Covering / 0.01 + PRI / 0.01 - VI / 0.05 averaged over the
#: neighbouring cuts and floors: Covering 0.642, PRI 0.837, VI 1.49. With
#: every floor from 1 to 20 (``scripts/tune_bsds.py --hierarchy
#: --choose-auto``) a floor of 6 comes first by 0.12 of that criterion
#: (0.644, 0.835, 1.47), about 0.001 on each benchmark; 8 was kept.
AUTO = dict(threshold=5.0, min_regions=8)


def auto_scale(
    hierarchy: Hierarchy, *, threshold: float = AUTO["threshold"], min_regions: int = AUTO["min_regions"]
) -> int:
    """The number of merges of the level picked for an image without ground truth.

    The level is the cut at ``threshold`` of the dissimilarity, which is
    relative to the image's own contrast (the border contrast is divided by
    the image's mean gradient), so the number of regions follows the
    content of the photo; when that cut leaves fewer than ``min_regions``
    regions, the level with ``min_regions`` (or the finest level, when it
    has fewer). Pickers that choose the level from the shape of
    the hierarchy (the widest plateau of the region count against the
    threshold, a threshold relative to the highest merges) were measured
    against it on BSDS500 and did worse (``scripts/tune_bsds.py --hierarchy``).

    Parameters
    ----------
    hierarchy : Hierarchy
    threshold : float
        The merge height to cut at.
    min_regions : int
        The fewest regions the level may have (1: no floor).

    Returns
    -------
    int
        Merges to make (for :meth:`Hierarchy.cut`).
    """
    return min(hierarchy.merges_for(threshold=threshold), hierarchy.merges_for(n_regions=max(1, int(min_regions))))
