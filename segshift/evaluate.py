"""Segmentation quality against human ground truth: the BSDS500 benchmarks.

The region benchmark (probabilistic Rand index, variation of information,
segmentation covering) and the boundary benchmark (precision, recall and
F-measure of boundary pixels matched one-to-one within a tolerance) of
Arbelaez, Maire, Fowlkes & Malik (2011), with the data-set summaries ODS
(one setting for the whole data set) and OIS (the best setting per image).

Conventions, the same as the BSDS500 benchmark code unless said otherwise:

* A *result* (``seg``, ``labels``) is a 2-D array of integer labels; every
  value, 0 and negative ones included, is an ordinary region label.
* A *ground truth* (``gt``) is a 2-D array of integer labels ``>= 1``; label 0
  marks unlabelled pixels, which are left out of every count of that human
  segmentation (the BSDS ``match_segmentations2`` does this for PRI and VI;
  here it holds for covering and boundaries too, see each function).
  ``gts`` is a list of such arrays (the ~5 humans of one BSDS image), a
  single 2-D array or a ``(K, H, W)`` stack.
* Covering, Rand index and VI come from sparse contingency tables built
  with :func:`numpy.bincount`, so thousands of regions cost no more than a
  few. VI is in bits (log base 2).
* Boundaries are BSDS's ``seg2bmap`` thinned to one pixel
  (:func:`boundary_map`); this reproduces the ``Boundaries`` stored in the
  BSDS500 ground-truth files exactly. Boundary pixels are matched one-to-one
  (a maximum bipartite matching) within ``tolerance`` times the image
  diagonal (:func:`match_boundaries`).
* Each human scored against the other humans of its image gives, over 30
  BSDS500 val images, covering 0.73, PRI 0.87, VI 1.12 and boundary F 0.79,
  close to the "human" row of [1]_ (0.72, 0.88, 1.17, 0.80 on the test set).

References
----------
.. [1] P. Arbelaez, M. Maire, C. Fowlkes, J. Malik, "Contour Detection and
   Hierarchical Image Segmentation", IEEE TPAMI 33(5):898-916, 2011.
.. [2] D. Martin, C. Fowlkes, D. Tal, J. Malik, "A Database of Human
   Segmented Natural Images and its Application to Evaluating Segmentation
   Algorithms and Measuring Ecological Statistics", ICCV 2001.
"""

from __future__ import annotations

import math
import os
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
import scipy.io
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree
from skimage.morphology import thin as _skimage_thin

from . import _match_kernels
from .errors import ImageReadError, ParameterError

__all__ = [
    "DEFAULT_TOLERANCE",
    "BoundaryScores",
    "DatasetScores",
    "Scores",
    "aggregate",
    "boundary_map",
    "boundary_precision_recall",
    "evaluate_segmentation",
    "load_ground_truth",
    "match_boundaries",
    "mean_variation_of_information",
    "probabilistic_rand_index",
    "rand_index",
    "segmentation_covering",
    "variation_of_information",
]

#: BSDS boundary tolerance: the largest distance between matched boundary
#: pixels, as a fraction of the image diagonal (about 4.3 pixels on BSDS).
DEFAULT_TOLERANCE = 0.0075

PathLike = Union[str, "os.PathLike[str]"]
GroundTruths = Union[ArrayLike, Sequence[ArrayLike]]

# Relative slack on the matching radius, so a pair exactly at the tolerance
# (BSDS keeps dx^2 + dy^2 <= r^2) is not lost to rounding of r.
_RADIUS_SLACK = 1e-9


# ----------------------------------------------------------------------------
# Result containers
# ----------------------------------------------------------------------------


def _ratio(num: float, den: float) -> float:
    # BSDS's x ./ (y + (y == 0)): an empty denominator gives 0, not NaN.
    return float(num) / float(den) if den else 0.0


def _fmeasure(p: float, r: float) -> float:
    return 2.0 * p * r / (p + r) if p + r > 0 else 0.0


@dataclass(frozen=True)
class BoundaryScores:
    """Counts of the boundary benchmark, from which P, R and F follow.

    Counts add up over images (``a + b``), which is how data-set scores are
    formed: P, R and F of summed counts, not means of per-image ratios.

    Attributes
    ----------
    matched_result : int
        Result boundary pixels matched in at least one human segmentation.
    result_pixels : int
        Result boundary pixels.
    matched_gt : int
        Ground-truth boundary pixels matched, summed over the humans.
    gt_pixels : int
        Ground-truth boundary pixels, summed over the humans.
    """

    matched_result: int
    result_pixels: int
    matched_gt: int
    gt_pixels: int

    @property
    def precision(self) -> float:
        """``matched_result / result_pixels`` (0 when there are none)."""
        return _ratio(self.matched_result, self.result_pixels)

    @property
    def recall(self) -> float:
        """``matched_gt / gt_pixels`` (0 when there are none)."""
        return _ratio(self.matched_gt, self.gt_pixels)

    @property
    def f(self) -> float:
        """Harmonic mean of precision and recall (0 when both are 0)."""
        return _fmeasure(self.precision, self.recall)

    def __add__(self, other: BoundaryScores) -> BoundaryScores:
        if not isinstance(other, BoundaryScores):
            return NotImplemented
        return BoundaryScores(
            self.matched_result + other.matched_result,
            self.result_pixels + other.result_pixels,
            self.matched_gt + other.matched_gt,
            self.gt_pixels + other.gt_pixels,
        )


