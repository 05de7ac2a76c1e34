"""Agreement of segshift's exact mode with EDISON's own label maps.

Usage: python scripts/edison_agreement.py BSDS500_DIR EDISON_DIR [--limit N]

Segments every BSDS500 val photo with EDISON's defaults (7, 6.5, 20, exact, scale="fixed",
``compat="edison"``)
and prints the adjusted Rand index against EDISON's label map, per photo and
the mean.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.metrics import adjusted_rand_score

import segshift

from _record import record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bsds", type=Path, help="BSDS500 folder (with images/val)")
    parser.add_argument("edison", type=Path, help="folder of EDISON label maps <id>.png")
    parser.add_argument("--compat", default="edison", choices=["edison", "none"],
                        help="segshift's numerical conventions (default: EDISON's)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N photos")
    args = parser.parse_args(argv)
    args.compat = None if args.compat == "none" else args.compat

    refs = sorted(args.edison.glob("*.png"))[: args.limit]
    scores = []
    rows = []
    start = time.perf_counter()
    for ref in refs:
        photo = args.bsds / "images" / "val" / f"{ref.stem}.jpg"
        seg = segshift.segment(photo, spatial_radius=7, range_radius=6.5, min_size=20, compat=args.compat,
                               scale="fixed")
        edison = np.asarray(Image.open(ref))
        ari = adjusted_rand_score(edison.ravel(), seg.labels.ravel())
        scores.append(ari)
        rows.append([ref.stem, round(float(ari), 3), int(seg.n_regions), int(len(np.unique(edison)))])
        print(f"{ref.stem}  ARI {ari:.3f}  regions {seg.n_regions:5d} (EDISON {len(np.unique(edison)):5d})", flush=True)
    print(f"mean adjusted Rand index over {len(scores)} photos: {np.mean(scores):.3f} "
          f"(min {np.min(scores):.3f}); {time.perf_counter() - start:.0f} s")
    record("edison_agreement" if args.compat else "edison_agreement_none",
           "Agreement with EDISON's label maps (spatial 7, range 6.5, minimum 20 pixels, scale='fixed')",
           tables=[{"caption": "summary", "columns": ["photos", "mean adjusted Rand index", "lowest", "seconds"],
                    "rows": [[len(scores), round(float(np.mean(scores)), 3), round(float(np.min(scores)), 3),
                              round(time.perf_counter() - start, 1)]]},
                   {"caption": "per photo", "columns": ["photo", "adjusted Rand index", "regions", "EDISON regions"],
                    "rows": rows}])
    return 0


if __name__ == "__main__":
    sys.exit(main())
