"""Numba kernels of the working-resolution stage: the pixel-area resize to
the working resolution, and full-resolution labels from a segmentation made
there.

No I/O, no user-facing errors. Inputs are assumed valid and C-contiguous.
Wrapper: :mod:`segshift._resolution`.
"""

from __future__ import annotations

import numba
import numpy as np

from ._config import JIT, JIT_PARALLEL


@numba.njit(**JIT)
def area_span(n_in, n_out, i):
    """The input pixels output pixel ``i`` covers when ``n_in`` pixels shrink to
    ``n_out``: (first, last + 1). Output i spans [i * n_in, (i + 1) * n_in) and
    input k spans [k * n_out, (k + 1) * n_out), in units of 1 / n_out input
    pixels, so every span and overlap is an exact integer."""
    return (i * n_in) // n_out, ((i + 1) * n_in - 1) // n_out + 1


@numba.njit(**JIT)
def area_weight(n_in, n_out, i, k):
    """Weight of input pixel k in output pixel i: their overlap over the output's span (exact integers, one division)."""
    lo = max(i * n_in, k * n_out)
    hi = min((i + 1) * n_in, (k + 1) * n_out)
    return (hi - lo) / n_in


@numba.njit(**JIT_PARALLEL)
def area_rows(src, src_row0, height, width, h, w, a, b, out):
    """Output rows a..b-1 of the pixel-area resize of an image (height, width,
    c) to (h, w, c): each output pixel the mean of the input pixels under it,
    weighted by the area they overlap.

    src: (rows, width, c) float32, input rows src_row0.. (at least the rows
    that output rows a..b-1 cover, see area_span); out: (b - a, w, c)
    float32. Every weight comes from global coordinates and every output
    pixel sums its inputs in one fixed order (rows, then columns within a
    row, in float64), so any split of the output rows gives bitwise the
    whole image's values.
    """
    c = src.shape[2]
    for r in numba.prange(b - a):
        i = a + r
        k0, k1 = area_span(height, h, i)
        acc = np.zeros((w, c), dtype=np.float64)
        for k in range(k0, k1):
            wy = area_weight(height, h, i, k)
            row = src[k - src_row0]
            for j in range(w):
                l0, l1 = area_span(width, w, j)
                for ch in range(c):
                    s = 0.0
                    for l in range(l0, l1):
                        s += area_weight(width, w, j, l) * row[l, ch]
                    acc[j, ch] += wy * s
        for j in range(w):
            for ch in range(c):
                out[r, j, ch] = acc[j, ch]
    return out


@numba.njit(**JIT)
def nearest_index(n_full, n_work):
    """(n_full,) int32: the working-resolution row (or column) nearest to each
    full-resolution one, centres aligned as a resize aligns them."""
    f = n_work / n_full
    out = np.empty(n_full, dtype=np.int32)
    for i in range(n_full):
        j = int(np.floor((i + 0.5) * f))
        out[i] = min(max(j, 0), n_work - 1)
    return out


@numba.njit(**JIT_PARALLEL)
def settled(labels):
    """(h, w) bool: True where a working pixel and its 8 neighbours share one label."""
    h, w = labels.shape
    out = np.empty((h, w), dtype=np.bool_)
    for i in numba.prange(h):
        for j in range(w):
            lab = labels[i, j]
            same = True
            for a in range(max(0, i - 1), min(h, i + 2)):
                for b in range(max(0, j - 1), min(w, j + 2)):
                    if labels[a, b] != lab:
                        same = False
            out[i, j] = same
    return out


@numba.njit(**JIT_PARALLEL)
def spread_settled(labels, settled_mask, rows, cols, out):
    """Full-resolution labels where the nearest working pixel is settled, -1
    elsewhere. rows: (H,), cols: (W,) int32 from nearest_index; out: (H, W)
    int32. Returns the number of unsettled pixels."""
    height, width = out.shape
    counts = np.zeros(height, dtype=np.int64)
    for y in numba.prange(height):
        i = rows[y]
        n = 0
        for x in range(width):
            j = cols[x]
            if settled_mask[i, j]:
                out[y, x] = labels[i, j]
            else:
                out[y, x] = -1
                n += 1
        counts[y] = n
    return counts.sum()


