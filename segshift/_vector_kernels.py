"""Numba kernels of :mod:`segshift.vectors`: per-segment band statistics
gathered strip by strip. No I/O, no user-facing errors.
"""

from __future__ import annotations

import numba
import numpy as np

from ._config import JIT


@numba.njit(**JIT)
def add_moments(labels, samples, valid, use_valid, count, mean, m2, vmin, vmax):
    """Add the pixels of one strip to their segments' running moments.

    labels: (h, w) uint32, 0 for no segment; samples: (h, w, b) any numeric
    type; valid: (h, w) bool, read only when use_valid. count: (n + 1,)
    int64; mean, m2, vmin, vmax: (n + 1, b) float64, updated in place by
    Welford's recurrence in raster order (so the result does not depend on
    how the rows are cut into strips).
    """
    bands = samples.shape[2]
    for y in range(labels.shape[0]):
        for x in range(labels.shape[1]):
            k = labels[y, x]
            if k == 0 or (use_valid and not valid[y, x]):
                continue
            c = count[k] + 1
            count[k] = c
            inv = 1.0 / c
            for b in range(bands):
                v = np.float64(samples[y, x, b])
                d = v - mean[k, b]
                mean[k, b] += d * inv
                m2[k, b] += d * (v - mean[k, b])
                if c == 1 or v < vmin[k, b]:
                    vmin[k, b] = v
                if c == 1 or v > vmax[k, b]:
                    vmax[k, b] = v
