"""Numba kernels of the region hierarchy: border statistics, greedy pairwise
merging over the region adjacency graph, level cuts and the contour map.
No I/O, no user-facing errors.

Wrapper: :mod:`segshift._hierarchy`.
"""

from __future__ import annotations

import heapq

import numba
import numpy as np

from ._config import JIT, JIT_PARALLEL
from ._interrupt import check, interrupted
from ._pointset_kernels import _nearest, nearest_into
from ._region_kernels import _find


@numba.njit(**JIT)
def _scan_border(labels, strength, codes, pmi, offset, weight, a_out, b_out, v_out):
    """Write (or, with outputs of length 0, only count) the border pixel pairs."""
    height, width = labels.shape
    store = a_out.shape[0] > 0
    affinity = pmi.shape[0] > 0 and weight != 0.0
    n = 0
    for y in range(height):
        for x in range(width):
            p = labels[y, x]
            for k in range(2):
                if k == 0:
                    if x + 1 >= width:
                        continue
                    ny, nx = y, x + 1
                else:
                    if y + 1 >= height:
                        continue
                    ny, nx = y + 1, x
                q = labels[ny, nx]
                if p != q:
                    if store:
                        a_out[n] = min(p, q)
                        b_out[n] = max(p, q)
                        value = 0.5 * (strength[y, x] + strength[ny, nx])
                        if affinity:
                            # the colours `offset` pixels back from the pair on either side
                            if k == 0:
                                c0 = codes[y, max(x - offset, 0)]
                                c1 = codes[y, min(nx + offset, width - 1)]
                            else:
                                c0 = codes[max(y - offset, 0), x]
                                c1 = codes[min(ny + offset, height - 1), x]
                            value += weight * max(0.0, -pmi[c0, c1])
                        v_out[n] = value
                    n += 1
    return n


@numba.njit(**JIT)
def border_pairs(labels, strength, codes, pmi, offset, weight):
    """Every 4-adjacent pixel pair of different labels, with its border value.

    labels: (H, W) int32; strength: (H, W) float32; codes: (H, W) int32
    quantised colours and pmi: (k, k) float64 their pointwise mutual
    information (both may have size 0: no affinity term) -> (a, b, value):
    (m,) int64 with a < b the two labels, (m,) float64 the mean of the two
    pixels' strengths plus ``weight * max(0, -pmi[c0, c1])``, where c0 and
    c1 are the codes ``offset`` pixels beyond the pair on either side
    (clamped to the image), across the border.
    """
    empty = np.empty(0, dtype=np.int64)
    m = _scan_border(labels, strength, codes, pmi, offset, weight, empty, empty, np.empty(0))
    a = np.empty(m, dtype=np.int64)
    b = np.empty(m, dtype=np.int64)
    v = np.empty(m)
    _scan_border(labels, strength, codes, pmi, offset, weight, a, b, v)
    return a, b, v


#: Row bands of cooccurrence's parallel loop.
COOCCURRENCE_BANDS = 16


