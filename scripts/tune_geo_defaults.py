"""Segments of a georeferenced scene over a grid of spatial and range radii (the geo defaults' table).

For each spatial radius (pixels) and range radius (standard deviations, bands
scaled by their standard deviation) it runs ``segshift.geo.segment_raster``
with the other settings at their defaults and records the number of segments,
the median segment size and the largest segment's share of the valid pixels.
Figures to docs/benchmarks/geo_defaults.json with the command and the date.

    # rasterio's test scene (tests/data/RGB.byte.tif in github.com/rasterio/rasterio)
    python scripts/tune_geo_defaults.py RGB.byte.tif
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scene")
    parser.add_argument("--spatial", default="3,5,8", help="spatial radii in pixels, comma-separated")
    parser.add_argument("--range", default="0.1,0.25,0.5,1.0", help="range radii in standard deviations")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "geo_defaults.json"))
    args = parser.parse_args()

    from segshift import geo

    rows = []
    for hs in (float(v) for v in args.spatial.split(",")):
        for hr in (float(v) for v in args.range.split(",")):
            result = geo.segment_raster(args.scene, spatial_radius=hs, range_radius=hr)
            pixels = result.attributes["pixels"]
            rows.append({"spatial_radius": hs, "range_radius": hr, "segments": result.n_regions,
                         "median_pixels": float(np.median(pixels)) if len(pixels) else 0.0,
                         "largest_share": round(float(pixels.max() / pixels.sum()), 4) if len(pixels) else 0.0})
            print(rows[-1], flush=True)
    figures = {
        "command": " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "scene": os.path.basename(args.scene), "defaults": {k: v for k, v in geo.GEO_DEFAULTS.items()},
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
