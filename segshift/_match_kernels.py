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
def _augment(indptr, indices, root_ok, other_ok, match_root, match_other):
    """Kuhn's augmenting-path search from every free root node, in order, in place.

    indptr, indices: CSR adjacency of the root side, nearest first;
    root_ok, other_ok: the nodes of each side that take part; match_root,
    match_other: the matching, -1 = free. Nodes seen in a failed search are
    not searched again until the matching changes (no augmenting path
    passes through them). Augmenting only re-pairs matched nodes, so every
    node matched on entry stays matched.
    """
    n_root = match_root.size
    seen = np.zeros(match_other.size, dtype=np.int64)  # stamp of the search that saw it
    stamp = 1
    stack = np.empty(n_root + 1, dtype=np.int64)
    cursor = np.empty(n_root, dtype=np.int64)
    for root in range(n_root):
        if match_root[root] >= 0 or not root_ok[root] or indptr[root] == indptr[root + 1]:
            continue
        top = 0
        stack[0] = root
        cursor[root] = indptr[root]
        while top >= 0:
            j = stack[top]
            advanced = False
            while cursor[j] < indptr[j + 1]:
                i = indices[cursor[j]]
                cursor[j] += 1
                if not other_ok[i] or seen[i] == stamp:
                    continue
                seen[i] = stamp
                mate = match_other[i]
                if mate < 0:
                    # Free node: flip the path root -> ... -> j -> i.
                    for level in range(top, -1, -1):
                        jj = stack[level]
                        ii = indices[cursor[jj] - 1]
                        match_other[ii] = jj
                        match_root[jj] = ii
                    top = -1
                    stamp += 1
                    advanced = True
                    break
                top += 1
                stack[top] = mate
                cursor[mate] = indptr[mate]
                advanced = True
                break
            if not advanced:
                top -= 1


@numba.njit(**JIT)
def maximum_matching(g_left, g_right, l_indptr, l_indices, r_indptr, r_indices, active):
    """A maximum matching of the active left nodes, greedy first.

    g_left, g_right (E,): pairs in greedy order (nearest first); l_indptr
    (n_left + 1,), l_indices (E,) and r_indptr (n_right + 1,), r_indices
    (E,): CSR adjacency of each side, nearest first; active (n_left,) bool:
    the left nodes that take part. The greedy matching is grown to maximum
    by augmenting paths searched from the side with fewer free nodes that
    have an active neighbour (ties: the right side); so the result is that
    of the same call on the active nodes alone, renumbered in order.
    Returns match_left (n_left,), match_right (n_right,), -1 = unmatched.
    """
    n_right = r_indptr.size - 1
    match_left, match_right = greedy_matching(g_left, g_right, active, n_right)
    free_left = 0
    for i in range(active.size):
        if active[i] and match_left[i] < 0 and l_indptr[i] < l_indptr[i + 1]:
            free_left += 1
    free_right = 0
    for j in range(n_right):
        if match_right[j] < 0:
            for k in range(r_indptr[j], r_indptr[j + 1]):
                if active[r_indices[k]]:
                    free_right += 1
                    break
    every_right = np.ones(n_right, dtype=np.bool_)
    if free_left < free_right:
        _augment(l_indptr, l_indices, active, every_right, match_left, match_right)
    else:
        _augment(r_indptr, r_indices, every_right, active, match_right, match_left)
    return match_left, match_right


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
def match_levels(active, last, g_left, g_right, l_indptr, l_indices, r_indptr, r_indices):
    """Maximum matchings of one human's boundary pixels, at every threshold.

    active (T, n_left) bool: the result pixels present at each threshold;
    last (n_left,) int64: the last threshold at which each can be present
    (its height exceeds no later one); the pairs and adjacencies as
    maximum_matching takes them. Each row is matched as maximum_matching
    matches it alone; a row equal to the previous one reuses its matching,
    and pairs of pixels past their last threshold are dropped as the
    threshold grows. Returns hits (T, n_left) bool (matched result pixels)
    and matched (T,) int64 (matching sizes).
    """
    n_levels, n_left = active.shape
    hits = np.zeros((n_levels, n_left), dtype=np.bool_)
    matched = np.zeros(n_levels, dtype=np.int64)
    live_left = g_left.copy()
    live_right = g_right.copy()
    n_live = g_left.size
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
        kept = 0
        for k in range(n_live):
            if last[live_left[k]] >= t:
                live_left[kept] = live_left[k]
                live_right[kept] = live_right[k]
                kept += 1
        n_live = kept
        match_left, _ = maximum_matching(
            live_left[:n_live], live_right[:n_live], l_indptr, l_indices, r_indptr, r_indices, active[t]
        )
        count = 0
        for i in range(n_left):
            if match_left[i] >= 0:
                hits[t, i] = True
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
