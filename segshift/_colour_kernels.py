"""Numba kernel of the loader's colour conversion: RGB in [0, 1] to CIE
L*u*v*, the formulas of scikit-image's ``rgb2xyz`` and ``xyz2luv`` (D65,
2-degree observer) in float32, one pixel at a time, chunks of pixels on
threads.

No I/O, no user-facing errors. Wrapper: :func:`segshift._loader.rgb_to_luv`,
whose tests hold this kernel to scikit-image's conversion.
"""

from __future__ import annotations

import numba
import numpy as np

from ._config import JIT, JIT_PARALLEL


@numba.njit(inline="always", **JIT)
def _linear(value, round_bytes, decode_srgb):
    """One channel as linear float32: rounded to a byte level first with
    ``round_bytes``, then sRGB-decoded with ``decode_srgb``."""
    v = np.float32(value)
    if round_bytes:
        v = np.float32(np.rint(v * np.float32(255.0))) / np.float32(255.0)
    if decode_srgb:
        if v > np.float32(0.04045):
            v = ((v + np.float32(0.055)) / np.float32(1.055)) ** np.float32(2.4)
        else:
            v = v / np.float32(12.92)
    return v


@numba.njit(inline="always", **JIT)
def _cbrt(value):
    """The cube root of a float32 in (0.008856, 1000], to float32 precision
    (relative error under 2e-8 before rounding): three Halley steps in float64
    from 0.9 * value ** 0.25. Square roots and divisions only, where a call to
    the C library's cbrtf took most of the conversion's time."""
    x = np.float64(value)
    g = 0.9 * np.sqrt(np.sqrt(x))
    for _ in range(3):
        g3 = g * g * g
        g = g * (g3 + 2.0 * x) / (2.0 * g3 + x)
    return np.float32(g)


#: Pixels per task of the conversion's parallel loop.
CHUNK = 4096


@numba.njit(**JIT_PARALLEL)
def rgb_to_luv(rgb, matrix, white, decode_srgb, round_bytes, out):
    """Convert rgb (n, 3) in [0, 1] (the cube root's range needs at most
    about 10) to L*u*v* into out (n, 3) float32, in tasks of CHUNK pixels.

    matrix: (3, 3) float32, linear RGB -> XYZ; white: (3,) float32, the
    white point's XYZ. decode_srgb: linearise the sRGB values first (else they
    are taken as linear, as EDISON does); round_bytes: round each value to
    the nearest of 256 levels first (EDISON reads bytes). Float32 arithmetic
    in scikit-image's order of operations.
    """
    n = rgb.shape[0]
    eps = np.float32(np.finfo(np.float32).eps)
    cut = np.float32(0.008856)
    c116 = np.float32(116.0)
    c16 = np.float32(16.0)
    c903 = np.float32(903.3)
    c4 = np.float32(4.0)
    c9 = np.float32(9.0)
    c13 = np.float32(13.0)
    c15 = np.float32(15.0)
    c3 = np.float32(3.0)
    white_sum = white[0] + white[1] * c15 + white[2] * c3
    u0 = c4 * white[0] / white_sum
    v0 = c9 * white[1] / white_sum
    for task in numba.prange((n + CHUNK - 1) // CHUNK):
        for k in range(task * CHUNK, min(n, (task + 1) * CHUNK)):
            r = _linear(rgb[k, 0], round_bytes, decode_srgb)
            g = _linear(rgb[k, 1], round_bytes, decode_srgb)
            b = _linear(rgb[k, 2], round_bytes, decode_srgb)
            big_x = r * matrix[0, 0] + g * matrix[0, 1] + b * matrix[0, 2]
            big_y = r * matrix[1, 0] + g * matrix[1, 1] + b * matrix[1, 2]
            big_z = r * matrix[2, 0] + g * matrix[2, 1] + b * matrix[2, 2]
            lum = big_y / white[1]
            if lum > cut:
                lum = c116 * _cbrt(lum) - c16
            else:
                lum = c903 * lum
            denom = big_x + c15 * big_y + c3 * big_z + eps
            out[k, 0] = lum
            out[k, 1] = c13 * lum * (c4 * big_x / denom - u0)
            out[k, 2] = c13 * lum * (c9 * big_y / denom - v0)
    return out
