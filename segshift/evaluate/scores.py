"""Result containers of the benchmarks: per-image scores and data-set summaries."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import asdict, dataclass
from typing import Any


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

