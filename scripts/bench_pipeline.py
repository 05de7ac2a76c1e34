"""Seconds `segment` takes on each bundled photo, by stage, and the kernels' compile time.

Usage: python scripts/bench_pipeline.py [--repeat N] [segment options as key=value ...]

Compile time is measured in a fresh interpreter with the on-disk kernel cache
turned off (SEGSHIFT_NUMBA_CACHE=0): the first call's time minus the second's.
Then each bundled photo is segmented N times after a warm-up call and the
median is printed, for the whole `segment` call and for its stages run one by
one: decoding the file, the L*u*v* conversion, the mean-shift filter, the
regions (with the hierarchy, the default: connect and prune the finest
partition; with scale=fixed: connect, fuse, prune, package), the hierarchy
(boundary strength, colour and texture histograms, border statistics, merging) and the automatic scale
(picking the level and packaging it). The last column is the whole
`segment` call with scale=fixed (mean shift as published), the time the
hierarchy and the automatic scale add to.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = sorted((ROOT / "images").glob("*.jpg"))

PROBE = """
import json, sys, time
import segshift
path = sys.argv[1]
t0 = time.perf_counter(); segshift.segment(path); first = time.perf_counter() - t0
t0 = time.perf_counter(); segshift.segment(path); second = time.perf_counter() - t0
print(json.dumps({"first": first, "second": second}))
"""


def compile_seconds() -> dict:
    env = dict(os.environ, SEGSHIFT_NUMBA_CACHE="0", PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(IMAGES[0])], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402


def stages(path: Path, kwargs: dict) -> list[float]:
    """Seconds of each stage of segment(path, **kwargs), run one by one."""
    import segshift
    from segshift._hierarchy import auto_scale
    from segshift._loader import rgb_to_luv
    from segshift._meanshift import filter_image
    from segshift._segment import (
        DEFAULTS,
        finest_regions,
        hierarchy_over,
        level,
        min_size_pixels,
        regions_from_modes,
        scale_defaults,
    )

    p = {**DEFAULTS, "range_radius": None, **kwargs}
    p.update(scale_defaults(p["scale"], range_radius=p["range_radius"], min_size=p.get("min_size")))
    method = {k: p[k] for k in ("kernel", "compat", "speedup")}
    t0 = time.perf_counter()
    rgb = segshift.load_image(path)
    t1 = time.perf_counter()
    luv = rgb_to_luv(rgb, compat=p["compat"])
    t2 = time.perf_counter()
    # -s auto: BSDS500-sized photos run at (about) their own size with the working radius
    radius = scale_defaults(p["scale"], working_radius=p["spatial_radius"])["working_radius"]
    # (segment() keeps the L*u*v* image for the hierarchy's colour histograms)
    modes = filter_image(luv, radius, p["range_radius"], overwrite_input=p["scale"] == "fixed", **method)
    t3 = time.perf_counter()
    min_pixels = min_size_pixels(p["min_size"], rgb.shape[0] * rgb.shape[1])
    if p["scale"] == "fixed":
        regions_from_modes(rgb, modes, p["range_radius"], min_pixels, compat=p["compat"])
        t4 = time.perf_counter()
        return [t1 - t0, t2 - t1, t3 - t2, t4 - t3, 0.0, 0.0]
    regions = finest_regions(modes, min_pixels, compat=p["compat"])
    t4 = time.perf_counter()
    # (at the working radius the gradient's scale is its default, 1 pixel)
    hierarchy = hierarchy_over(regions, rgb, modes, compat=p["compat"], luv=luv)
    t5 = time.perf_counter()
    if p.get("n_regions") is None:
        n_merges = auto_scale(hierarchy)
    else:
        n_merges = hierarchy.merges_for(n_regions=p["n_regions"])
    level(hierarchy, n_merges, image=rgb, compat=p["compat"])
    t6 = time.perf_counter()
    return [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("params", nargs="*", help="segment() keyword arguments, e.g. speedup=fast")
    args = parser.parse_args(argv)
    kwargs = {}
    for item in args.params:
        key, value = item.split("=", 1)
        try:
            kwargs[key] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[key] = value

    import numba

    import segshift

    probe = compile_seconds()
    print(f"machine: {os.cpu_count()} cores, numba threads {numba.get_num_threads()}")
    print(f"first call (compiling, cache off): {probe['first']:.2f} s, second call {probe['second']:.2f} s "
          f"-> compilation about {probe['first'] - probe['second']:.1f} s")
    print(f"{'photo':<16}{'size':>10}{'regions':>9}{'segment':>9}{'decode':>8}{'L*u*v*':>8}{'shift':>8}{'regions':>9}"
          f"{'hierarchy':>10}{'auto':>7}{'fixed':>8}{'ratio':>7}   (seconds, median of {args.repeat}, after a warm-up)")
    rows = []
    fixed_kwargs = {**kwargs, "scale": "fixed"}
    fixed_kwargs.pop("n_regions", None)
    for path in IMAGES:
        seg = segshift.segment(path, **kwargs)
        segshift.segment(path, **fixed_kwargs)
        stages(path, kwargs)
        totals, fixed, parts = [], [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            seg = segshift.segment(path, **kwargs)
            totals.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            segshift.segment(path, **fixed_kwargs)
            fixed.append(time.perf_counter() - t0)
            parts.append(stages(path, kwargs))
        h, w = seg.shape
        widths = (8, 8, 8, 9, 10, 7)
        split = "".join(f"{statistics.median(p[k] for p in parts):>{widths[k]}.3f}" for k in range(6))
        total, base = statistics.median(totals), statistics.median(fixed)
        print(f"{path.name:<16}{f'{w}x{h}':>10}{seg.n_regions:>9}{total:>9.3f}{split}{base:>8.3f}{total / base:>7.2f}")
        rows.append([path.name, f"{w}x{h}", seg.n_regions, round(total, 3)]
                    + [round(statistics.median(p[k] for p in parts), 3) for k in range(6)]
                    + [round(base, 3), round(total / base, 2)])
    suffix = "".join(f"_{k}-{v}" for k, v in kwargs.items())
    record(f"bench_pipeline{suffix}", "The stages of segment()" + (f" with {', '.join(args.params)}" if args.params
                                                                    else " at the defaults"),
           tables=[{"caption": f"seconds, median of {args.repeat} after a warm-up; {numba.get_num_threads()} numba "
                               "threads; ratio: the whole call against scale='fixed' in the same process",
                    "columns": ["photo", "size", "regions", "segment", "decode", "L*u*v*", "mean shift", "regions",
                                "hierarchy", "auto", "scale='fixed'", "ratio"],
                    "rows": rows}],
           notes=[f"Compiling the kernels (the disk cache off) took about {probe['first'] - probe['second']:.0f} s "
                  f"in this run: the first call {probe['first']:.1f} s, the second {probe['second']:.2f} s."])
    return 0


if __name__ == "__main__":
    sys.exit(main())
