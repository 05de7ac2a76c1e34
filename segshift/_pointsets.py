"""Mean-shift clustering of point sets: :class:`MeanShift`, :func:`mean_shift`, :func:`estimate_bandwidth`.

They follow scikit-learn's :mod:`sklearn.cluster` API (the same parameters,
keyword-only, validated at fit with the same exception types; the same
return order; the same dtypes), with segshift's options after scikit-learn's.
:class:`MeanShift` is a scikit-learn estimator. On small data it computes
exactly what scikit-learn's :class:`sklearn.cluster.MeanShift` computes (every
point a seed, flat kernel, the same convergence test and merging); on large
low-dimensional data it bins the points on a grid and climbs from the occupied
cells, near-linear in the number of points; in high dimensions it searches
neighbours with a k-d tree. Without a bandwidth it estimates one from the
stability of the number of clusters over scales
(``estimate_bandwidth(method="stability")``). :func:`mean_shift` is the
estimator as a function, returning ``(cluster_centers, labels)``.

References
----------
D. Comaniciu and P. Meer, "Mean Shift: A Robust Approach Toward Feature Space
Analysis", IEEE TPAMI 24(5), 2002.
J. Jang and H. Jiang, "MeanShift++: Extremely Fast Mode-Seeking With
Applications to Segmentation and Object Tracking", CVPR 2021.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import textwrap
import warnings
from numbers import Integral, Real
from typing import Any, Callable, NamedTuple

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _pointset_kernels as _k
from .errors import ParameterError
from ._meanshift import KERNEL_DOC

#: Kernel names and the ids the compiled code uses ("uniform" is "flat").
KERNELS = {
    "flat": _k.FLAT,
    "uniform": _k.FLAT,
    "gaussian": _k.GAUSSIAN,
    "epanechnikov": _k.EPANECHNIKOV,
}
ALGORITHMS = ("auto", "exact", "grid", "tree")
#: ``algorithm="auto"`` is exact up to this many points.
AUTO_EXACT_MAX = 10_000
#: The grid indexes at most this many dimensions (3^6 = 729 neighbouring
#: cells); beyond, neighbours come from a k-d tree.
GRID_MAX_DIM = 6
#: Neighbour search cells are the bandwidth's width divided by this, by
#: dimension: a window reads (2 r + 1)^d cells, sums the points of the
#: cells on its edge and (flat kernel) the precomputed sums of those inside.
SEARCH_CELLS = {1: 8, 2: 4, 3: 3, 4: 2, 5: 1, 6: 1}
#: ``algorithm="grid"`` bins the points into cells of width bandwidth / r,
#: r by dimension: about 100 to 700 cells in a window.
GRID_REFINE = {1: 16, 2: 6, 3: 4, 4: 2, 5: 1, 6: 1}
# A cell coordinate stays below 2**30 so that its float rounding (< 2**-22)
# stays inside the grid's slack of 2**-20 cell widths.
_MAX_COORD = 2**30
_SLACK = 1.0 + 2.0**-20
_TREE_BATCH = 256


# --------------------------------------------------------------------------
# Parameter validation: scikit-learn's rules, exception types and messages,
# written here so that no private scikit-learn module is imported.


class InvalidParameterError(ParameterError, TypeError):
    """A parameter of :class:`MeanShift`, :func:`mean_shift` or
    :func:`estimate_bandwidth` has a type or value they cannot use.

    Both a ``ValueError`` and a ``TypeError``, as scikit-learn's own
    ``InvalidParameterError``, so that code catching either keeps working.
    """


class _Rule(NamedTuple):
    test: Callable[[Any], bool]
    text: str


def _interval(kind: type, lo: float, hi: float | None = None, closed: str = "[)") -> _Rule:
    """Numbers of ``kind`` (Integral or Real; bools count, as in scikit-learn) between ``lo`` and ``hi``."""

    def test(value) -> bool:
        if not isinstance(value, kind):
            return False
        above = value >= lo if closed[0] == "[" else value > lo
        below = hi is None or (value <= hi if closed[1] == "]" else value < hi)
        return bool(above and below)

    show = int if kind is Integral else float
    high = "inf" if hi is None else show(hi)
    text = f"{'an int' if kind is Integral else 'a float'} in the range {closed[0]}{show(lo)}, {high}{closed[1]}"
    return _Rule(test, text)


def _options(values) -> _Rule:
    return _Rule(lambda value: isinstance(value, str) and value in values,
                 "a str among {" + ", ".join(repr(v) for v in sorted(values)) + "}")


def _is_array_like(value) -> bool:
    return (hasattr(value, "__len__") or hasattr(value, "shape") or hasattr(value, "__array__")) and not np.isscalar(
        value)


_NONE = _Rule(lambda value: value is None, "None")
_BOOLEAN = _Rule(lambda value: isinstance(value, (bool, np.bool_)),
                 "an instance of 'bool' or an instance of 'numpy.bool'")
_ARRAY_LIKE = _Rule(_is_array_like, "an array-like")
# joblib, which runs scikit-learn's n_jobs, refuses 0 jobs: so does segshift.
_N_JOBS = _Rule(lambda value: isinstance(value, Integral) and value != 0, "an int other than 0")
_RANDOM_STATE = (_interval(Integral, 0, 2**32 - 1, "[]"),
                 _Rule(lambda value: isinstance(value, np.random.RandomState),
                       "an instance of 'numpy.random.mtrand.RandomState'"),
                 _NONE)


def _check_params(owner: str, values: dict, rules: dict) -> None:
    """Raise :class:`InvalidParameterError` for the first value no rule of its name accepts."""
    for name, allowed in rules.items():
        value = values[name]
        if any(rule.test(value) for rule in allowed):
            continue
        texts = [rule.text for rule in allowed]
        wanted = texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " or " + texts[-1]
        raise InvalidParameterError(f"The {name!r} parameter of {owner} must be {wanted}. Got {value!r} instead.")


def _check_weights(sample_weight, n: int) -> NDArray[np.float64]:
    """Finite non-negative weights, one per point (None: all 1; a number: all that number)."""
    if sample_weight is None:
        return np.ones(n)
    if isinstance(sample_weight, Real):
        w = np.full(n, float(sample_weight))
    else:
        w = check_array(sample_weight, ensure_2d=False, dtype=np.float64, order="C", input_name="sample_weight")
        if w.shape != (n,):
            raise ParameterError(f"sample_weight.shape == {w.shape}, expected {(n,)}!")
    if not np.isfinite(w).all():
        raise ParameterError("sample_weight contains NaN or infinite values")
    if (w < 0).any():
        raise ParameterError("Negative values in data passed to `sample_weight`")
    if n and not w.any():
        raise ParameterError("sample_weight must contain at least one non-zero weight")
    return w


def _keyword_only(names: tuple[str, ...], owner: str, fixed: int = 1, stacklevel: int = 2):
    """Accept the old positional spellings of ``names`` (after ``fixed`` positional arguments,
    ``self`` included) for one more release, with a FutureWarning; the signature shown is the
    keyword-only one (functools.wraps sets ``__wrapped__``, which inspect and scikit-learn follow)."""

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            extra = args[fixed:]
            if extra:
                if len(extra) > len(names):
                    raise TypeError(f"{owner} takes at most {len(names)} positional arguments after "
                                    f"{fixed} ({len(extra)} given); pass the options by keyword")
                given = dict(zip(names, extra))
                clash = set(given) & set(kwargs)
                if clash:
                    raise TypeError(f"{owner} got multiple values for argument {sorted(clash)[0]!r}")
                spelled = ", ".join(f"{k}={v!r}" for k, v in given.items())
                warnings.warn(f"Passing {', '.join(given)} to {owner} by position is deprecated and will be an "
                              f"error in segshift 1.1: pass {spelled} by keyword", FutureWarning, stacklevel=stacklevel)
                kwargs.update(given)
            return func(*args[:fixed], **kwargs)

        return wrapper

    return decorate


# --------------------------------------------------------------------------
# The shared core: a grid (or tree) over weighted points, climbs from seeds.


class _Grid(NamedTuple):
    points: NDArray[np.float64]  # (n, d), sorted by cell
    weights: NDArray[np.float64]
    starts: NDArray[np.int64]
    cell_w: NDArray[np.float64]  # total weight of each occupied cell
    cell_sum: NDArray[np.float64]  # its weighted coordinate sums
    table_keys: NDArray[np.int64]
    table_cells: NDArray[np.int64]
    origin: NDArray[np.float64]
    width: float
    extents: NDArray[np.int64]
    strides: NDArray[np.int64]
    stencil: NDArray[np.int64]


def _cell_keys(points, origin, width):
    """Integer cell coordinates' mixed-radix keys, extents and strides, or None when they do not fit."""
    scaled = (points - origin) / width
    if scaled.size and not float(scaled.max()) < _MAX_COORD:
        return None
    coords = np.floor(scaled).astype(np.int64)
    extents = coords.max(axis=0) + 1 if len(coords) else np.ones(points.shape[1], np.int64)
    if math.prod(int(e) for e in extents) >= 2**62:
        return None
    strides = np.ones(points.shape[1], dtype=np.int64)
    for k in range(points.shape[1] - 2, -1, -1):
        strides[k] = strides[k + 1] * extents[k + 1]
    return coords @ strides, extents, strides, coords


