"""All benchmarks of one segmentation against one image's humans."""

from __future__ import annotations

from numpy.typing import ArrayLike

from ._validate import (
    DEFAULT_TOLERANCE,
    GroundTruths,
    _as_gt_list,
    _as_labels,
    _check_tolerance,
)
from .boundaries import _boundary_scores
from .regions import (
    _covering_counts,
    _mean_rand_index,
    _mean_variation_of_information,
    _relabel,
    _table,
)
from .scores import Scores


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
    >>> import numpy as np
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

