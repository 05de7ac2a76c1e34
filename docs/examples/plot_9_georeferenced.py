"""
A georeferenced scene: GeoTIFF labels and one polygon per segment
=================================================================

A 4-band 16-bit scene in UTM with a nodata border is segmented on its own
grid (``pip install 'segshift[geo]'``): the labels come out as a GeoTIFF
with the scene's CRS and transform, and each segment as one polygon in a
GeoPackage with its pixel count, area, perimeter and every band's mean,
standard deviation, minimum and maximum, ready for a classifier. The radius
is given in metres and the minimum size in hectares; the bands are scaled by
their standard deviations so that one range radius fits all four.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pyogrio
import rasterio
import shapely
from rasterio.transform import from_origin

from segshift.geo import segment_raster

# A synthetic scene on a 10 m grid in UTM zone 31N: parcels of four covers
# (dense crop, sparse crop, grass, bare soil), a lake, a road and a few
# houses, with sensor noise, inside a tilted footprint (nodata outside).
rng = np.random.default_rng(1)
height, width = 180, 260
yy, xx = np.mgrid[0:height, 0:width]
parcel = ((yy + 7 * np.sin(xx / 23)) // 45).astype(int) * 10 + ((xx + 5 * np.sin(yy / 17)) // 60).astype(int)
cover = rng.integers(0, 4, parcel.max() + 1)[parcel]
cover[(yy - 120) ** 2 / 35**2 + (xx - 185) ** 2 / 50**2 < 1] = 4  # a lake
cover[abs(yy - 0.5 * xx - 10) < 2.5] = 5  # a road
for y, x in rng.integers(10, [height - 10, width - 10], size=(6, 2)):  # houses, 4 x 5 pixels
    cover[y:y + 4, x:x + 5] = 6
#                     B      G      R     NIR
spectra = np.array([[500, 850, 600, 4600],      # dense crop: bright in NIR
                    [700, 1000, 900, 3200],     # sparse crop
                    [650, 950, 800, 2600],      # grass
                    [1100, 1300, 1500, 2200],   # bare soil
                    [700, 800, 450, 250],       # water: dark in NIR
                    [1800, 1900, 2000, 2100],   # road
                    [2600, 2300, 2200, 2400]])  # roofs
scene = spectra[cover] * (1 + rng.normal(0, 0.03, (height, width, 4)))
valid = (xx > 15 + yy // 6) & (xx < width - 25 + yy // 12)  # the footprint
scene[~valid] = 0
scene = np.moveaxis(np.clip(np.round(scene), 0, 65535).astype(np.uint16), -1, 0)

work = Path(tempfile.mkdtemp())
path = work / "scene.tif"
with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=4, dtype="uint16", nodata=0,
                   crs="EPSG:32631", transform=from_origin(500000, 4500000, 10, 10)) as ds:
    ds.write(scene)

out = segment_raster(path, spatial_radius="50m", min_size="0.2ha", labels=work / "labels.tif",
                     polygons=work / "segments.gpkg")
print(f"{out.n_regions} segments; settings in pixels: spatial_radius {out.params['spatial_radius']:g}, "
      f"min_size {out.params['min_size']}")
with rasterio.open(work / "labels.tif") as ds:
    print(f"labels: {ds.dtypes[0]}, nodata {ds.nodata:g}, {ds.crs}, 10 m pixels")

# %%
# The attribute table: one row per segment (here the five largest), areas in
# square metres, band statistics in the bands' own units.

attributes = out.attributes
largest = np.argsort(attributes["pixels"])[::-1][:5]
print(f"{'label':>5} {'pixels':>7} {'area m2':>9} {'perimeter m':>11} {'NIR mean':>9} {'NIR std':>8}")
for k in largest:
    print(f"{attributes['label'][k]:>5} {attributes['pixels'][k]:>7} {attributes['area'][k]:>9.0f} "
          f"{attributes['perimeter'][k]:>11.0f} {attributes['b4_mean'][k]:>9.1f} {attributes['b4_std'][k]:>8.1f}")

# %%
# The scene in false colour (NIR, R, G) with the polygons drawn over it in
# map coordinates, and the label raster (0, the masked border, in black).

def stretch(band):
    low, high = np.percentile(band[valid], [1, 99])
    return np.clip((band - low) / (high - low), 0, 1)

meta, _, wkb, _ = pyogrio.raw.read(str(work / "segments.gpkg"))
polygons = shapely.from_wkb(wkb)
left, right, bottom, top = 500000, 500000 + 10 * width, 4500000 - 10 * height, 4500000
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
picture = np.dstack([stretch(scene[k].astype(float)) for k in (3, 2, 1)]) * valid[..., None]
axes[0].imshow(picture, extent=(left, right, bottom, top))
for polygon in polygons:
    for part in getattr(polygon, "geoms", [polygon]):
        x, y = part.exterior.xy
        axes[0].plot(x, y, color="yellow", linewidth=0.8)
axes[0].set_title(f"NIR, R, G and the {len(polygons)} polygons ({meta['crs']})")
with rasterio.open(work / "labels.tif") as ds:
    labels = ds.read(1)
shuffled = np.concatenate([[0], rng.permutation(out.n_regions) + 1])
axes[1].imshow(np.ma.masked_equal(shuffled[labels], 0), cmap="tab20", extent=(left, right, bottom, top),
               interpolation="nearest")
axes[1].set_facecolor("black")
axes[1].set_title("label raster (labels 1..n, 0 = nodata)")
for ax in axes:
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=7)
plt.show()
