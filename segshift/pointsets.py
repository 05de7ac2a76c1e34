"""Mean-shift clustering of point sets: :class:`MeanShift` and :func:`mean_shift`.

:class:`MeanShift` is a scikit-learn estimator. On small data it computes
exactly what scikit-learn's :class:`sklearn.cluster.MeanShift` computes (every
point a seed, flat kernel, the same convergence test and merging); on large
low-dimensional data it bins the points on a grid and climbs from the occupied
cells, near-linear in the number of points; in high dimensions it searches
neighbours with a k-d tree. Without a bandwidth it estimates one from the
stability of the number of clusters over scales (:func:`estimate_bandwidth`).

References
----------
D. Comaniciu and P. Meer, "Mean Shift: A Robust Approach Toward Feature Space
Analysis", IEEE TPAMI 24(5), 2002.
J. Jang and H. Jiang, "MeanShift++: Extremely Fast Mode-Seeking With
Applications to Segmentation and Object Tracking", CVPR 2021.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from numbers import Integral, Real
from typing import ClassVar, NamedTuple

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClusterMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from . import _pointset_kernels as _k
from .errors import ParameterError
from .meanshift import KERNEL_DOC, _check_convergence, check_kernel, check_positive

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


def _climb(points, weights, seeds, bandwidth, kernel_id, *, inclusive=True, stop=None, squared_stop=False,
           max_iter=300, grid=None) -> _Climbs:
    """Climb every seed over the weighted points; neighbours from ``grid`` or, when None, a k-d tree."""
    seeds = np.ascontiguousarray(seeds, dtype=np.float64)
    s, d = seeds.shape
    stop = 1e-3 * bandwidth if stop is None else stop
    modes = np.empty((s, d))
    intensity = np.zeros(s)
    iters = np.zeros(s, dtype=np.int64)
    if s == 0:
        return _Climbs(modes, intensity, iters)
    h2 = bandwidth * bandwidth
    if grid is not None:
        g = grid
        _k.climb_grid(g.points, g.weights, g.starts, g.cell_w, g.cell_sum, g.table_keys, g.table_cells, g.origin, g.width, g.extents,
                      g.strides, g.stencil, seeds, h2, kernel_id, inclusive, stop, squared_stop, max_iter,
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
            totals = _k.window_means(points, weights, centres, ptr, idx, h2, kernel_id, inclusive, means)
            intensity[batch] = totals
            iters[batch] = it
            moved = totals > 0.0
            shift2 = ((means - centres) ** 2).sum(axis=1)
            modes[batch[moved]] = means[moved]
            done = shift2 < stop if squared_stop else np.sqrt(shift2) <= stop
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


def _fit(X, w, bandwidth, kernel_id, algorithm, min_bin_freq, max_iter, assign, cluster_all, min_size=0.0) -> _Fit:
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
        seeds = X if assign == "mode" else X[positive]
        climbs = _climb(X, w, seeds, bandwidth, kernel_id, max_iter=max_iter, grid=grid)
        owned = positive if assign == "mode" else slice(None)
        centres, _ = _merge(climbs.modes[owned], climbs.intensity[owned], bandwidth)
        n_iter = int(climbs.iters[owned].max())
        point_modes = climbs.modes if assign == "mode" else None
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
        ok = np.flatnonzero(coarse_w >= max(min_bin_freq, np.finfo(float).tiny))
        seeds = coarse_sums[ok] / coarse_w[ok, None]
        grid = _build_grid(data_pts, data_w, bandwidth)
        climbs = _climb(data_pts, data_w, seeds, bandwidth, kernel_id, max_iter=max_iter, grid=grid)
        failed = ok[climbs.intensity <= 0]
        if failed.size:
            # A cell's mean can lie farther than the bandwidth from all its
            # points (sparse, high-dimensional data): its points seed instead.
            extra = data_pts[np.isin(member, failed)]
            more = _climb(data_pts, data_w, extra, bandwidth, kernel_id, max_iter=max_iter, grid=grid)
            climbs = _Climbs(*(np.concatenate([a, b]) for a, b in zip(climbs, more)))
        if not (climbs.intensity > 0).any():
            raise ParameterError(f"no point lies within bandwidth={bandwidth:g} of any seed; lower min_bin_freq")
        centres, _ = _merge(climbs.modes, climbs.intensity, bandwidth)
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


class MeanShift(ClusterMixin, BaseEstimator):
    """Mean-shift clustering of a point set, exact on small data, near-linear at scale.

    Every seed climbs the kernel density estimate of the points to a mode (a
    window of radius ``bandwidth`` moves to the weighted mean of the points
    inside until it moves less than ``1e-3 * bandwidth``); modes are merged
    in order of decreasing window weight (a mode is dropped when a kept one
    lies within the bandwidth), and the kept modes are the cluster centres.
    No number of clusters is given.

    Parameters
    ----------
    bandwidth : float or None, default=None
        Radius of the window; a point counts when its distance to the window
        centre is at most this. ``None``: estimated with
        :func:`estimate_bandwidth` (the scale at which the number of
        clusters is most stable), stored in ``bandwidth_``.
    kernel : {"flat", "uniform", "gaussian", "epanechnikov"}, default="flat"
        Weights of the mean-shift update ("flat": scikit-learn's).
    algorithm : {"auto", "exact", "grid", "tree"}, default="auto"
        ``"exact"``: every point is a seed and every window sums the exact
        points (neighbours from a grid of cells of the bandwidth's width, or
        from a k-d tree above 6 dimensions): scikit-learn's exact
        ``MeanShift``. ``"grid"`` (up to 6 dimensions): the points are
        binned into cells of ``bandwidth / r`` (r from 16 in 1-D to 4 in 3-D
        and 1 in 5-D) and each cell stands for its points at their weighted
        mean; seeds are the occupied cells of the bandwidth's width (from
        their points' mean). Time and memory grow with the points and the
        occupied cells. ``"tree"``: the same seeds, windows over the exact
        points found with a k-d tree (any dimension). ``"auto"``: exact up to
        10,000 points, then grid up to 6 dimensions, tree beyond.
    assign : {"nearest", "mode"}, default="nearest"
        How points get their cluster: ``"nearest"`` the nearest centre
        (scikit-learn's); ``"mode"`` the cluster of the mode the point climbs
        to (its basin of attraction; with ``"grid"``, the mode its cell
        climbs to). ``predict`` follows the same rule, so
        ``predict(X) == labels_`` on the training points.
    cluster_all : bool, default=True
        If False, points farther than the bandwidth from their cluster's
        centre are labelled -1 (also by ``predict``).
    min_bin_freq : float, default=1
        Seeds of ``"grid"`` and ``"tree"`` come only from cells holding at
        least this weight of points.
    min_cluster_size : float or None, default=None
        Clusters whose points weigh less than this (below 1: a share of the
        total weight) are dropped and their points join the nearest
        remaining centre, as segshift prunes small image regions: the flat
        kernel makes a mode of every isolated point in a distribution's
        tails. None: 1 % of the weight when the bandwidth is estimated (the
        clusters the estimate counts), nothing dropped when it is given.
    max_iter : int, default=300
        Most shifts per seed beyond the first.
    n_jobs : int or None, default=None
        Threads of the compiled core (-1: all numba threads); None keeps
        numba's current setting.
    random_state : int, RandomState instance or None, default=0
        Subsample of :func:`estimate_bandwidth` when ``bandwidth`` is None.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        The kept modes, by decreasing window weight.
    labels_ : ndarray of shape (n_samples,)
        Cluster of each point (-1 only without ``cluster_all``).
    n_iter_ : int
        Most shifts beyond the first made by a seed.
    bandwidth_ : float
        The bandwidth used (``bandwidth``, or its estimate).
    algorithm_ : str
        The algorithm used ("exact", "grid" or "tree").
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when X has string feature names.

    Notes
    -----
    Where segshift differs from scikit-learn's ``MeanShift``: the exact sums
    run in another order, so centres agree to rounding (about 1e-15), not
    bit for bit; ``bin_seeding`` seeds (``"tree"``, ``"grid"``) start from
    the mean of each cell's points rather than from the cell's corner grid
    point, and cells are ``floor``, not ``round``, of the coordinates;
    ``predict`` applies ``cluster_all`` and ``assign`` (scikit-learn's always
    returns the nearest centre); ``sample_weight`` weighs each point in
    every window and in a mode's intensity, so integer weights equal repeated
    points. An empty seed window cannot happen with ``"exact"``.

    """ + KERNEL_DOC.replace("strictly inside the window", "inside the window (at most the bandwidth away)") + """
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

    _parameter_constraints: ClassVar[dict] = {
        "bandwidth": [Interval(Real, 0, None, closed="neither"), None],
        "kernel": [StrOptions(set(KERNELS))],
        "algorithm": [StrOptions(set(ALGORITHMS))],
        "assign": [StrOptions({"nearest", "mode"})],
        "cluster_all": ["boolean"],
        "min_bin_freq": [Interval(Real, 0, None, closed="left")],
        "min_cluster_size": [Interval(Real, 0, None, closed="left"), None],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        bandwidth=None,
        kernel="flat",
        *,
        algorithm="auto",
        assign="nearest",
        cluster_all=True,
        min_bin_freq=1,
        min_cluster_size=None,
        max_iter=300,
        n_jobs=None,
        random_state=0,
    ):
        self.bandwidth = bandwidth
        self.kernel = kernel
        self.algorithm = algorithm
        self.assign = assign
        self.cluster_all = cluster_all
        self.min_bin_freq = min_bin_freq
        self.min_cluster_size = min_cluster_size
        self.max_iter = max_iter
        self.n_jobs = n_jobs
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
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
        """
        X = validate_data(self, X, dtype=np.float64, order="C")
        w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        with _threads(self.n_jobs):
            bandwidth = self.bandwidth
            if bandwidth is None:
                bandwidth = estimate_bandwidth(
                    X, sample_weight=w, kernel=self.kernel, random_state=self.random_state
                )
            bandwidth = float(bandwidth)
            min_size = self.min_cluster_size
            if min_size is None:
                min_size = MIN_CLUSTER_SHARE if self.bandwidth is None else 0.0
            if min_size < 1:
                min_size *= w.sum()
            fit = _fit(X, w, bandwidth, KERNELS[self.kernel], self.algorithm, self.min_bin_freq, self.max_iter,
                       self.assign, self.cluster_all, min_size)
        self.bandwidth_ = bandwidth
        self.cluster_centers_ = fit.centres
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
            return _assign(X, modes, self.cluster_centers_, self.bandwidth_, self.cluster_all)

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


def estimate_bandwidth(
    X: ArrayLike,
    *,
    method: str = "stability",
    sample_weight: ArrayLike | None = None,
    kernel: str = "flat",
    n_samples: int = 5000,
    random_state=0,
) -> float:
    """Estimate a mean-shift bandwidth from the data.

    ``"stability"`` (the default) clusters a random subsample of
    ``n_samples`` points at bandwidths growing by a factor 2^(1/6), from the
    median distance to the 5th nearest neighbour up to four times the data's
    spread, and counts the clusters that hold at least 1 % of the weight. The
    first count of at least 2 that stays the same over three consecutive
    bandwidths (a factor 1.26) is the finest stable clustering, and the
    geometric middle of the bandwidths that give it is returned: the
    lifetime of a cluster count over scales as the measure of its validity
    (Leung, Zhang & Xu 2000), taken at the finest scale where clusters
    persist. Where no count of 2 or more persists, Scott's rule.
    ``"scott"``: Scott's rule for a flat window, ``2 sigma n^(-1/(d+4))``
    with sigma the root mean variance of the features (a flat window of
    radius 2 sigma matches a Gaussian kernel of deviation sigma).
    ``"quantile"``: scikit-learn's rule, the mean distance to the nearest
    30 % of the points.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    method : {"stability", "scott", "quantile"}
    sample_weight : array-like of shape (n_samples,), optional
    kernel : str
        The kernel the bandwidth is for (``"stability"`` clusters with it).
    n_samples : int
        Size of the random subsample the rules look at.
    random_state : int, RandomState instance or None

    Returns
    -------
    bandwidth : float

    References
    ----------
    Y. Leung, J.-S. Zhang and Z.-B. Xu, "Clustering by Scale-Space
    Filtering", IEEE TPAMI 22(12), 2000.
    D. W. Scott, "Multivariate Density Estimation", Wiley, 1992.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, _ = make_blobs(2000, centers=[[0, 0], [8, 0], [0, 8]], random_state=0)
    >>> h = estimate_bandwidth(X)
    >>> len(MeanShift(bandwidth=h).fit(X).cluster_centers_)
    3
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) == 0:
        raise ParameterError(f"X must be a non-empty (n, d) array, got shape {X.shape}")
    if method not in ("stability", "scott", "quantile"):
        raise ParameterError(f"method must be 'stability', 'scott' or 'quantile', got {method!r}")
    w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    rng = check_random_state(random_state)
    if len(X) > n_samples:
        pick = np.sort(rng.choice(len(X), n_samples, replace=False))
        X, w = X[pick], w[pick]
    n, d = X.shape
    spread = float(np.sqrt(np.mean(np.var(X, axis=0))))
    if spread == 0.0:
        return 1.0  # all points equal: any bandwidth gives one cluster
    from scipy.spatial import cKDTree

    if method == "quantile":
        k = max(1, int(n * 0.3))
        dist, _ = cKDTree(X).query(X, k=min(n, k + 1))
        return float(dist[:, -1].mean()) or spread
    scott = 2.0 * spread * n ** (-1.0 / (d + 4))
    if method == "scott" or n < 4:
        return scott
    nn = cKDTree(X).query(X, k=min(n, 6))[0][:, -1]
    lo = float(np.median(nn[nn > 0])) if (nn > 0).any() else spread / n
    hi = 4.0 * spread
    scales = lo * STABILITY_STEP ** np.arange(int(np.log(max(hi / lo, 1.0)) / np.log(STABILITY_STEP)) + 1)
    kernel_id = KERNELS[kernel]
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
                return float(np.sqrt(scales[run_start] * scales[i - 1]))
            run_start = i
    if counts[-1] >= 2 and len(scales) - run_start >= STABILITY_RUN:
        return float(np.sqrt(scales[run_start] * scales[-1]))
    return scott


# --------------------------------------------------------------------------
# The functional form.


def _linked(points, radius):
    """Connected components (an id per point) of the graph joining points closer than ``radius``."""
    n, d = points.shape
    keyed = None
    if d <= 4:
        keyed = _cell_keys(points, points.min(axis=0), radius / math.sqrt(d) * (1 - 1e-9))
    if keyed is None:
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components
        from scipy.spatial import cKDTree

        close = cKDTree(points).query_pairs(radius * (1 - 1e-12), output_type="ndarray")
        graph = coo_matrix((np.ones(len(close)), (close[:, 0], close[:, 1])), shape=(n, n))
        return connected_components(graph, directed=False)[1]
    keys, extents, strides, coords = keyed
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    starts = np.r_[first, n].astype(np.int64)
    table_keys, table_cells = _k.build_table(np.ascontiguousarray(keys[first]))
    reach = math.ceil(math.sqrt(d)) + 1
    stencil = np.array(list(itertools.product(range(-reach, reach + 1), repeat=d)), dtype=np.int64).reshape(-1, d)
    sorted_points = np.ascontiguousarray(points[order])
    roots = _k.linked_components(sorted_points, starts, np.ascontiguousarray(coords[order][first]), table_keys,
                                 table_cells, extents, strides, stencil, radius * radius)
    component = np.empty(n, dtype=np.int64)
    component[order] = order[roots]
    return component


class MeanShiftResult(NamedTuple):
    """Result of :func:`mean_shift`: a label per point and the cluster centres."""

    labels: NDArray[np.intp]
    centers: NDArray[np.float64]


def mean_shift(
    points: ArrayLike,
    bandwidth: float,
    kernel: str = "flat",
    *,
    tol: float = 0.01,
    max_iter: int = 100,
) -> MeanShiftResult:
    """Cluster a point set by mean shift: every point climbs to its mode.

    Every point starts a window at its own position and moves it to the
    weighted mean of the points inside until the squared shift (in units of
    the bandwidth) is below ``tol``. Modes closer than half the bandwidth
    are merged (transitively) into one cluster; no number of clusters is
    given. :class:`MeanShift` is the scikit-learn estimator, with
    scikit-learn's conventions and the fast algorithms for large data.

    Parameters
    ----------
    points : (n, d) array_like
        The points.
    bandwidth : float
        Window radius; a point counts when its distance to the window
        centre is strictly less than this.
    kernel : {"flat", "uniform", "gaussian", "epanechnikov"}
    tol : float
        Convergence tolerance on the squared shift in bandwidth units.
    max_iter : int
        Most shifts per point.

    Returns
    -------
    labels : (n,) ndarray of intp
        Cluster of each point, numbered from 0 in order of first appearance.
    centers : (k, d) ndarray of float64
        The cluster centres (the modes), row ``j`` for cluster ``j``.

    Raises
    ------
    ValueError
        For a bandwidth that is not positive, points that are not a finite
        (n, d) array, or an unknown kernel.

    Notes
    -----
    The climbs run compiled and in parallel; neighbours come from a grid of
    cells of the bandwidth's width (up to 6 dimensions) or a k-d tree.

    """ + KERNEL_DOC + """
    References
    ----------
    D. Comaniciu and P. Meer, "Mean Shift: A Robust Approach Toward Feature
    Space Analysis", IEEE TPAMI 24(5), 2002.

    Examples
    --------
    >>> labels, centers = mean_shift([[1, 1], [2, 2], [3, 3], [10, 10]], bandwidth=3)
    >>> labels.tolist()
    [0, 0, 0, 1]
    >>> centers.round(6).tolist()
    [[2.0, 2.0], [10.0, 10.0]]
    """
    try:
        data = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError("points must be a numeric (n, d) array") from None
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2:
        raise ParameterError(f"points must have shape (n, d), got {data.shape}")
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise ParameterError(f"points is empty (shape {data.shape})")
    if not np.isfinite(data).all():
        raise ParameterError("points contains NaN or infinite values")
    bandwidth = check_positive("bandwidth", bandwidth)
    check_kernel(kernel)
    kernel_id = KERNELS[kernel.lower()]
    tol, max_iter = _check_convergence(tol, max_iter)

    data = np.ascontiguousarray(data)
    weights = np.ones(len(data))
    grid = _build_grid(data, weights, bandwidth)
    centres = _climb(data, weights, data, bandwidth, kernel_id, inclusive=False, stop=tol * bandwidth**2,
                     squared_stop=True, max_iter=max_iter - 1, grid=grid).modes

    # Merge modes closer than half the bandwidth, transitively.
    component = _linked(centres, bandwidth / 2)
    _, first, inverse = np.unique(component, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # number clusters by first point
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    labels = rank[inverse].astype(np.intp)
    counts = np.bincount(labels)
    sums = np.zeros((len(counts), data.shape[1]))
    np.add.at(sums, labels, centres)
    return MeanShiftResult(labels, sums / counts[:, None])
