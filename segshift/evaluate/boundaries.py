"""Boundary benchmark: BSDS boundary maps and one-to-one matching of boundary pixels.

Boundaries are BSDS's ``seg2bmap`` thinned to one pixel
(:func:`boundary_map`); result and human boundary pixels are matched
one-to-one within ``tolerance`` times the image diagonal
(:func:`match_boundaries`, kernels in :mod:`segshift._match_kernels`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from skimage.morphology._skeletonize import G123_LUT, G123P_LUT

from .. import _match_kernels
from ..errors import ParameterError
from ._validate import (
    DEFAULT_TOLERANCE,
    GroundTruths,
    _as_gt_list,
    _as_labels,
    _check_tolerance,
)
from .scores import BoundaryScores

# Relative slack on the matching radius, so a pair exactly at the tolerance
# (BSDS keeps dx^2 + dy^2 <= r^2) is not lost to rounding of r.
_RADIUS_SLACK = 1e-9




def _seg2bmap(labels: NDArray[np.int64], ignore_zero: bool) -> NDArray[np.bool_]:
    """BSDS seg2bmap: differs from the east, south or south-east neighbour."""
    b = np.zeros(labels.shape, dtype=bool)
    pairs = (
        (np.s_[:, :-1], np.s_[:, 1:]),  # east (the only test on the last row)
        (np.s_[:-1, :], np.s_[1:, :]),  # south (the only test on the last column)
        (np.s_[:-1, :-1], np.s_[1:, 1:]),  # south-east
    )
    for here, there in pairs:
        a, c = labels[here], labels[there]
        diff = a != c
        if ignore_zero:
            diff &= (a != 0) & (c != 0)
        b[here] |= diff
    return b


#: Deletion tables of the two sub-iterations of skimage's thin (Guo & Hall).
_THIN_LUTS = (np.ascontiguousarray(G123_LUT, dtype=np.bool_), np.ascontiguousarray(G123P_LUT, dtype=np.bool_))


def _thin(b: NDArray[np.bool_]) -> NDArray[np.bool_]:
    # skimage's thin is MATLAB's bwmorph(b, 'thin', inf), which BSDS uses;
    # the kernel gives the same pixels, visiting only those that are on.
    rows, cols = np.nonzero(b)
    kept = _match_kernels.thin_levels(
        rows.astype(np.int64), cols.astype(np.int64), np.ones(rows.size), np.zeros(1), b.shape, *_THIN_LUTS
    )[0]
    out = np.zeros(b.shape, dtype=bool)
    out[rows[kept], cols[kept]] = True
    return out


def boundary_map(labels: ArrayLike, *, thin: bool = True) -> NDArray[np.bool_]:
    """One-pixel-wide boundary map of a label image, as the BSDS benchmark.

    Follows BSDS's ``seg2bmap``: pixel ``(i, j)`` is a boundary pixel when its
    label differs from that of its east ``(i, j+1)``, south ``(i+1, j)`` or
    south-east ``(i+1, j+1)`` neighbour, i.e. when the 2x2 block whose top
    left it is holds more than one label. Boundaries therefore sit on the
    top/left side of the true edge, offset half a pixel towards the origin.
    On the last row only the east neighbour is tested, on the last column
    only the south one; the bottom-right pixel is never a boundary.

    With ``thin=True`` the map is then thinned to single-pixel lines
    (the result of :func:`skimage.morphology.thin`, MATLAB's ``bwmorph(.., 'thin', inf)``),
    as the BSDS benchmark does before matching. This reproduces the
    ``Boundaries`` stored in BSDS500 ground-truth files exactly.

    Parameters
    ----------
    labels : (H, W) array_like of int
        Label image.
    thin : bool, optional
        Thin the ``seg2bmap`` result (default). ``False`` gives the raw
        ``seg2bmap``, which is up to two pixels wide at diagonal steps.

    Returns
    -------
    boundaries : (H, W) ndarray of bool
        True on boundary pixels.

    References
    ----------
    .. [1] D. Martin, C. Fowlkes, J. Malik, "Learning to detect natural image
       boundaries using local brightness, color, and texture cues", IEEE
       TPAMI 26(5), 2004 (``seg2bmap.m`` in the BSDS code).

    Examples
    --------
    >>> labels = [[1, 1, 2], [1, 1, 2], [3, 3, 3]]
    >>> boundary_map(labels, thin=False).astype(int)
    array([[0, 1, 0],
           [1, 1, 1],
           [0, 0, 0]])
    >>> boundary_map(labels).astype(int)
    array([[0, 0, 0],
           [1, 1, 1],
           [0, 0, 0]])
    """
    b = _seg2bmap(_as_labels(labels, "labels"), ignore_zero=False)
    return _thin(b) if thin else b


def _as_bmap(array: ArrayLike, name: str) -> NDArray[np.bool_]:
    a = np.asarray(array)
    if a.ndim != 2 or a.size == 0:
        raise ParameterError(f"{name} must be a non-empty 2-D boundary map, got shape {a.shape}")
    if a.dtype != bool:
        if not (np.issubdtype(a.dtype, np.number) and np.isin(a, (0, 1)).all()):
            raise ParameterError(f"{name} must be a boolean (or 0/1) boundary map, got dtype {a.dtype}")
        a = a != 0
    return a


def _offsets(radius: float) -> NDArray[np.int64]:
    """(K, 3) offsets (dy, dx, dy^2 + dx^2) within ``radius``, nearest first, then by dy, dx."""
    reach = int(math.floor(radius))
    dy, dx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    d2 = dy**2 + dx**2
    keep = d2 <= radius * radius
    out = np.column_stack([dy[keep], dx[keep], d2[keep]]).astype(np.int64)
    return np.ascontiguousarray(out[np.lexsort((out[:, 1], out[:, 0], out[:, 2]))])


def _pairs(
    left: NDArray[np.intp], right: NDArray[np.intp], shape: tuple[int, int], radius: float
) -> tuple[NDArray[np.int64], ...]:
    """Candidate pairs of result pixels ``left`` and human pixels ``right`` ((n, 2) row-major coordinates).

    Returns the pair ends in greedy order (nearest first, ties by result
    pixel, then human pixel: augmenting keeps matched nodes matched, so
    close pairs are favoured, as in BSDS's minimum-cost assignment), then
    the CSR adjacency of the result pixels (indptr, indices: nearest human
    pixels first, ties by human pixel) and of the human pixels (nearest
    result pixels first, ties by result pixel). The orders depend on pixel
    order only, so a result map and any subset of it are matched alike.
    """
    l_idx, r_idx, d2 = _match_kernels.candidate_pairs(
        left[:, 0].astype(np.int64), left[:, 1].astype(np.int64),
        right[:, 0].astype(np.int64), right[:, 1].astype(np.int64),
        shape, _offsets(radius),
    )
    greedy = np.argsort(d2, kind="stable")
    g_left, g_right = l_idx[greedy], r_idx[greedy]
    l_indptr = np.zeros(len(left) + 1, dtype=np.int64)
    np.cumsum(np.bincount(l_idx, minlength=len(left)), out=l_indptr[1:])
    by_right = np.argsort(g_right, kind="stable")  # (human pixel, distance, result pixel)
    r_indptr = np.zeros(len(right) + 1, dtype=np.int64)
    np.cumsum(np.bincount(g_right, minlength=len(right)), out=r_indptr[1:])
    return g_left, g_right, l_indptr, r_idx, r_indptr, np.ascontiguousarray(g_left[by_right])


def _match_counts(
    result: NDArray[np.bool_], gt_maps: Sequence[NDArray[np.bool_]], max_dist: float
) -> BoundaryScores:
    """One-to-one matching of boundary pixels; kernel of :func:`match_boundaries`."""
    r_coords = np.argwhere(result)
    n_result = len(r_coords)
    radius = max_dist * (1.0 + _RADIUS_SLACK)
    matched_any = np.zeros(n_result, dtype=bool)  # BSDS's accP: OR over humans
    matched_gt = 0
    gt_pixels = 0
    for gmap in gt_maps:
        g_coords = np.argwhere(gmap)
        gt_pixels += len(g_coords)
        if n_result == 0 or len(g_coords) == 0:
            continue
        pairs = _pairs(r_coords, g_coords, result.shape, radius)
        if pairs[0].size == 0:
            continue
        match_left, _ = _match_kernels.maximum_matching(*pairs, np.ones(n_result, dtype=bool))
        hit = match_left >= 0
        matched_gt += int(hit.sum())
        matched_any |= hit
    return BoundaryScores(
        matched_result=int(matched_any.sum()),
        result_pixels=n_result,
        matched_gt=matched_gt,
        gt_pixels=gt_pixels,
    )


def match_boundaries(
    result: ArrayLike,
    gt_boundaries: ArrayLike | Sequence[ArrayLike],
    tolerance: float = DEFAULT_TOLERANCE,
) -> BoundaryScores:
    """Match a boundary map to human boundary maps one-to-one, as BSDS.

    For each human map, result and human boundary pixels at most
    ``tolerance * hypot(H, W)`` pixels apart are candidate pairs (found by
    scanning the disk of offsets around each pixel), and a
    maximum-cardinality bipartite matching picks the largest set of pairs in
    which every pixel appears at most once, so one result pixel never
    accounts for two human pixels.

    This stands in for BSDS's ``correspondPixels``, a minimum-cost
    assignment whose high cost for unmatched pixels makes it, too, match as
    many pixels as it can; so the match *counts* per human map agree. Among
    the many maximum matchings the two may pick different pixels (which can
    move precision, an OR over humans, slightly): here a greedy
    nearest-pairs-first matching is grown to maximum by augmenting paths
    (Kuhn's algorithm, from the side with fewer unmatched pixels), which keeps
    every matched pixel matched, so close pairs are favoured, but total
    distance is not minimised.

    Counts follow the BSDS benchmark: recall counts matched human pixels
    summed over all humans; a result pixel counts as matched for precision
    when it matched in *any* human map (the match maps are OR-ed).

    Parameters
    ----------
    result : (H, W) array_like of bool
        Result boundary map (e.g. from :func:`boundary_map`).
    gt_boundaries : sequence of (H, W) array_like of bool
        Human boundary maps (a single 2-D map or a ``(K, H, W)`` stack is
        accepted too), e.g. the BSDS ``Boundaries``.
    tolerance : float, optional
        Largest match distance as a fraction of the image diagonal
        (BSDS: 0.0075, about 4.3 pixels on a 481x321 image).

    Returns
    -------
    scores : BoundaryScores
        Counts, with ``precision``, ``recall`` and ``f``.

    Raises
    ------
    ParameterError
        Maps are not 2-D booleans of one shape, or ``tolerance`` is negative.

    References
    ----------
    .. [1] D. Martin, C. Fowlkes, J. Malik, IEEE TPAMI 26(5), 2004, section
       3 (boundary correspondence).
    .. [2] H. W. Kuhn, "The Hungarian method for the assignment problem",
       Naval Research Logistics Quarterly 2:83-97, 1955.

    Examples
    --------
    >>> gt = [[0, 1, 1, 0]]            # two human boundary pixels ...
    >>> res = [[0, 1, 0, 0]]           # ... one result pixel near both
    >>> s = match_boundaries(res, [gt], tolerance=0.5)
    >>> s.precision, s.recall
    (1.0, 0.5)
    """
    tol = _check_tolerance(tolerance)
    res = _as_bmap(result, "result")
    if isinstance(gt_boundaries, np.ndarray) and gt_boundaries.ndim == 2:
        items: list[Any] = [gt_boundaries]
    elif isinstance(gt_boundaries, (list, tuple)) and gt_boundaries and np.ndim(gt_boundaries[0]) < 2:
        items = [gt_boundaries]
    else:
        try:
            items = list(gt_boundaries)  # type: ignore[arg-type]
        except TypeError:
            raise ParameterError(
                f"gt_boundaries must be a list of 2-D boundary maps, got {type(gt_boundaries).__name__}"
            ) from None
    if not items:
        raise ParameterError("gt_boundaries must hold at least one boundary map, got none")
    maps = []
    for k, item in enumerate(items):
        m = _as_bmap(item, f"gt_boundaries[{k}]")
        if m.shape != res.shape:
            raise ParameterError(f"gt_boundaries[{k}] has shape {m.shape}, result has shape {res.shape}")
        maps.append(m)
    return _match_counts(res, maps, tol * math.hypot(*res.shape))


def _judged(gts: list[NDArray[np.int64]]) -> NDArray[np.bool_] | None:
    """Pixels whose 2x2 block some human labelled whole; None when all are labelled.

    A result boundary pixel tests its 2x2 block (itself and its east, south
    and south-east neighbours); where no human labelled that whole block,
    it cannot be judged and is dropped.
    """
    if not any((gt == 0).any() for gt in gts):
        return None
    judged = np.zeros(gts[0].shape, dtype=bool)
    for gt in gts:
        full = gt != 0
        full[:, :-1] &= full[:, 1:].copy()
        full[:-1, :] &= full[1:, :].copy()
        judged |= full
    return judged


def _boundary_scores(labels: NDArray[np.int64], gts: list[NDArray[np.int64]], tol: float) -> BoundaryScores:
    result = _seg2bmap(labels, ignore_zero=False)
    judged = _judged(gts)
    if judged is not None:
        result &= judged
    gt_maps = [_thin(_seg2bmap(gt, ignore_zero=True)) for gt in gts]
    return _match_counts(_thin(result), gt_maps, tol * math.hypot(*labels.shape))


def boundary_precision_recall(
    seg: ArrayLike, gts: GroundTruths, tolerance: float = DEFAULT_TOLERANCE
) -> BoundaryScores:
    """Boundary benchmark of a segmentation against human segmentations.

    Boundary maps of the result and of each human come from
    :func:`boundary_map` (thinned ``seg2bmap``, what the BSDS benchmark
    compares), and are matched with :func:`match_boundaries`.

    Unlabelled ground truth (label 0): a human boundary is drawn only between
    two different non-zero labels (so the rim of an unlabelled area is no
    boundary), and a result boundary pixel is dropped before matching unless
    some human labelled its whole 2x2 block (the pixel and its east, south
    and south-east neighbours, the pixels ``seg2bmap`` compares).

    Parameters
    ----------
    seg : (H, W) array_like of int
        Result labels.
    gts : sequence of (H, W) array_like of int
        Human segmentations (labels ``>= 1``, 0 = unlabelled).
    tolerance : float, optional
        Largest match distance as a fraction of the image diagonal.

    Returns
    -------
    scores : BoundaryScores
        Counts (summable over images) with ``precision``, ``recall``, ``f``.
        With no boundary pixels a ratio is 0, as in BSDS.

    References
    ----------
    .. [1] Arbelaez et al., IEEE TPAMI 2011, section 3.1.

    Examples
    --------
    >>> gt = np.repeat([[1] * 50 + [2] * 50], 100, axis=0)
    >>> s = boundary_precision_recall(gt, [gt])
    >>> s.matched_gt, s.gt_pixels, s.f
    (100, 100, 1.0)
    """
    tol = _check_tolerance(tolerance)
    labels = _as_labels(seg, "seg")
    return _boundary_scores(labels, _as_gt_list(gts, labels.shape), tol)

