"""Numba kernels of point-set mean shift (see :mod:`segshift._pointsets`).

Points are indexed by a grid: cells of a fixed width, numbered by a
mixed-radix key of their integer coordinates, the points sorted by key
(CSR-like: ``starts[j]:starts[j + 1]`` are the points of the j-th occupied
cell) and the occupied keys in an open-addressing hash table, so memory
grows with the points and the occupied cells only.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._config import JIT, JIT_PARALLEL
from ._interrupt import check, interrupted

FLAT = 0
GAUSSIAN = 1
EPANECHNIKOV = 2

_EMPTY = -1
_GOLDEN = np.uint64(11400714819323198485)
_SHIFT = np.uint64(29)


@njit(**JIT)
def _slot(key, mask):
    """Home slot of a key (a non-negative int64) in a table of ``mask + 1`` slots."""
    x = np.uint64(key) * _GOLDEN
    x = x ^ (x >> _SHIFT)
    return np.int64(x & np.uint64(mask))


@njit(**JIT)
def build_table(keys):
    """Hash table of the sorted unique cell keys (m,): (table_keys, table_cells)."""
    m = keys.shape[0]
    size = 2
    while size < 2 * m:
        size *= 2
    table_keys = np.full(size, _EMPTY, dtype=np.int64)
    table_cells = np.empty(size, dtype=np.int64)
    mask = size - 1
    for j in range(m):
        s = _slot(keys[j], mask)
        while table_keys[s] != _EMPTY:
            s = (s + 1) & mask
        table_keys[s] = keys[j]
        table_cells[s] = j
    return table_keys, table_cells


@njit(**JIT)
def _lookup(table_keys, table_cells, key):
    mask = table_keys.shape[0] - 1
    s = _slot(key, mask)
    while table_keys[s] != _EMPTY:
        if table_keys[s] == key:
            return table_cells[s]
        s = (s + 1) & mask
    return -1


@njit(**JIT)
def _weight(kernel, t):
    """Mean-shift weight at squared normalised distance t (<= 1)."""
    if kernel == GAUSSIAN:
        return np.exp(-2.0 * t)
    if kernel == EPANECHNIKOV:
        return 1.0 - t
    return 1.0


@njit(**JIT)
def _window(points, weights, starts, cell_w, cell_sum, table_keys, table_cells, origin, width, extents, strides,
            stencil, centre, h2, kernel, cell, out):
    """Weighted sum of the points in the window around ``centre`` into ``out``; returns the total weight.

    Cells lying wholly outside the window are skipped; with the flat kernel a
    cell lying wholly inside adds its precomputed sums; the others are summed
    point by point. A relative margin of 1e-5 keeps cells that float
    rounding could put on the wrong side of the window's edge point by point.
    """
    d = centre.shape[0]
    for k in range(d):
        cell[k] = np.int64(np.floor((centre[k] - origin[k]) / width))
        out[k] = 0.0
    total = 0.0
    skip_above = h2 * (1.0 + 1e-5)
    whole_below = h2 * (1.0 - 1e-5)
    for o in range(stencil.shape[0]):
        key = 0
        near2 = 0.0
        far2 = 0.0
        inside_grid = True
        for k in range(d):
            c = cell[k] + stencil[o, k]
            if c < 0 or c >= extents[k]:
                inside_grid = False
                break
            key += c * strides[k]
            lo = origin[k] + c * width - centre[k]
            hi = lo + width
            if lo > 0.0:
                near2 += lo * lo
            elif hi < 0.0:
                near2 += hi * hi
            far2 += max(lo * lo, hi * hi)
        if not inside_grid or near2 > skip_above:
            continue
        j = _lookup(table_keys, table_cells, key)
        if j < 0:
            continue
        if kernel == FLAT and far2 < whole_below:
            total += cell_w[j]
            for k in range(d):
                out[k] += cell_sum[j, k]
            continue
        for p in range(starts[j], starts[j + 1]):
            d2 = 0.0
            for k in range(d):
                t = points[p, k] - centre[k]
                d2 += t * t
            if d2 <= h2:
                g = weights[p]
                if kernel != FLAT:
                    g *= _weight(kernel, d2 / h2)
                total += g
                for k in range(d):
                    out[k] += g * points[p, k]
    return total


@njit(**JIT_PARALLEL)
def climb_grid(points, weights, starts, cell_w, cell_sum, table_keys, table_cells, origin, width, extents, strides,
               stencil, seeds, h2, kernel, stop, max_iter, modes, intensity, iters):
    """Climb every seed (s, d) to its mode over the weighted points (n, d) indexed by the grid.

    A point counts when it lies at most the bandwidth (squared: h2) away. A
    climb stops when its shift is <= ``stop`` or after ``max_iter`` shifts
    beyond the first; ``intensity`` is the weight of the last window (0 for a
    seed whose window was empty), ``iters`` the shifts beyond the first.
    """
    s, d = seeds.shape
    for i in prange(s):
        centre = seeds[i].copy()
        new = np.empty(d)
        cell = np.empty(d, dtype=np.int64)
        it = 0
        total = 0.0
        while True:
            total = _window(points, weights, starts, cell_w, cell_sum, table_keys, table_cells, origin, width,
                            extents, strides, stencil, centre, h2, kernel, cell, new)
            if total <= 0.0:
                break
            shift2 = 0.0
            for k in range(d):
                new[k] /= total
                t = new[k] - centre[k]
                shift2 += t * t
                centre[k] = new[k]
            if np.sqrt(shift2) <= stop or it >= max_iter:
                break
            it += 1
        for k in range(d):
            modes[i, k] = centre[k]
        intensity[i] = total
        iters[i] = it
    return modes


@njit(**JIT_PARALLEL)
def window_means(points, weights, centres, ptr, idx, h2, kernel, out):
    """Weighted means (m, d) of the windows given as neighbour lists (CSR ``ptr``/``idx``); returns the totals."""
    m, d = centres.shape
    totals = np.zeros(m)
    for i in prange(m):
        for k in range(d):
            out[i, k] = 0.0
        total = 0.0
        for q in range(ptr[i], ptr[i + 1]):
            p = idx[q]
            d2 = 0.0
            for k in range(d):
                t = points[p, k] - centres[i, k]
                d2 += t * t
            if d2 <= h2:
                g = weights[p]
                if kernel != FLAT:
                    g *= _weight(kernel, d2 / h2)
                total += g
                for k in range(d):
                    out[i, k] += g * points[p, k]
        if total > 0.0:
            for k in range(d):
                out[i, k] /= total
        totals[i] = total
    return totals


@njit(**JIT)
def suppress(centres, h2):
    """Greedy merge of centres (k, d) sorted by decreasing intensity: keep a centre
    unless an earlier kept one lies within the bandwidth (squared: h2)."""
    k, d = centres.shape
    keep = np.zeros(k, dtype=np.bool_)
    kept = np.empty(k, dtype=np.int64)
    n_kept = 0
    for i in range(k):
        alone = True
        for a in range(n_kept):
            j = kept[a]
            d2 = 0.0
            for c in range(d):
                t = centres[i, c] - centres[j, c]
                d2 += t * t
            if d2 <= h2:
                alone = False
                break
        if alone:
            keep[i] = True
            kept[n_kept] = i
            n_kept += 1
    return keep


@njit(inline="always", **JIT)
def _nearest(points, p, transposed, dist):
    """The nearest centre (first on ties) to row p of points; transposed:
    (d, k) the centres' coordinates, dist: (k,) scratch. The distances to
    all centres grow together, one coordinate at a time (a loop over the
    centres that LLVM vectorises), each summed in coordinate order, in the
    precision of the centres and dist (float32 centres: twice the lanes)."""
    k = transposed.shape[1]
    for j in range(k):
        dist[j] = 0.0
    for c in range(transposed.shape[0]):
        value = points[p, c]  # float32 - float64 centre: exact float64 arithmetic
        for j in range(k):
            t = value - transposed[c, j]
            dist[j] += t * t
    best = np.inf
    code = 0
    for j in range(k):
        if dist[j] < best:
            best = dist[j]
            code = j
    return code


#: Points per task of nearest_into's parallel loop.
NEAREST_CHUNK = 4096


@njit(**JIT_PARALLEL)
def nearest_into(points, centres, labels, dist2):
    """The nearest of ``centres`` (k, d) to each row of ``points`` (n, d;
    any strides), first on ties, into ``labels`` (n,) of any integer type,
    and its squared distance into ``dist2`` (n,) unless that is empty; in
    parallel, NEAREST_CHUNK points a task. The distances are in the
    centres' precision (float32 centres: twice the SIMD lanes)."""
    n = points.shape[0]
    k = centres.shape[0]
    transposed = np.ascontiguousarray(centres.T)
    for task in prange((n + NEAREST_CHUNK - 1) // NEAREST_CHUNK):
        if interrupted():  # Ctrl-C: labels left unset; the caller checks (segshift._interrupt)
            continue
        dist = np.empty(k, dtype=transposed.dtype)
        for i in range(task * NEAREST_CHUNK, min(n, (task + 1) * NEAREST_CHUNK)):
            arg = _nearest(points, i, transposed, dist)
            labels[i] = arg
            if dist2.shape[0] > 0:
                dist2[i] = dist[arg]


def nearest(points, centres):
    """Index of the nearest centre (k, d) to each point (n, d) (first on ties) and its squared distance."""
    labels = np.empty(points.shape[0], dtype=np.int64)
    dist2 = np.empty(points.shape[0])
    nearest_into(points, centres, labels, dist2)
    check()  # it stops early on Ctrl-C
    return labels, dist2


@njit(**JIT)
def cell_sums(cell_of_point, points, weights, m):
    """Total weight (m,) and weighted coordinate sums (m, d) of each cell."""
    n, d = points.shape
    totals = np.zeros(m)
    sums = np.zeros((m, d))
    for i in range(n):
        j = cell_of_point[i]
        w = weights[i]
        totals[j] += w
        for k in range(d):
            sums[j, k] += w * points[i, k]
    return totals, sums
