"""How many full-resolution pixels the working resolution places (segshift/resolution.py).

Usage: python scripts/bench_placement.py [--bsds BSDS500_DIR] [--limit 20]

For a photo segmented at a working resolution, the level that
``segshift.segment`` returns is brought to full resolution by placing only
the pixels near its own boundaries (``resolution.Placement.level``); the
finest regions (``seg.hierarchy.finest_labels``, which the UCM needs) place
every pixel near a finest boundary. The script counts both, as shares of
the photo's pixels, by recording what the placement's kernel reports
(``spread_settled`` returns the number of pixels left to place): on the
12-megapixel mosaic of ``bench_speed.py`` at the defaults, exact and fast,
and, with ``--bsds``, on the first ``--limit`` BSDS500 val photos in the
fast mode (worked at half their side). It also times ``segment`` on the
mosaic, best of 3.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _record import record  # noqa: E402


def shares(image, speedup: str, timed: bool = True) -> tuple[float, float, float | None]:
    """(share placed for the returned level, share placed for the finest regions, seconds of segment or None)."""
    import segshift

    kernels = importlib.import_module("segshift._resolution_kernels")
    spread = kernels.spread_settled
    placed = []

    def recording(labels, keep, rows, cols, out):
        n = spread(labels, keep, rows, cols, out)
        placed.append(int(n) / out.size)
        return n

    kernels.spread_settled = recording
    try:
        seg = segshift.segment(image, speedup=speedup)
        seg.hierarchy.finest_labels  # noqa: B018 (places the finest regions)
    finally:
        kernels.spread_settled = spread
    level, finest = placed
    if not timed:
        return level, finest, None
    return level, finest, min(_timed(lambda: segshift.segment(image, speedup=speedup)) for _ in range(3))


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bsds", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=20)
    args = parser.parse_args(argv)
    spec = importlib.util.spec_from_file_location("bench_speed", ROOT / "scripts" / "bench_speed.py")
    bench_speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_speed)
    mosaic = bench_speed.mosaic_12mp()
    print(f"{'photo':<40}{'speedup':<9}{'level placed':>14}{'finest placed':>15}{'segment s':>11}")
    rows = []
    for speedup in ("none", "fast"):
        level, finest, seconds = shares(mosaic, speedup)
        print(f"{'12 MP mosaic':<40}{speedup:<9}{level:>14.1%}{finest:>15.1%}{seconds:>11.3f}")
        rows.append(["12 MP mosaic", speedup, f"{level:.1%}", f"{finest:.1%}", round(seconds, 3)])
    if args.bsds:
        rows_b = [shares(str(p), "fast", timed=False)[:2] for p in sorted((args.bsds / "images" / "val").glob("*.jpg"))[: args.limit]]
        level = [r[0] for r in rows_b]
        finest = [r[1] for r in rows_b]
        print(f"{f'{len(rows_b)} BSDS500 val photos, median (range)':<40}{'fast':<9}"
              f"{statistics.median(level):>6.1%} ({min(level):.0%}-{max(level):.0%})"
              f"{statistics.median(finest):>7.1%} ({min(finest):.0%}-{max(finest):.0%})")
        rows.append([f"{len(rows_b)} BSDS500 val photos, median (range)", "fast",
                     f"{statistics.median(level):.1%} ({min(level):.0%}-{max(level):.0%})",
                     f"{statistics.median(finest):.1%} ({min(finest):.0%}-{max(finest):.0%})", ""])
    record("bench_placement", "Pixels placed at full resolution",
           tables=[{"caption": "share of the photo's pixels placed for the returned level and for the finest regions "
                               "(segment: best of 3 seconds)",
                    "columns": ["photo", "speedup", "level placed", "finest placed", "segment s"], "rows": rows}])
    return 0


if __name__ == "__main__":
    sys.exit(main())
