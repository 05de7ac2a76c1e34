"""Numba kernels of the benchmarks: one-to-one matching of boundary pixels.

Wrapper: :mod:`segshift.evaluate.boundaries`.
"""

from __future__ import annotations

import numba
import numpy as np

from ._config import JIT


@numba.njit(**JIT)
def greedy_matching(left, right, n_left, n_right):
    """Match candidate pairs in the given order while both ends are free.

    left, right: (E,) int64 pair ends, nearest pairs first. Returns
    match_left (n_left,) and match_right (n_right,), -1 where unmatched.
    """
    match_left = np.full(n_left, -1, dtype=np.int64)
    match_right = np.full(n_right, -1, dtype=np.int64)
    for k in range(left.size):
        i = left[k]
        j = right[k]
        if match_left[i] < 0 and match_right[j] < 0:
            match_left[i] = j
            match_right[j] = i
    return match_left, match_right


@numba.njit(**JIT)
def hopcroft_karp(indptr, indices, match_left, match_right):
    """Grow a matching to maximum cardinality in place (Hopcroft-Karp).

    indptr (n_left + 1,), indices (E,): CSR adjacency of the left nodes;
    match_left (n_left,), match_right (n_right,): the matching, -1 = free.
    Augmenting only re-pairs matched nodes, so every node matched on entry
    stays matched. O(E sqrt(V)); the DFS is iterative.
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
            if match_left[u] < 0:
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
            if match_left[root] >= 0:
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