@dataclass(frozen=True)
class Scores:
    """All benchmark scores of one result against one image's humans.

    Attributes
    ----------
    covering : float
        Segmentation covering of the humans by the result, in [0, 1];
        ``covering_overlap / covering_pixels``.
    pri : float
        Probabilistic Rand index, in [0, 1].
    vi : float
        Variation of information averaged over the humans, in bits (>= 0).
    boundary_precision, boundary_recall, boundary_f : float
        Boundary benchmark ratios, from the four counts below.
    covering_overlap : float
        Sum over all human regions of ``|R|`` times its best IoU.
    covering_pixels : int
        Labelled pixels summed over the humans.
    boundary_matched_result, boundary_result_pixels : int
        Counts behind the boundary precision (see :class:`BoundaryScores`).
    boundary_matched_gt, boundary_gt_pixels : int
        Counts behind the boundary recall.
    """

    covering: float
    pri: float
    vi: float
    boundary_precision: float
    boundary_recall: float
    boundary_f: float
    covering_overlap: float
    covering_pixels: int
    boundary_matched_result: int
    boundary_result_pixels: int
    boundary_matched_gt: int
    boundary_gt_pixels: int

    @property
    def boundary(self) -> BoundaryScores:
        """The boundary counts as a :class:`BoundaryScores`."""
        return BoundaryScores(
            self.boundary_matched_result,
            self.boundary_result_pixels,
            self.boundary_matched_gt,
            self.boundary_gt_pixels,
        )

    def as_dict(self) -> dict[str, float | int]:
        """Plain ``dict`` of the fields (JSON-ready)."""
        return asdict(self)

    @classmethod
    def from_parts(
        cls, covering_overlap: float, covering_pixels: int, *, pri: float, vi: float, boundary: BoundaryScores
    ) -> Scores:
        """Scores from the covering counts, PRI, VI and the boundary counts."""
        return cls(
            covering=covering_overlap / covering_pixels,
            pri=pri,
            vi=vi,
            boundary_precision=boundary.precision,
            boundary_recall=boundary.recall,
            boundary_f=boundary.f,
            covering_overlap=covering_overlap,
            covering_pixels=covering_pixels,
            boundary_matched_result=boundary.matched_result,
            boundary_result_pixels=boundary.result_pixels,
            boundary_matched_gt=boundary.matched_gt,
            boundary_gt_pixels=boundary.gt_pixels,
        )


@dataclass(frozen=True)
class DatasetScores:
    """Data-set summary of the benchmarks (see :func:`aggregate`).

    ``*_ods`` is the score of the one setting best for the whole data set and
    ``*_ods_setting`` that setting (each metric picks its own); ``*_ois`` is
    the score when every image uses its own best setting.
    """

    n_images: int
    covering_ods: float
    covering_ods_setting: Hashable
    covering_ois: float
    pri_ods: float
    pri_ods_setting: Hashable
    pri_ois: float
    vi_ods: float
    vi_ods_setting: Hashable
    vi_ois: float
    boundary_ods: BoundaryScores
    boundary_ods_setting: Hashable
    boundary_ois: BoundaryScores

    def as_dict(self) -> dict[str, Any]:
        """Plain ``dict``; boundary entries get their P, R and F added."""
        out = asdict(self)
        for key in ("boundary_ods", "boundary_ois"):
            b: BoundaryScores = getattr(self, key)
            out[key].update(precision=b.precision, recall=b.recall, f=b.f)
        return out


# ----------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------


def _as_labels(array: ArrayLike, name: str) -> NDArray[np.int64]:
    """2-D int64 label array (a new array); integral floats and bools are accepted."""
    try:
        a = np.asarray(array)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} must be a 2-D array of integer labels ({exc})") from None
    if a.ndim != 2 or a.size == 0:
        raise ParameterError(f"{name} must be a non-empty 2-D array of labels, got shape {a.shape}")
    if a.dtype == bool or np.issubdtype(a.dtype, np.integer):
        if a.dtype == np.uint64 and a.size and a.max() > np.iinfo(np.int64).max:
            raise ParameterError(f"{name} has labels above {np.iinfo(np.int64).max}")
        return a.astype(np.int64)
    if np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise ParameterError(f"{name} must hold integer labels, got non-integer values ({a.dtype})")
        return a.astype(np.int64)
    raise ParameterError(f"{name} must hold integer labels, got dtype {a.dtype}")


