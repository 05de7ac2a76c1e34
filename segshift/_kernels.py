"""Numba kernels of the image mean-shift core. No I/O, no user-facing errors.

Inputs are assumed valid: C-contiguous float32 arrays, positive radii.
Kernel ids: 0 uniform, 1 Gaussian, 2 Epanechnikov (see meanshift.KERNELS).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ._config import JIT, JIT_PARALLEL

UNIFORM = 0
GAUSSIAN = 1
EPANECHNIKOV = 2

# EDISON weighs the L difference four times when the window centre is brighter
# than this (it keeps highlights from bleeding into each other).
BRIGHT_L = 80.0


@numba.njit(**JIT)
def _weight(kernel, t):
    """Profile weight g(t) at squared normalised distance t < 1."""
    if kernel == UNIFORM:
        return 1.0
    if kernel == GAUSSIAN:
        # sigma = radius / 2, truncated at the radius: exp(-t / (2 sigma^2))
        return math.exp(-2.0 * t)
    return 1.0 - t  # Epanechnikov


@numba.njit(**JIT)
def _climb(luv, y0, x0, hs, hr, kernel, eps, max_iter, raw_units, out):
    """Move the window started at pixel (y0, x0) to its mode.

    luv: (H, W, 3) float32. out: (5,) float64 receives (x, y, L, u, v) of the
    mode. raw_units: after the first shift, test convergence in pixels and
    L*u*v* units instead of bandwidth units (EDISON's rule). Returns the
    number of shifts made.
    """
    height, width = luv.shape[0], luv.shape[1]
    hs2 = hs * hs
    inv_hs2 = 1.0 / hs2
    inv_hr2 = 1.0 / (hr * hr)
    cx = float(x0)
    cy = float(y0)
    cl = float(luv[y0, x0, 0])
    cu = float(luv[y0, x0, 1])
    cv = float(luv[y0, x0, 2])
    it = 0
    while True:
        lw = 4.0 if cl > BRIGHT_L else 1.0
        sw = 0.0
        sx = 0.0
        sy = 0.0
        sl = 0.0
        su = 0.0
        sv = 0.0
        r0 = max(0, int(math.ceil(cy - hs)))
        r1 = min(height - 1, int(math.floor(cy + hs)))
        for r in range(r0, r1 + 1):
            dy = r - cy
            rem = hs2 - dy * dy
            if rem <= 0.0:
                continue
            half = math.sqrt(rem)
            c0 = max(0, int(math.ceil(cx - half)))
            c1 = min(width - 1, int(math.floor(cx + half)))
            row = luv[r]
            for c in range(c0, c1 + 1):
                dx = c - cx
                ds = dx * dx + dy * dy
                if ds >= hs2:
                    continue
                dl = row[c, 0] - cl
                du = row[c, 1] - cu
                dv = row[c, 2] - cv
                dr = (lw * dl * dl + du * du + dv * dv) * inv_hr2
                if dr >= 1.0:
                    continue
                if kernel == UNIFORM:
                    w = 1.0
                else:
                    w = _weight(kernel, ds * inv_hs2) * _weight(kernel, dr)
                sw += w
                sx += w * c
                sy += w * r
                sl += w * row[c, 0]
                su += w * row[c, 1]
                sv += w * row[c, 2]
        it += 1
        if sw <= 0.0:
            break
        mx = sx / sw - cx
        my = sy / sw - cy
        ml = sl / sw - cl
        mu = su / sw - cu
        mv = sv / sw - cv
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
    out[0] = cx
    out[1] = cy
    out[2] = cl
    out[3] = cu
    out[4] = cv
    return it


@numba.njit(**JIT_PARALLEL)
def filter_exact(luv, hs, hr, kernel, eps, max_iter, raw_units):
    """Exact mean-shift filtering: every pixel climbs to its own mode.

    luv: (H, W, 3) float32 -> modes (H, W, 3) float32 (range part of each
    pixel's mode).
    """
    height, width = luv.shape[0], luv.shape[1]
    modes = np.empty((height, width, 3), dtype=np.float32)
    for y in numba.prange(height):
        out = np.empty(5, dtype=np.float64)
        for x in range(width):
            _climb(luv, y, x, hs, hr, kernel, eps, max_iter, raw_units, out)
            modes[y, x, 0] = out[2]
            modes[y, x, 1] = out[3]
            modes[y, x, 2] = out[4]
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
    order of each region's first pixel, number of regions). One raster scan of
    union-find over the four earlier neighbours, then one relabelling scan.
    """
    height, width = modes.shape[0], modes.shape[1]
    n = height * width
    parent = np.arange(n)
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
                    a = _find(parent, i)
                    b = _find(parent, ny * width + nx)
                    if a < b:
                        parent[b] = a
                    elif b < a:
                        parent[a] = b
    # Roots are the smallest index of their set, i.e. the region's first pixel,
    # so numbering roots as they appear gives raster order.
    labels = np.empty((height, width), dtype=np.int32)
    flat = labels.reshape(n)
    count = 0
    for i in range(n):
        r = _find(parent, i)
        if r == i:
            flat[i] = count
            count += 1
        else:
            flat[i] = flat[r]
    return labels, count
