"""Numba kernels of tiled segmentation: filter a block of the image exactly as
the whole-image filter does, and gather what the region stage needs from one
strip of rows at a time. No I/O, no user-facing errors.

Wrapper: :mod:`segshift.tiled`.
"""

from __future__ import annotations

import numba
import numpy as np

from ._config import JIT, JIT_PARALLEL
from ._filter_kernels import (
    MEMO_SIZE,
    TILE_COLS,
    TILE_ROWS,
    UNIFORM,
    _climb,
    tile_scratch,
    window_span,
)
from ._interrupt import interrupted


@numba.njit(**JIT_PARALLEL)
def filter_block(planes, stride, pad, bounds, height, width, i0, i1, j0, j1, hs, hr, kernel, eps, max_iter, raw_units,
                 modes, escaped):
    """Climbs from the pixels of rows i0..i1-1 and columns j0..j1-1 (image
    coordinates), over the density of the pixels ``planes`` hold.

    planes, stride, pad, bounds: as _climb reads them (pixel (r, x) at
    r * stride + x + pad; bounds the rows and columns held). height, width:
    the whole image's. i0 and j0 are multiples of TILE_ROWS and TILE_COLS,
    so the tiles of climbs (and their tables of windows) are those of
    filter_grid on the whole image and every mode is bitwise the same.
    modes: (i1 - i0, j1 - j0, 3) float32 receives the modes. escaped:
    (tiles,) bool, set for each tile of climbs in which a window needed data
    outside bounds; the modes of such a tile are not set. Stops early on Ctrl-C.
    """
    span = window_span(hs, width)
    rows = i1 - i0
    cols = j1 - j0
    tiles_across = (cols + TILE_COLS - 1) // TILE_COLS
    tiles = ((rows + TILE_ROWS - 1) // TILE_ROWS) * tiles_across
    slots = MEMO_SIZE if (kernel == UNIFORM and raw_units) else 0
    for t in numba.prange(tiles):
        out, acc, memo, visited = tile_scratch(span, slots)
        a0 = i0 + (t // tiles_across) * TILE_ROWS
        b0 = j0 + (t % tiles_across) * TILE_COLS
        escaped[t] = False
        for i in range(a0, min(i1, a0 + TILE_ROWS)):
            if interrupted():  # Ctrl-C: modes left unset; the caller checks (segshift._interrupt)
                break
            for j in range(b0, min(j1, b0 + TILE_COLS)):
                if _climb(planes, stride, pad, bounds, height, width, i, j, hs, hr, kernel, eps, max_iter, raw_units,
                          acc, out, memo, visited) < 0:
                    escaped[t] = True
                    break
                modes[i - i0, j - j0, 0] = out[0]
                modes[i - i0, j - j0, 1] = out[1]
                modes[i - i0, j - j0, 2] = out[2]
            if escaped[t]:
                break
    return escaped


@numba.njit(**JIT)
def label_stats(labels, row0, boxes, sums):
    """Add an (h, w) strip of final labels, whose first row is image row
    row0, to each label's bounding box (x_min, y_min, x_max, y_max, maxima
    exclusive; start from (2**62, 2**62, -1, -1)) and its sums of x and of y
    (exact, int64). boxes: (n, 4) int64; sums: (n, 2) int64."""
    for y in range(labels.shape[0]):
        gy = row0 + y
        for x in range(labels.shape[1]):
            k = labels[y, x]
            sums[k, 0] += x
            sums[k, 1] += gy
            if x < boxes[k, 0]:
                boxes[k, 0] = x
            if gy < boxes[k, 1]:
                boxes[k, 1] = gy
            if x + 1 > boxes[k, 2]:
                boxes[k, 2] = x + 1
            if gy + 1 > boxes[k, 3]:
                boxes[k, 3] = gy + 1


@numba.njit(**JIT)
def add_at(out, index, start, values):
    """out[index[start + k]] += values[k] for every k (integers: any order is exact)."""
    for k in range(values.shape[0]):
        out[index[start + k]] += values[k]


@numba.njit(**JIT)
def first_rows(number, start, rows, out, next_number):
    """Of the members start, start + 1, ... of sets numbered in order of their
    smallest member (``number``), give each set the row of ``rows`` of its
    smallest member: out[number[start + k]] = rows[k] for each k whose set
    is met for the first time (number == next_number, counted on). Returns
    the next set number not yet met."""
    for k in range(rows.shape[0]):
        if number[start + k] == next_number:
            for c in range(rows.shape[1]):
                out[next_number, c] = rows[k, c]
            next_number += 1
    return next_number


@numba.njit(**JIT)
def seam_pairs(upper_modes, upper_ids, lower_modes, lower_ids, threshold):
    """What joins the last row of one strip to the first row of the next.

    upper_*, lower_*: (w, c) float32 modes and (w,) int64 component ids of
    the two rows. Returns (joins (k, 2) int64: components of 8-neighbouring
    pixels whose modes agree, every channel within ``threshold``, the test
    of connect_close; touches (e, 2) int64: components of vertically
    adjacent pixels that differ, once per run, as adjacent_pairs lists them).
    """
    width = upper_ids.shape[0]
    joins = np.empty((3 * width, 2), dtype=np.int64)
    touches = np.empty((width, 2), dtype=np.int64)
    nj = 0
    nt = 0
    last_a = -1
    last_b = -1
    for x in range(width):
        b = lower_ids[x]
        for dx in range(-1, 2):
            ux = x + dx
            if ux < 0 or ux >= width:
                continue
            agree = True
            for c in range(lower_modes.shape[1]):
                if not abs(lower_modes[x, c] - upper_modes[ux, c]) < threshold:
                    agree = False
                    break
            if agree:
                joins[nj, 0] = upper_ids[ux]
                joins[nj, 1] = b
                nj += 1
        a = upper_ids[x]
        if a != b and (a != last_a or b != last_b):
            touches[nt, 0] = a
            touches[nt, 1] = b
            nt += 1
            last_a = a
            last_b = b
    return joins[:nj].copy(), touches[:nt].copy()


@numba.njit(inline="always", **JIT)
def _deferred(flag):
    """Whether a strip component's modes are summed after the seams (DEFERRED, not MASKED_PIECE)."""
    return flag & 1 and not flag & 2


@numba.njit(**JIT)
def strip_sums(labels, modes, flags, n):
    """Of a strip's components (labels (h, w), n of them, their flags) and its
    modes (h, w, c) float32: the sum of each component's modes, in raster
    order, float64 (rows of deferred components stay 0), and the modes of the
    pixels of deferred unmasked components, in raster order: ((n, c)
    float64, (k, c) float32)."""
    channels = modes.shape[2]
    sums = np.zeros((n, channels))
    count = 0
    for y in range(labels.shape[0]):
        for x in range(labels.shape[1]):
            k = labels[y, x]
            if _deferred(flags[k]):
                count += 1
            elif not flags[k] & 1:
                for b in range(channels):
                    sums[k, b] += np.float64(modes[y, x, b])
    deferred = np.empty((count, channels), dtype=np.float32)
    j = 0
    for y in range(labels.shape[0]):
        for x in range(labels.shape[1]):
            if _deferred(flags[labels[y, x]]):
                for b in range(channels):
                    deferred[j, b] = modes[y, x, b]
                j += 1
    return sums, deferred


@numba.njit(**JIT)
def place_sums(component, flags, start, sums, out):
    """out[component[p]] = sums[p - start] for the strip components p = start, start + 1, ...
    that are not deferred (each is its connected region alone)."""
    for k in range(sums.shape[0]):
        p = start + k
        if not flags[p] & 1:
            r = component[p]
            for b in range(sums.shape[1]):
                out[r, b] = sums[k, b]


@numba.njit(**JIT)
def count_deferred(labels, offsets, flags):
    """How many pixels of an (h, w) strip of strip components (each row's first id in offsets)
    belong to deferred, unmasked components."""
    count = 0
    for y in range(labels.shape[0]):
        for x in range(labels.shape[1]):
            if _deferred(flags[offsets[y] + labels[y, x]]):
                count += 1
    return count


@numba.njit(**JIT)
def add_deferred(labels, offsets, component, flags, pixels, sums):
    """Add the modes ``pixels`` (k, c), in raster order, of the deferred unmasked pixels of an
    (h, w) strip of strip components to their connected regions' sums (m, c) float64."""
    j = 0
    for y in range(labels.shape[0]):
        for x in range(labels.shape[1]):
            p = offsets[y] + labels[y, x]
            if _deferred(flags[p]):
                r = component[p]
                for b in range(sums.shape[1]):
                    sums[r, b] += np.float64(pixels[j, b])
                j += 1


@numba.njit(**JIT)
def add_modes(labels, offsets, component_label, modes, sums):
    """Add every pixel's mode to its region's sum, in raster order (as
    numpy.bincount does over the whole image). labels: (h, w) int32 strip
    component of each pixel, offsets: (h,) int64 the first component id of
    each row's strip; component_label: (n,) int64; modes: (h, w, c) float32;
    sums: (m, c) float64."""
    for y in range(labels.shape[0]):
        offset = offsets[y]
        for x in range(labels.shape[1]):
            r = component_label[offset + labels[y, x]]
            for k in range(modes.shape[2]):
                sums[r, k] += np.float64(modes[y, x, k])
