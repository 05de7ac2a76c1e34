"""Contour benchmark of an ultrametric contour map (UCM), as BSDS.

A UCM is an (H, W) float array: 0 inside the regions of the finest
partition and, on their boundary pixels, the height (dissimilarity) at
which the two sides merge. Thresholding it at ``t`` gives the boundaries
of the partition at that scale: ``ucm > t``. The contour benchmark of
Arbelaez et al. (2011) scores the whole hierarchy: at each of many
thresholds the thinned map ``ucm > t`` is matched to every human's
boundaries (as :func:`~segshift.evaluate.match_boundaries` does), giving a
precision-recall curve; over a data set, ODS is the best F for one
threshold common to every image, OIS the F when every image takes its
own best threshold, and AP the area under the precision-recall curve.

:func:`evaluate_ucm` gives the counts of one image at every threshold
(:class:`ContourCounts`), :func:`aggregate_contours` the data-set summary
(:class:`ContourScores`), as BSDS's ``evaluation_bdry_image`` and
``collect_eval_bdry`` do.

Speed: candidate pairs of pixels within the tolerance are found once per
human (for the map at the lowest threshold, which holds every other), the
thinned map of every threshold is computed by a kernel that visits only
the pixels that are on, and the matchings of all thresholds run in one
compiled call per human; thresholds whose map equals the previous one
reuse its matching.

References
----------
.. [1] P. Arbelaez, M. Maire, C. Fowlkes, J. Malik, "Contour Detection and
   Hierarchical Image Segmentation", IEEE TPAMI 33(5):898-916, 2011,
   section 3.1; the BSDS500 benchmark code (``evaluation_bdry_image.m``,
   ``collect_eval_bdry.m``, ``correspondPixels``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _match_kernels
from ..errors import ParameterError
from ._validate import DEFAULT_TOLERANCE, GroundTruths, _as_gt_list, _check_tolerance
from .boundaries import _RADIUS_SLACK, _THIN_LUTS, _judged, _pairs, _seg2bmap, _thin

__all__ = [
    "DEFAULT_THRESHOLDS",
    "ContourCounts",
    "ContourScores",
    "aggregate_contours",
    "evaluate_ucm",
    "ucm_thresholds",
]

#: Thresholds of the contour benchmark, as in the BSDS500 code.
DEFAULT_THRESHOLDS = 99


def _fmeasure(p: NDArray[np.float64], r: NDArray[np.float64]) -> NDArray[np.float64]:
    # BSDS's 2 p r ./ (p + r + ((p + r) == 0)).
    s = p + r
    return 2.0 * p * r / np.where(s == 0, 1.0, s)


def _ratio(num: NDArray[Any], den: NDArray[Any]) -> NDArray[np.float64]:
    # BSDS's x ./ (y + (y == 0)).
    return np.asarray(num, np.float64) / np.where(den == 0, 1, den)


@dataclass(frozen=True, eq=False)
class ContourCounts:
    """Counts of the contour benchmark of one image at every threshold.

    Attributes
    ----------
    thresholds : (T,) ndarray of float
        Increasing thresholds; counts ``[k]`` are those of ``ucm > thresholds[k]``.
    matched_result : (T,) ndarray of int
        Result boundary pixels matched in at least one human map (BSDS cntP).
    result_pixels : (T,) ndarray of int
        Result boundary pixels (BSDS sumP).
    matched_gt : (T,) ndarray of int
        Human boundary pixels matched, summed over the humans (BSDS cntR).
    gt_pixels : (T,) ndarray of int
        Human boundary pixels, summed over the humans (BSDS sumR).
    """

    thresholds: NDArray[np.float64]
    matched_result: NDArray[np.int64]
    result_pixels: NDArray[np.int64]
    matched_gt: NDArray[np.int64]
    gt_pixels: NDArray[np.int64]

    @property
    def precision(self) -> NDArray[np.float64]:
        """(T,) ``matched_result / result_pixels`` (0 where there are none)."""
        return _ratio(self.matched_result, self.result_pixels)

    @property
    def recall(self) -> NDArray[np.float64]:
        """(T,) ``matched_gt / gt_pixels`` (0 where there are none)."""
        return _ratio(self.matched_gt, self.gt_pixels)

    @property
    def f(self) -> NDArray[np.float64]:
        """(T,) harmonic mean of precision and recall."""
        return _fmeasure(self.precision, self.recall)

    def as_dict(self) -> dict[str, list[float] | list[int]]:
        """Plain ``dict`` of lists (JSON-ready)."""
        return {
            "thresholds": [float(v) for v in self.thresholds],
            "matched_result": [int(v) for v in self.matched_result],
            "result_pixels": [int(v) for v in self.result_pixels],
            "matched_gt": [int(v) for v in self.matched_gt],
            "gt_pixels": [int(v) for v in self.gt_pixels],
        }


@dataclass(frozen=True, eq=False)
class ContourScores:
    """Data-set summary of the contour benchmark (see :func:`aggregate_contours`).

    Attributes
    ----------
    n_images : int
    thresholds, precision, recall, f : (T,) ndarray of float
        The precision-recall curve of the counts summed over the images.
    ods_threshold, ods_precision, ods_recall, ods_f : float
        Optimal data-set scale: the best F over one threshold for all images,
        interpolated between thresholds as BSDS does.
    ois_precision, ois_recall, ois_f : float
        Optimal image scale: the counts summed over the images, each at its
        best threshold.
    ap : float
        Average precision: the area under the precision-recall curve.
    """

    n_images: int
    thresholds: NDArray[np.float64]
    precision: NDArray[np.float64]
    recall: NDArray[np.float64]
    f: NDArray[np.float64]
    ods_threshold: float
    ods_precision: float
    ods_recall: float
    ods_f: float
    ois_precision: float
    ois_recall: float
    ois_f: float
    ap: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready ``dict``: thresholds, precision, recall, f, ods, ois, ap."""
        return {
            "thresholds": [float(v) for v in self.thresholds],
            "precision": [float(v) for v in self.precision],
            "recall": [float(v) for v in self.recall],
            "f": [float(v) for v in self.f],
            "ods": {
                "threshold": self.ods_threshold,
                "precision": self.ods_precision,
                "recall": self.ods_recall,
                "f": self.ods_f,
            },
            "ois": {"precision": self.ois_precision, "recall": self.ois_recall, "f": self.ois_f},
            "ap": self.ap,
        }