def _as_gt_list(gts: GroundTruths, shape: tuple[int, ...], *, single: bool = False) -> list[NDArray[np.int64]]:
    """Ground truths as a list of int64 maps of ``shape``, checked.

    ``single``: ``gts`` is one map (the ``gt`` argument), named so in errors.
    """
    if single:
        items: list[Any] = [gts]
    elif isinstance(gts, np.ndarray) and gts.ndim == 3:
        items = list(gts)
    elif isinstance(gts, np.ndarray) and gts.ndim == 2:
        items = [gts]
    elif isinstance(gts, (list, tuple)):
        if gts and np.ndim(gts[0]) < 2:  # a single map given as nested lists
            items = [gts]
        else:
            items = list(gts)
    else:
        raise ParameterError(
            f"gts must be a list of 2-D label arrays, a 2-D array or a (K, H, W) array, got {type(gts).__name__}"
        )
    if not items:
        raise ParameterError("gts must hold at least one ground-truth segmentation, got none")
    out = []
    for k, item in enumerate(items):
        name = "gt" if single else f"gts[{k}]"
        gt = _as_labels(item, name)
        if gt.shape != shape:
            raise ParameterError(f"{name} has shape {gt.shape}, the segmentation has shape {shape}")
        low = int(gt.min())
        if low < 0:
            raise ParameterError(
                f"{name} has negative labels (min {low}); ground-truth labels are >= 1, 0 = unlabelled"
            )
        if int(gt.max()) == 0:
            raise ParameterError(f"{name} has no labelled pixels (all 0)")
        out.append(gt)
    return out


def _check_tolerance(tolerance: float) -> float:
    try:
        t = float(tolerance)
    except (TypeError, ValueError):
        raise ParameterError(f"tolerance must be a number, got {tolerance!r}") from None
    if not math.isfinite(t) or t < 0:
        raise ParameterError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    return t


# ----------------------------------------------------------------------------
# Region benchmark: contingency tables
# ----------------------------------------------------------------------------


def _relabel(values: NDArray[np.int64]) -> tuple[NDArray[np.intp], int]:
    """Map labels to 0..n-1 (dense, order-preserving); returns (indices, n)."""
    if values.size == 0:
        return np.zeros(0, np.intp), 0
    low, high = int(values.min()), int(values.max())
    if high - low <= 4 * values.size + 1024:
        # A lookup table is much faster than the sort inside np.unique.
        shifted = values - low
        present = np.bincount(shifted, minlength=high - low + 1) > 0
        lut = np.cumsum(present) - 1
        return lut[shifted].astype(np.intp), int(present.sum())
    uniq, inverse = np.unique(values, return_inverse=True)
    return inverse.reshape(-1).astype(np.intp), int(uniq.size)


@dataclass(frozen=True)
class _Table:
    """Sparse contingency table of one human (rows) against the result (cols).

    Only labelled pixels (gt != 0) are counted; ``rows`` is sorted.
    """

    counts: NDArray[np.int64]  # (E,) nonzero joint counts n_ij
    rows: NDArray[np.intp]  # (E,) human region of each entry
    cols: NDArray[np.intp]  # (E,) result region of each entry
    row_sums: NDArray[np.int64]  # (G,) human region sizes
    col_sums: NDArray[np.int64]  # (S,) result region sizes within labelled pixels
    n: int  # labelled pixels


