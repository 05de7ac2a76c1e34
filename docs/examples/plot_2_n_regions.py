"""
Asking for a number of regions
==============================

``segment(image, n_regions=K)`` (``segshift segment --regions K`` on the
command line) returns the level of the hierarchy with exactly ``K`` regions,
instead of the automatic scale. The same call with several ``K`` on one photo
shows how the hierarchy merges: the least different neighbours first.
"""

from pathlib import Path

import matplotlib.pyplot as plt

import segshift

# The repository, whether this file runs as a script or in the documentation build (from docs/examples).
ROOT = Path(__file__).resolve().parents[2] if "__file__" in globals() else Path.cwd().parents[1]
IMAGES = ROOT / "images"
photo = str(IMAGES / "coffee.jpg")

counts = [2, 5, 12, 40]
fig, axes = plt.subplots(2, len(counts), figsize=(12, 4.4), layout="constrained")
for column, k in enumerate(counts):
    seg = segshift.segment(photo, n_regions=k)
    axes[0, column].imshow(seg.mode_image())
    axes[0, column].set_title(f"n_regions={k}")
    axes[1, column].imshow(seg.boundary_image())
    for ax in axes[:, column]:
        ax.set_axis_off()
    print(f"n_regions={k}: {seg.n_regions} regions, largest {seg.areas.max() / seg.areas.sum():.0%} of the photo")
plt.show()

# %%
# One call and :meth:`~segshift.Segmentation.at` give the same levels, since
# they are cuts of one tree; this is the cheaper way to look at many of them.

seg = segshift.segment(photo)
print([seg.at(n_regions=k).n_regions for k in counts])
