"""The mean-shift core: validate, pick a kernel, climb to the modes.

:func:`filter_image` moves every pixel of an L*u*v* image, as a joint
(x, y, L, u, v) feature vector, to its mode with separate spatial and range
bandwidths (compiled, parallel over pixels). Point sets are clustered by
:mod:`segshift._pointsets`, which shares the kernel names and validation here.

References
----------
D. Comaniciu and P. Meer, "Mean Shift: A Robust Approach Toward Feature Space
Analysis", IEEE TPAMI 24(5), 2002.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numba
import numpy as np
from numpy.typing import NDArray

from . import _filter_kernels as _kernels
from . import _interrupt
from .errors import ParameterError

#: Kernel names and the ids the compiled code uses. "flat" is an alias of
#: "uniform" (the name common for point-set clustering).
KERNELS = {
    "uniform": _kernels.UNIFORM,
    "flat": _kernels.UNIFORM,
    "gaussian": _kernels.GAUSSIAN,
    "epanechnikov": _kernels.EPANECHNIKOV,
}

KERNEL_DOC = """\
All kernels are the weights g of the mean-shift update, truncated at the
bandwidth: a point counts only when it lies strictly inside the window
(for images: inside the spatial disk of radius ``spatial_radius`` AND the
range ball of radius ``range_radius``; the weight is the product of the
spatial and the range weight).

- ``"uniform"`` (alias ``"flat"``): weight 1 inside the window, EDISON's
  kernel (the mean shift of an Epanechnikov density estimate).
- ``"gaussian"``: weight ``exp(-t / (2 sigma^2))`` with ``sigma`` half the
  bandwidth, truncated at the bandwidth (2 sigma), where ``t`` is the squared
  distance in bandwidth units.