def _table(seg_idx: NDArray[np.intp], n_seg: int, gt: NDArray[np.int64]) -> _Table:
    """Contingency of a human segmentation and a relabelled result (both raveled)."""
    g = gt.reshape(-1)
    keep = g != 0
    if keep.all():
        s = seg_idx
    else:
        s, g = seg_idx[keep], g[keep]
    g_idx, n_gt = _relabel(g)
    codes = g_idx.astype(np.int64) * n_seg + s
    if n_gt * n_seg <= 4 * codes.size + 4096:
        dense = np.bincount(codes, minlength=n_gt * n_seg)
        flat = np.flatnonzero(dense)
        counts = dense[flat]
    else:  # too many region pairs for a dense table
        flat, counts = np.unique(codes, return_counts=True)
    return _Table(
        counts=counts.astype(np.int64),
        rows=(flat // n_seg).astype(np.intp),
        cols=(flat % n_seg).astype(np.intp),
        row_sums=np.bincount(g_idx, minlength=n_gt).astype(np.int64),
        col_sums=np.bincount(s, minlength=n_seg).astype(np.int64),
        n=int(codes.size),
    )


def _tables(seg: ArrayLike, gts: GroundTruths, *, single: bool = False) -> list[_Table]:
    labels = _as_labels(seg, "seg")
    gt_list = _as_gt_list(gts, labels.shape, single=single)
    seg_idx, n_seg = _relabel(labels.reshape(-1))
    return [_table(seg_idx, n_seg, gt) for gt in gt_list]


def _rand_index(t: _Table) -> float:
    n = t.n
    if n < 2:
        return 1.0
    # Disagreeing pairs = (sum a_i^2 + sum b_j^2 - 2 sum n_ij^2) / 2, exactly;
    # int64 holds these for images up to ~3e9 pixels.
    agree_both = int(np.dot(t.counts, t.counts))
    a2 = int(np.dot(t.row_sums, t.row_sums))
    b2 = int(np.dot(t.col_sums, t.col_sums))
    disagree = (a2 + b2 - 2 * agree_both) // 2
    return 1.0 - disagree / (n * (n - 1) / 2)


def _variation_of_information(t: _Table) -> float:
    # VI = H(G|S) + H(S|G) = sum_ij p_ij [log2(p_i / p_ij) + log2(p_j / p_ij)]:
    # every term is >= 0 and exactly 0 for identical partitions, unlike
    # H(G) + H(S) - 2 I(G; S), which cancels large numbers.
    c = t.counts.astype(np.float64)
    logs = np.log2(t.row_sums[t.rows] / c) + np.log2(t.col_sums[t.cols] / c)
    return float(np.dot(c, logs) / t.n)


def _covering_counts(t: _Table) -> tuple[float, int]:
    """(sum over human regions of |R| * best IoU, labelled pixels)."""
    iou = t.counts / (t.row_sums[t.rows] + t.col_sums[t.cols] - t.counts)
    starts = np.flatnonzero(np.r_[True, t.rows[1:] != t.rows[:-1]])  # rows are sorted
    best = np.maximum.reduceat(iou, starts)
    return float(np.dot(t.row_sums[t.rows[starts]], best)), t.n


# ----------------------------------------------------------------------------
# Region benchmark: public functions
# ----------------------------------------------------------------------------


def _mean_rand_index(tables: list[_Table]) -> float:
    return float(np.mean([_rand_index(t) for t in tables]))


def _mean_variation_of_information(tables: list[_Table]) -> float:
    return float(np.mean([_variation_of_information(t) for t in tables]))


def rand_index(seg: ArrayLike, gt: ArrayLike) -> float:
    """Rand index of a segmentation against one human segmentation.

    The fraction of pixel pairs on which the two agree (both in one region,
    or both in different regions), over the pixels labelled in ``gt``.

    Parameters
    ----------
    seg : (H, W) array_like of int
        Result labels (any integers).
    gt : (H, W) array_like of int
        Human labels ``>= 1``; pixels labelled 0 are ignored.

    Returns
    -------
    ri : float
        In [0, 1]; 1 means identical partitions.

    Raises
    ------
    ParameterError
        Shapes differ, labels are not integers, or ``gt`` has no labelled pixel.

    References
    ----------
    .. [1] W. M. Rand, "Objective criteria for the evaluation of clustering
       methods", J. Am. Stat. Assoc. 66:846-850, 1971.
    .. [2] Arbelaez et al., IEEE TPAMI 2011, section 3.2.

    Examples
    --------
    >>> rand_index([[0, 0, 1, 1]], [[1, 1, 2, 2]])
    1.0
    >>> round(rand_index([[0, 0, 0, 0]], [[1, 1, 2, 2]]), 4)
    0.3333
    """
    return _rand_index(_tables(seg, gt, single=True)[0])


def probabilistic_rand_index(seg: ArrayLike, gts: GroundTruths) -> float:
    """Probabilistic Rand index: the Rand index averaged over the humans.

    Parameters
    ----------
    seg : (H, W) array_like of int
        Result labels.
    gts : sequence of (H, W) array_like of int
        Human segmentations (labels ``>= 1``, 0 ignored).

    Returns
    -------
    pri : float
        Mean of :func:`rand_index` over ``gts``, in [0, 1].

    References
    ----------
    .. [1] R. Unnikrishnan, C. Pantofaru, M. Hebert, "Toward objective
       evaluation of image segmentation algorithms", IEEE TPAMI 29(6), 2007.

    Examples
    --------
    >>> seg = [[0, 0, 1, 1]]
    >>> round(probabilistic_rand_index(seg, [[[1, 1, 2, 2]], [[1, 1, 1, 1]]]), 4)
    0.6667
    """
    return _mean_rand_index(_tables(seg, gts))


def variation_of_information(seg: ArrayLike, gt: ArrayLike) -> float:
    """Variation of information between a segmentation and one human, in bits.

    ``VI = H(S | G) + H(G | S)`` over the pixels labelled in ``gt``, with
    base-2 logarithms, as in the BSDS benchmark code.

    Parameters
    ----------
    seg : (H, W) array_like of int
        Result labels.
    gt : (H, W) array_like of int
        Human labels ``>= 1``; pixels labelled 0 are ignored.

    Returns
    -------
    vi : float
        ``>= 0``; 0 means identical partitions.

    References
    ----------
    .. [1] M. Meila, "Comparing clusterings: an axiomatic view", ICML 2005.

    Examples
    --------
    >>> variation_of_information([[0, 0, 1, 1]], [[1, 1, 2, 2]])
    0.0
    >>> variation_of_information([[0, 0, 0, 0]], [[1, 1, 2, 2]])
    1.0
    """
    return _variation_of_information(_tables(seg, gt, single=True)[0])


def mean_variation_of_information(seg: ArrayLike, gts: GroundTruths) -> float:
    """Variation of information averaged over the humans, in bits.

    Parameters
    ----------
    seg : (H, W) array_like of int
        Result labels.
    gts : sequence of (H, W) array_like of int
        Human segmentations (labels ``>= 1``, 0 ignored).

    Returns
    -------
    vi : float
        Mean of :func:`variation_of_information` over ``gts``.

    References
    ----------
    .. [1] Arbelaez et al., IEEE TPAMI 2011, section 3.2.

    Examples
    --------
    >>> mean_variation_of_information([[0, 0, 0, 0]], [[[1, 1, 2, 2]], [[1, 1, 1, 1]]])
    0.5
    """
    return _mean_variation_of_information(_tables(seg, gts))


def segmentation_covering(seg: ArrayLike, gts: GroundTruths) -> float:
    """Covering of the human segmentations by the result.

    For every region ``R`` of every human, ``|R|`` times its best
    intersection-over-union with a result region; summed over all humans and
    divided by their total number of labelled pixels (BSDS's ``cntR / sumR``
    of one image). Pixels with ground-truth label 0 are left out of ``R``,
    of the result regions and of the total (BSDS counts them in the result
    region's size; BSDS500 ground truth has none).

    Parameters
    ----------
    seg : (H, W) array_like of int
        Result labels.
    gts : sequence of (H, W) array_like of int
        Human segmentations (labels ``>= 1``, 0 ignored).

    Returns
    -------
    covering : float
        In [0, 1]; 1 when the result equals every human.

    References
    ----------
    .. [1] Arbelaez et al., IEEE TPAMI 2011, section 3.2, eq. (14).
    .. [2] M. Everingham et al., "The PASCAL Visual Object Classes
       Challenge", IJCV 88(2), 2010 (the overlap measure).

    Examples
    --------
    >>> segmentation_covering([[0, 0, 1, 1]], [[[1, 1, 2, 2]]])
    1.0
    >>> segmentation_covering([[0, 0, 0, 0]], [[[1, 1, 2, 2]]])
    0.5
    """
    overlap = 0.0
    pixels = 0
    for t in _tables(seg, gts):
        o, p = _covering_counts(t)
        overlap += o
        pixels += p
    return overlap / pixels


# ----------------------------------------------------------------------------
# Boundary benchmark
# ----------------------------------------------------------------------------


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


def _thin(b: NDArray[np.bool_]) -> NDArray[np.bool_]:
    # skimage's thin is MATLAB's bwmorph(b, 'thin', inf), which BSDS uses.
    return np.asarray(_skimage_thin(b), dtype=bool)


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
    (:func:`skimage.morphology.thin`, MATLAB's ``bwmorph(.., 'thin', inf)``),
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


def _match_counts(
    result: NDArray[np.bool_], gt_maps: Sequence[NDArray[np.bool_]], max_dist: float
) -> BoundaryScores:
    """One-to-one matching of boundary pixels; kernel of :func:`match_boundaries`."""
    r_coords = np.argwhere(result)
    n_result = len(r_coords)
    r_tree = cKDTree(r_coords) if n_result else None
    radius = max_dist * (1.0 + _RADIUS_SLACK)
    matched_any = np.zeros(n_result, dtype=bool)  # BSDS's accP: OR over humans
    matched_gt = 0
    gt_pixels = 0
    for gmap in gt_maps:
        g_coords = np.argwhere(gmap)
        gt_pixels += len(g_coords)
        if r_tree is None or len(g_coords) == 0:
            continue
        pairs = r_tree.sparse_distance_matrix(cKDTree(g_coords), radius, output_type="ndarray")
        if len(pairs) == 0:
            continue
        left = pairs["i"].astype(np.int64)
        right = pairs["j"].astype(np.int64)
        # Seed with nearest pairs first: HK keeps matched nodes matched, so
        # close pairs are favoured, as in BSDS's minimum-cost assignment.
        by_distance = np.argsort(pairs["v"], kind="stable")
        match_left, match_right = _match_kernels.greedy_matching(left[by_distance], right[by_distance], n_result, len(g_coords))
        by_left = np.lexsort((pairs["v"], left))  # CSR, nearest neighbours first
        indptr = np.zeros(n_result + 1, dtype=np.int64)
        np.cumsum(np.bincount(left, minlength=n_result), out=indptr[1:])
        _match_kernels.hopcroft_karp(indptr, np.ascontiguousarray(right[by_left]), match_left, match_right)
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
    ``tolerance * hypot(H, W)`` pixels apart are candidate pairs (found with
    a KD-tree), and a maximum-cardinality bipartite matching picks the
    largest set of pairs in which every pixel appears at most once, so one
    result pixel never accounts for two human pixels.

    This stands in for BSDS's ``correspondPixels``, a minimum-cost
    assignment whose high cost for unmatched pixels makes it, too, match as
    many pixels as it can; so the match *counts* per human map agree. Among
    the many maximum matchings the two may pick different pixels (which can
    move precision, an OR over humans, slightly): here a greedy
    nearest-pairs-first matching seeds Hopcroft-Karp, which keeps every
    matched pixel matched, so close pairs are favoured, but total distance
    is not minimised.

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
    .. [2] J. E. Hopcroft, R. M. Karp, "An n^(5/2) algorithm for maximum
       matchings in bipartite graphs", SIAM J. Comput. 2(4), 1973.

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


def _boundary_scores(labels: NDArray[np.int64], gts: list[NDArray[np.int64]], tol: float) -> BoundaryScores:
    result = _seg2bmap(labels, ignore_zero=False)
    if any((gt == 0).any() for gt in gts):
        # A result boundary pixel tests its 2x2 block (itself and its east,
        # south and south-east neighbours); where no human labelled that
        # whole block, it cannot be judged and is dropped.
        judged = np.zeros(labels.shape, dtype=bool)
        for gt in gts:
            full = gt != 0
            full[:, :-1] &= full[:, 1:].copy()
            full[:-1, :] &= full[1:, :].copy()
            judged |= full
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


# ----------------------------------------------------------------------------
# One image, all metrics
# ----------------------------------------------------------------------------


def evaluate_segmentation(
    labels: ArrayLike, gts: GroundTruths, *, tolerance: float = DEFAULT_TOLERANCE
) -> Scores:
    """All BSDS benchmark scores of one segmentation.

    Computes each contingency table once and returns what
    :func:`segmentation_covering`, :func:`probabilistic_rand_index`,
    :func:`mean_variation_of_information` and
    :func:`boundary_precision_recall` would, with the raw counts that
    :func:`aggregate` sums over a data set.

    Parameters
    ----------
    labels : (H, W) array_like of int
        Result labels.
    gts : sequence of (H, W) array_like of int
        Human segmentations (labels ``>= 1``, 0 = unlabelled), e.g. from
        :func:`load_ground_truth`.
    tolerance : float, optional
        Boundary match distance as a fraction of the image diagonal.

    Returns
    -------
    scores : Scores

    Raises
    ------
    ParameterError
        Shapes differ, labels are not integers, a human has no labelled
        pixel, or ``tolerance`` is negative.

    References
    ----------
    .. [1] Arbelaez et al., IEEE TPAMI 2011, section 3.

    Examples
    --------
    >>> gt = np.repeat([[1] * 50 + [2] * 50], 100, axis=0)
    >>> s = evaluate_segmentation(gt + 7, [gt])
    >>> s.covering, s.pri, s.vi, s.boundary_f
    (1.0, 1.0, 0.0, 1.0)
    """
    tol = _check_tolerance(tolerance)
    seg = _as_labels(labels, "labels")
    gt_list = _as_gt_list(gts, seg.shape)
    seg_idx, n_seg = _relabel(seg.reshape(-1))
    tables = [_table(seg_idx, n_seg, gt) for gt in gt_list]
    overlap = 0.0
    pixels = 0
    for t in tables:
        o, p = _covering_counts(t)
        overlap += o
        pixels += p
    return Scores.from_parts(
        overlap,
        pixels,
        pri=_mean_rand_index(tables),
        vi=_mean_variation_of_information(tables),
        boundary=_boundary_scores(seg, gt_list, tol),
    )


# ----------------------------------------------------------------------------
# Data-set summaries
# ----------------------------------------------------------------------------


def aggregate(per_image_scores_by_setting: Mapping[Hashable, Sequence[Scores]]) -> DatasetScores:
    """ODS and OIS data-set scores over parameter settings, as BSDS.

    Given, for every parameter setting, the :class:`Scores` of the same
    images in the same order, computes (``s`` = setting, ``i`` = image):

    * Covering ODS: ``max_s  sum_i overlap[s, i] / sum_i pixels[s, i]``
      (pixel-weighted over images, BSDS's ``cntR_total ./ sumR_total``);
      covering OIS: the same ratio with every image at its own best setting
      (best per-image covering), ``sum_i overlap[s_i, i] / sum_i pixels[i]``.
    * PRI ODS: ``max_s mean_i pri[s, i]``; OIS: ``mean_i max_s pri[s, i]``.
    * VI ODS: ``min_s mean_i vi[s, i]``; OIS: ``mean_i min_s vi[s, i]``
      (lower is better).
    * Boundary ODS: the setting whose counts summed over all images give the
      highest F, with those summed counts; OIS: counts summed over the images,
      each at the setting of its best per-image F. Unlike BSDS, which sweeps
      ordered thresholds, no interpolation between settings is done (the
      settings need not be ordered), so these are BSDS's values at the
      evaluated settings.

    Each metric picks its own ODS setting. Ties go to the first setting in
    the mapping's order.

    Parameters
    ----------
    per_image_scores_by_setting : mapping of hashable to sequence of Scores
        ``{setting: [scores of image 0, scores of image 1, ...]}``; every
        list covers the same images in the same order.

    Returns
    -------
    summary : DatasetScores

    Raises
    ------
    ParameterError
        The mapping is empty, lists differ in length or are empty, hold
        something other than :class:`Scores`, or evidently come from
        different images (their ground-truth pixel counts differ).

    References
    ----------
    .. [1] Arbelaez et al., IEEE TPAMI 2011, section 3 (ODS/OIS), and the
       BSDS500 ``collect_eval_reg.m`` / ``collect_eval_bdry.m``.

    Examples
    --------
    >>> gt = np.repeat([[1] * 50 + [2] * 50], 100, axis=0)
    >>> runs = {"fine": [evaluate_segmentation(gt, [gt])],
    ...         "coarse": [evaluate_segmentation(np.ones_like(gt), [gt])]}
    >>> d = aggregate(runs)
    >>> d.covering_ods_setting, d.covering_ods, d.vi_ods
    ('fine', 1.0, 0.0)
    """
    if not isinstance(per_image_scores_by_setting, Mapping) or not per_image_scores_by_setting:
        raise ParameterError("per_image_scores_by_setting must be a non-empty mapping {setting: [Scores, ...]}")
    settings = list(per_image_scores_by_setting)
    table = [list(per_image_scores_by_setting[s]) for s in settings]
    n_images = len(table[0])
    if n_images == 0:
        raise ParameterError(f"setting {settings[0]!r} has no per-image scores")
    for s, row in zip(settings, table):
        if len(row) != n_images:
            raise ParameterError(
                f"setting {s!r} has {len(row)} per-image scores, setting {settings[0]!r} has {n_images};"
                " every setting must score the same images"
            )
        for i, sc in enumerate(row):
            if not isinstance(sc, Scores):
                raise ParameterError(f"setting {s!r}, image {i}: expected Scores, got {type(sc).__name__}")
            ref = table[0][i]
            if sc.covering_pixels != ref.covering_pixels or sc.boundary_gt_pixels != ref.boundary_gt_pixels:
                raise ParameterError(
                    f"setting {s!r}, image {i} was scored against other ground truth than setting"
                    f" {settings[0]!r}, image {i}; every setting must list the same images in the same order"
                )

    def field(name: str, dtype: type = float) -> NDArray[Any]:
        return np.array([[getattr(sc, name) for sc in row] for row in table], dtype=dtype)  # (settings, images)

    # Covering: pixel-weighted ratios.
    overlap = field("covering_overlap")
    pixels = field("covering_pixels", np.int64)
    cov_by_setting = overlap.sum(axis=1) / pixels.sum(axis=1)
    cov_ods = int(np.argmax(cov_by_setting))
    best_cov = np.argmax(overlap / pixels, axis=0)
    cols = np.arange(n_images)
    cov_ois = float(overlap[best_cov, cols].sum() / pixels[0].sum())

    pri = field("pri")
    pri_ods = int(np.argmax(pri.mean(axis=1)))
    vi = field("vi")
    vi_ods = int(np.argmin(vi.mean(axis=1)))

    # Boundaries: P, R, F of summed counts.
    counts = np.stack(
        [
            field("boundary_matched_result", np.int64),
            field("boundary_result_pixels", np.int64),
            field("boundary_matched_gt", np.int64),
            field("boundary_gt_pixels", np.int64),
        ],
        axis=-1,
    )  # (settings, images, 4)

    def as_scores(c: NDArray[np.int64]) -> BoundaryScores:
        return BoundaryScores(*(int(v) for v in c))

    totals = counts.sum(axis=1)
    f_by_setting = [as_scores(c).f for c in totals]
    b_ods = int(np.argmax(f_by_setting))
    f_per_image = np.array([[as_scores(c).f for c in row] for row in counts])
    best_b = np.argmax(f_per_image, axis=0)
    b_ois = as_scores(counts[best_b, cols].sum(axis=0))

    return DatasetScores(
        n_images=n_images,
        covering_ods=float(cov_by_setting[cov_ods]),
        covering_ods_setting=settings[cov_ods],
        covering_ois=cov_ois,
        pri_ods=float(pri.mean(axis=1)[pri_ods]),
        pri_ods_setting=settings[pri_ods],
        pri_ois=float(pri.max(axis=0).mean()),
        vi_ods=float(vi.mean(axis=1)[vi_ods]),
        vi_ods_setting=settings[vi_ods],
        vi_ois=float(vi.min(axis=0).mean()),
        boundary_ods=as_scores(totals[b_ods]),
        boundary_ods_setting=settings[b_ods],
        boundary_ois=b_ois,
    )


# ----------------------------------------------------------------------------
# Reading ground truth
# ----------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _checked_labels(a: Any, path: Path, what: str) -> NDArray[np.integer]:
    arr = np.asarray(a)
    if arr.ndim != 2 or arr.size == 0:
        raise ImageReadError(f"{path}: {what} is not a 2-D label image (shape {arr.shape})")
    if arr.dtype == bool:
        return arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        return arr
    if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    raise ImageReadError(f"{path}: {what} does not hold integer labels (dtype {arr.dtype})")


def _read_mat(path: Path) -> list[NDArray[np.integer]]:
    try:
        content = scipy.io.loadmat(str(path))
    except NotImplementedError:
        raise ImageReadError(f"cannot read ground truth {path}: MATLAB v7.3 (HDF5) files are not supported") from None
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError, MatReadError, ...
        reason = _one_line(exc)
        raise ImageReadError(f"cannot read ground truth {path}: not a readable MATLAB file ({reason})") from None
    if "groundTruth" not in content:
        names = ", ".join(k for k in content if not k.startswith("__")) or "none"
        raise ImageReadError(f"{path} has no 'groundTruth' variable (variables: {names})")
    cell = np.asarray(content["groundTruth"])
    segs = []
    try:
        entries = cell.ravel(order="F") if cell.dtype == object else cell.reshape(-1)
        for k, entry in enumerate(entries):
            seg = np.asarray(entry["Segmentation"]).reshape(-1)[0]
            segs.append(_checked_labels(seg, path, f"groundTruth{{{k + 1}}}.Segmentation"))
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise ImageReadError(
            f"{path}: 'groundTruth' is not a BSDS cell array of structs with a Segmentation field ({_one_line(exc)})"
        ) from None
    if not segs:
        raise ImageReadError(f"{path}: 'groundTruth' holds no segmentation")
    return segs


def _read_npy(path: Path) -> list[NDArray[np.integer]]:
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:  # ValueError, OSError, EOFError, UnpicklingError
        raise ImageReadError(f"cannot read ground truth {path}: not a readable .npy file ({_one_line(exc)})") from None
    if arr.ndim == 3:
        return [_checked_labels(a, path, f"segmentation {k}") for k, a in enumerate(arr)]
    return [_checked_labels(arr, path, "the array")]


def _read_label_image(path: Path) -> list[NDArray[np.integer]]:
    from PIL import Image, ImageSequence

    segs = []
    try:
        with Image.open(path) as img:
            for k, frame in enumerate(ImageSequence.Iterator(img)):
                if frame.mode not in ("1", "L", "P", "I", "I;16", "I;16L", "I;16B", "F"):
                    raise ImageReadError(
                        f"{path}: frame {k} has mode {frame.mode}; a label image has one channel"
                        " (8- or 16-bit gray or palette)"
                    )
                segs.append(_checked_labels(np.array(frame), path, f"frame {k}"))
    except ImageReadError:
        raise
    except Exception as exc:  # UnidentifiedImageError, truncated data, decoder errors
        reason = _one_line(exc)
        raise ImageReadError(f"cannot read ground truth {path}: not a readable label image ({reason})") from None
    return segs


def load_ground_truth(path: PathLike) -> list[NDArray[np.integer]]:
    """Read human segmentations from a BSDS ``.mat`` file or a label image.

    Parameters
    ----------
    path : str or path-like
        * ``.mat``: a BSDS500 ground-truth file, a cell array ``groundTruth``
          of structs whose ``Segmentation`` fields are the label maps
          (``loadmat(path)["groundTruth"][0, k]["Segmentation"][0, 0]``,
          uint16, labels from 1, about five per image).
        * ``.npy``: a 2-D label array, or a ``(K, H, W)`` stack of K.
        * any other suffix: a one-channel label image Pillow reads (PNG,
          TIFF, ...; 8- or 16-bit gray, or palette indices); each frame of a
          multi-page TIFF is one segmentation.

    Returns
    -------
    segmentations : list of (H, W) ndarray of int
        One label map per human, in file order, with the file's integer dtype.
        Label 0, if present, means unlabelled.

    Raises
    ------
    ImageReadError
        The file is missing, unreadable, corrupt, or holds no label maps; the
        message names the file.

    References
    ----------
    .. [1] Arbelaez et al., IEEE TPAMI 2011; BSDS500 ``groundTruth`` layout.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "gt.npy"
    >>> np.save(f, np.array([[1, 1, 2]], dtype=np.uint16))
    >>> load_ground_truth(f)
    [array([[1, 1, 2]], dtype=uint16)]
    """
    try:
        p = Path(os.fspath(path))
    except TypeError:
        raise ParameterError(f"path must be a str or path-like, got {type(path).__name__}") from None
    if not p.exists():
        raise ImageReadError(f"ground-truth file not found: {p}")
    if not p.is_file():
        raise ImageReadError(f"ground-truth path is not a file: {p}")
    suffix = p.suffix.lower()
    if suffix == ".mat":
        segs = _read_mat(p)
    elif suffix == ".npy":
        segs = _read_npy(p)
    else:
        segs = _read_label_image(p)
    shapes = {s.shape for s in segs}
    if len(shapes) > 1:
        raise ImageReadError(f"{p}: the segmentations have different shapes {sorted(shapes)}")
    return segs
