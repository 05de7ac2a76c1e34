"""Numba kernels of the benchmarks: one-to-one matching of boundary pixels,
and the thinned boundary maps of a UCM at many thresholds.

Wrappers: :mod:`segshift.evaluate.boundaries`, :mod:`segshift.evaluate.contours`.
"""

from __future__ import annotations

import numba
import numpy as np

from ._config import JIT


@numba.njit(**JIT)
def greedy_matching(left, right, active, n_right):
    """Match candidate pairs in the given order while both ends are free.

    left, right: (E,) int64 pair ends, nearest pairs first; active
    (n_left,) bool: left nodes that take part (pairs of the others are
    skipped). Returns match_left (n_left,) and match_right (n_right,), -1
    where unmatched.
    """
    match_left = np.full(active.size, -1, dtype=np.int64)
    match_right = np.full(n_right, -1, dtype=np.int64)
    for k in range(left.size):
        i = left[k]
        j = right[k]
        if active[i] and match_left[i] < 0 and match_right[j] < 0:
            match_left[i] = j
            match_right[j] = i
    return match_left, match_right


@numba.njit(**JIT)
def hopcroft_karp(indptr, indices, active, match_left, match_right):
    """Grow a matching to maximum cardinality in place (Hopcroft-Karp).

    indptr (n_left + 1,), indices (E,): CSR adjacency of the left nodes;
    active (n_left,) bool: the left nodes that take part (the others are
    never roots; unmatched, they are never reached either);
    match_left (n_left,), match_right (n_right,): the matching, -1 = free.
    Augmenting only re-pairs matched nodes, so every node matched on entry
    stays matched. O(E sqrt(V)); the DFS is iterative. The result is that
    of the same call on the active nodes alone, renumbered in order.
    """
    n_left = match_left.size
    unreached = np.iinfo(np.int64).max
    layer = np.empty(n_left, dtype=np.int64)
    queue = np.empty(n_left, dtype=np.int64)
    stack = np.empty(n_left, dtype=np.int64)
    cursor = np.empty(n_left, dtype=np.int64)
    while True:
        # BFS: layer the left nodes by alternating-path distance from a free one.
        tail = 0
        for u in range(n_left):
            if match_left[u] < 0 and active[u]:
                layer[u] = 0
                queue[tail] = u
                tail += 1
            else:
                layer[u] = unreached
        head = 0
        found = False
        while head < tail:
            u = queue[head]
            head += 1
            for k in range(indptr[u], indptr[u + 1]):
                w = match_right[indices[k]]
                if w < 0:
                    found = True
                elif layer[w] == unreached:
                    layer[w] = layer[u] + 1
                    queue[tail] = w
                    tail += 1
        if not found:
            return
        # DFS along the layers from every free left node; augment on success.
        for u in range(n_left):
            cursor[u] = indptr[u]
        for root in range(n_left):
            if match_left[root] >= 0 or not active[root]:
                continue
            top = 0
            stack[0] = root
            while top >= 0:
                u = stack[top]
                pushed = False
                while cursor[u] < indptr[u + 1]:
                    v = indices[cursor[u]]
                    cursor[u] += 1
                    w = match_right[v]
                    if w < 0:
                        # Free right node: flip the path root -> ... -> u -> v.
                        for level in range(top, -1, -1):
                            uu = stack[level]
                            vv = indices[cursor[uu] - 1]
                            match_left[uu] = vv
                            match_right[vv] = uu
                        top = -1
                        pushed = True
                        break
                    if layer[w] == layer[u] + 1:
                        top += 1
                        stack[top] = w
                        pushed = True
                        break
                if not pushed:
                    layer[u] = unreached  # dead end for the rest of this phase
                    top -= 1


@numba.njit(**JIT)
def candidate_pairs(left_rows, left_cols, right_rows, right_cols, shape, offsets):
    """Pairs of pixels within the tolerance, in CSR order of the left pixels.

    left_*, right_* (n,): pixel coordinates, each set in row-major order;
    offsets (K, 3) int64: (dy, dx, dy^2 + dx^2) of every offset within the
    radius, sorted by squared distance then dy then dx. Returns left, right,
    dist2 (E,) int64: for each left pixel in order, its neighbours nearest
    first, ties by right pixel (row-major order).
    """
    height, width = shape
    index = np.full((height, width), -1, dtype=np.int64)
    for j in range(right_rows.size):
        index[right_rows[j], right_cols[j]] = j
    n = 0
    for i in range(left_rows.size):
        r = left_rows[i]
        c = left_cols[i]
        for k in range(offsets.shape[0]):
            rr = r + offsets[k, 0]
            cc = c + offsets[k, 1]
            if 0 <= rr < height and 0 <= cc < width and index[rr, cc] >= 0:
                n += 1
    left = np.empty(n, dtype=np.int64)
    right = np.empty(n, dtype=np.int64)
    dist2 = np.empty(n, dtype=np.int64)
    n = 0
    for i in range(left_rows.size):
        r = left_rows[i]
        c = left_cols[i]
        for k in range(offsets.shape[0]):
            rr = r + offsets[k, 0]
            cc = c + offsets[k, 1]
            if 0 <= rr < height and 0 <= cc < width and index[rr, cc] >= 0:
                left[n] = i
                right[n] = index[rr, cc]
                dist2[n] = offsets[k, 2]
                n += 1
    return left, right, dist2