def _build_grid(points, weights, bandwidth) -> _Grid | None:
    """Index weighted points in cells of a 1 / ``SEARCH_CELLS[d]`` of the bandwidth's width
    (None when a grid does not suit)."""
    d = points.shape[1]
    if d > GRID_MAX_DIM:
        return None
    origin = points.min(axis=0)
    reach = SEARCH_CELLS[d]
    width = bandwidth * _SLACK / reach
    keyed = _cell_keys(points, origin, width)
    if keyed is None:
        return None
    keys, extents, strides, _ = keyed
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    starts = np.r_[first, len(keys)].astype(np.int64)
    table_keys, table_cells = _k.build_table(np.ascontiguousarray(keys[first]))
    offsets = range(-reach, reach + 1)
    stencil = np.array(list(itertools.product(offsets, repeat=d)), dtype=np.int64).reshape(-1, d)
    points, weights = np.ascontiguousarray(points[order]), np.ascontiguousarray(weights[order])
    cell_of = np.repeat(np.arange(len(first), dtype=np.int64), np.diff(starts))
    cell_w, cell_sum = _k.cell_sums(cell_of, points, weights, len(first))
    return _Grid(points, weights, starts, cell_w, cell_sum, table_keys, table_cells, origin, width, extents,
                 strides, stencil)


class _Climbs(NamedTuple):
    modes: NDArray[np.float64]
    intensity: NDArray[np.float64]
    iters: NDArray[np.int64]


def _climb(points, weights, seeds, bandwidth, kernel_id, *, max_iter=300, grid=None) -> _Climbs:
    """Climb every seed over the weighted points; neighbours from ``grid`` or, when None, a k-d tree."""
    seeds = np.ascontiguousarray(seeds, dtype=np.float64)
    s, d = seeds.shape
    stop = 1e-3 * bandwidth  # scikit-learn's convergence test
    modes = np.empty((s, d))
    intensity = np.zeros(s)
    iters = np.zeros(s, dtype=np.int64)
    if s == 0:
        return _Climbs(modes, intensity, iters)
    h2 = bandwidth * bandwidth
    if grid is not None:
        g = grid
        _k.climb_grid(g.points, g.weights, g.starts, g.cell_w, g.cell_sum, g.table_keys, g.table_cells, g.origin,
                      g.width, g.extents, g.strides, g.stencil, seeds, h2, kernel_id, stop, max_iter,
                      modes, intensity, iters)
        return _Climbs(modes, intensity, iters)
    from scipy.spatial import cKDTree

    tree = cKDTree(points)
    modes[:] = seeds
    active = np.arange(s)
    it = 0
    while active.size:
        running = []
        for lo in range(0, active.size, _TREE_BATCH):
            batch = active[lo : lo + _TREE_BATCH]
            centres = np.ascontiguousarray(modes[batch])
            lists = tree.query_ball_point(centres, bandwidth * _SLACK, workers=numba.get_num_threads())
            lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
            ptr = np.r_[0, np.cumsum(lengths)].astype(np.int64)
            idx = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64, count=int(ptr[-1]))
            means = np.empty_like(centres)
            totals = _k.window_means(points, weights, centres, ptr, idx, h2, kernel_id, means)
            intensity[batch] = totals
            iters[batch] = it
            moved = totals > 0.0
            shift2 = ((means - centres) ** 2).sum(axis=1)
            modes[batch[moved]] = means[moved]
            done = np.sqrt(shift2) <= stop
            running.append(batch[moved & ~done])
        it += 1
        active = np.concatenate(running) if it <= max_iter else active[:0]
    return _Climbs(modes, intensity, iters)


