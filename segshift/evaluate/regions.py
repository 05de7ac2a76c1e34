"""Region benchmarks: probabilistic Rand index, variation of information, covering.

All three come from sparse contingency tables of the result against each
human segmentation, built with :func:`numpy.bincount`, so thousands of
regions cost no more than a few. Pixels a human left unlabelled (label 0)
are left out of that human's counts. VI is in bits (log base 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validate import GroundTruths, _as_gt_list, _as_labels


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