@numba.njit(**JIT_PARALLEL)
def unsettled_rgb(rgb, out_labels, n, pixels, colours):
    """Gather the unsettled pixels (label -1): pixels (n,) int64 flat indices
    and colours (n, 1, 3) float32 their RGB, in raster order."""
    height, width = out_labels.shape
    starts = np.zeros(height + 1, dtype=np.int64)
    for y in numba.prange(height):
        c = 0
        for x in range(width):
            if out_labels[y, x] < 0:
                c += 1
        starts[y + 1] = c
    for y in range(height):
        starts[y + 1] += starts[y]
    for y in numba.prange(height):
        k = starts[y]
        for x in range(width):
            if out_labels[y, x] < 0:
                pixels[k] = y * width + x
                for c in range(3):
                    colours[k, 0, c] = rgb[y, x, c]
                k += 1
    return pixels, colours


@numba.njit(**JIT_PARALLEL)
def place_unsettled(pixels, luv, labels, region_of, modes, fy, fx, hs, hr, out_labels, chosen, row0=0):
    """Give each unsettled full-resolution pixel the region of one of the
    3 x 3 working pixels around it: the one nearest in the joint domain,
    distance (spatial offset / hs)^2 + (colour - its mode / hr)^2, as the
    climb from the pixel would most likely end at the nearest mode.

    pixels: (n,) flat indices; luv: (n, 1, 3) float32 their L*u*v* colours;
    labels: (h, w) int32 (finest regions) and modes: (h, w, 3) float32 of
    the working resolution; region_of: (n_regions,) int32, the region of a
    level each finest region lies in (the pixel gets region_of of the
    finest region it chose); fy, fx: working pixels per full-resolution
    pixel; hs in working pixels, hr in L*u*v* units. out_labels: (rows, W)
    int32, the full-resolution rows row0.. (pixels index into it);
    chosen: (n_regions,) bool, set for every finest region a pixel
    chose (each written True only: the same in any order).
    """
    h, w = labels.shape
    width = out_labels.shape[1]
    inv_hs2 = 1.0 / (hs * hs)
    inv_hr2 = 1.0 / (hr * hr)
    for k in numba.prange(pixels.shape[0]):
        y = pixels[k] // width
        x = pixels[k] - y * width
        wy = (row0 + y + 0.5) * fy - 0.5
        wx = (x + 0.5) * fx - 0.5
        i0 = min(max(int(np.floor(wy + 0.5)), 0), h - 1)
        j0 = min(max(int(np.floor(wx + 0.5)), 0), w - 1)
        best = np.inf
        lab = labels[i0, j0]
        for i in range(max(0, i0 - 1), min(h, i0 + 2)):
            for j in range(max(0, j0 - 1), min(w, j0 + 2)):
                dl = luv[k, 0, 0] - modes[i, j, 0]
                du = luv[k, 0, 1] - modes[i, j, 1]
                dv = luv[k, 0, 2] - modes[i, j, 2]
                d = ((i - wy) ** 2 + (j - wx) ** 2) * inv_hs2 + (dl * dl + du * du + dv * dv) * inv_hr2
                if d < best:
                    best = d
                    lab = labels[i, j]
        out_labels[y, x] = region_of[lab]
        chosen[lab] = True
    return out_labels


# Bands of rows counted apart (then added up) by count_labels.
COUNT_BANDS = 32


@numba.njit(**JIT_PARALLEL)
def count_labels(labels, n):
    """(n,) int64 pixels per label of a (H, W) int32 label map."""
    height, width = labels.shape
    parts = np.zeros((COUNT_BANDS, n), dtype=np.int64)
    chunk = (height + COUNT_BANDS - 1) // COUNT_BANDS
    for t in numba.prange(COUNT_BANDS):
        for y in range(t * chunk, min(height, (t + 1) * chunk)):
            for x in range(width):
                parts[t, labels[y, x]] += 1
    out = np.zeros(n, dtype=np.int64)
    for t in range(COUNT_BANDS):
        for k in range(n):
            out[k] += parts[t, k]
    return out
