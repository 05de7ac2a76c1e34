"""Draw the README's before/after pictures from the bundled photos.

Usage: python scripts/make_figures.py [OUT_DIR]   (default: docs/)

Writes <photo>-before-after.png: the photo, its mode-colour image and its
region boundaries side by side, segmented with segshift's defaults.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

import segshift

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out_dir = Path(argv[0]) if argv else ROOT / "docs"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("coffee.jpg", "chelsea.jpg"):
        seg = segshift.segment(ROOT / "images" / name)
        gap = np.full((seg.shape[0], 6, 3), 255, dtype=np.uint8)
        panel = np.concatenate([np.round(np.clip(seg.image, 0, 1) * 255).astype(np.uint8), gap, seg.mode_image(), gap, seg.boundary_image()], axis=1)
        target = out_dir / f"{Path(name).stem}-before-after.png"
        Image.fromarray(panel).save(target, optimize=True)
        print(f"{target}: {seg.n_regions} regions, {seg.seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
