"""Data-set summaries over parameter settings: ODS and OIS, as BSDS."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ParameterError
from .scores import BoundaryScores, DatasetScores, Scores


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
    >>> from segshift.evaluate import evaluate_segmentation
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

