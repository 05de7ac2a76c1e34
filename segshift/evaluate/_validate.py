"""Argument checks shared by the benchmarks: label maps, ground truths, tolerance."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import ParameterError

#: BSDS boundary tolerance: the largest distance between matched boundary
#: pixels, as a fraction of the image diagonal (about 4.3 pixels on BSDS).
DEFAULT_TOLERANCE = 0.0075

PathLike = Union[str, "os.PathLike[str]"]
GroundTruths = Union[ArrayLike, Sequence[ArrayLike]]



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

