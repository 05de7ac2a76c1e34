"""
A multiband raster
==================

A raster with more than colour bands, here R, G, B and near infrared (NIR) in
16 bits, is segmented in the bands' own values (not L*u*v*): the range
radius is in the bands' units. The mode picture shows three bands that
``bands`` picks, stretched from their smallest to their largest mode; here
NIR, R and G, the classic false colour in which vegetation is red.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import tifffile

import segshift
import segshift.tiled

# A synthetic 4-band scene: fields, a road and a lake, with sensor noise.
rng = np.random.default_rng(0)
height, width = 160, 240
yy, xx = np.mgrid[0:height, 0:width]
classes = np.where(xx + 0.3 * yy < 110, 0, 1)  # two fields
classes[(yy - 110) ** 2 / 30**2 + (xx - 170) ** 2 / 45**2 < 1] = 2  # a lake
classes[abs(yy - 0.4 * xx - 20) < 4] = 3  # a road
#            R      G      B     NIR
spectra = np.array([[9000, 12000, 7000, 30000],   # crop: bright in NIR
                    [14000, 13000, 11000, 18000],  # bare soil
                    [3000, 5000, 9000, 1500],      # water: dark in NIR
                    [20000, 20000, 20000, 16000]])  # road
raster = spectra[classes] + rng.normal(0, 400, (height, width, 4))
raster = np.clip(raster, 0, 65535).astype(np.uint16)

work = Path(tempfile.mkdtemp())
path = work / "rgbn.tif"
tifffile.imwrite(path, raster, photometric="minisblack", planarconfig="contig", tile=(64, 64))

table = segshift.tiled.segment_blocks(path, spatial_radius=6, range_radius=2000, min_size=40,
                                      labels_path=work / "labels.npy", modes_path=work / "modes.tif",
                                      bands=(4, 1, 2))
labels = np.load(work / "labels.npy")
print(f"{table.n_regions} regions; their modes (R, G, B, NIR):")
print(np.round(table.modes).astype(int))

# %%
# The bands as a true-colour picture, in false colour (NIR, R, G), and the
# mode picture that segshift wrote in false colour.

def stretch(band):
    low, high = np.percentile(band, [1, 99])
    return np.clip((band - low) / (high - low), 0, 1)

fig, axes = plt.subplots(1, 3, figsize=(12, 3), layout="constrained")
axes[0].imshow(np.dstack([stretch(raster[..., k]) for k in (0, 1, 2)]))
axes[0].set_title("R, G, B")
axes[1].imshow(np.dstack([stretch(raster[..., k]) for k in (3, 0, 1)]))
axes[1].set_title("NIR, R, G (false colour)")
axes[2].imshow(tifffile.imread(work / "modes.tif"))
axes[2].set_title(f"modes, NIR R G: {table.n_regions} regions")
for ax in axes:
    ax.set_axis_off()
plt.show()
