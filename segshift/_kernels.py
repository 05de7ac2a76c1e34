"""Numba kernels of the image mean-shift core. No I/O, no user-facing errors.

Inputs are assumed valid: C-contiguous float32 arrays, positive radii.
Kernel ids: 0 uniform, 1 Gaussian, 2 Epanechnikov (see meanshift.KERNELS).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ._config import JIT, JIT_PARALLEL, JIT_SIMD

UNIFORM = 0
GAUSSIAN = 1
EPANECHNIKOV = 2

# EDISON weighs the L difference four times when the window centre is brighter
# than this (it keeps highlights from bleeding into each other).
BRIGHT_L = 80.0


# The window loop runs over whole blocks of LANES columns so that LLVM turns it
# into SIMD code; columns outside the spatial disk are masked, and the image is
# padded so that no block reads past its edge.
LANES = 8
# Rows of the column accumulators are at least this long (LLVM's vector loop
# runs only when they lie that far apart).
ACC_MIN = 64
# Climbs per tile of the parallel filter loop (see filter_grid); square-ish,
# so that a climb's neighbours above and to the left are in the same tile.
TILE_ROWS = 32
TILE_COLS = 64
# Padding value: far outside every range ball, yet finite (0 * PAD == 0).
PAD_VALUE = np.float32(1e30)
# Climbs that meet share the rest of their way (see _climb): each tile keeps
# the windows its climbs went through in a table of MEMO_SIZE slots (a power
# of two), up to MEMO_VISITS windows a climb. A slot holds the window's sums
# (columns 0-5), the shifts left from it (6), its state (7) and the mode (8-10).
MEMO_SIZE = 4096
MEMO_VISITS = 128
MEMO_COLUMNS = 11
# States of a table slot (column 7).
EMPTY = -1.0
PENDING = 0.0
DONE = 1.0
UNUSABLE = 2.0


@numba.njit(**JIT_SIMD)
def _exp_neg2(t):
    """exp(-2 t) in float32 for 0 <= t < 2 (the product of the Gaussian's
    spatial and range weights), in plain arithmetic so that the column loop
    stays SIMD code: exp(y)^16 with y = -t / 8 in (-0.25, 0] from its Taylor
    series to y^6, within 2e-6 (relative) of the exact value."""
    y = t * np.float32(-0.125)
    p = np.float32(1.0) + y * (np.float32(1.0) + y * (np.float32(0.5) + y * (np.float32(1.0 / 6.0) + y * (
        np.float32(1.0 / 24.0) + y * (np.float32(1.0 / 120.0) + y * np.float32(1.0 / 720.0))))))
    p = p * p
    p = p * p
    p = p * p
    return p * p


@numba.njit(**JIT)
def pad_planes(luv, pad):
    """Split (H, W, 3) L*u*v* into three flattened float32 planes whose rows
    carry ``pad`` columns of PAD_VALUE on each side (rows need none: the
    window's rows are clipped to the image)."""
    height, width = luv.shape[0], luv.shape[1]
    stride = width + 2 * pad
    planes = np.full((3, height, stride), PAD_VALUE, dtype=np.float32)
    for y in range(height):
        for x in range(width):
            for k in range(3):
                planes[k, y, x + pad] = luv[y, x, k]
    return planes.reshape(3, -1), stride


@numba.njit(**JIT)
def window_reach(hs, width):
    """Columns a window reaches on each side: ceil(hs), but never more than
    the image is wide (a wider disk holds no more pixels)."""
    return int(math.ceil(min(hs, width + 1.0)))


@numba.njit(**JIT)
def window_span(hs, width):
    """Columns the window loop covers: the 2 * reach + 2 a window with a
    fractional centre can touch, rounded up to whole blocks of LANES."""
    reach = window_reach(hs, width)
    return ((2 * reach + 2 + LANES - 1) // LANES) * LANES


@numba.njit(**JIT_SIMD)
def _climb(planes, stride, pad, height, width, y0, x0, hs, hr, kernel, eps, max_iter, raw_units, acc, out, memo, visited):
    """Move the window started at pixel (y0, x0) to its mode.

    planes: (3, H * stride) float32 from pad_planes. acc: (5, >= window_span)
    float32 scratch. out: (3,) float64 receives the L*u*v* part of the mode.
    raw_units: after the first shift, test convergence in pixels and
    L*u*v* units instead of bandwidth units (EDISON's rule). Returns the
    number of shifts made.

    The window's sums are kept per column (acc: weight, row, L, u, v) and
    added up once per shift: the column loop is elementwise, so LLVM turns
    it into SIMD code with no reduction inside the row loop.

    memo (MEMO_SIZE, MEMO_COLUMNS) float64 and visited (MEMO_VISITS,) int64
    are the tile's table of windows; an empty memo turns the table off. Only
    for the uniform kernel, whose sums are exact (filter_grid uses it with
    EDISON's convergence test, whose long climbs often run into one
    another). A window is known by its exact sums: pixel count,
    column and row sums (integers) and colour sums. When a climb's window
    has the same sums as one an earlier climb of the tile went through, it
    holds the same pixels, so the next centre and every later step are that
    climb's: this climb takes its mode and its number of remaining shifts
    (if max_iter allows them). Only climbs that converged are reused.
    """
    L = planes[0]
    U = planes[1]
    V = planes[2]
    acc_w = acc[0]
    acc_y = acc[1]
    acc_l = acc[2]
    acc_u = acc[3]
    acc_v = acc[4]
    span = window_span(hs, width)
    hs2 = hs * hs
    inv_hs2 = 1.0 / hs2
    inv_hr2 = 1.0 / (hr * hr)
    reach = window_reach(hs, width)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    finv_hs2 = np.float32(inv_hs2)
    fhs2 = np.float32(hs2)
    p0 = y0 * stride + x0 + pad
    cx = float(x0)
    cy = float(y0)
    cl = float(L[p0])
    cu = float(U[p0])
    cv = float(V[p0])
    it = 0
    use_memo = memo.shape[0] > 0
    seen = 0
    met = False
    shifts = 0
    shift = 0.0
    while True:
        # Colours are summed as offsets from the centre: small numbers, exact
        # enough in float32.
        lw = np.float32((4.0 if cl > BRIGHT_L else 1.0) * inv_hr2)
        uw = np.float32(inv_hr2)
        fl = np.float32(cl)
        fu = np.float32(cu)
        fv = np.float32(cv)
        ix = int(math.floor(cx))
        fx = np.float32(cx - ix + reach)
        # clamp in float first: a huge radius must not overflow int64
        r0 = int(max(0.0, math.ceil(cy - hs)))
        r1 = int(min(height - 1.0, math.floor(cy + hs)))
        first = ix - reach
        for k in range(span):
            acc_w[k] = zero
            acc_y[k] = zero
            acc_l[k] = zero
            acc_u[k] = zero
            acc_v[k] = zero
        dy = np.float32(r0 - cy) - one
        rowf = -one
        for r in range(r0, r1 + 1):
            dy += one
            dy2 = dy * dy
            rowf += one
            # unsigned indices: no negative-index wraparound, so the loads are
            # consecutive and the loop vectorises
            base = np.uint64(r * stride + first + pad)
            # Two copies of the column loop: the uniform kernel (the default) has
            # no weights to compute, so its loop stays short enough to run fast.
            if kernel == UNIFORM:
                dx = -fx
                for k in range(span):
                    c = base + np.uint64(k)
                    dl = L[c] - fl
                    du = U[c] - fu
                    dv = V[c] - fv
                    dr = lw * dl * dl + uw * (du * du + dv * dv)
                    # Columns outside the image hold PAD_VALUE: dr is huge there.
                    inside = (dr < one) & (dx * dx + dy2 < fhs2)
                    dx += one
                    acc_w[k] += one if inside else zero
                    acc_y[k] += rowf if inside else zero
                    acc_l[k] += dl if inside else zero
                    acc_u[k] += du if inside else zero
                    acc_v[k] += dv if inside else zero
            else:
                gaussian = kernel == GAUSSIAN
                for k in range(span):
                    c = base + np.uint64(k)
                    dx = np.float32(k) - fx
                    ds = dx * dx + dy2
                    dl = L[c] - fl
                    du = U[c] - fu
                    dv = V[c] - fv
                    dr = lw * dl * dl + uw * (du * du + dv * dv)
                    inside = (dr < one) & (ds < fhs2)
                    ts = ds * finv_hs2
                    if gaussian:
                        w = _exp_neg2(ts + dr)
                    else:
                        w = (one - ts) * (one - dr)
                    w = w if inside else zero
                    acc_w[k] += w
                    acc_y[k] += w * rowf
                    acc_l[k] += w * dl if inside else zero
                    acc_u[k] += w * du if inside else zero
                    acc_v[k] += w * dv if inside else zero
        sw = zero
        sx = zero
        sy = zero
        sl = zero
        su = zero
        sv = zero
        for k in range(span):
            sw += acc_w[k]
            sx += np.float32(k) * acc_w[k]
            sy += acc_y[k]
            sl += acc_l[k]
            su += acc_u[k]
            sv += acc_v[k]
        it += 1
        if sw <= zero:
            break
        # Positions are summed as column and row numbers, which for the
        # uniform kernel are exact integers, so the new centre is the exact mean.
        n = float(sw)
        mx = first + float(sx) / n - cx
        my = r0 + float(sy) / n - cy
        inv_n = 1.0 / n
        ml = sl * inv_n
        mu = su * inv_n
        mv = sv * inv_n
        cx += mx
        cy += my
        cl += ml
        cu += mu
        cv += mv
        if raw_units and it > 1:
            shift = mx * mx + my * my + ml * ml + mu * mu + mv * mv
        else:
            shift = (mx * mx + my * my) * inv_hs2 + (ml * ml + mu * mu + mv * mv) * inv_hr2
        if shift < eps or it >= max_iter:
            break
        if use_memo:
            # the window's sums in absolute terms (column and row numbers,
            # L*u*v* values), exact for the uniform kernel
            kx = first * n + float(sx)
            ky = r0 * n + float(sy)
            al = float(sl) + n * float(fl)
            au = float(su) + n * float(fu)
            av = float(sv) + n * float(fv)
            h = ((int(n) * 73856093) ^ (int(kx) * 19349663) ^ (int(ky) * 83492791)) & (memo.shape[0] - 1)
            if (memo[h, 7] == DONE and memo[h, 0] == n and memo[h, 1] == kx and memo[h, 2] == ky
                    and memo[h, 3] == al and memo[h, 4] == au and memo[h, 5] == av and it + memo[h, 6] <= max_iter):
                shifts = it + int(memo[h, 6])
                cl = memo[h, 8]
                cu = memo[h, 9]
                cv = memo[h, 10]
                met = True
                break
            if seen < visited.shape[0]:
                memo[h, 0] = n
                memo[h, 1] = kx
                memo[h, 2] = ky
                memo[h, 3] = al
                memo[h, 4] = au
                memo[h, 5] = av
                memo[h, 6] = it  # the shift that led here, until the climb ends
                memo[h, 7] = PENDING
                visited[seen] = h
                seen += 1
    if use_memo:
        if not met:
            shifts = it
        # A climb stopped by max_iter has not reached its mode: a climb with
        # shifts to spare must not take it.
        state = DONE if (met or shift < eps) else UNUSABLE
        for q in range(seen):
            h = visited[q]
            if memo[h, 7] == PENDING:  # (a later window of this climb may have taken the slot)
                memo[h, 6] = shifts - memo[h, 6]  # shifts left from this window on
                memo[h, 7] = state
                memo[h, 8] = cl
                memo[h, 9] = cu
                memo[h, 10] = cv
    out[0] = cl
    out[1] = cu
    out[2] = cv
    return it


@numba.njit(**JIT_PARALLEL)
def filter_grid(luv, hs, hr, kernel, eps, max_iter, raw_units, step, modes):
    """Mean-shift climbs from the pixels (step * i, step * j), over the density
    of all pixels; step 1 is exact filtering, every pixel to its own mode.

    luv: (H, W, 3) float32; modes: (ceil(H / step), ceil(W / step), 3)
    float32 receives the range part of each climb's mode. With step 1 it may
    be ``luv`` itself (the climbs read a padded copy). Returns modes. With
    the uniform kernel and EDISON's convergence test each tile has its own
    table of windows (see _climb), so the result does not depend on which
    thread runs which tile; elsewhere climbs are short and the table would
    cost more than it saves.
    """
    height, width = luv.shape[0], luv.shape[1]
    pad = window_reach(hs, width) + LANES + 1
    span = window_span(hs, width)
    planes, stride = pad_planes(luv, pad)
    # Tiles of TILE_ROWS x TILE_COLS climbs: a tile's windows stay in the
    # core's cache however wide the image, and threads take tiles as they go.
    rows, cols = modes.shape[0], modes.shape[1]
    tiles_across = (cols + TILE_COLS - 1) // TILE_COLS
    tiles = ((rows + TILE_ROWS - 1) // TILE_ROWS) * tiles_across
    slots = MEMO_SIZE if (kernel == UNIFORM and raw_units) else 0
    for t in numba.prange(tiles):
        out = np.empty(3, dtype=np.float64)
        acc = np.empty((5, max(span, ACC_MIN)), dtype=np.float32)
        memo = np.empty((slots, MEMO_COLUMNS), dtype=np.float64)
        memo[:, 7] = EMPTY
        visited = np.empty(MEMO_VISITS, dtype=np.int64)
        i0 = (t // tiles_across) * TILE_ROWS
        j0 = (t % tiles_across) * TILE_COLS
        for i in range(i0, min(rows, i0 + TILE_ROWS)):
            for j in range(j0, min(cols, j0 + TILE_COLS)):
                _climb(planes, stride, pad, height, width, i * step, j * step, hs, hr, kernel, eps, max_iter, raw_units, acc, out, memo, visited)
                modes[i, j, 0] = out[0]
                modes[i, j, 1] = out[1]
                modes[i, j, 2] = out[2]
    return modes


@numba.njit(**JIT)
def _find(parent, i):
    """Root of i, halving the path on the way."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@numba.njit(**JIT)
def connect_close(modes, threshold):
    """Label 8-connected pixels whose modes differ by < threshold in every channel.

    modes: (H, W, 3) float32 -> (labels (H, W) int32 numbered from 0 in raster
    order of each region's first pixel, (n,) int64 flat index of each
    region's first pixel). One raster scan of union-find over the four
    earlier neighbours, one pass flattening it, one relabelling pass.
    """
    height, width = modes.shape[0], modes.shape[1]
    n = height * width
    parent = np.empty(n, dtype=np.int32)  # 4 bytes a pixel: images stay below 2**31 pixels
    for i in range(n):
        parent[i] = i
    for y in range(height):
        for x in range(width):
            i = y * width + x
            for k in range(4):
                if k == 0:
                    ny, nx = y, x - 1
                elif k == 1:
                    ny, nx = y - 1, x - 1
                elif k == 2:
                    ny, nx = y - 1, x
                else:
                    ny, nx = y - 1, x + 1
                if ny < 0 or nx < 0 or nx >= width:
                    continue
                if (
                    abs(modes[y, x, 0] - modes[ny, nx, 0]) < threshold
                    and abs(modes[y, x, 1] - modes[ny, nx, 1]) < threshold
                    and abs(modes[y, x, 2] - modes[ny, nx, 2]) < threshold
                ):
                    a = _find(parent, np.int32(i))
                    b = _find(parent, np.int32(ny * width + nx))
                    if a < b:
                        parent[b] = a
                    elif b < a:
                        parent[a] = b
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


@numba.njit(**JIT_PARALLEL)
def assign_from_seeds(luv, seed_luv, seed_modes, step, hr, out):
    """Give every pixel the mode of the nearby seed whose colour is closest.

    luv: (H, W, 3) float32 image; seed_luv, seed_modes: (h, w, 3) float32,
    the colours and modes of the pixels at (step * i, step * j). A pixel
    looks at the seeds of the grid cells around it (a 3 x 3 block of seeds)
    and takes the mode of the one whose colour is nearest its own colour:
    a pixel that starts close to a seed, in space and colour, lies in the
    same basin of attraction. out: (H, W, 3) float32 receives the modes; it
    may be ``luv`` itself (each pixel is read before it is written). Returns out.
    """
    height, width = luv.shape[0], luv.shape[1]
    sh, sw = seed_luv.shape[0], seed_luv.shape[1]
    for y in numba.prange(height):
        gy = (y + step // 2) // step
        for x in range(width):
            gx = (x + step // 2) // step
            best = np.inf
            by = 0
            bx = 0
            for i in range(max(0, gy - 1), min(sh, gy + 2)):
                for j in range(max(0, gx - 1), min(sw, gx + 2)):
                    dy = (i * step - y) / step
                    dx = (j * step - x) / step
                    dl = seed_luv[i, j, 0] - luv[y, x, 0]
                    du = seed_luv[i, j, 1] - luv[y, x, 1]
                    dv = seed_luv[i, j, 2] - luv[y, x, 2]
                    # colour first; distance in space only breaks near-ties
                    d = (dl * dl + du * du + dv * dv) / (hr * hr) + 1e-3 * (dx * dx + dy * dy)
                    if d < best:
                        best = d
                        by = i
                        bx = j
            out[y, x, 0] = seed_modes[by, bx, 0]
            out[y, x, 1] = seed_modes[by, bx, 1]
            out[y, x, 2] = seed_modes[by, bx, 2]
    return out



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
def close_pairs(edges, modes, limit2):
    """The edges whose two modes lie closer than sqrt(limit2) (the L
    difference counts four times when both modes have L > BRIGHT_L).

    edges: (e, 2) int64; modes: (n, 3) float64 -> (k, 2) int64.
    """
    keep = np.empty(edges.shape[0], dtype=np.bool_)
    count = 0
    for k in range(edges.shape[0]):
        a = edges[k, 0]
        b = edges[k, 1]
        weight = 4.0 if (modes[a, 0] > BRIGHT_L and modes[b, 0] > BRIGHT_L) else 1.0
        d0 = modes[a, 0] - modes[b, 0]
        d1 = modes[a, 1] - modes[b, 1]
        d2 = modes[a, 2] - modes[b, 2]
        keep[k] = weight * (d0 * d0) + d1 * d1 + d2 * d2 < limit2
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
    parent = np.arange(n)
    for k in range(pairs.shape[0]):
        a = _find(parent, pairs[k, 0])
        b = _find(parent, pairs[k, 1])
        if a < b:
            parent[b] = a
        elif b < a:
            parent[a] = b
    # A root is the smallest member of its group, and comes before the others.
    new = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):
        r = _find(parent, i)
        if r == i:
            new[i] = m
            m += 1
        else:
            new[i] = new[r]
    total = np.zeros(m)
    sums = np.zeros((m, 3))
    for i in range(n):
        j = new[i]
        w = float(areas[i])
        total[j] += w
        for c in range(3):
            sums[j, c] += w * modes[i, c]
    new_areas = np.empty(m, dtype=np.int64)
    for j in range(m):
        new_areas[j] = np.int64(total[j])
        for c in range(3):
            sums[j, c] = sums[j, c] / total[j]
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
            for c in range(3):
                diff = modes[i, c] - modes[j, c]
                d += diff * diff
            if d < best_d[i] or (d == best_d[i] and j < best[i]):
                best_d[i] = d
                best[i] = j
    return best


# Boundary benchmark (segshift.evaluate): one-to-one matching of boundary pixels.


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
