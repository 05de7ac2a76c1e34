"""Numba kernels of the mean-shift filter: every pixel climbs to its mode.

No I/O, no user-facing errors. Inputs are assumed valid: C-contiguous float32
arrays, positive radii. Kernel ids: 0 uniform, 1 Gaussian, 2 Epanechnikov
(see meanshift.KERNELS). Wrapper: :func:`segshift._meanshift.filter_image`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ._config import JIT, JIT_PARALLEL, JIT_SIMD
from ._interrupt import interrupted
from ._region_kernels import (
    BRIGHT_L,  # EDISON's bright-centre rule, shared with region fusion
)

UNIFORM = 0
GAUSSIAN = 1
EPANECHNIKOV = 2

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
def pad_planes(image, left, right):
    """Split (H, W, c) float32 (L*u*v*, or a raster's bands) into c flattened
    float32 planes whose rows carry ``left`` and ``right`` columns of
    PAD_VALUE (rows need none: the window's rows are clipped to the image).
    Returns (planes (c, H * stride), stride)."""
    height, width, channels = image.shape
    stride = width + left + right
    planes = np.full((channels, height, stride), PAD_VALUE, dtype=np.float32)
    for y in range(height):
        for x in range(width):
            for k in range(channels):
                planes[k, y, x + left] = image[y, x, k]
    return planes.reshape(channels, -1), stride


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
def _climb(planes, stride, pad, bounds, height, width, y0, x0, hs, hr, kernel, eps, max_iter, raw_units, acc, out, memo,
           visited):
    """Move the window started at pixel (y0, x0) to its mode.

    planes: (3, n) float32, pixel (row r, column x) of the image at index
    r * stride + x + pad (pad_planes lays out the whole image so, with
    PAD_VALUE beside it; a part of the image may be laid out so too, with
    a negative pad). bounds: (4,) int64, the first and last row and the
    first and last column (image coordinates, padding columns included)
    that planes hold. height, width: the whole image's. acc: (5, >=
    window_span) float32 scratch. out: (3,) float64 receives the L*u*v*
    part of the mode. raw_units: after the first shift, test convergence in
    pixels and L*u*v* units instead of bandwidth units (EDISON's rule).
    Returns the number of shifts made, or -1 (out not set) when a window
    needs rows or columns outside bounds (never with the whole image).

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
        if r0 < bounds[0] or r1 > bounds[1] or first < bounds[2] or first + span - 1 > bounds[3]:
            return -1
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


@numba.njit(**JIT)
def tile_scratch(span, slots):
    """The scratch of one tile of climbs (see _climb): the mode (3,), the
    column accumulators (5, >= window_span), a table of ``slots`` windows
    (empty) and its list of the windows one climb visits."""
    out = np.empty(3, dtype=np.float64)
    acc = np.empty((5, max(span, ACC_MIN)), dtype=np.float32)
    memo = np.empty((slots, MEMO_COLUMNS), dtype=np.float64)
    memo[:, 7] = EMPTY
    visited = np.empty(MEMO_VISITS, dtype=np.int64)
    return out, acc, memo, visited


@numba.njit(**JIT)
def filter_grid(luv, hs, hr, kernel, eps, max_iter, raw_units, step, modes):
    """Mean-shift climbs from the pixels (step * i, step * j), over the density
    of all pixels; step 1 is exact filtering, every pixel to its own mode.

    luv: (H, W, 3) float32; modes: (ceil(H / step), ceil(W / step), 3)
    float32 receives the range part of each climb's mode. With step 1 it may
    be ``luv`` itself (the climbs read a padded copy). Returns modes. With
    the uniform kernel and EDISON's convergence test each tile has its own
    table of windows (see _climb), so the result does not depend on which
    thread runs which tile; elsewhere climbs are short and the table would
    cost more than it saves. Stops early, modes incomplete, on Ctrl-C
    (see segshift._interrupt).
    """
    planes, stride, pad = pad_for_filter(luv, hs)
    return filter_tiles(planes, stride, pad, luv.shape[0], luv.shape[1], hs, hr, kernel, eps, max_iter, raw_units,
                        step, 0, filter_tile_count(modes), modes)


@numba.njit(**JIT)
def pad_for_filter(luv, hs):
    """The padded planes filter_tiles reads: (planes, stride, pad)."""
    pad = window_reach(hs, luv.shape[1]) + LANES + 1
    planes, stride = pad_planes(luv, pad, pad)
    return planes, stride, pad


@numba.njit(**JIT)
def filter_tile_count(modes):
    """Tiles of TILE_ROWS x TILE_COLS climbs that cover modes (rows first)."""
    rows, cols = modes.shape[0], modes.shape[1]
    return ((rows + TILE_ROWS - 1) // TILE_ROWS) * ((cols + TILE_COLS - 1) // TILE_COLS)


@numba.njit(**JIT_PARALLEL)
def filter_tiles(planes, stride, pad, height, width, hs, hr, kernel, eps, max_iter, raw_units, step, t0, t1, modes):
    """The climbs of tiles t0 .. t1 - 1 of filter_grid (tiles numbered row by
    row; see filter_tile_count), from planes laid out by pad_for_filter.
    Each tile's climbs depend on nothing outside it, so running the tiles
    in several calls gives the same modes. Returns modes."""
    span = window_span(hs, width)
    # Tiles of TILE_ROWS x TILE_COLS climbs: a tile's windows stay in the
    # core's cache however wide the image, and threads take tiles as they go.
    rows, cols = modes.shape[0], modes.shape[1]
    tiles_across = (cols + TILE_COLS - 1) // TILE_COLS
    slots = MEMO_SIZE if (kernel == UNIFORM and raw_units) else 0
    bounds = np.array([0, height - 1, -pad, width + pad - 1], dtype=np.int64)
    for t in numba.prange(t0, t1):
        out, acc, memo, visited = tile_scratch(span, slots)
        i0 = (t // tiles_across) * TILE_ROWS
        j0 = (t % tiles_across) * TILE_COLS
        for i in range(i0, min(rows, i0 + TILE_ROWS)):
            # Ctrl-C: a load per TILE_COLS climbs, so the tiles left end at once
            if interrupted():
                break
            for j in range(j0, min(cols, j0 + TILE_COLS)):
                _climb(planes, stride, pad, bounds, height, width, i * step, j * step, hs, hr, kernel, eps, max_iter,
                       raw_units, acc, out, memo, visited)
                modes[i, j, 0] = out[0]
                modes[i, j, 1] = out[1]
                modes[i, j, 2] = out[2]
    return modes


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
        if interrupted():  # Ctrl-C (see segshift._interrupt): out is left incomplete
            continue
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
