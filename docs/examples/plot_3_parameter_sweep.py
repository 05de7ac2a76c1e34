"""
The two bandwidths, swept on one photo
======================================

Mean shift has two bandwidths: the spatial radius (how far, in pixels, a
pixel's window reaches) and the range radius (how different, in L*u*v*
colour units, a pixel may be and still count). Here mean shift as published
(``scale="fixed"``: filter, fuse, prune, no hierarchy) on one photo, over a
grid of both. A larger range radius joins colours; a larger spatial radius
smooths over larger structures.
"""

from pathlib import Path

import matplotlib.pyplot as plt

import segshift

# The repository, whether this file runs as a script or in the documentation build (from docs/examples).
ROOT = Path(__file__).resolve().parents[2] if "__file__" in globals() else Path.cwd().parents[1]
IMAGES = ROOT / "images"
# Half the photo's side keeps this example quick: radii in pixels cost their square.
photo = segshift.load_image(str(IMAGES / "chelsea.jpg"))[::2, ::2]

spatial = [3, 6, 12]
ranges = [4, 8, 16]
fig, axes = plt.subplots(len(spatial), len(ranges), figsize=(9, 6.2), layout="constrained")
for i, hs in enumerate(spatial):
    for j, hr in enumerate(ranges):
        seg = segshift.segment(photo, spatial_radius=hs, range_radius=hr, min_size=20, scale="fixed")
        ax = axes[i, j]
        ax.imshow(seg.mode_image())
        ax.set_title(f"spatial {hs}, range {hr}: {seg.n_regions} regions", fontsize=9)
        ax.set_axis_off()
plt.show()

# %%
# ``min_size`` is the third parameter: regions smaller than it are merged
# into their closest neighbour. A number below 1 is a share of the photo's
# area, a whole number a count of pixels.

fig, axes = plt.subplots(1, 3, figsize=(9, 2.2), layout="constrained")
for ax, m in zip(axes, [20, 0.002, 0.02]):
    seg = segshift.segment(photo, spatial_radius=6, range_radius=8, min_size=m, scale="fixed")
    ax.imshow(seg.mode_image())
    ax.set_title(f"min_size={m}: {seg.n_regions} regions", fontsize=9)
    ax.set_axis_off()
plt.show()
