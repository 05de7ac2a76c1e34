"""Slow, obviously-correct references for the compiled kernels (tests only)."""

from __future__ import annotations

import numpy as np


def _weights(kernel: str, t: np.ndarray) -> np.ndarray:
    if kernel == "gaussian":
        return np.exp(-2.0 * t)
    if kernel == "epanechnikov":
        return 1.0 - t
    return np.ones_like(t)


def filter_image(luv, spatial_radius, range_radius, kernel="uniform", tol=0.01, max_iter=100, raw_units=False):
    """Mean-shift filtering by brute force over all pixels, one pixel at a time.

    Follows the method as written: a pixel counts when it lies strictly inside
    the spatial disk AND the range ball around the current centre (the L
    difference weighed four times when the centre's L exceeds 80); the centre
    moves to the weighted mean until the squared shift in bandwidth units is
    below ``tol`` or ``max_iter`` shifts were made. With ``raw_units`` every
    shift after the first is measured in pixels and L*u*v* units (EDISON).
    """
    luv = np.asarray(luv, dtype=np.float64)
    height, width = luv.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width]
    feats = np.column_stack([xs.ravel(), ys.ravel(), luv.reshape(-1, 3)])
    out = np.empty((height, width, 3))
    for i, start in enumerate(feats):
        centre = start.copy()
        for step in range(max_iter):
            d = feats - centre
            ds = (d[:, 0] ** 2 + d[:, 1] ** 2) / spatial_radius**2
            lw = 4.0 if centre[2] > 80 else 1.0
            dr = (lw * d[:, 2] ** 2 + d[:, 3] ** 2 + d[:, 4] ** 2) / range_radius**2
            inside = (ds < 1) & (dr < 1)
            if not inside.any():
                break
            w = _weights(kernel, ds[inside]) * _weights(kernel, dr[inside])
            new = (w[:, None] * feats[inside]).sum(axis=0) / w.sum()
            shift = new - centre
            centre = new
            if raw_units and step > 0:
                size = (shift**2).sum()
            else:
                size = (shift[:2] ** 2).sum() / spatial_radius**2 + (shift[2:] ** 2).sum() / range_radius**2
            if size < tol:
                break
        out[i // width, i % width] = centre[2:]
    return out
