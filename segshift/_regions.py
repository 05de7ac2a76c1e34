"""From per-pixel modes to regions: connect, fuse, prune.

1. :func:`connect_modes`: 8-neighbouring pixels whose modes agree (every
   L*u*v* component within 1 unit, as EDISON tests) form one region.
2. :func:`fuse_regions`: adjacent regions whose modes lie within half the
   range radius of each other are joined, transitively (union-find over the
   region adjacency graph), and the joined mode is the area-weighted mean.
   Like EDISON, a second pass runs on the fused modes.
3. :func:`prune_regions`: every region smaller than ``min_size`` pixels is
   joined to the adjacent region whose mode is closest, until none is left.

Everything after step 1 works on the region adjacency graph (an edge list),
so the cost is near-linear in pixels plus regions. Every region is one
8-connected set of pixels: regions only ever join regions they touch.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from . import _interrupt
from . import _region_kernels as _kernels

#: Neighbouring modes agree when every L*u*v* component differs by less than this.
AGREE = 1.0


class Regions(NamedTuple):
    """A partition of the image into regions.

    ``pixel_region`` maps each pixel to an entry of the initial (connected)
    partition; ``region_label`` maps each initial region to its final label.
    The final label map is ``region_label[pixel_region]``, built once at the
    end so that merging never touches the pixels.
    """

    pixel_region: NDArray[np.int32]  # (H, W) initial region of each pixel
    region_label: NDArray[np.int64]  # (n0,) current label of each initial region
    modes: NDArray[np.float64]  # (n, 3) L*u*v* mode of each current label
    areas: NDArray[np.int64]  # (n,) pixels per current label
    edges: NDArray[np.int64]  # (e, 2) adjacent current labels (a != b; may repeat)


def connect_modes(modes: NDArray[np.floating], *, seed_modes: bool = False) -> Regions:
    """Join 8-neighbouring pixels whose modes agree into regions.

    Two neighbouring modes agree when each L*u*v* component differs by less
    than 1 (EDISON's test); regions are the connected sets of that relation.

    Parameters
    ----------
    modes : (H, W, 3) ndarray
        L*u*v* mode of each pixel.
    seed_modes : bool
        Give each region the mode of its first pixel (EDISON's choice)
        instead of the mean mode of its pixels.

    Returns
    -------
    Regions
    """
    modes = np.ascontiguousarray(modes, dtype=np.float32)
    pixel_region, first = _kernels.connect_close(modes, AGREE)
    _interrupt.check()  # connect_close stops early on Ctrl-C
    n = len(first)
    flat = pixel_region.ravel()
    areas = np.bincount(flat, minlength=n)
    if seed_modes:
        region_modes = modes.reshape(-1, 3)[first].astype(np.float64)
    else:
        sums = np.stack([np.bincount(flat, weights=modes[..., k].ravel(), minlength=n) for k in range(3)], axis=1)
        region_modes = sums / areas[:, None]
    return Regions(
        pixel_region=pixel_region,
        region_label=np.arange(n, dtype=np.int64),
        modes=region_modes,
        areas=areas.astype(np.int64),
        # each touching pair once per run along the scan: duplicates are few
        # and harmless (see _join), so they are not sorted out
        edges=_kernels.adjacent_pairs(pixel_region),
    )


def _join(regions: Regions, pairs: NDArray[np.int64]) -> Regions:
    """Join the regions connected by ``pairs`` (transitively).

    New labels are numbered by the order of the region that appears first in
    raster order, so the final labels read top-left to bottom-right. Edges
    inside one new region are dropped; duplicates may remain (they change
    neither the groups nor the closest neighbour, and removing them would
    cost a sort per join).
    """
    region_label, areas, modes, edges = _kernels.join_regions(
        np.ascontiguousarray(pairs, dtype=np.int64), regions.region_label, regions.areas, regions.modes, regions.edges
    )
    return Regions(regions.pixel_region, region_label, modes, areas, edges)


def fuse_regions(regions: Regions, range_radius: float, *, passes: int = 2, bright: bool = True) -> Regions:
    """Join adjacent regions whose modes are within half the range radius.

    The distance is measured in range units; as in EDISON the L difference
    counts four times between two bright modes (both L > 80), unless
    ``bright`` is False (modes that are not L*u*v*, e.g. a multiband
    raster's band values: plain Euclidean distance). Each pass
    joins transitively over the adjacency graph with the modes of the start
    of the pass, then recomputes the modes; EDISON's segmenter makes two.
    """
    # (r/2)^2 as a product of floats: saturates to inf or 0 instead of raising
    limit2 = 0.25 * range_radius * range_radius
    for _ in range(passes):
        close = _kernels.close_pairs(regions.edges, regions.modes, limit2, bright)
        if len(close) == 0:
            break
        regions = _join(regions, close)
    return regions


def prune_regions(regions: Regions, min_size: int) -> Regions:
    """Join every region smaller than ``min_size`` pixels to its closest neighbour.

    "Closest" is the adjacent region with the nearest mode (Euclidean in
    L*u*v*; ties go to the lower label). All small regions of a round pick
    their neighbour with the modes of the start of the round; rounds repeat
    until no small region is left (or none of them has a neighbour, when the
    whole image is smaller than ``min_size``).
    """
    while True:
        joined = _join_to_closest(regions, regions.areas < min_size)
        if joined is None:
            return regions
        regions = joined


def _join_to_closest(regions: Regions, flagged: NDArray[np.bool_]) -> Regions | None:
    """Join each flagged region to its closest neighbour; None when none of them can be joined."""
    if not flagged.any() or len(regions.edges) == 0:
        return None
    best = _kernels.closest_neighbours(regions.edges, regions.modes, flagged)
    src = np.flatnonzero(best >= 0)
    if len(src) == 0:
        return None
    return _join(regions, np.stack([src, best[src]], axis=1))


def prune_thin(regions: Regions, max_width: float, max_area: int, *, rounds: int = 3) -> Regions:
    """Join every thin region to its closest neighbour (as :func:`prune_regions`).

    A region is thin when its mean width, twice its area over the pixel
    sides it shares with other regions, is below ``max_width`` pixels and
    its area below ``max_area``: the one- or two-pixel strips of blended
    colours that mean shift leaves along a sharp edge. They lie on the
    edge, so their borders have all of its contrast and would otherwise
    outlive the regions on either side in a hierarchy. Up to ``rounds``
    rounds, each with the regions of the one before.
    """
    for _ in range(rounds):
        sides = _kernels.perimeters(final_labels(regions), len(regions.areas))
        joined = _join_to_closest(regions, (regions.areas < max_area) & (2.0 * regions.areas < max_width * sides))
        if joined is None:
            return regions
        regions = joined
    return regions


def final_labels(regions: Regions) -> NDArray[np.int32]:
    """The (H, W) int32 label map, labels contiguous from 0."""
    return regions.region_label.astype(np.int32)[regions.pixel_region]