@numba.njit(**JIT_PARALLEL)
def cooccurrence(codes, k, radius):
    """(k, k) counts of code pairs (c(p), c(q)) over the pixel pairs p, q at
    offsets (0, d), (d, 0), (d, d) and (d, -d) for d = 1..radius, in both
    orders (symmetric). codes: (H, W) int32 in 0..k-1. Bands of rows count
    in parallel into tables of their own, added up at the end (whole
    numbers: the same sums in any order)."""
    height, width = codes.shape
    bands = max(1, min(height, COOCCURRENCE_BANDS))
    tables = np.zeros((bands, k, k))
    for band in numba.prange(bands):
        table = tables[band]
        for y in range(band * height // bands, (band + 1) * height // bands):
            if interrupted():  # Ctrl-C: the counts are incomplete; the caller checks
                break
            row = codes[y]
            for d in range(1, radius + 1):
                for x in range(width - d):
                    table[row[x], row[x + d]] += 1.0
                if y + d < height:
                    below = codes[y + d]
                    for x in range(width):
                        table[row[x], below[x]] += 1.0
                    for x in range(width - d):
                        table[row[x], below[x + d]] += 1.0
                        table[row[x + d], below[x]] += 1.0
    out = tables.sum(axis=0)
    return out + out.T


@numba.njit(**JIT)
def _chi(a, b, start, stop, sums, areas):
    """Chi-square distance (half the sum) between regions a and b's histograms in columns start..stop of sums."""
    chi = 0.0
    for c in range(start, stop):
        pa = sums[a, c] / areas[a]
        pb = sums[b, c] / areas[b]
        if pa + pb > 0.0:
            chi += (pa - pb) * (pa - pb) / (pa + pb)
    return 0.5 * chi


@numba.njit(**JIT)
def _cost(a, b, k, areas, sums, perim, bsum, bcnt, params):
    """Dissimilarity of regions a and b that share edge k (the formula of segshift.hierarchy)."""
    colour_weight, size_power, enclosure, total = params[0], params[1], params[2], params[3]
    d2 = 0.0
    for c in range(3):
        diff = sums[a, c] / areas[a] - sums[b, c] / areas[b]
        d2 += diff * diff
    contrast = bsum[k] / bcnt[k]
    cost = contrast + colour_weight * np.sqrt(d2)
    if params.shape[0] > 4 and sums.shape[1] > 3:
        # colour histograms in the columns up to split, texture histograms after
        split = sums.shape[1] if params.shape[0] < 7 else min(sums.shape[1], 3 + int(params[6]))
        cost += params[4] * _chi(a, b, 3, split, sums, areas)
        if split < sums.shape[1]:
            cost += params[5] * _chi(a, b, split, sums.shape[1], sums, areas)
    small = min(areas[a], areas[b])
    cost *= (small / total) ** size_power
    shared = bcnt[k] / max(1.0, min(perim[a], perim[b]))
    cost *= 1.0 - enclosure * min(1.0, shared)
    return cost


@numba.njit(**JIT)
def merge_regions(n, edges, bsum, bcnt, areas, sums, params):
    """Merge the n regions pairwise, cheapest adjacent pair first.

    edges: (e, 2) int64 unique pairs (a < b); bsum, bcnt: (e,) float64
    summed border strength and border length (pixel pairs) of each edge;
    areas: (n,) float64; sums: (n, 3 + B [+ T]) float64 area-weighted mode
    sums, then (optionally) B colour-histogram counts and T texture-histogram
    counts; params: (4,), (5,) or (7,) float64 (colour weight, size power,
    enclosure, image area, histogram weight, then texture weight and B; with
    5 every column after the modes is the colour histogram).

    Returns (merges (n-1, 2) int64 in scipy's linkage numbering, heights
    (n-1,) float64 non-decreasing, edge_height (e,) float64: the height at
    which each edge's two regions join). Components the graph does not
    connect are joined at the end at the last height.
    """
    e = edges.shape[0]
    areas = areas.copy()
    sums = sums.copy()
    bsum = bsum.copy()
    bcnt = bcnt.copy()
    perim = np.zeros(n)
    for k in range(e):
        perim[edges[k, 0]] += bcnt[k]
        perim[edges[k, 1]] += bcnt[k]
    parent = np.arange(n)
    cluster = np.arange(n)
    head = np.full(n, -1, dtype=np.int64)
    nxt = np.full(2 * e, -1, dtype=np.int64)
    for k in range(e - 1, -1, -1):
        u = edges[k, 0]
        v = edges[k, 1]
        nxt[2 * k] = head[u]
        head[u] = 2 * k
        nxt[2 * k + 1] = head[v]
        head[v] = 2 * k + 1
    alive = np.ones(e, dtype=np.bool_)
    version = np.zeros(e, dtype=np.int64)
    into = np.full(e, -1, dtype=np.int64)
    edge_height = np.zeros(e)
    mark = np.full(n, -1, dtype=np.int64)
    mark_edge = np.zeros(n, dtype=np.int64)

    heap = [(0.0, np.int64(0), np.int64(0)) for _ in range(0)]
    for k in range(e):
        heap.append((_cost(edges[k, 0], edges[k, 1], k, areas, sums, perim, bsum, bcnt, params), np.int64(k), np.int64(0)))
    heapq.heapify(heap)

    merges = np.empty((max(n - 1, 0), 2), dtype=np.int64)
    heights = np.empty(max(n - 1, 0))
    m = 0
    last = 0.0
    while len(heap) > 0 and m < n - 1:
        cost, k, ver = heapq.heappop(heap)
        if not alive[k] or ver != version[k]:
            continue
        a = _find(parent, edges[k, 0])
        b = _find(parent, edges[k, 1])
        h = max(cost, last)
        last = h
        ca, cb = cluster[a], cluster[b]
        merges[m, 0] = min(ca, cb)
        merges[m, 1] = max(ca, cb)
        heights[m] = h
        alive[k] = False
        edge_height[k] = h
        parent[b] = a
        cluster[a] = n + m
        m += 1
        perim[a] = perim[a] + perim[b] - 2.0 * bcnt[k]
        areas[a] += areas[b]
        for c in range(sums.shape[1]):
            sums[a, c] += sums[b, c]
        # Append b's half-edges to a's list, then walk it once: drop dead and
        # internal edges, fold parallel edges into one.
        if head[a] < 0:
            head[a] = head[b]
        else:
            t = head[a]
            while nxt[t] >= 0:
                t = nxt[t]
            nxt[t] = head[b]
        head[b] = -1
        prev = -1
        hh = head[a]
        while hh >= 0:
            following = nxt[hh]
            k2 = hh >> 1
            keep = False
            if alive[k2]:
                x = _find(parent, edges[k2, 0])
                y = _find(parent, edges[k2, 1])
                o = y if x == a else x
                if o == a:
                    alive[k2] = False
                    into[k2] = k
                elif mark[o] == m:
                    kk = mark_edge[o]
                    bsum[kk] += bsum[k2]
                    bcnt[kk] += bcnt[k2]
                    alive[k2] = False
                    into[k2] = kk
                else:
                    mark[o] = m
                    mark_edge[o] = k2
                    keep = True
            if keep:
                if prev < 0:
                    head[a] = hh
                else:
                    nxt[prev] = hh
                prev = hh
            hh = following
        if prev < 0:
            head[a] = -1
        else:
            nxt[prev] = -1
        hh = head[a]
        while hh >= 0:
            k2 = hh >> 1
            x = _find(parent, edges[k2, 0])
            y = _find(parent, edges[k2, 1])
            o = y if x == a else x
            version[k2] += 1
            heapq.heappush(heap, (_cost(a, o, k2, areas, sums, perim, bsum, bcnt, params), k2, version[k2]))
            hh = nxt[hh]
    # Regions the adjacency graph does not connect: join them at the last height.
    if m < n - 1:
        root0 = -1
        for i in range(n):
            if _find(parent, i) == i:
                if root0 < 0:
                    root0 = i
                else:
                    ca, cb = cluster[root0], cluster[i]
                    merges[m, 0] = min(ca, cb)
                    merges[m, 1] = max(ca, cb)
                    heights[m] = last
                    parent[i] = root0
                    cluster[root0] = n + m
                    m += 1
    for k in range(e):
        j = k
        while into[j] >= 0:
            j = into[j]
        edge_height[k] = edge_height[j]
    return merges, heights, edge_height


@numba.njit(**JIT)
def cut_tree(n, merges, n_merges):
    """Finest region -> level label after the first n_merges merges.

    Level labels are contiguous, numbered by their smallest finest region,
    so when finest regions are numbered in raster order of their first
    pixel, so are the level's regions.
    """
    parent = np.arange(2 * n - 1 if n > 0 else 0)
    for i in range(n_merges):
        parent[merges[i, 0]] = n + i
        parent[merges[i, 1]] = n + i
    root = np.empty(n, dtype=np.int64)
    for i in range(n):
        j = i
        while parent[j] != j:
            j = parent[j]
        root[i] = j
    # path compression is unnecessary: the tree is at most n deep and cut once
    label_of_root = np.full(2 * n - 1 if n > 0 else 0, -1, dtype=np.int64)
    out = np.empty(n, dtype=np.int64)
    count = 0
    for i in range(n):
        r = root[i]
        if label_of_root[r] < 0:
            label_of_root[r] = count
            count += 1
        out[i] = label_of_root[r]
    return out


@numba.njit(**JIT)
def _pair_height(a, b, n, keys, key_heights):
    """The join height of finest regions a != b from the sorted pair keys
    (min * n + max) and their heights; -1.0 when the pair is not there."""
    k = min(a, b) * n + max(a, b)
    i = np.searchsorted(keys, k)
    if i < keys.shape[0] and keys[i] == k:
        return key_heights[i]
    return -1.0


@numba.njit(**JIT_PARALLEL)
def ucm_pixels(labels, n, keys, key_heights, out, missed):
    """The UCM's pixels (:meth:`segshift._hierarchy.Hierarchy.ucm`) whose
    east, south and south-east pairs are among the known pairs (sorted
    ``keys`` = min * n + max, with ``key_heights``): out (H, W) float64 gets
    the largest height, missed (H, W) uint8 the directions (bits 0, 1, 2:
    east, south, south-east) whose pair was not known, for the caller."""
    height, width = labels.shape
    for y in numba.prange(height):
        if interrupted():  # Ctrl-C: out is incomplete; the caller checks
            continue
        for x in range(width):
            a = np.int64(labels[y, x])
            best = 0.0
            miss = 0
            if x + 1 < width and labels[y, x + 1] != a:
                h = _pair_height(a, np.int64(labels[y, x + 1]), n, keys, key_heights)
                if h < 0.0:
                    miss |= 1
                elif h > best:
                    best = h
            if y + 1 < height:
                if labels[y + 1, x] != a:
                    h = _pair_height(a, np.int64(labels[y + 1, x]), n, keys, key_heights)
                    if h < 0.0:
                        miss |= 2
                    elif h > best:
                        best = h
                if x + 1 < width and labels[y + 1, x + 1] != a:
                    h = _pair_height(a, np.int64(labels[y + 1, x + 1]), n, keys, key_heights)
                    if h < 0.0:
                        miss |= 4
                    elif h > best:
                        best = h
            out[y, x] = best
            missed[y, x] = miss
    return out


@numba.njit(**JIT)
def join_heights(n, merges, heights, a, b):
    """Height at which finest regions a[k] and b[k] first lie in one region.

    merges: (n-1, 2) int64 in scipy's linkage numbering; heights: (n-1,)
    float64; a, b: (m,) int64 -> (m,) float64 (the height of their lowest
    common ancestor in the tree).
    """
    parent = np.full(2 * n - 1, -1, dtype=np.int64)
    for i in range(merges.shape[0]):
        parent[merges[i, 0]] = n + i
        parent[merges[i, 1]] = n + i
    seen = np.full(2 * n - 1, -1, dtype=np.int64)
    out = np.zeros(a.shape[0])
    for k in range(a.shape[0]):
        x = a[k]
        while x >= 0:
            seen[x] = k
            x = parent[x]
        y = b[k]
        while y >= 0 and seen[y] != k:
            y = parent[y]
        out[k] = heights[y - n] if y >= n else 0.0
    return out


@numba.njit(**JIT)
def count_distinct(points, limit):
    """Distinct rows of ``points`` (n, d) float64, counting up to ``limit``."""
    n, d = points.shape
    found = np.empty((limit, d))
    count = 0
    for i in range(n):
        new = True
        for j in range(count):
            same = True
            for k in range(d):
                if found[j, k] != points[i, k]:
                    same = False
                    break
            if same:
                new = False
                break
        if new:
            found[count] = points[i]
            count += 1
            if count >= limit:
                break
    return count


@numba.njit(**JIT)
def kmeans_pp(points, k, first, draws):
    """k-means++ seeds (Arthur & Vassilvitskii 2007) as scipy's ``kmeans2(minit="++")``
    picks them: the row ``first``, then each next row with probability
    proportional to its squared distance to the nearest seed so far, chosen by
    the uniform number ``draws[i - 1]`` on the cumulative probabilities."""
    n, d = points.shape
    seeds = np.empty((k, d))
    seeds[0] = points[first]
    nearest = np.full(n, np.inf)
    cumulative = np.empty(n)
    for i in range(1, k):
        total = 0.0
        for p in range(n):
            s = 0.0
            for c in range(d):
                t = points[p, c] - seeds[i - 1, c]
                s += t * t
            if s < nearest[p]:
                nearest[p] = s
            total += nearest[p]
        running = 0.0
        for p in range(n):
            running += nearest[p] / total
            cumulative[p] = running
        pick = np.searchsorted(cumulative, draws[i - 1])
        seeds[i] = points[min(pick, n - 1)]
    return seeds


@numba.njit(**JIT)
def _nearest_serial(points, centres, codes):
    """The nearest centre of each point (first on ties), on one thread: the
    k-means sample is small, and its rounds run many times a second
    (:func:`nearest_codes` is the parallel form for a whole image)."""
    transposed = np.ascontiguousarray(centres.T)
    dist = np.empty(centres.shape[0])
    for p in range(points.shape[0]):
        codes[p] = _nearest(points, p, transposed, dist)
    return codes


@numba.njit(**JIT)
def lloyd(points, centres, iterations):
    """``iterations`` rounds of Lloyd's k-means from ``centres`` (k, d), as
    scipy's ``kmeans2`` runs them: a centre that loses all its points stays
    where it was. Returns the centres."""
    n, d = points.shape
    k = centres.shape[0]
    centres = centres.copy()
    codes = np.empty(n, dtype=np.int64)
    for _ in range(iterations):
        _nearest_serial(points, centres, codes)
        sums = np.zeros((k, d))
        counts = np.zeros(k, dtype=np.int64)
        for p in range(n):
            j = codes[p]
            counts[j] += 1
            for c in range(d):
                sums[j, c] += points[p, c]
        for j in range(k):
            if counts[j] > 0:
                for c in range(d):
                    centres[j, c] = sums[j, c] / counts[j]
    return centres


def nearest_codes(points, centres):
    """(N,) int32: the nearest of ``centres`` (k, d; float64, or float32 for
    float32 distances) to each row of ``points`` (N, d: colours or other
    features; any strides), first on ties, found in parallel."""
    codes = np.empty(points.shape[0], dtype=np.int32)
    nearest_into(points, centres, codes, np.empty(0))
    check()  # it stops early on Ctrl-C
    return codes


@numba.njit(**JIT)
def code_histograms(codes, labels, n, k):
    """(n, k) float64 pixel counts of each code (N,) in each region ``labels`` (N,)."""
    out = np.zeros((n, k))
    for p in range(codes.shape[0]):
        out[labels[p], codes[p]] += 1.0
    return out
