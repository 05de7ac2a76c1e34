"""
A huge image in bounded memory
==============================

Aerial scenes, slide scans and panoramas can be larger than memory.
:func:`segshift.segment` reads a file too large for ``memory_limit`` in
strips, segments it there, and returns the same :class:`segshift.Segmentation`
as a run in memory, pixel for pixel, at every setting: the memory limit and
the tile size decide how it is computed, never what. Here a mosaic of the
bundled photos, written as a tiled TIFF, stands in for a large scene, and a
small tile size forces many strips.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import tifffile

import segshift
import segshift.writers

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
# The streamed run, in strips of 96 rows (``tile_size``), at the defaults:
# the working resolution, the region hierarchy and its automatic level. The
# label map is a memory map; every output is written from it in strips.

streamed = segshift.segment(scene, tile_size=96)
print(f"streamed: {streamed.n_regions} regions, labels a {type(streamed.labels).__name__}")
segshift.writers.write_output("labels", work / "labels.tif", streamed, memory_limit=64 * 2**20)

# %%
# The same image in memory gives the same label map, and so does any other
# level of the hierarchy.

seg = segshift.segment(scene)
print("in memory:", seg.n_regions, "regions")
print("the same labels, pixel for pixel:", np.array_equal(seg.labels, streamed.labels))
print("the same 5-region level:", np.array_equal(seg.at(n_regions=5).labels, streamed.at(n_regions=5).labels))

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
axes[0].imshow(mosaic)
axes[0].set_title("scene (a tiled TIFF)")
axes[1].imshow(streamed.mode_image())
axes[1].set_title(f"{streamed.n_regions} regions, segmented in strips of 96 rows")
for ax in axes:
    ax.set_axis_off()
plt.show()