- ``"epanechnikov"``: weight ``1 - t`` inside the window, zero outside.
"""


def check_kernel(kernel: str) -> int:
    """Return the compiled id of a kernel name, or raise ParameterError."""
    if not isinstance(kernel, str) or kernel.lower() not in KERNELS:
        names = ", ".join(sorted(KERNELS))
        raise ParameterError(f"kernel must be one of {names}; got {kernel!r}")
    return KERNELS[kernel.lower()]


#: Numerical conventions: ``None`` is segshift's own; ``"edison"`` reproduces
#: the numerics of EDISON, the authors' C++ system (see :func:`segshift.segment`).
COMPAT = (None, "edison")


#: Speed-ups: "none" is exact mean shift; "fast" climbs from every FAST_STEP-th
#: pixel of every FAST_STEP-th row only (see :func:`filter_image`).
SPEEDUPS = ("none", "fast")
FAST_STEP = 2
# Iterations of a parallel kernel loop (a tile of climbs, a row of pixels)
# that a thread takes at a time.
PARALLEL_CHUNK = 1


def check_speedup(speedup) -> str:
    """Validate the ``speedup`` option."""
    if speedup not in SPEEDUPS:
        raise ParameterError(f"speedup must be 'none' or 'fast', got {speedup!r}")
    return speedup


def check_compat(compat) -> str | None:
    """Validate the ``compat`` option."""
    if compat not in COMPAT:
        raise ParameterError(f"compat must be None or 'edison', got {compat!r}")
    return compat


def check_positive(name: str, value, *, integer: bool = False, allow_zero: bool = False) -> float:
    """Validate a finite positive number and return it (as float or int)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise ParameterError(f"{name} must be finite, got {value!r}")
    if integer and isinstance(value, (float, np.floating)) and not float(value).is_integer():
        raise ParameterError(f"{name} must be an integer, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ParameterError(f"{name} must be {bound}, got {value!r}")
    return int(value) if integer else float(value)


def _check_convergence(tol, max_iter) -> tuple[float, int]:
    tol = check_positive("tol", tol)
    max_iter = check_positive("max_iter", max_iter, integer=True)
    return tol, min(max_iter, 2**31 - 1)  # more shifts than that never happen


def filter_image(
    luv: NDArray[np.floating],
    spatial_radius: float = 7.0,
    range_radius: float = 6.5,
    *,
    kernel: str = "uniform",
    tol: float = 0.01,
    max_iter: int = 100,
    compat: str | None = None,
    speedup: str = "none",
    overwrite_input: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> NDArray[np.float32]:
    """Move every pixel of an L*u*v* image to its mode (exact mean shift).

    Each pixel starts at its joint feature vector (x, y, L, u, v) and moves
    to the weighted mean of the pixels inside its window until the squared
    shift, in bandwidth units, falls below ``tol`` or ``max_iter`` shifts
    were made. As in EDISON, the L difference counts four times when the
    window centre has L > 80.

    Parameters
    ----------
    luv : (H, W, 3) ndarray
        The image in CIE L*u*v*.
    spatial_radius, range_radius : float
        Radius of the spatial disk (pixels) and of the range ball (L*u*v*
        units).
    kernel : {"uniform", "gaussian", "epanechnikov"}
    tol : float
        Convergence tolerance on the squared shift in bandwidth units.
    max_iter : int
        Most shifts per pixel.
    compat : {None, "edison"}
        With ``"edison"``, convergence is tested as EDISON does: the first
        shift in bandwidth units, every later one in raw units (pixels and
        L*u*v* units), a much tighter test for the default bandwidths. Its
        long climbs often run into one another: with the uniform kernel, a
        climb whose window holds exactly the pixels of a window that an
        earlier, converged climb went through takes that climb's mode (the
        rest of its way would be the same), which saves about a quarter of
        the time and changes no mode beyond float rounding.
    speedup : {"none", "fast"}
        ``"none"``: exact, every pixel climbs. ``"fast"``: only every second
        pixel of every second row climbs (still over the density of all
        pixels), and every other pixel takes the mode of the nearby climber
        (3 x 3 climbers around it) whose colour is closest to its own, the
        basin-of-attraction reuse of Comaniciu & Meer's EDISON speed-ups on
        the spatial discretisation of Carreira-Perpinan (CVPR 2006). About
        four times less work.
    overwrite_input : bool
        Write the modes into ``luv`` (when it is C-contiguous float32) instead
        of a new array, saving 12 bytes a pixel.
    progress : callable, optional
        ``progress(done, total)``: called with the number of climbs done and
        to do, every few seconds (and once at the start with ``done`` 0), in
        the calling thread. The modes do not depend on it; the filter then
        runs in several calls, which costs a few per cent.

    Returns
    -------
    modes : (H, W, 3) ndarray of float32
        The L*u*v* part of each pixel's mode.

    Raises
    ------
    KeyboardInterrupt
        On Ctrl-C, within a tile of climbs (see :mod:`segshift._interrupt`).

    Notes
    -----
    """ + KERNEL_DOC
    spatial_radius = check_positive("spatial_radius", spatial_radius)
    range_radius = check_positive("range_radius", range_radius)
    kernel_id = check_kernel(kernel)
    tol, max_iter = _check_convergence(tol, max_iter)
    raw_units = check_compat(compat) == "edison"
    check_speedup(speedup)
    if not overwrite_input:
        luv = np.ascontiguousarray(luv, dtype=np.float32)
    elif not (isinstance(luv, np.ndarray) and luv.dtype == np.float32 and luv.flags.c_contiguous):
        raise ParameterError("overwrite_input needs a C-contiguous float32 array")
    # Beyond 10^4 image diagonals a larger disk changes nothing a float32 can
    # show (the window already holds every pixel, a kernel weight differs from
    # 1 by under 1e-8), and the kernels' squared radii stay finite.
    spatial_radius = min(spatial_radius, 1e4 * (float(np.hypot(*luv.shape[:2])) + 1.0))
    # Below 1e-100 a window holds nothing more than its centre's own colour and
    # pixel either way (float32 cannot tell such distances from 0), and the
    # squared radii stay above zero.
    spatial_radius = max(spatial_radius, 1e-100)
    range_radius = max(range_radius, 1e-100)
    modes = luv if overwrite_input else np.empty_like(luv)
    # Parts of a photo differ in cost (sky against foliage), so threads take
    # tiles as they finish instead of one fixed share of the image each.
    with numba.parallel_chunksize(PARALLEL_CHUNK):
        if speedup == "fast":
            step = FAST_STEP
            seeds = np.ascontiguousarray(luv[::step, ::step])
            seed_modes = _climb_grid(luv, spatial_radius, range_radius, kernel_id, tol, max_iter, raw_units, step,
                                     np.empty_like(seeds), progress)
            modes = _kernels.assign_from_seeds(luv, seeds, seed_modes, step, range_radius, modes)
        else:
            modes = _climb_grid(luv, spatial_radius, range_radius, kernel_id, tol, max_iter, raw_units, 1, modes,
                                progress)
    _interrupt.check()  # the kernels stopped early on Ctrl-C: the modes are incomplete
    return modes


#: With a progress callback the filter runs in calls of about this many
#: seconds (the first of two tiles a thread, to time them): the threads'
#: idle wait for each call's last tile stays a few per cent of the call,
#: and a slow image still reports every few seconds.
PROGRESS_SECONDS = 4.0


def _climb_grid(luv, spatial_radius, range_radius, kernel_id, tol, max_iter, raw_units, step, modes, progress):
    """_filter_kernels.filter_grid, or with a progress callback its tiles in
    calls of about PROGRESS_SECONDS each (each tile's climbs depend on
    nothing outside it, so the modes are the same)."""
    if progress is None:
        return _kernels.filter_grid(luv, spatial_radius, range_radius, kernel_id, tol, max_iter, raw_units, step,
                                    modes)
    tiles = int(_kernels.filter_tile_count(modes))
    least = 2 * numba.get_num_threads()
    chunk = least
    total = modes.shape[0] * modes.shape[1]
    tiles_across = -(-modes.shape[1] // _kernels.TILE_COLS)
    progress(0, total)
    planes, stride, pad = _kernels.pad_for_filter(luv, spatial_radius)
    height, width = luv.shape[0], luv.shape[1]
    t0 = 0
    while t0 < tiles:
        t1 = min(tiles, t0 + chunk)
        started = time.perf_counter()
        _kernels.filter_tiles(planes, stride, pad, height, width, spatial_radius, range_radius, kernel_id, tol,
                              max_iter, raw_units, step, t0, t1, modes)
        _interrupt.check()
        per_tile = (time.perf_counter() - started) / (t1 - t0)
        chunk = max(least, int(PROGRESS_SECONDS / max(per_tile, 1e-9)))
        t0 = t1
        # climbs in the tile rows before tile t1, plus the tiles of its row done so far
        progress(_climbs_before(t1, tiles_across, modes.shape[0], modes.shape[1]), total)
    return modes


def _climbs_before(t: int, tiles_across: int, rows: int, cols: int) -> int:
    """Climbs in the filter tiles numbered below t (row by row)."""
    band, across = divmod(t, tiles_across)
    full_rows = min(rows, band * _kernels.TILE_ROWS)
    band_rows = min(rows, full_rows + _kernels.TILE_ROWS) - full_rows
    return full_rows * cols + band_rows * min(cols, across * _kernels.TILE_COLS)