def _merge(modes, intensity, bandwidth):
    """scikit-learn's post-processing: distinct modes by decreasing intensity, a mode
    kept unless a kept one lies within the bandwidth. Returns centres and intensities."""
    valid = intensity > 0.0
    modes = modes[valid] + 0.0  # -0.0 -> 0.0, as equal keys
    inten = intensity[valid]
    d = modes.shape[1]
    order = np.lexsort((np.arange(len(modes)),) + tuple(modes[:, k] for k in range(d - 1, -1, -1)))
    sm = modes[order]
    last = np.ones(len(sm), dtype=bool)
    last[:-1] = (sm[1:] != sm[:-1]).any(axis=1)  # the last seed of equal modes sets the intensity
    umodes, uint = sm[last], inten[order][last]
    by = np.lexsort(tuple(umodes[:, k] for k in range(d - 1, -1, -1)) + (uint,))[::-1]
    centres = np.ascontiguousarray(umodes[by])
    keep = _k.suppress(centres, bandwidth * bandwidth)
    return centres[keep], uint[by][keep]


def _nearest(points, centres):
    """Nearest centre of each point and the distance to it."""
    points = np.ascontiguousarray(points, dtype=np.float64)
    if len(centres) <= 64:
        labels, dist2 = _k.nearest(points, np.ascontiguousarray(centres))
        return labels, np.sqrt(dist2)
    from scipy.spatial import cKDTree

    dist, labels = cKDTree(centres).query(points, workers=numba.get_num_threads())
    return labels.astype(np.int64), dist


def _bin(points, weights, width):
    """Weighted mean and total weight of the points in each occupied cell of ``width``,
    the cell of each point, the cell keys and the grid's (origin, extents, strides), or None."""
    origin = points.min(axis=0)
    keyed = _cell_keys(points, origin, width)
    if keyed is None:
        return None
    keys, extents, strides, coords = keyed
    ukeys, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    totals, sums = _k.cell_sums(inverse.astype(np.int64).ravel(), points, weights, len(ukeys))
    _, plain = _k.cell_sums(inverse.astype(np.int64).ravel(), points, np.ones(len(points)), len(ukeys))
    counts = np.bincount(inverse.ravel(), minlength=len(ukeys)).astype(np.float64)
    means = np.where(totals[:, None] > 0, sums / np.where(totals > 0, totals, 1.0)[:, None], plain / counts[:, None])
    return means, totals, inverse.ravel(), ukeys, coords[first], (origin, extents, strides)


@contextlib.contextmanager
def _threads(n_jobs):
    """numba's thread count for the block: all for -1, ``n_jobs`` for a positive count."""
    before = numba.get_num_threads()
    if n_jobs is None:
        yield
        return
    limit = numba.config.NUMBA_NUM_THREADS
    n = limit if n_jobs < 0 else min(int(n_jobs), limit)
    if n_jobs < -1:
        n = max(1, limit + 1 + int(n_jobs))
    numba.set_num_threads(max(1, n))
    try:
        yield
    finally:
        numba.set_num_threads(before)


# --------------------------------------------------------------------------
# Fitting, the three algorithms.


class _Fit(NamedTuple):
    centres: NDArray[np.float64]
    labels: NDArray[np.int64]
    n_iter: int
    algorithm: str
    climb_state: tuple  # what predict needs to climb new points


def _choose(algorithm, n, d):
    if algorithm == "auto":
        if n <= AUTO_EXACT_MAX:
            return "exact"
        return "grid" if d <= GRID_MAX_DIM else "tree"
    if algorithm == "grid" and d > GRID_MAX_DIM:
        return "tree"
    return algorithm


def _bin_seeds(X, w, bandwidth, min_bin_freq, bin_size):
    """scikit-learn's ``get_bin_seeds``: the points rounded to a grid of the bandwidth's spacing, a
    seed per grid point whose points weigh at least ``min_bin_freq``, in order of first point; None
    (with scikit-learn's warning) when every point has its own grid point. The grid points are
    float32 times ``bin_size``, the bandwidth as the user gave it, so that numpy's promotion makes
    them float32 (a Python number) or float64 (a numpy float64), as there."""
    cells, first, inverse = np.unique(np.round(X / bandwidth), axis=0, return_index=True, return_inverse=True)
    weight = np.bincount(inverse.ravel(), weights=w, minlength=len(cells))
    order = np.argsort(first, kind="stable")
    cells, weight = cells[order], weight[order]
    cells = cells[(weight >= min_bin_freq) & (weight > 0)]
    if len(cells) == len(X):
        warnings.warn(f"Binning data failed with provided bin_size={bandwidth:f}, using data points as seeds.",
                      stacklevel=4)
        return None
    return (cells.astype(np.float32) * bin_size).astype(np.float64)


def _no_point_near_seeds(bandwidth):
    return ParameterError(f"No point was within bandwidth={bandwidth:f} of any seed. Try a different seeding "
                          "strategy or increase the bandwidth.")


