"""
A huge image in bounded memory
==============================

Aerial scenes, slide scans and panoramas can be larger than memory.
:func:`segshift.segment_large` reads a TIFF block by block and segments it
in memory bounded by ``memory_limit``, with the same labels as a run in
memory, pixel for pixel. Here a mosaic of the bundled photos, written as a
tiled TIFF, stands in for a large scene, and a small block size forces many
blocks.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import tifffile

import segshift

# The repository, whether this file runs as a script or in the documentation build (from docs/examples).
ROOT = Path(__file__).resolve().parents[2] if "__file__" in globals() else Path.cwd().parents[1]
IMAGES = ROOT / "images"

# A 2 x 2 mosaic of bundled photos, cropped to 300 x 448 each: 600 x 896 pixels.
tiles = [segshift.load_image(str(IMAGES / name))[:300, :448] for name in
         ["coffee.jpg", "rocket.jpg", "astronaut.jpg", "chelsea.jpg"]]
mosaic = np.concatenate(
    [np.concatenate(tiles[:2], axis=1), np.concatenate(tiles[2:], axis=1)], axis=0)
work = Path(tempfile.mkdtemp())
scene = work / "scene.tif"
tifffile.imwrite(scene, mosaic, tile=(128, 128), photometric="rgb")
print("scene:", mosaic.shape, f"{mosaic.nbytes / 1e6:.1f} MB of pixels")

# %%
# The tiled run, in blocks of 256 pixels within a 64 MB limit, writing its
# label map to disk as a tiled TIFF. The settings are those of a tiled run:
# radii in pixels, mean shift at full resolution with a fixed scale.

settings = dict(spatial_radius=8, range_radius=10, min_size=200)
table = segshift.segment_large(scene, **settings, labels_path=work / "labels.tif",
                               memory_limit="64MB", tile_size=256)
tiled = tifffile.imread(work / "labels.tif")
print(f"tiled: {table.n_regions} regions")

# %%
# The same computation in memory gives the same label map.

seg = segshift.segment(mosaic, **settings, scale="fixed")
print("in memory:", seg.n_regions, "regions")
same = np.array_equal(np.unique(tiled, return_inverse=True)[1].ravel(),
                      np.unique(seg.labels, return_inverse=True)[1].ravel())
print("the same partition, pixel for pixel:", same)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
axes[0].imshow(mosaic)
axes[0].set_title("scene (a tiled TIFF)")
axes[1].imshow(seg.mode_image())
axes[1].set_title(f"{table.n_regions} regions, segmented in blocks of 256 pixels")
for ax in axes:
    ax.set_axis_off()

# %%
# The region table holds one row per region, computed without holding the
# label map in memory.

print("areas of the five largest regions:", np.sort(table.areas)[::-1][:5])
plt.show()
