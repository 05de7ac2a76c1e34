"""Numba kernels of mean shift over multiband rasters: the range space is the
bands' own values (any number of bands), one range radius in their units.
No I/O, no user-facing errors. Wrappers: :mod:`segshift.tiled` and
:func:`segshift._regions.fuse_regions`.

The climb is that of :mod:`segshift._filter_kernels` with n range
components instead of L*u*v* (no bright-centre rule, no table of windows).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ._config import JIT_PARALLEL, JIT_SIMD
from ._filter_kernels import (
    ACC_MIN,
    GAUSSIAN,
    PAD_VALUE,
    TILE_COLS,
    TILE_ROWS,
    UNIFORM,
    _exp_neg2,
    window_reach,
    window_span,
)
from ._interrupt import interrupted


@numba.njit(**JIT_SIMD)
def climb_bands(planes, stride, pad, bounds, height, width, y0, x0, hs, hr, kernel, eps, max_iter, raw_units, acc,
                centre, out):
    """Move the window started at pixel (y0, x0) to its mode.

    planes: (n, m) float32, pixel (r, x) at r * stride + x + pad; bounds:
    (4,) int64 first and last row and column held (as _climb). acc:
    (n + 3, >= window_span) float32 scratch (per column: weight, row, the
    range distance or weight, and each band's sum); centre: (n,) float64
    scratch; out: (n,) float64 receives the range part of the mode. Returns
    the shifts made, or -1 when a window needs data outside bounds.
    """
    bands = planes.shape[0]
    span = window_span(hs, width)
    reach = window_reach(hs, width)
    hs2 = hs * hs
    inv_hs2 = 1.0 / hs2
    inv_hr2 = 1.0 / (hr * hr)
    fw = np.float32(inv_hr2)
    finv_hs2 = np.float32(inv_hs2)
    fhs2 = np.float32(hs2)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    p0 = y0 * stride + x0 + pad
    cx = float(x0)
    cy = float(y0)
    for b in range(bands):
        centre[b] = planes[b, p0]
    acc_w = acc[0]
    acc_y = acc[1]
    acc_t = acc[2]
    it = 0
    while True:
        ix = int(math.floor(cx))
        fx = np.float32(cx - ix + reach)
        r0 = int(max(0.0, math.ceil(cy - hs)))
        r1 = int(min(height - 1.0, math.floor(cy + hs)))
        first = ix - reach
        if r0 < bounds[0] or r1 > bounds[1] or first < bounds[2] or first + span - 1 > bounds[3]:
            return -1
        for q in range(bands + 3):
            for k in range(span):
                acc[q, k] = zero
        dy = np.float32(r0 - cy) - one
        rowf = -one
        for r in range(r0, r1 + 1):
            dy += one
            dy2 = dy * dy
            rowf += one
            base = np.uint64(r * stride + first + pad)
            for k in range(span):
                acc_t[k] = zero
            for b in range(bands):
                fc = np.float32(centre[b])
                plane = planes[b]
                for k in range(span):
                    d = plane[base + np.uint64(k)] - fc
                    acc_t[k] += fw * d * d
            for k in range(span):
                dx = np.float32(k) - fx
                ds = dx * dx + dy2
                dr = acc_t[k]
                inside = (dr < one) & (ds < fhs2)
                if kernel == UNIFORM:
                    w = one
                elif kernel == GAUSSIAN:
                    w = _exp_neg2(ds * finv_hs2 + dr)
                else:
                    w = (one - ds * finv_hs2) * (one - dr)
                w = w if inside else zero
                acc_w[k] += w
                acc_y[k] += w * rowf
                acc_t[k] = w
            for b in range(bands):
                fc = np.float32(centre[b])
                plane = planes[b]
                sums = acc[3 + b]
                for k in range(span):
                    w = acc_t[k]
                    d = plane[base + np.uint64(k)] - fc
                    sums[k] += d * w if w > zero else zero
        sw = zero
        sx = zero
        sy = zero
        for k in range(span):
            sw += acc_w[k]
            sx += np.float32(k) * acc_w[k]
            sy += acc_y[k]
        it += 1
        if sw <= zero:
            break
        n = float(sw)
        mx = first + float(sx) / n - cx
        my = r0 + float(sy) / n - cy
        cx += mx
        cy += my
        shift_r = 0.0
        for b in range(bands):
            sb = zero
            sums = acc[3 + b]
            for k in range(span):
                sb += sums[k]
            m = float(sb) / n
            centre[b] += m
            shift_r += m * m
        if raw_units and it > 1:
            shift = mx * mx + my * my + shift_r
        else:
            shift = (mx * mx + my * my) * inv_hs2 + shift_r * inv_hr2
        if shift < eps or it >= max_iter:
            break
    for b in range(bands):
        out[b] = centre[b]
    return it


@numba.njit(**JIT_PARALLEL)
def filter_bands_block(planes, stride, pad, bounds, height, width, i0, i1, j0, j1, hs, hr, kernel, eps, max_iter,
                       raw_units, modes, escaped):
    """Climbs from the pixels of rows i0..i1-1, columns j0..j1-1, in tiles of
    TILE_ROWS x TILE_COLS climbs (as segshift._tile_kernels.filter_block).
    modes: (i1 - i0, j1 - j0, n) float32; escaped: (tiles,) bool. A pixel
    holding PAD_VALUE (masked) does not climb: its mode is PAD_VALUE. Stops
    early on Ctrl-C."""
    bands = planes.shape[0]
    span = window_span(hs, width)
    rows = i1 - i0
    cols = j1 - j0
    tiles_across = (cols + TILE_COLS - 1) // TILE_COLS
    tiles = ((rows + TILE_ROWS - 1) // TILE_ROWS) * tiles_across
    for t in numba.prange(tiles):
        out = np.zeros(bands, dtype=np.float64)
        centre = np.empty(bands, dtype=np.float64)
        acc = np.empty((bands + 3, max(span, ACC_MIN)), dtype=np.float32)
        a0 = i0 + (t // tiles_across) * TILE_ROWS
        b0 = j0 + (t % tiles_across) * TILE_COLS
        escaped[t] = False
        for i in range(a0, min(i1, a0 + TILE_ROWS)):
            if interrupted():  # Ctrl-C: modes left unset; the caller checks (segshift._interrupt)
                break
            for j in range(b0, min(j1, b0 + TILE_COLS)):
                p0 = i * stride + j + pad
                if planes[0, p0] == PAD_VALUE:
                    # a masked pixel (the reader gives it PAD_VALUE in every band): not segmented; its
                    # "mode" stays PAD_VALUE so that masked pixels connect only to each other
                    for b in range(bands):
                        modes[i - i0, j - j0, b] = PAD_VALUE
                    continue
                if climb_bands(planes, stride, pad, bounds, height, width, i, j, hs, hr, kernel, eps, max_iter,
                               raw_units, acc, centre, out) < 0:
                    escaped[t] = True
                    break
                for b in range(bands):
                    modes[i - i0, j - j0, b] = out[b]
            if escaped[t]:
                break
    return escaped