def _fit(X, w, bandwidth, kernel_id, algorithm, min_bin_freq, max_iter, assign, cluster_all, min_size=0.0, *,
         seeds=None, bin_seeding=False, bin_size=None, precision=np.float64) -> _Fit:
    """Cluster (X, w); ``seeds`` replace every algorithm's own, ``bin_seeding`` the exact one's, and
    the centres are rounded to ``precision`` (the dtype they are returned in) before points are assigned."""
    n, d = X.shape
    algorithm = _choose(algorithm, n, d)
    positive = w > 0
    state: tuple
    if algorithm == "grid":
        binned = _bin(X, w, bandwidth / GRID_REFINE[d])
        if binned is None:
            algorithm = "tree"
    if algorithm == "exact":
        grid = _build_grid(X, w, bandwidth)
        if seeds is None and bin_seeding:
            seeds = _bin_seeds(X, w, bandwidth, min_bin_freq, bandwidth if bin_size is None else bin_size)
        if seeds is None:
            starts = X if assign == "mode" else X[positive]
            climbs = _climb(X, w, starts, bandwidth, kernel_id, max_iter=max_iter, grid=grid)
            owned = positive if assign == "mode" else slice(None)
            centres, _ = _merge(climbs.modes[owned], climbs.intensity[owned], bandwidth)
            n_iter = int(climbs.iters[owned].max())
            point_modes = climbs.modes if assign == "mode" else None
        else:
            climbs = _climb(X, w, seeds, bandwidth, kernel_id, max_iter=max_iter, grid=grid)
            if not (climbs.intensity > 0).any():
                raise _no_point_near_seeds(bandwidth)
            centres, _ = _merge(climbs.modes, climbs.intensity, bandwidth)
            n_iter = int(climbs.iters.max())
            point_modes = None
            if assign == "mode":
                point_modes = _climb(X, w, X, bandwidth, kernel_id, max_iter=max_iter, grid=grid).modes
        centres = _rounded(centres, precision)
        state = ("points", X, w)
    else:
        if algorithm == "grid":
            fine_means, fine_w, fine_of_point, fine_keys, fine_coords, fine_grid = binned
            r = GRID_REFINE[d]
            # Seeds: the occupied cells of the bandwidth's width (as scikit-learn's
            # bin seeding), each from the weighted mean of its points.
            coarse_keys, coarse_of_fine = np.unique(_coarse_key(fine_coords // r), return_inverse=True)
            m = len(coarse_keys)
            coarse_w, coarse_sums = _k.cell_sums(coarse_of_fine.ravel().astype(np.int64), fine_means, fine_w, m)
            data_pts, data_w = fine_means[fine_w > 0], fine_w[fine_w > 0]
            member = coarse_of_fine.ravel()[fine_w > 0]
        else:
            seeded = _bin(X, w, bandwidth)
            if seeded is None:  # too spread out for any grid: every point a seed
                coarse_sums, coarse_w = X * w[:, None], w.copy()
                member = np.arange(len(X))[positive]
            else:
                cmeans, coarse_w = seeded[0], seeded[1]
                coarse_sums = cmeans * coarse_w[:, None]
                member = seeded[2][positive]
            data_pts, data_w = X[positive], w[positive]
        user_seeds = seeds is not None
        if not user_seeds:
            ok = np.flatnonzero(coarse_w >= max(min_bin_freq, np.finfo(float).tiny))
            seeds = coarse_sums[ok] / coarse_w[ok, None]
        grid = _build_grid(data_pts, data_w, bandwidth)
        climbs = _climb(data_pts, data_w, seeds, bandwidth, kernel_id, max_iter=max_iter, grid=grid)
        failed = np.empty(0, dtype=np.int64) if user_seeds else ok[climbs.intensity <= 0]
        if failed.size:
            # A cell's mean can lie farther than the bandwidth from all its
            # points (sparse, high-dimensional data): its points seed instead.
            extra = data_pts[np.isin(member, failed)]
            more = _climb(data_pts, data_w, extra, bandwidth, kernel_id, max_iter=max_iter, grid=grid)
            climbs = _Climbs(*(np.concatenate([a, b]) for a, b in zip(climbs, more)))
        if not (climbs.intensity > 0).any():
            if user_seeds:
                raise _no_point_near_seeds(bandwidth)
            raise ParameterError(f"no point lies within bandwidth={bandwidth:g} of any seed; lower min_bin_freq")
        centres = _rounded(_merge(climbs.modes, climbs.intensity, bandwidth)[0], precision)
        n_iter = int(climbs.iters.max())
        point_modes = None
        if algorithm == "grid":
            state = ("cells", data_pts, data_w, fine_keys, None, fine_grid, bandwidth / r)
            if assign == "mode":
                cell_climbs = _climb(data_pts, data_w, fine_means, bandwidth, kernel_id, max_iter=max_iter, grid=grid)
                cell_labels, _ = _nearest(cell_climbs.modes, centres)
                state = state[:4] + (cell_labels,) + state[5:]
                point_modes = cell_climbs.modes[fine_of_point]
        else:
            state = ("points", data_pts, data_w)
            if assign == "mode":
                point_modes = _climb(data_pts, data_w, X, bandwidth, kernel_id, max_iter=max_iter, grid=None).modes
    labels = _assign(X, point_modes, centres, bandwidth, cluster_all)
    if min_size > 0 and len(centres) > 1:
        mass = np.bincount(labels[labels >= 0], weights=w[labels >= 0], minlength=len(centres))
        big = mass >= min_size
        if not big.any():
            big = mass == mass.max()
        if not big.all():
            centres = centres[big]
            if state[0] == "cells" and state[4] is not None:
                cell_labels, _ = _nearest(cell_climbs.modes, centres)
                state = state[:4] + (cell_labels,) + state[5:]
            labels = _assign(X, point_modes, centres, bandwidth, cluster_all)
    return _Fit(centres, labels, n_iter, algorithm, state)


def _rounded(centres, precision):
    """Centres rounded to the precision they are returned in (float64 arrays), so that the labels
    of the fit and of ``predict`` are those of the returned centres."""
    if np.dtype(precision) == np.float64:
        return centres
    return np.ascontiguousarray(centres.astype(precision).astype(np.float64))


def _coarse_key(coords):
    """Row-unique int64 keys of integer coordinates (n, d) (their extents fit, as the finer grid's did)."""
    coords = coords - coords.min(axis=0)
    extents = coords.max(axis=0) + 1
    key = np.zeros(len(coords), dtype=np.int64)
    for k in range(coords.shape[1]):
        key = key * extents[k] + coords[:, k]
    return key


def _assign(X, point_modes, centres, bandwidth, cluster_all):
    """Labels: the centre nearest each point, or (given the points' modes) the centre nearest each mode;
    without ``cluster_all`` a point farther than the bandwidth from its centre is -1."""
    if point_modes is None:
        labels, dist = _nearest(X, centres)
    else:
        labels, _ = _nearest(point_modes, centres)
        dist = np.sqrt(((X - centres[labels]) ** 2).sum(axis=1))
    if not cluster_all:
        labels = np.where(dist <= bandwidth, labels, -1)
    return labels.astype(np.int64)


# --------------------------------------------------------------------------
# The estimator.


#: The dtypes a fit keeps (centres come back in the input's floating dtype,
#: as scikit-learn's); other input is converted to float64.
_FLOATS = (np.float64, np.float32, np.float16)

#: What :class:`MeanShift` accepts, parameter by parameter (checked by ``fit``).
_MEANSHIFT_RULES = {
    "bandwidth": (_interval(Real, 0, None, "()"), _NONE),
    "seeds": (_ARRAY_LIKE, _NONE),
    "bin_seeding": (_BOOLEAN,),
    "min_bin_freq": (_interval(Real, 0, None, "[)"),),
    "cluster_all": (_BOOLEAN,),
    "n_jobs": (_N_JOBS, _NONE),
    "max_iter": (_interval(Integral, 0, None, "[)"),),
    "kernel": (_options(set(KERNELS)),),
    "algorithm": (_options(set(ALGORITHMS)),),
    "assign": (_options({"nearest", "mode"}),),
    "min_cluster_size": (_interval(Real, 0, None, "[)"), _NONE),
    "random_state": _RANDOM_STATE,
}


class MeanShift(ClusterMixin, BaseEstimator):
    # Assigned, not a bare string: the docstring shares KERNEL_DOC with the image filter.
    __doc__ = """Mean-shift clustering of a point set, exact on small data, near-linear at scale.

    Every seed climbs the kernel density estimate of the points to a mode (a
    window of radius ``bandwidth`` moves to the weighted mean of the points
    inside until it moves at most ``1e-3 * bandwidth``); modes are merged
    in order of decreasing window weight (a mode is dropped when a kept one
    lies within the bandwidth), and the kept modes are the cluster centres.
    No number of clusters is given. The parameters scikit-learn's
    :class:`sklearn.cluster.MeanShift` has come first, with its names,
    defaults and meaning; segshift's own follow. All are keyword-only.

    Parameters
    ----------
    bandwidth : float or None, default=None
        Radius of the window; a point counts when its distance to the window
        centre is at most this. ``None``: estimated with
        ``estimate_bandwidth(X, method="stability")`` (the scale at which the
        number of clusters is most stable; scikit-learn's estimator uses its
        quantile rule here), stored in ``bandwidth_``.
    seeds : array-like of shape (n_seeds, n_features) or None, default=None
        Where the climbs start (any algorithm). None: every point
        (``"exact"``), scikit-learn's bin seeds (``"exact"`` with
        ``bin_seeding``) or the occupied cells (``"grid"``, ``"tree"``).
    bin_seeding : bool, default=False
        If True, ``"exact"`` climbs from the points rounded to a grid of the
        bandwidth's spacing whose cells hold at least ``min_bin_freq`` of
        weight, as scikit-learn's ``get_bin_seeds`` (float32 seeds). The
        ``"grid"`` and ``"tree"`` algorithms always seed from cells.
    min_bin_freq : float, default=1
        Least weight of points (their count, without ``sample_weight``) a
        cell must hold to give a seed, with ``bin_seeding`` and with
        ``"grid"`` and ``"tree"``. Any number >= 0 (scikit-learn: an int >= 1).
    cluster_all : bool, default=True
        If False, points farther than the bandwidth from their cluster's
        centre are labelled -1 (also by ``predict``).
    n_jobs : int or None, default=None
        Threads of the compiled core (-1: all numba threads, -2: all but
        one, ...); None keeps numba's current setting. 0 is refused.
    max_iter : int, default=300
        Most shifts per seed beyond the first.
    kernel : {"flat", "uniform", "gaussian", "epanechnikov"}, default="flat"
        Weights of the mean-shift update ("flat": scikit-learn's).
    algorithm : {"auto", "exact", "grid", "tree"}, default="auto"
        ``"exact"``: every point is a seed (unless ``seeds`` or
        ``bin_seeding``) and every window sums the exact points (neighbours
        from a grid of cells of the bandwidth's width, or from a k-d tree
        above 6 dimensions): scikit-learn's exact ``MeanShift``. ``"grid"``
        (up to 6 dimensions): the points are binned into cells of
        ``bandwidth / r`` (r from 16 in 1-D to 4 in 3-D and 1 in 5-D) and
        each cell stands for its points at their weighted mean; seeds are
        the occupied cells of the bandwidth's width (from their points'
        mean). Time and memory grow with the points and the occupied cells.
        ``"tree"``: the same seeds, windows over the exact points found with
        a k-d tree (any dimension). ``"auto"``: exact up to 10,000 points,
        then grid up to 6 dimensions, tree beyond.
    assign : {"nearest", "mode"}, default="nearest"
        How points get their cluster: ``"nearest"`` the nearest centre
        (scikit-learn's); ``"mode"`` the cluster of the mode the point climbs
        to (its basin of attraction; with ``"grid"``, the mode its cell
        climbs to). ``predict`` follows the same rule, so
        ``predict(X) == labels_`` on the training points.
    min_cluster_size : float or None, default=None
        Clusters whose points weigh less than this (below 1: a share of the
        total weight) are dropped and their points join the nearest
        remaining centre, as segshift prunes small image regions: the flat
        kernel makes a mode of every isolated point in a distribution's
        tails. None: 1 % of the weight when the bandwidth is estimated (the
        clusters the estimate counts), nothing dropped when it is given.
    random_state : int, RandomState instance or None, default=0
        Subsample of :func:`estimate_bandwidth` when ``bandwidth`` is None.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        The kept modes, by decreasing window weight, in the dtype of ``X``
        when it is floating (float16, float32 or float64), else float64, as
        scikit-learn's (segshift computes in float64 and rounds once).
    labels_ : ndarray of shape (n_samples,) of int64
        Cluster of each point (-1 only without ``cluster_all``).
    n_iter_ : int
        Most shifts beyond the first made by a seed.
    bandwidth_ : float
        The bandwidth used (``bandwidth``, or its estimate).
    algorithm_ : str
        The algorithm used ("exact", "grid" or "tree").
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Defined when X has string feature names.

    Raises
    ------
    InvalidParameterError
        From ``fit``, for a parameter of the wrong type or value (a
        ``ValueError`` and a ``TypeError``, as scikit-learn's).

    Notes
    -----
    Where segshift differs from scikit-learn's ``MeanShift``: the exact sums
    run in another order, so centres agree to rounding (about 1e-15), not
    bit for bit; ``bandwidth=None`` estimates with the stability rule, not
    the quantile rule; ``"tree"`` and ``"grid"`` seed from the mean of each
    cell's points rather than from the cell's corner grid point, and cells
    are ``floor``, not ``round``, of the coordinates; ``predict`` applies
    ``cluster_all`` and ``assign`` (scikit-learn's always returns the
    nearest centre); ``sample_weight`` weighs each point in every window and
    in a mode's intensity, so integer weights equal repeated points;
    ``n_jobs=None`` leaves numba's thread count as it is (scikit-learn's:
    one job). An empty seed window cannot happen with ``"exact"`` and its
    own seeds. Passing ``bandwidth`` and ``kernel`` by position (the old
    spelling) still works until segshift 1.1, with a FutureWarning.

    """ + textwrap.indent(KERNEL_DOC.replace("strictly inside the window", "inside the window (at most the bandwidth away)"),
                          "    ").lstrip() + """
    References
    ----------
    D. Comaniciu and P. Meer, "Mean Shift: A Robust Approach Toward Feature
    Space Analysis", IEEE TPAMI 24(5), 2002.
    J. Jang and H. Jiang, "MeanShift++: Extremely Fast Mode-Seeking With
    Applications to Segmentation and Object Tracking", CVPR 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from segshift import MeanShift
    >>> X = np.array([[1, 1], [2, 1], [1, 0], [4, 7], [3, 5], [3, 6]])
    >>> ms = MeanShift(bandwidth=2).fit(X)
    >>> ms.labels_.tolist()
    [1, 1, 1, 0, 0, 0]
    >>> ms.predict([[0, 0], [5, 5]]).tolist()
    [1, 0]
    """

    @_keyword_only(("bandwidth", "kernel"), "MeanShift()")
    def __init__(
        self,
        *,
        bandwidth=None,
        seeds=None,
        bin_seeding=False,
        min_bin_freq=1,
        cluster_all=True,
        n_jobs=None,
        max_iter=300,
        kernel="flat",
        algorithm="auto",
        assign="nearest",
        min_cluster_size=None,
        random_state=0,
    ):
        self.bandwidth = bandwidth
        self.seeds = seeds
        self.bin_seeding = bin_seeding
        self.min_bin_freq = min_bin_freq
        self.cluster_all = cluster_all
        self.n_jobs = n_jobs
        self.max_iter = max_iter
        self.kernel = kernel
        self.algorithm = algorithm
        self.assign = assign
        self.min_cluster_size = min_cluster_size
        self.random_state = random_state

    def fit(self, X, y=None, sample_weight=None):
        """Cluster the points.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The points.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each point (None: all 1).

        Returns
        -------
        self : MeanShift

        Raises
        ------
        InvalidParameterError
            For a parameter of the wrong type or value.
        ValueError
            For points that are not a finite non-empty 2-D array, bad
            weights, seeds of another width than X, or seeds with no point
            within the bandwidth.
        """
        _check_params("MeanShift", self.get_params(deep=False), _MEANSHIFT_RULES)
        X = validate_data(self, X, dtype=_FLOATS, order="C")
        precision = X.dtype
        X = np.ascontiguousarray(X, dtype=np.float64)
        w = _check_weights(sample_weight, len(X))
        seeds = None
        if self.seeds is not None:
            seeds = check_array(self.seeds, dtype=np.float64, order="C", input_name="seeds")
            if seeds.shape[1] != X.shape[1]:
                raise ParameterError(f"seeds have {seeds.shape[1]} features, X has {X.shape[1]}")
        with _threads(self.n_jobs):
            bandwidth = self.bandwidth
            if bandwidth is None:
                bandwidth = _estimate(X, w, "stability", KERNELS[self.kernel], _STABILITY_SAMPLES, self.random_state)
            bandwidth = float(bandwidth)
            min_size = self.min_cluster_size
            if min_size is None:
                min_size = MIN_CLUSTER_SHARE if self.bandwidth is None else 0.0
            if min_size < 1:
                min_size *= w.sum()
            fit = _fit(X, w, bandwidth, KERNELS[self.kernel], self.algorithm, self.min_bin_freq, self.max_iter,
                       self.assign, self.cluster_all, min_size, seeds=seeds, bin_seeding=self.bin_seeding,
                       bin_size=np.float64(bandwidth) if self.bandwidth is None else self.bandwidth,
                       precision=precision)
        self.bandwidth_ = bandwidth
        self.cluster_centers_ = fit.centres.astype(precision)
        self.labels_ = fit.labels
        self.n_iter_ = fit.n_iter
        self.algorithm_ = fit.algorithm
        self._climb_state = fit.climb_state
        return self

    def predict(self, X):
        """Cluster of new points, by the rule of ``assign``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, order="C", reset=False)
        with _threads(self.n_jobs):
            modes = None
            if self.assign == "mode":
                modes = self._climb_modes(X)
            # The float64 values of the returned centres: those the fit assigned the points to.
            centres = np.ascontiguousarray(self.cluster_centers_, dtype=np.float64)
            return _assign(X, modes, centres, self.bandwidth_, self.cluster_all)

    def _climb_modes(self, X):
        """Modes new points climb to over the fitted density (grid: their cell's, when occupied)."""
        state = self._climb_state
        kernel_id = KERNELS[self.kernel]
        pts, wts = state[1], state[2]
        grid = _build_grid(pts, wts, self.bandwidth_)
        if state[0] == "points":
            return _climb(pts, wts, X, self.bandwidth_, kernel_id, max_iter=self.max_iter, grid=grid).modes
        _, _, _, cell_keys, cell_labels, (origin, extents, strides), width = state
        modes = np.empty_like(X)
        scaled = np.floor((X - origin) / width)
        inside = ((scaled >= 0) & (scaled < extents)).all(axis=1)
        pos = np.zeros(len(X), dtype=np.int64)
        found = np.zeros(len(X), dtype=bool)
        if inside.any():
            keys = scaled[inside].astype(np.int64) @ strides
            at = np.minimum(np.searchsorted(cell_keys, keys), len(cell_keys) - 1)
            hit = cell_keys[at] == keys
            pos[np.flatnonzero(inside)[hit]] = at[hit]
            found[np.flatnonzero(inside)[hit]] = True
        modes[found] = self.cluster_centers_[cell_labels[pos[found]]]
        if (~found).any():
            climbs = _climb(pts, wts, X[~found], self.bandwidth_, kernel_id, max_iter=self.max_iter, grid=grid)
            modes[~found] = climbs.modes
        return modes


# --------------------------------------------------------------------------
# Bandwidth.

#: Clusters holding less than this share of the weight are not counted by the
#: stability rule of :func:`estimate_bandwidth`.
MIN_CLUSTER_SHARE = 0.01
#: Bandwidths tried by the stability rule grow by this factor, and a cluster
#: count is stable when it holds for this many of them in a row.
STABILITY_STEP = 2.0 ** (1 / 6)
STABILITY_RUN = 3


#: Points the stability and Scott rules look at when ``n_samples`` is None.
_STABILITY_SAMPLES = 5000
BANDWIDTH_METHODS = ("quantile", "stability", "scott")

_BANDWIDTH_RULES = {
    "quantile": (_interval(Real, 0, 1, "[]"),),
    "n_samples": (_interval(Integral, 1, None, "[)"), _NONE),
    "random_state": _RANDOM_STATE,
    "n_jobs": (_N_JOBS, _NONE),
    "method": (_options(set(BANDWIDTH_METHODS)),),
    "kernel": (_options(set(KERNELS)),),
}


def estimate_bandwidth(
    X: ArrayLike,
    *,
    quantile: float = 0.3,
    n_samples: int | None = None,
    random_state=0,
    n_jobs: int | None = None,
    method: str = "quantile",
    sample_weight: ArrayLike | None = None,
    kernel: str = "flat",
) -> float:
    """Estimate a mean-shift bandwidth from the data.

    The default is scikit-learn's :func:`sklearn.cluster.estimate_bandwidth`,
    value for value; ``method`` selects segshift's other rules.

    ``"quantile"`` (the default): scikit-learn's rule, the mean over the
    points of the distance to their ``k``-th nearest point, the point itself
    counted as the first, ``k = max(1, int(quantile * n))``; on a random
    ``n_samples`` of the points (all when None), drawn as scikit-learn draws
    them. It is 0 when most points repeat (a bandwidth :class:`MeanShift`
    refuses). ``"stability"`` (what ``MeanShift(bandwidth=None)`` uses):
    clusters a random subsample of ``n_samples`` points (5,000 when None)
    at bandwidths growing by a factor 2^(1/6), from the median distance to
    the 5th nearest neighbour (on fewer than 50 points the (n // 10)-th, at
    least the 1st) up to four times the data's spread, and counts
    the clusters that hold at least 1 % of the weight. The first count of at
    least 2 that stays the same over three consecutive bandwidths (a factor
    1.26) is the finest stable clustering, and the geometric middle of the
    bandwidths that give it is returned: the lifetime of a cluster count
    over scales as the measure of its validity (Leung, Zhang & Xu 2000),
    taken at the finest scale where clusters persist. Where no count of 2 or
    more persists, Scott's rule; 1.0 when all points are equal.
    ``"scott"``: Scott's rule for a flat window, ``2 sigma n^(-1/(d+4))``
    with sigma the root mean variance of the features (a flat window of
    radius 2 sigma matches a Gaussian kernel of deviation sigma), on at most
    ``n_samples`` points (5,000 when None); 1.0 when all points are equal.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    quantile : float in [0, 1], default=0.3
        Share of the points whose farthest is the distance averaged
        (``"quantile"`` only).
    n_samples : int or None, default=None
        Size of the random subsample the rule looks at (see above).
    random_state : int, RandomState instance or None, default=0
        The subsample's random generator.
    n_jobs : int or None, default=None
        Jobs of the neighbour search of ``"quantile"`` (scikit-learn's
        ``NearestNeighbors``; -1: all processors).
    method : {"quantile", "stability", "scott"}, default="quantile"
    sample_weight : array-like of shape (n_samples,), optional
        Weights of the points, for ``"stability"`` only (the others refuse them).
    kernel : {"flat", "uniform", "gaussian", "epanechnikov"}, default="flat"
        The kernel the bandwidth is for (``"stability"`` clusters with it).

    Returns
    -------
    bandwidth : numpy.float64

    Raises
    ------
    InvalidParameterError
        For a parameter of the wrong type or value.
    ValueError
        For X that is not a finite non-empty 2-D array, or weights with a
        rule other than ``"stability"``.

    References
    ----------
    Y. Leung, J.-S. Zhang and Z.-B. Xu, "Clustering by Scale-Space
    Filtering", IEEE TPAMI 22(12), 2000.
    D. W. Scott, "Multivariate Density Estimation", Wiley, 1992.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1, 1], [2, 1], [1, 0], [4, 7], [3, 5], [3, 6]])
    >>> round(float(estimate_bandwidth(X, quantile=0.5)), 2)
    1.62
    >>> from sklearn.datasets import make_blobs
    >>> X, _ = make_blobs(2000, centers=[[0, 0], [8, 0], [0, 8]], random_state=0)
    >>> h = estimate_bandwidth(X, method="stability")
    >>> len(MeanShift(bandwidth=h).fit(X).cluster_centers_)
    3
    """
    _check_params("estimate_bandwidth", dict(quantile=quantile, n_samples=n_samples, random_state=random_state,
                                             n_jobs=n_jobs, method=method, kernel=kernel), _BANDWIDTH_RULES)
    if method == "quantile":
        if sample_weight is not None:
            raise ParameterError("sample_weight is used by method='stability' only (the quantile rule is unweighted)")
        return _quantile_bandwidth(check_array(X), quantile, n_samples, random_state, n_jobs)
    X = check_array(X, dtype=np.float64, order="C")
    if sample_weight is not None and method != "stability":
        raise ParameterError(f"sample_weight is used by method='stability' only, not {method!r}")
    w = _check_weights(sample_weight, len(X))
    return _estimate(X, w, method, KERNELS[kernel], _STABILITY_SAMPLES if n_samples is None else n_samples,
                     random_state)


def _quantile_bandwidth(X, quantile, n_samples, random_state, n_jobs) -> np.float64:
    """scikit-learn's rule, computed as there (the same subsample, neighbour search and sums), so
    that the value is the same to the last bit."""
    from sklearn.neighbors import NearestNeighbors

    rng = check_random_state(random_state)
    if n_samples is not None:
        X = X[rng.permutation(X.shape[0])[:n_samples]]
    k = max(1, int(X.shape[0] * quantile))
    nbrs = NearestNeighbors(n_neighbors=k, n_jobs=n_jobs).fit(X)
    total = 0.0
    for lo in range(0, len(X), 500):
        dist, _ = nbrs.kneighbors(X[lo : lo + 500], return_distance=True)
        total += np.max(dist, axis=1).sum()
    return np.float64(total / X.shape[0])


def _estimate(X, w, method, kernel_id, n_samples, random_state) -> np.float64:
    """The stability or Scott rule (see :func:`estimate_bandwidth`) on float64 points and weights."""
    rng = check_random_state(random_state)
    if len(X) > n_samples:
        pick = np.sort(rng.choice(len(X), n_samples, replace=False))
        X, w = X[pick], w[pick]
    n, d = X.shape
    spread = float(np.sqrt(np.mean(np.var(X, axis=0))))
    if spread == 0.0:
        return np.float64(1.0)  # all points equal: any bandwidth gives one cluster
    scott = np.float64(2.0 * spread * n ** (-1.0 / (d + 4)))
    if method == "scott" or n < 4:
        return scott
    from scipy.spatial import cKDTree

    # The scan starts at the median distance to the 5th nearest neighbour, or on
    # fewer than 50 points the (n // 10)-th (at least the 1st): the 5th neighbour
    # of a few points spans most of them, and no smaller cluster could be seen.
    k = min(5, max(1, n // 10))
    nn = cKDTree(X).query(X, k=k + 1)[0][:, -1]
    lo = float(np.median(nn[nn > 0])) if (nn > 0).any() else spread / n
    hi = 4.0 * spread
    scales = lo * STABILITY_STEP ** np.arange(int(np.log(max(hi / lo, 1.0)) / np.log(STABILITY_STEP)) + 1)
    algorithm = "grid" if d <= GRID_MAX_DIM else "tree"
    total = w.sum()
    counts: list[int] = []
    run_start = 0
    for i, h in enumerate(scales):
        fit = _fit(X, w, float(h), kernel_id, algorithm, 0, 300, "nearest", True)
        mass = np.bincount(fit.labels, weights=w, minlength=len(fit.centres))
        counts.append(int((mass >= MIN_CLUSTER_SHARE * total).sum()))
        if i and counts[i] != counts[i - 1]:
            if counts[i - 1] >= 2 and i - run_start >= STABILITY_RUN:
                return np.float64(np.sqrt(scales[run_start] * scales[i - 1]))
            run_start = i
    if counts[-1] >= 2 and len(scales) - run_start >= STABILITY_RUN:
        return np.float64(np.sqrt(scales[run_start] * scales[-1]))
    return scott


# --------------------------------------------------------------------------
# The functional form.


def _legacy_mean_shift(func):
    """Accept, for one more release and with a FutureWarning, the spellings of segshift 0.x's
    ``mean_shift(points, bandwidth, kernel="flat", *, tol=0.01, max_iter=100)``: ``points=``,
    ``bandwidth`` and ``kernel`` by position, ``tol`` (now without effect) and 1-D points."""
    keywords = _keyword_only(("bandwidth", "kernel"), "mean_shift()", fixed=1, stacklevel=3)(func)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if "points" in kwargs:
            if args:
                raise TypeError("mean_shift() got multiple values for argument 'X'")
            warnings.warn("mean_shift(points=...) is deprecated and will be an error in segshift 1.1: "
                          "pass the points first, or as X=", FutureWarning, stacklevel=2)
            args = (kwargs.pop("points"),)
        if "tol" in kwargs:
            kwargs.pop("tol")
            warnings.warn("mean_shift(tol=...) has no effect and will be an error in segshift 1.1: "
                          "climbs stop when they move at most 1e-3 * bandwidth, as MeanShift's",
                          FutureWarning, stacklevel=2)
        if args and np.ndim(args[0]) == 1:
            warnings.warn("1-D points are deprecated and will be an error in segshift 1.1: "
                          "pass an (n, 1) array (X.reshape(-1, 1))", FutureWarning, stacklevel=2)
            args = (np.reshape(args[0], (-1, 1)),) + args[1:]
        return keywords(*args, **kwargs)

    return wrapper


@_legacy_mean_shift
def mean_shift(
    X: ArrayLike,
    *,
    bandwidth: float | None = None,
    seeds: ArrayLike | None = None,
    bin_seeding: bool = False,
    min_bin_freq: float = 1,
    cluster_all: bool = True,
    max_iter: int = 300,
    n_jobs: int | None = None,
    kernel: str = "flat",
    algorithm: str = "auto",
    assign: str = "nearest",
    min_cluster_size: float | None = None,
    random_state=0,
) -> tuple[NDArray[np.floating], NDArray[np.int64]]:
    """Cluster a point set by mean shift: :class:`MeanShift` as a function.

    ``mean_shift(X, **options)`` is ``MeanShift(**options).fit(X)``'s
    ``(cluster_centers_, labels_)``: the same algorithm, parameters and
    results, and scikit-learn's :func:`sklearn.cluster.mean_shift` signature
    and return order (its options first, segshift's after, all keyword-only).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The points.
    bandwidth, seeds, bin_seeding, min_bin_freq, cluster_all, max_iter, n_jobs
        As :class:`MeanShift` (scikit-learn's options).
    kernel, algorithm, assign, min_cluster_size, random_state
        As :class:`MeanShift` (segshift's options).

    Returns
    -------
    cluster_centers : ndarray of shape (n_clusters, n_features)
        The cluster centres (the kept modes, by decreasing window weight),
        in the dtype of ``X`` when it is floating, else float64.
    labels : ndarray of shape (n_samples,) of int64
        Cluster of each point, an index into ``cluster_centers`` (-1: no
        cluster, only without ``cluster_all``).

    Raises
    ------
    InvalidParameterError
        For an option of the wrong type or value.
    ValueError
        For points that are not a finite non-empty 2-D array.

    Notes
    -----
    Changed in segshift 1.0: it returned ``(labels, centers)`` (a named
    tuple), merged modes closer than half the bandwidth and had a ``tol``;
    it now returns scikit-learn's ``(cluster_centers, labels)``. Passing
    ``bandwidth`` and ``kernel`` by position, ``points=``, ``tol`` (ignored)
    and 1-D points still work until segshift 1.1, with a FutureWarning.

    References
    ----------
    D. Comaniciu and P. Meer, "Mean Shift: A Robust Approach Toward Feature
    Space Analysis", IEEE TPAMI 24(5), 2002.

    Examples
    --------
    >>> cluster_centers, labels = mean_shift([[1, 1], [2, 2], [3, 3], [10, 10]], bandwidth=3)
    >>> labels.tolist()
    [0, 0, 0, 1]
    >>> cluster_centers.tolist()
    [[2.0, 2.0], [10.0, 10.0]]
    """
    model = MeanShift(
        bandwidth=bandwidth,
        seeds=seeds,
        bin_seeding=bin_seeding,
        min_bin_freq=min_bin_freq,
        cluster_all=cluster_all,
        n_jobs=n_jobs,
        max_iter=max_iter,
        kernel=kernel,
        algorithm=algorithm,
        assign=assign,
        min_cluster_size=min_cluster_size,
        random_state=random_state,
    ).fit(X)
    return model.cluster_centers_, model.labels_
