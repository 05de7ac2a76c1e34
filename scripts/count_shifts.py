"""Mean-shift steps per pixel, with and without shared climbs (exact mode).

Usage: python scripts/count_shifts.py [--spatial-radius 7] [--range-radius 6.5]

With EDISON's convergence test (the default numerics) each tile of the
filter keeps the windows its climbs went through, and a climb whose window
holds the same pixels as one of an earlier converged climb takes that
climb's mode instead of climbing on (see ``segshift._filter_kernels._climb``). This
script runs the climbs of every bundled photo one by one, in the filter's
tile order, and prints the mean number of shifts a pixel makes without the
table and with it. It counts work, so unlike a timing it does not depend on
how busy the machine is.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from segshift import _filter_kernels as K
from segshift._loader import load_image, rgb_to_luv

from _record import record  # noqa: E402


@numba.njit
def shifts(luv, hs, hr, shared):
    """Total shifts of all climbs, tile by tile as filter_grid runs them."""
    height, width = luv.shape[0], luv.shape[1]
    pad = K.window_reach(hs, width) + K.LANES + 1
    span = K.window_span(hs, width)
    planes, stride = K.pad_planes(luv, pad, pad)
    acc = np.empty((5, max(span, K.ACC_MIN)), dtype=np.float32)
    out = np.empty(3)
    visited = np.empty(K.MEMO_VISITS, dtype=np.int64)
    size = K.MEMO_SIZE if shared else 0
    bounds = np.array([0, height - 1, -pad, width + pad - 1], dtype=np.int64)
    total = 0
    for i0 in range(0, height, K.TILE_ROWS):
        for j0 in range(0, width, K.TILE_COLS):
            memo = np.empty((size, K.MEMO_COLUMNS))
            memo[:, 7] = K.EMPTY
            for i in range(i0, min(height, i0 + K.TILE_ROWS)):
                for j in range(j0, min(width, j0 + K.TILE_COLS)):
                    total += K._climb(planes, stride, pad, bounds, height, width, i, j, hs, hr, K.UNIFORM, 0.01, 100,
                                      True, acc, out, memo, visited)
    return total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spatial-radius", type=float, default=7.0)
    parser.add_argument("--range-radius", type=float, default=6.5)
    args = parser.parse_args(argv)
    print(f"uniform kernel, EDISON numerics, spatial {args.spatial_radius:g}, range {args.range_radius:g}")
    print(f"{'photo':<16}{'shifts/pixel':>13}{'shared':>9}{'ratio':>7}")
    rows = []
    for path in sorted((ROOT / "images").glob("*.jpg")):
        luv = rgb_to_luv(load_image(path), compat="edison")
        n = luv.shape[0] * luv.shape[1]
        alone = shifts(luv, args.spatial_radius, args.range_radius, False) / n
        shared = shifts(luv, args.spatial_radius, args.range_radius, True) / n
        print(f"{path.name:<16}{alone:>13.2f}{shared:>9.2f}{shared / alone:>7.2f}")
        rows.append([path.name, round(alone, 2), round(shared, 2), round(shared / alone, 2)])
    name = "count_shifts" if (args.spatial_radius, args.range_radius) == (7.0, 6.5) else (
        f"count_shifts_{args.spatial_radius:g}_{args.range_radius:g}")
    record(name, f"Shifts per pixel with and without shared climbs (spatial {args.spatial_radius:g}, "
                 f"range {args.range_radius:g})",
           tables=[{"caption": "uniform kernel, EDISON numerics, exact mode: mean shifts a pixel makes",
                    "columns": ["photo", "shifts / pixel", "with shared climbs", "ratio"], "rows": rows}],
           notes=["Counts of work, not timings: they do not depend on how busy the machine is."])
    return 0


if __name__ == "__main__":
    sys.exit(main())