@numba.njit(**JIT)
def match_levels(active, g_left, g_right, indptr, indices, n_right):
    """Maximum matchings of one human's boundary pixels, at every threshold.

    active (T, n_left) bool: the result pixels present at each threshold;
    g_left, g_right (E,): candidate pairs in greedy order; indptr
    (n_left + 1,), indices (E,): CSR adjacency. Each row is matched as
    greedy_matching then hopcroft_karp would match its active pixels alone
    (the graph is cut down to them first); a row equal to the previous one
    reuses its matching. Returns hits (T, n_left) bool (matched result
    pixels) and matched (T,) int64 (matching sizes).
    """
    n_levels, n_left = active.shape
    hits = np.zeros((n_levels, n_left), dtype=np.bool_)
    matched = np.zeros(n_levels, dtype=np.int64)
    new_id = np.empty(n_left, dtype=np.int64)
    old_id = np.empty(n_left, dtype=np.int64)
    sub_left = np.empty(g_left.size, dtype=np.int64)
    sub_right = np.empty(g_left.size, dtype=np.int64)
    sub_indices = np.empty(g_left.size, dtype=np.int64)
    sub_indptr = np.empty(n_left + 1, dtype=np.int64)
    for t in range(n_levels):
        if t > 0:
            same = True
            for i in range(n_left):
                if active[t, i] != active[t - 1, i]:
                    same = False
                    break
            if same:
                hits[t] = hits[t - 1]
                matched[t] = matched[t - 1]
                continue
        # The sub-graph of the active pixels, renumbered in order.
        n_sub = 0
        n_edges = 0
        sub_indptr[0] = 0
        for i in range(n_left):
            if active[t, i]:
                new_id[i] = n_sub
                old_id[n_sub] = i
                for k in range(indptr[i], indptr[i + 1]):
                    sub_indices[n_edges] = indices[k]
                    n_edges += 1
                n_sub += 1
                sub_indptr[n_sub] = n_edges
        if n_edges == 0:
            continue
        m = 0
        for k in range(g_left.size):
            if active[t, g_left[k]]:
                sub_left[m] = new_id[g_left[k]]
                sub_right[m] = g_right[k]
                m += 1
        everyone = np.ones(n_sub, dtype=np.bool_)
        match_left, match_right = greedy_matching(sub_left[:m], sub_right[:m], everyone, n_right)
        hopcroft_karp(sub_indptr[: n_sub + 1], sub_indices[:n_edges], everyone, match_left, match_right)
        count = 0
        for i in range(n_sub):
            if match_left[i] >= 0:
                hits[t, old_id[i]] = True
                count += 1
        matched[t] = count
    return hits, matched


@numba.njit(**JIT)
def thin_levels(rows, cols, heights, thresholds, shape, lut_a, lut_b):
    """Thinned boundary maps ``heights > t`` for every threshold.

    rows, cols, heights (n,): the candidate pixels (row-major order) and
    their UCM values; thresholds (T,); shape (H, W); lut_a, lut_b (256,)
    bool: deletion tables of the two sub-iterations of skimage's ``thin``
    (Guo & Hall), whose result this reproduces pixel for pixel while only
    visiting the pixels that are on. Returns (T, n) bool.
    """
    height, width = shape
    n = rows.size
    out = np.zeros((thresholds.size, n), dtype=np.bool_)
    image = np.zeros((height, width), dtype=np.uint8)
    on = np.empty(n, dtype=np.int64)
    delete = np.empty(n, dtype=np.int64)
    for t in range(thresholds.size):
        n_on = 0
        for i in range(n):
            if heights[i] > thresholds[t]:
                image[rows[i], cols[i]] = 1
                on[n_on] = i
                n_on += 1
        changed = True
        while changed:
            changed = False
            for sub in range(2):
                lut = lut_a if sub == 0 else lut_b
                n_del = 0
                for k in range(n_on):
                    i = on[k]
                    r = rows[i]
                    c = cols[i]
                    code = 0
                    if r > 0:
                        if c > 0:
                            code += 8 * image[r - 1, c - 1]
                        code += 4 * image[r - 1, c]
                        if c + 1 < width:
                            code += 2 * image[r - 1, c + 1]
                    if c > 0:
                        code += 16 * image[r, c - 1]
                    if c + 1 < width:
                        code += image[r, c + 1]
                    if r + 1 < height:
                        if c > 0:
                            code += 32 * image[r + 1, c - 1]
                        code += 64 * image[r + 1, c]
                        if c + 1 < width:
                            code += 128 * image[r + 1, c + 1]
                    if lut[code]:
                        delete[n_del] = k
                        n_del += 1
                if n_del:
                    changed = True
                    for d in range(n_del):
                        i = on[delete[d]]
                        image[rows[i], cols[i]] = 0
                    # Compact the list of pixels still on.
                    kept = 0
                    d = 0
                    for k in range(n_on):
                        if d < n_del and delete[d] == k:
                            d += 1
                        else:
                            on[kept] = on[k]
                            kept += 1
                    n_on = kept
        for k in range(n_on):
            i = on[k]
            out[t, i] = True
            image[rows[i], cols[i]] = 0
    return out