def _as_ucm(ucm: ArrayLike) -> NDArray[np.float64]:
    try:
        a = np.asarray(ucm)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"ucm must be a 2-D array of heights ({exc})") from None
    if a.ndim != 2 or a.size == 0:
        raise ParameterError(f"ucm must be a non-empty 2-D array, got shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer) or a.dtype == bool):
        raise ParameterError(f"ucm must hold numbers, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ParameterError("ucm has NaN or infinite values")
    low = float(a.min())
    if low < 0:
        raise ParameterError(f"ucm must be >= 0 (0 inside regions), got values down to {low:g}")
    return a


def _check_thresholds(thresholds: Any) -> NDArray[np.float64] | int:
    if isinstance(thresholds, (int, np.integer)) and not isinstance(thresholds, bool):
        if thresholds < 1:
            raise ParameterError(f"thresholds must be >= 1 (a count) or a list of values, got {thresholds}")
        return int(thresholds)
    try:
        t = np.asarray(thresholds, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"thresholds must be a count or a list of numbers, got {thresholds!r}") from None
    if t.ndim != 1 or t.size == 0:
        raise ParameterError(f"thresholds must be a count or a non-empty 1-D list of numbers, got shape {t.shape}")
    if not np.all(np.isfinite(t)):
        raise ParameterError("thresholds must be finite numbers")
    if np.any(np.diff(t) <= 0):
        raise ParameterError("thresholds must be strictly increasing")
    return t


def ucm_thresholds(ucm: ArrayLike, n: int = DEFAULT_THRESHOLDS) -> NDArray[np.float64]:
    """The thresholds at which :func:`evaluate_ucm` cuts a UCM by default.

    With ``h_1 < ... < h_m`` the distinct heights above 0: when ``m <= n``,
    the ``m`` thresholds ``0, h_1, ..., h_(m-1)``, which give every distinct
    boundary map (``ucm > 0`` is the finest partition, ``ucm > h_(m-1)``
    the last boundaries to merge); otherwise ``n`` thresholds evenly spaced
    from 0 up to ``h_m``: ``h_m * k / n`` for ``k = 0..n-1``.

    Parameters
    ----------
    ucm : (H, W) array_like of float
        Heights, >= 0.
    n : int
        Most thresholds.

    Returns
    -------
    thresholds : (T,) ndarray of float
        Increasing; ``[0.0]`` for a UCM without boundaries.

    Examples
    --------
    >>> ucm_thresholds([[0, 2, 0], [0, 5, 0]])
    array([0., 2.])
    >>> ucm_thresholds([[0, 2, 0], [0, 5, 0]], n=1)
    array([0.])
    """
    a = _as_ucm(ucm)
    count = _check_thresholds(n)
    if not isinstance(count, int):
        raise ParameterError("n must be a count >= 1")
    n = count
    heights = np.unique(a[a > 0])
    if heights.size <= n:
        return np.concatenate([[0.0], heights[:-1]])
    return float(heights[-1]) * np.arange(n, dtype=np.float64) / n


def evaluate_ucm(
    ucm: ArrayLike,
    gts: GroundTruths,
    *,
    thresholds: int | ArrayLike = DEFAULT_THRESHOLDS,
    tolerance: float = DEFAULT_TOLERANCE,
) -> ContourCounts:
    """Contour benchmark of one UCM against one image's human segmentations.

    At every threshold ``t`` the boundary map ``ucm > t`` is thinned to one
    pixel (MATLAB's ``bwmorph(.., 'thin', inf)``, as BSDS) and matched
    one-to-one to each human's boundary map within ``tolerance`` times the
    image diagonal, exactly as :func:`~segshift.evaluate.boundary_precision_recall`
    matches a segmentation's boundaries; counts follow BSDS's
    ``evaluation_bdry_image``: a result pixel counts as matched when it
    matched in any human map, matched human pixels are summed over the
    humans. Where a human left pixels unlabelled (label 0), result pixels
    that no human judged are dropped first, as in
    :func:`~segshift.evaluate.boundary_precision_recall`.

    Parameters
    ----------
    ucm : (H, W) array_like of float
        Ultrametric contour map: 0 inside the finest regions; on boundary
        pixels the height at which the two sides merge (e.g. ``seg.ucm``).
    gts : sequence of (H, W) array_like of int
        Human segmentations (labels ``>= 1``, 0 = unlabelled), e.g. from
        :func:`~segshift.evaluate.load_ground_truth`.
    thresholds : int or (T,) array_like of float
        A count (default 99; see :func:`ucm_thresholds`) or the increasing
        thresholds themselves; give the same thresholds to every image of a
        data set so that :func:`aggregate_contours` can add them up.
    tolerance : float
        Largest match distance as a fraction of the image diagonal.

    Returns
    -------
    counts : ContourCounts
        Per-threshold counts with ``precision``, ``recall`` and ``f``.

    Raises
    ------
    ParameterError
        The UCM is not a finite 2-D array >= 0, shapes differ, a human has
        no labelled pixel, or thresholds or tolerance are out of range.

    References
    ----------
    .. [1] Arbelaez et al., IEEE TPAMI 2011, section 3.1.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.repeat([[1] * 50 + [2] * 50], 100, axis=0)
    >>> ucm = np.zeros((100, 100))
    >>> ucm[:, 49] = 0.8                      # the human's boundary, merged at 0.8
    >>> ucm[49, :49] = 0.3                    # a false boundary, merged at 0.3
    >>> c = evaluate_ucm(ucm, [gt])
    >>> c.thresholds, c.precision.round(3), c.recall
    (array([0. , 0.3]), array([0.676, 1.   ]), array([1., 1.]))
    """
    heights = _as_ucm(ucm)
    tol = _check_tolerance(tolerance)
    gt_list = _as_gt_list(gts, heights.shape)
    thr = _check_thresholds(thresholds)
    levels = ucm_thresholds(heights, thr) if isinstance(thr, int) else thr

    judged = _judged(gt_list)
    if judged is not None:
        heights = np.where(judged, heights, 0.0)
    # Candidates: the pixels on at the lowest threshold, a superset of every map.
    rows, cols = np.nonzero(heights > levels[0])
    active = _match_kernels.thin_levels(
        rows.astype(np.int64), cols.astype(np.int64), heights[rows, cols], levels,
        heights.shape, *_THIN_LUTS,
    )  # (T, n_candidates)
    n_levels, n_cand = active.shape
    # A pixel is on at threshold k only while thresholds[k] < its height.
    last = np.searchsorted(levels, heights[rows, cols], side="left").astype(np.int64) - 1
    radius = tol * math.hypot(*heights.shape) * (1.0 + _RADIUS_SLACK)
    cand = np.column_stack([rows, cols])
    matched_any = np.zeros((n_levels, n_cand), dtype=bool)
    matched_gt = np.zeros(n_levels, dtype=np.int64)
    gt_pixels = 0
    for gt in gt_list:
        g_coords = np.argwhere(_thin(_seg2bmap(gt, ignore_zero=True)))
        gt_pixels += len(g_coords)
        if n_cand == 0 or len(g_coords) == 0:
            continue
        g_left, g_right, l_indptr, l_indices, r_indptr, r_indices = _pairs(cand, g_coords, heights.shape, radius)
        if g_left.size == 0:
            continue
        # Only result pixels near this human's take part: renumber them in order.
        degree = np.diff(l_indptr)
        near = np.flatnonzero(degree > 0)
        new_id = np.full(n_cand, -1, dtype=np.int64)
        new_id[near] = np.arange(near.size)
        sub_indptr = np.zeros(near.size + 1, dtype=np.int64)
        np.cumsum(degree[near], out=sub_indptr[1:])
        hits, matched = _match_kernels.match_levels(
            np.ascontiguousarray(active[:, near]), last[near], new_id[g_left], g_right,
            sub_indptr, l_indices, r_indptr, new_id[r_indices],
        )
        matched_any[:, near] |= hits
        matched_gt += matched
    return ContourCounts(
        thresholds=np.array(levels, dtype=np.float64),
        matched_result=matched_any.sum(axis=1).astype(np.int64),
        result_pixels=active.sum(axis=1).astype(np.int64),
        matched_gt=matched_gt,
        gt_pixels=np.full(n_levels, gt_pixels, dtype=np.int64),
    )


def _max_f(
    thresholds: NDArray[np.float64], r: NDArray[np.float64], p: NDArray[np.float64]
) -> tuple[float, float, float, float]:
    """BSDS's ``maxF``: the best F on the curve, 100 points between thresholds.

    Returns (threshold, recall, precision, f); the first maximum wins.
    """
    best = (float(thresholds[0]), float(r[0]), float(p[0]), float(_fmeasure(p[:1], r[:1])[0]))
    if thresholds.size < 2:
        return best
    d = np.linspace(0.0, 1.0, 100)
    tt = thresholds[1:, None] * d + thresholds[:-1, None] * (1 - d)
    rr = r[1:, None] * d + r[:-1, None] * (1 - d)
    pp = p[1:, None] * d + p[:-1, None] * (1 - d)
    ff = _fmeasure(pp, rr).ravel()
    k = int(np.argmax(ff))
    if ff[k] > best[3]:
        best = (float(tt.ravel()[k]), float(rr.ravel()[k]), float(pp.ravel()[k]), float(ff[k]))
    return best


def _average_precision(r: NDArray[np.float64], p: NDArray[np.float64]) -> float:
    """BSDS's area under the curve: precision interpolated at recall 0:0.01:1.

    Distinct recalls (the precision of the last threshold with that recall,
    as the MATLAB ``unique`` of the BSDS code), linear interpolation, 0
    outside the recalls reached; 0 with fewer than two distinct recalls.
    """
    order = np.argsort(r, kind="stable")
    rs, ps = r[order], p[order]
    last = np.r_[rs[1:] != rs[:-1], True]
    ru, pu = rs[last], ps[last]
    if ru.size < 2:
        return 0.0
    grid = np.linspace(0.0, 1.0, 101)
    inside = (grid >= ru[0]) & (grid <= ru[-1])
    return float(np.interp(grid[inside], ru, pu).sum() * 0.01)


def aggregate_contours(per_image: Sequence[ContourCounts]) -> ContourScores:
    """ODS, OIS and AP of the contour benchmark over a data set, as BSDS.

    Given each image's :class:`ContourCounts` at the same thresholds:

    * the curve: precision and recall of the counts summed over the images;
    * ODS: the best F on that curve, searched at 100 points between
      consecutive thresholds (BSDS's ``maxF``), with its threshold,
      precision and recall interpolated likewise;
    * OIS: every image at the threshold of its own best F (the last one
      among ties, as BSDS), counts summed, then P, R and F;
    * AP: precision interpolated linearly at recall 0, 0.01, ..., 1 on the
      curve's distinct recalls (0 outside them), summed times 0.01.

    Parameters
    ----------
    per_image : sequence of ContourCounts
        One per image, all at the same thresholds.

    Returns
    -------
    scores : ContourScores

    Raises
    ------
    ParameterError
        No images, or images evaluated at different thresholds.

    References
    ----------
    .. [1] Arbelaez et al., IEEE TPAMI 2011; BSDS500 ``collect_eval_bdry.m``.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.repeat([[1] * 50 + [2] * 50], 100, axis=0)
    >>> ucm = np.zeros((100, 100))
    >>> ucm[:, 49] = 1.0
    >>> s = aggregate_contours([evaluate_ucm(ucm, [gt])])
    >>> s.ods_f, s.ois_f
    (1.0, 1.0)
    """
    items = list(per_image)
    if not items:
        raise ParameterError("per_image must hold the contour counts of at least one image, got none")
    for k, c in enumerate(items):
        if not isinstance(c, ContourCounts):
            raise ParameterError(f"per_image[{k}]: expected ContourCounts, got {type(c).__name__}")
    thresholds = items[0].thresholds
    for k, c in enumerate(items[1:], 1):
        if c.thresholds.shape != thresholds.shape or not np.array_equal(c.thresholds, thresholds):
            raise ParameterError(
                f"per_image[{k}] was evaluated at other thresholds than per_image[0];"
                " pass the same thresholds to evaluate_ucm for every image"
            )
    counts = np.stack(
        [np.stack([c.matched_result, c.result_pixels, c.matched_gt, c.gt_pixels]) for c in items]
    )  # (images, 4, T)
    total = counts.sum(axis=0)
    precision = _ratio(total[0], total[1])
    recall = _ratio(total[2], total[3])
    f = _fmeasure(precision, recall)
    ods_t, ods_r, ods_p, ods_f = _max_f(thresholds, recall, precision)

    # OIS: per image the last threshold of maximal (uninterpolated) F.
    best = []
    for c in items:
        fi = c.f
        best.append(int(np.flatnonzero(fi == fi.max())[-1]))
    at_best = counts[np.arange(len(items)), :, best].sum(axis=0)  # (4,)
    ois_p = float(_ratio(at_best[0], at_best[1]))
    ois_r = float(_ratio(at_best[2], at_best[3]))
    return ContourScores(
        n_images=len(items),
        thresholds=np.array(thresholds, dtype=np.float64),
        precision=precision,
        recall=recall,
        f=f,
        ods_threshold=ods_t,
        ods_precision=ods_p,
        ods_recall=ods_r,
        ods_f=ods_f,
        ois_precision=ois_p,
        ois_recall=ois_r,
        ois_f=float(_fmeasure(np.array(ois_p), np.array(ois_r))),
        ap=_average_precision(recall, precision),
    )
