"""
A photo and its levels
======================

:func:`segshift.segment` returns one level of a region hierarchy: the level
segshift picks for this photo (the automatic scale). Every other level is a
cut of the same merge tree, so asking for it costs milliseconds. Here are the
photo, the automatic level painted with each region's mode colour, its
boundaries, and three coarser and finer levels.
"""

from pathlib import Path

import matplotlib.pyplot as plt

import segshift

# The repository, whether this file runs as a script or in the documentation build (from docs/examples).
ROOT = Path(__file__).resolve().parents[2] if "__file__" in globals() else Path.cwd().parents[1]
IMAGES = ROOT / "images"

seg = segshift.segment(str(IMAGES / "chelsea.jpg"))
print(seg)
print("regions at the automatic scale:", seg.n_regions)

# %%
# The photo, the mode colours and the boundaries of the automatic level.

photo = segshift.load_image(str(IMAGES / "chelsea.jpg"))
fig, axes = plt.subplots(1, 3, figsize=(10, 2.6), layout="constrained")
for ax, picture, title in zip(
    axes,
    [photo, seg.mode_image(), seg.boundary_image()],
    ["photo", f"mode colours ({seg.n_regions} regions)", "boundaries"],
):
    ax.imshow(picture)
    ax.set_title(title)
    ax.set_axis_off()

# %%
# Other levels of the same hierarchy: ``seg.at(n_regions=K)`` for a number of
# regions, ``seg.at(threshold=t)`` for a merge height. Levels are nested: each
# region of a coarser level is a union of regions of every finer one.

fig, axes = plt.subplots(1, 4, figsize=(12, 2.4), layout="constrained")
for ax, k in zip(axes, [3, 8, 20, 60]):
    level = seg.at(n_regions=k)
    ax.imshow(level.mode_image())
    ax.set_title(f"n_regions={level.n_regions}")
    ax.set_axis_off()
plt.show()
