"""Numba kernels of the region stage: connect equal modes, list adjacent
regions, fuse and prune by union-find. No I/O, no user-facing errors.

Wrapper: :mod:`segshift._regions`.
"""

from __future__ import annotations

import numba
import numpy as np

from ._config import JIT
from ._interrupt import interrupted

# EDISON weighs the L difference four times when the window centre is brighter
# than this (it keeps highlights from bleeding into each other).
BRIGHT_L = 80.0


@numba.njit(**JIT)
def _find(parent, i):
    """Root of i, halving the path on the way."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@numba.njit(**JIT)
def union(parent, pairs):
    """Join the sets of each pair (union-find; the smaller root wins, so a
    set's root is its smallest member)."""
    for k in range(pairs.shape[0]):
        a = _find(parent, pairs[k, 0])
        b = _find(parent, pairs[k, 1])
        if a < b:
            parent[b] = a
        elif b < a:
            parent[a] = b


@numba.njit(**JIT)
def number_sets(parent):
    """Number the sets of a union-find forest (in which a member's parent is
    never above it, as union leaves it) by their smallest member, in place:
    parent[i] becomes the number of i's set, from 0 in order. Returns the
    number of sets."""
    n = parent.shape[0]
    for i in range(n):  # every parent is below its child: one step reaches the root
        parent[i] = parent[parent[i]]
    count = 0
    for i in range(n):
        r = parent[i]
        if r == i:  # a root, not yet numbered (numbers never exceed their root)
            parent[i] = count
            count += 1
        else:  # its root, below it, already holds the set's number
            parent[i] = parent[r]
    return count


@numba.njit(inline="always", **JIT)
def _agree(modes, y, x, ny, nx, threshold):
    """Whether the modes of pixels (y, x) and (ny, nx) differ by < threshold in every channel."""
    for c in range(modes.shape[2]):
        if not abs(modes[y, x, c] - modes[ny, nx, c]) < threshold:
            return False
    return True


@numba.njit(inline="always", **JIT)
def _link(parent, root, other):
    """Join the set of root (a root) with the set of pixel other; returns the joined root (the smaller index)."""
    b = _find(parent, other)
    if b < root:
        parent[root] = b
        return b
    if root < b:
        parent[b] = root
    return root


@numba.njit(**JIT)
def connect_close(modes, threshold):
    """Label 8-connected pixels whose modes differ by < threshold in every channel.

    modes: (H, W, c) float32 (L*u*v*, or a multiband raster's bands) ->
    (labels (H, W) int32 numbered from 0 in raster
    order of each region's first pixel, (n,) int64 flat index of each
    region's first pixel). One raster scan of union-find over the four
    earlier neighbours, one pass flattening it, one relabelling pass.

    A diagonal neighbour is not compared when it is joined to this pixel
    already: the up-left one when the pixel above joined it (or the left
    one joined the pixel above it) and this pixel joined that one, the
    up-right one when it joined the pixel above and this pixel did too. The
    sets are the same; in flat areas half the comparisons go. ``root`` is
    always the root of this pixel's set (_link returns the joined root), so
    it is never looked up again.

    On Ctrl-C it returns at once, every pixel in region 0; the caller
    checks (segshift._interrupt).
    """
    height, width = modes.shape[:2]
    n = height * width
    parent = np.empty(n, dtype=np.int32)  # 4 bytes a pixel: images stay below 2**31 pixels
    # left_above[x] (then left_here[x]): pixel x of the row above (of this row) joined its
    # left neighbour; joined_up[x]: pixel x of this row joined the one above it
    left_above = np.zeros(width, dtype=np.bool_)
    left_here = np.zeros(width, dtype=np.bool_)
    joined_up = np.zeros(width, dtype=np.bool_)
    for y in range(height):
        if interrupted():
            return np.zeros((height, width), dtype=np.int32), np.zeros(1, dtype=np.int64)
        for x in range(width):
            i = y * width + x
            root = np.int32(i)
            parent[i] = root
            left = x > 0 and _agree(modes, y, x, y, x - 1, threshold)
            left_here[x] = left
            if left:
                root = _find(parent, np.int32(i - 1))
                parent[i] = root
            up = y > 0 and _agree(modes, y, x, y - 1, x, threshold)
            joined_up[x] = up
            if up:
                root = _link(parent, root, np.int32(i - width))
            if y == 0:
                continue
            if x > 0 and not ((up and left_above[x]) or (left and joined_up[x - 1])):
                if _agree(modes, y, x, y - 1, x - 1, threshold):
                    root = _link(parent, root, np.int32(i - width - 1))
            if x + 1 < width and not (up and left_above[x + 1]):
                if _agree(modes, y, x, y - 1, x + 1, threshold):
                    root = _link(parent, root, np.int32(i - width + 1))
        left_above, left_here = left_here, left_above
    # Every parent index is below its child's, so one ascending pass points
    # each pixel straight at its root.
    for i in range(n):
        parent[i] = parent[parent[i]]
    # Roots are the smallest index of their set, i.e. the region's first pixel,
    # so numbering roots as they appear gives raster order. The entries below
    # the current pixel are no longer read: they store each region's first pixel.
    labels = np.empty((height, width), dtype=np.int32)
    flat = labels.reshape(n)
    count = 0
    for i in range(n):
        r = parent[i]
        if r == i:
            flat[i] = count
            parent[count] = i
            count += 1
        else:
            flat[i] = flat[r]
    return labels, parent[:count].astype(np.int64)


@numba.njit(**JIT)
def _scan_pairs(labels, out):
    """Write (or, with out of length 0, only count) the pairs of adjacent_pairs."""
    height, width = labels.shape
    n = 0
    store = out.shape[0] > 0
    for y in range(height):
        for vertical in range(2):
            if vertical == 1 and y + 1 >= height:
                break
            last_a = -1
            last_b = -1
            for x in range(width - 1 + vertical):
                a = labels[y, x]
                b = labels[y + vertical, x + 1 - vertical]
                if a != b and (a != last_a or b != last_b):
                    if store:
                        out[n, 0] = min(a, b)
                        out[n, 1] = max(a, b)
                    n += 1
                    last_a = a
                    last_b = b
    return n


@numba.njit(**JIT)
def adjacent_pairs(labels):
    """Pairs (a < b) of different labels that touch along a row or a column.

    labels: (H, W) int32 -> (n, 2) int64, each pair once per run of equal
    pairs along the scan (so far fewer than the boundary pixels); callers
    may deduplicate. Counts first, so memory is only what the pairs need.
    """
    n = _scan_pairs(labels, np.empty((0, 2), dtype=np.int64))
    out = np.empty((n, 2), dtype=np.int64)
    _scan_pairs(labels, out)
    return out


@numba.njit(**JIT)
def close_pairs(edges, modes, limit2, bright):
    """The edges whose two modes lie closer than sqrt(limit2), Euclidean over
    all columns of modes; with ``bright`` (L*u*v* modes) the L difference
    counts four times when both modes have L > BRIGHT_L (EDISON's rule).

    edges: (e, 2) int64; modes: (n, c) float64 -> (k, 2) int64.
    """
    keep = np.empty(edges.shape[0], dtype=np.bool_)
    count = 0
    for k in range(edges.shape[0]):
        a = edges[k, 0]
        b = edges[k, 1]
        weight = 4.0 if (bright and modes[a, 0] > BRIGHT_L and modes[b, 0] > BRIGHT_L) else 1.0
        d0 = modes[a, 0] - modes[b, 0]
        d = weight * (d0 * d0)
        for c in range(1, modes.shape[1]):
            dc = modes[a, c] - modes[b, c]
            d += dc * dc
        keep[k] = d < limit2
        if keep[k]:
            count += 1
    out = np.empty((count, 2), dtype=np.int64)
    j = 0
    for k in range(edges.shape[0]):
        if keep[k]:
            out[j, 0] = edges[k, 0]
            out[j, 1] = edges[k, 1]
            j += 1
    return out


@numba.njit(**JIT)
def joined_means(number, m, areas, modes):
    """Areas and area-weighted mean modes of the m sets of ``number`` (each
    member's set), summed in member order: a joined region's mode (see
    join_regions). areas: (n,) int; modes: (n, c) float64. Returns ((m,)
    int64, (m, c) float64)."""
    channels = modes.shape[1]
    total = np.zeros(m)
    sums = np.zeros((m, channels))
    for i in range(number.shape[0]):
        j = number[i]
        w = float(areas[i])
        total[j] += w
        for c in range(channels):
            sums[j, c] += w * modes[i, c]
    new_areas = np.empty(m, dtype=np.int64)
    for j in range(m):
        new_areas[j] = np.int64(total[j])
        for c in range(channels):
            sums[j, c] = sums[j, c] / total[j]
    return new_areas, sums


@numba.njit(**JIT)
def join_regions(pairs, region_label, areas, modes, edges):
    """Join the regions connected by ``pairs``, transitively (union-find).

    New labels follow the smallest old label of each group, so an order by
    first appearance is kept; a joined mode is the area-weighted mean of
    its parts. pairs, edges: (e, 2) int64; region_label: (n0,) int64;
    areas: (n,) int64; modes: (n, 3) float64. Returns the new
    (region_label, areas, modes, edges), the edges without those inside
    one new region (duplicates may remain).
    """
    n = areas.shape[0]
    new = np.arange(n)
    union(new, pairs)
    m = number_sets(new)  # numbered by their smallest member, in order
    new_areas, sums = joined_means(new, m, areas, modes)
    new_label = np.empty_like(region_label)
    for i in range(region_label.shape[0]):
        new_label[i] = new[region_label[i]]
    count = 0
    for k in range(edges.shape[0]):
        if new[edges[k, 0]] != new[edges[k, 1]]:
            count += 1
    new_edges = np.empty((count, 2), dtype=np.int64)
    j = 0
    for k in range(edges.shape[0]):
        a = new[edges[k, 0]]
        b = new[edges[k, 1]]
        if a != b:
            new_edges[j, 0] = a
            new_edges[j, 1] = b
            j += 1
    return new_label, new_areas, sums, new_edges


@numba.njit(**JIT)
def closest_neighbours(edges, modes, small):
    """For each region flagged in ``small``, the adjacent region with the
    nearest mode (squared Euclidean distance; ties to the lower label).

    edges: (e, 2) int64; modes: (n, 3) float64; small: (n,) bool ->
    (n,) int64, -1 where a region is not small or has no neighbour.
    """
    n = modes.shape[0]
    best = np.full(n, -1, dtype=np.int64)
    best_d = np.full(n, np.inf)
    for k in range(edges.shape[0]):
        for side in range(2):
            i = edges[k, side]
            j = edges[k, 1 - side]
            if not small[i]:
                continue
            d = 0.0
            for c in range(modes.shape[1]):
                diff = modes[i, c] - modes[j, c]
                d += diff * diff
            if d < best_d[i] or (d == best_d[i] and j < best[i]):
                best_d[i] = d
                best[i] = j
    return best


@numba.njit(**JIT)
def perimeters(labels, n):
    """(n,) float64: pixel sides each region of ``labels`` (H, W) shares with
    another region (4-neighbours; the image's edge does not count)."""
    height, width = labels.shape
    out = np.zeros(n)
    for y in range(height):
        for x in range(width):
            p = labels[y, x]
            if x + 1 < width and labels[y, x + 1] != p:
                out[p] += 1.0
                out[labels[y, x + 1]] += 1.0
            if y + 1 < height and labels[y + 1, x] != p:
                out[p] += 1.0
                out[labels[y + 1, x]] += 1.0
    return out


@numba.njit(**JIT)
def extents(labels, n):
    """Each region's pixel-coordinate sums and box, in one raster pass:
    sums (n, 2) float64 (x, y), boxes (n, 4) int64 (x_min, y_min, x_max,
    y_max, maxima exclusive; all 0 for a label without pixels)."""
    height, width = labels.shape
    sums = np.zeros((n, 2))
    boxes = np.zeros((n, 4), dtype=np.int64)
    seen = np.zeros(n, dtype=np.bool_)
    for y in range(height):
        for x in range(width):
            k = labels[y, x]
            sums[k, 0] += x
            sums[k, 1] += y
            if not seen[k]:
                seen[k] = True
                boxes[k, 0] = x
                boxes[k, 1] = y
                boxes[k, 2] = x + 1
                boxes[k, 3] = y + 1
            else:
                boxes[k, 0] = min(boxes[k, 0], x)
                boxes[k, 2] = max(boxes[k, 2], x + 1)
                boxes[k, 3] = y + 1
    return sums, boxes
