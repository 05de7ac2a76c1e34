"""Georeferenced rasters (segshift[geo]): rasters written by rasterio, outputs checked against numpy and GDAL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

rasterio = pytest.importorskip("rasterio")
pyogrio = pytest.importorskip("pyogrio")
shapely = pytest.importorskip("shapely")

from affine import Affine  # rasterio's dependency
from rasterio.features import rasterize
from rasterio.transform import from_origin

from segshift import geo, vectors
from segshift.errors import ImageReadError, MissingDependencyError, OutputError, ParameterError

ROOT = Path(__file__).resolve().parents[1]
UTM = "EPSG:32631"
NODATA = 0


def scene_bands(height: int, width: int, seed: int, bands: int = 4) -> np.ndarray:
    """(bands, h, w) uint16: fields of constant cover with sensor noise, a few speckles, unequal band ranges."""
    rng = np.random.default_rng(seed)
    base = np.array([400, 900, 2500, 12000][:bands], dtype=np.float64)
    yy, xx = np.mgrid[0:height, 0:width]
    fields = (yy // 23) * 7 + (xx // 31) + ((yy + 2 * xx) // 57)
    levels = rng.uniform(0.5, 1.6, size=(fields.max() + 1, bands))
    data = levels[fields] * base + rng.normal(0, 1, size=(height, width, bands)) * base * 0.01
    for _ in range(12):  # small objects: 1 to 6 pixels
        y, x = rng.integers(0, height - 3), rng.integers(0, width - 3)
        data[y:y + rng.integers(1, 3), x:x + rng.integers(1, 4)] *= 1.8
    return np.moveaxis(np.clip(np.round(data), 1, 65535).astype(np.uint16), -1, 0)


def nodata_border(height: int, width: int) -> np.ndarray:
    """(h, w) bool valid: a ragged nodata border (a tilted scene footprint) and a nodata hole."""
    yy, xx = np.mgrid[0:height, 0:width]
    valid = (xx > 6 + yy // 8) & (yy > 4) & (xx < width - 3) & (yy + xx < height + width - 30)
    valid[40:46, 60:67] = False
    valid[2 * height // 3, width // 2:width // 2 + 2] = False  # a masked speckle: smaller than any minimum size, still masked
    valid[1:3, 1:3] = True  # a valid island in the border: smaller than the minimum size, kept alone
    return valid


def write_scene(path, data, transform, crs, nodata=NODATA, valid=None, **extra) -> Path:
    data = data.copy()
    if valid is not None:
        data[:, ~valid] = nodata
    profile = dict(driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                   dtype=data.dtype, crs=crs, transform=transform, nodata=nodata, **extra)
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
    return Path(path)


@pytest.fixture(scope="module")
def utm(tmp_path_factory):
    """A 4-band uint16 UTM scene, north-up 10 m pixels, a nodata border; segmented once (labels, modes,
    polygons)."""
    folder = tmp_path_factory.mktemp("utm")
    height, width = 120, 170
    valid = nodata_border(height, width)
    path = write_scene(folder / "scene.tif", scene_bands(height, width, 1), from_origin(600000, 5000000, 10, 10),
                       UTM, valid=valid)
    out = geo.segment_raster(path, spatial_radius="50m", range_radius=0.5, min_size=12, labels=folder / "labels.tif",
                             modes=folder / "modes.tif", polygons=folder / "segments.gpkg")
    return dict(folder=folder, path=path, valid=valid, out=out)


def read_polygons(path):
    meta, _, wkb, fields = pyogrio.raw.read(str(path))
    columns = dict(zip(meta["fields"], fields))
    return meta, shapely.from_wkb(wkb), columns


def read_labels(path):
    with rasterio.open(path) as ds:
        return ds.read(1), ds.profile


def test_crs_transform_and_nodata_carried_over(utm):
    with rasterio.open(utm["path"]) as src, rasterio.open(utm["folder"] / "labels.tif") as lab, \
            rasterio.open(utm["folder"] / "modes.tif") as mod:
        assert lab.crs == src.crs and mod.crs == src.crs
        assert lab.transform == src.transform and mod.transform == src.transform
        assert lab.nodata == 0 and lab.dtypes[0] == "uint32"
        assert mod.nodata == src.nodata and mod.count == 4 and mod.dtypes[0] == "uint16"
        assert lab.profile["tiled"] and lab.profile["compress"] == "deflate"
        labels = lab.read(1)
        modes = mod.read()
        # masked pixels (the dataset mask: here the nodata value) get the nodata value, and only they
        np.testing.assert_array_equal(labels > 0, src.dataset_mask() > 0)
        np.testing.assert_array_equal((modes == NODATA).all(axis=0), ~utm["valid"])
    meta, _, _ = read_polygons(utm["folder"] / "segments.gpkg")
    assert rasterio.crs.CRS.from_user_input(meta["crs"]) == rasterio.crs.CRS.from_user_input(UTM)
    assert meta["geometry_type"] == "MultiPolygon"


def test_labels_numbered_from_one_in_raster_order(utm):
    labels, _ = read_labels(utm["folder"] / "labels.tif")
    flat = labels.ravel()
    present, first = np.unique(flat[flat > 0], return_index=True)
    order = np.flatnonzero(flat > 0)[first]
    assert present.tolist() == list(range(1, utm["out"].n_regions + 1))
    assert (np.diff(order) > 0).all()


def test_polygons_rasterise_back_to_the_labels(utm):
    labels, profile = read_labels(utm["folder"] / "labels.tif")
    _, geoms, columns = read_polygons(utm["folder"] / "segments.gpkg")
    assert len(geoms) == utm["out"].n_regions  # one feature per segment
    assert shapely.is_valid(geoms).all()
    burnt = rasterize(zip(geoms, columns["label"]), out_shape=labels.shape, transform=profile["transform"],
                      fill=0, dtype="uint32")
    np.testing.assert_array_equal(burnt, labels)


def test_areas_sum_to_the_valid_footprint(utm):
    _, geoms, columns = read_polygons(utm["folder"] / "segments.gpkg")
    assert columns["area"].sum() == pytest.approx(utm["valid"].sum() * 100.0, rel=1e-12)
    np.testing.assert_allclose(shapely.area(geoms), columns["area"], rtol=1e-9)
    np.testing.assert_allclose(shapely.length(geoms), columns["perimeter"], rtol=1e-12)
    np.testing.assert_array_equal(columns["area"], columns["pixels"] * 100.0)


def test_statistics_equal_numpys(utm):
    labels, _ = read_labels(utm["folder"] / "labels.tif")
    with rasterio.open(utm["path"]) as src:
        data = src.read().astype(np.float64)
    _, _, columns = read_polygons(utm["folder"] / "segments.gpkg")
    for row, label in enumerate(columns["label"]):
        inside = labels == label
        assert columns["pixels"][row] == inside.sum()
        for b in range(4):
            values = data[b][inside]
            assert columns[f"b{b + 1}_mean"][row] == pytest.approx(values.mean(), rel=1e-12)
            assert columns[f"b{b + 1}_std"][row] == pytest.approx(values.std(), rel=1e-9, abs=1e-9)
            assert columns[f"b{b + 1}_min"][row] == values.min()
            assert columns[f"b{b + 1}_max"][row] == values.max()


def test_min_size_is_respected_except_where_the_mask_cuts(utm):
    labels, _ = read_labels(utm["folder"] / "labels.tif")
    _, _, columns = read_polygons(utm["folder"] / "segments.gpkg")
    small = columns["label"][columns["pixels"] < 12]
    padded = np.pad(labels, 1)
    for label in small:  # a small segment may remain only where it touches no other segment
        ys, xs = np.nonzero(padded == label)
        around = np.concatenate([padded[ys + dy, xs + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
        assert set(np.unique(around)) <= {0, label}


def test_masked_values_do_not_influence_the_segments(utm, tmp_path):
    # the same scene with random values under the mask, masked by a mask band instead of nodata
    with rasterio.open(utm["path"]) as src:
        data = src.read()
    rng = np.random.default_rng(7)
    noisy = data.copy()
    noisy[:, ~utm["valid"]] = rng.integers(1, 65535, size=(4, int((~utm["valid"]).sum())), dtype=np.uint16)
    path = tmp_path / "masked.tif"
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
        with rasterio.open(path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=4,
                           dtype="uint16", crs=UTM, transform=from_origin(600000, 5000000, 10, 10)) as ds:
            ds.write(noisy)
            ds.write_mask(np.where(utm["valid"], 255, 0).astype(np.uint8))
    # the band scale is computed over valid pixels only, so every setting is the same as the first run's
    geo.segment_raster(path, spatial_radius="50m", range_radius=0.5, min_size=12, labels=tmp_path / "l.tif",
                       modes=tmp_path / "m.tif")
    np.testing.assert_array_equal(read_labels(tmp_path / "l.tif")[0], read_labels(utm["folder"] / "labels.tif")[0])
    with rasterio.open(tmp_path / "m.tif") as ours, rasterio.open(utm["folder"] / "modes.tif") as first:
        np.testing.assert_array_equal(ours.read(), first.read())  # the modes too
        assert ours.nodata is None and (ours.dataset_mask() > 0).tolist() == utm["valid"].tolist()


def test_tiled_equals_untiled_for_labels_and_polygons(utm, tmp_path):
    out = geo.segment_raster(utm["path"], spatial_radius="50m", range_radius=0.5, min_size=12, tile_size=64,
                             labels=tmp_path / "labels.tif", polygons=tmp_path / "segments.gpkg")
    assert out.params["tiled"] and not utm["out"].params["tiled"]
    np.testing.assert_array_equal(read_labels(tmp_path / "labels.tif")[0],
                                  read_labels(utm["folder"] / "labels.tif")[0])
    _, tiled, tiled_cols = read_polygons(tmp_path / "segments.gpkg")
    _, whole, whole_cols = read_polygons(utm["folder"] / "segments.gpkg")
    assert shapely.to_wkb(tiled).tolist() == shapely.to_wkb(whole).tolist()
    assert tiled_cols.keys() == whole_cols.keys()
    for name in whole_cols:
        np.testing.assert_array_equal(tiled_cols[name], whole_cols[name])


@pytest.mark.parametrize("kind", ["cog", "vrt", "jp2"])
def test_other_formats_gdal_reads_give_the_same_segments(utm, tmp_path, kind):
    # the same scene as a Cloud-Optimised GeoTIFF, a VRT over the GeoTIFF and a lossless JPEG 2000:
    # the same grid, CRS, mask and labels as the GeoTIFF, read in windows (blocks of 64)
    with rasterio.open(utm["path"]) as src:
        data, profile = src.read(), src.profile
    if kind == "cog":
        path = tmp_path / "scene.cog.tif"
        with rasterio.open(path, "w", **dict(profile, driver="COG", blocksize=64)) as ds:
            ds.write(data)
    elif kind == "jp2":
        with rasterio.Env() as env:
            drivers = env.drivers()
        if "JP2OpenJPEG" not in drivers:
            pytest.skip("this GDAL has no JPEG 2000 driver")
        path = tmp_path / "scene.jp2"
        profile = {k: v for k, v in profile.items() if k not in ("tiled", "blockxsize", "blockysize", "interleave",
                                                                "compress")}
        with rasterio.open(path, "w", **dict(profile, driver="JP2OpenJPEG", QUALITY=100, REVERSIBLE="YES")) as ds:
            ds.write(data)
        with rasterio.open(path) as ds:
            assert np.array_equal(ds.read(), data), "the JPEG 2000 is not lossless"
    else:
        path = tmp_path / "scene.vrt"
        bands = "".join(
            f'<VRTRasterBand dataType="UInt16" band="{b}"><NoDataValue>{NODATA}</NoDataValue>'
            f'<SimpleSource><SourceFilename relativeToVRT="0">{utm["path"]}</SourceFilename>'
            f'<SourceBand>{b}</SourceBand></SimpleSource></VRTRasterBand>'
            for b in range(1, data.shape[0] + 1))
        with rasterio.open(utm["path"]) as src:
            srs, gt = src.crs.to_wkt(), src.transform.to_gdal()
        path.write_text(f'<VRTDataset rasterXSize="{data.shape[2]}" rasterYSize="{data.shape[1]}">'
                        f'<SRS>{srs}</SRS><GeoTransform>{", ".join(map(repr, gt))}</GeoTransform>{bands}'
                        "</VRTDataset>")
    out = geo.segment_raster(path, spatial_radius="50m", range_radius=0.5, min_size=12, tile_size=64,
                             labels=tmp_path / "labels.tif")
    assert out.params["tiled"] and out.n_regions == utm["out"].n_regions
    labels, meta = read_labels(tmp_path / "labels.tif")
    reference, reference_meta = read_labels(utm["folder"] / "labels.tif")
    np.testing.assert_array_equal(labels, reference)
    assert meta["crs"] == reference_meta["crs"] and meta["transform"] == reference_meta["transform"]


def test_polygons_are_never_split_at_a_strip_edge(tmp_path):
    # one segment crossing many 256-row strips: one polygon, no vertex left on the seams
    height, width = 700, 64
    data = np.full((1, height, width), 500, dtype=np.uint16)
    data[0, :, 20:40] = 3000
    data[0, 300:310, 0:5] = 3000  # touches nothing of the band: a separate segment
    path = write_scene(tmp_path / "tall.tif", data, from_origin(1000, 2000, 1, 1), UTM, nodata=None)
    out = geo.segment_raster(path, band_scale="none", range_radius=100, min_size=0, polygons=tmp_path / "p.fgb")
    _, geoms, columns = read_polygons(tmp_path / "p.fgb")
    band = geoms[columns["pixels"] == 20 * height][0]
    assert len(band.geoms) == 1 and len(band.geoms[0].exterior.coords) == 5  # a rectangle: 4 corners
    assert out.n_regions == 4


def test_geographic_crs_and_map_units(tmp_path):
    height, width = 60, 90
    transform = from_origin(5.0, 45.0, 0.0001, 0.0001)
    path = write_scene(tmp_path / "geo.tif", scene_bands(height, width, 3, bands=3), transform, "EPSG:4326",
                       valid=nodata_border(height, width))
    with pytest.raises(ParameterError, match="geographic"):
        geo.segment_raster(path, spatial_radius="30m")
    with pytest.raises(ParameterError, match="min_size.*projected CRS"):
        geo.segment_raster(path, min_size="1ha")
    a = geo.segment_raster(path, spatial_radius="0.0004deg", polygons=tmp_path / "p.geojson", labels=tmp_path / "l.tif")
    b = geo.segment_raster(path, spatial_radius=4)
    assert a.params["spatial_radius"] == pytest.approx(4.0) and a.n_regions == b.n_regions
    meta, geoms, columns = read_polygons(tmp_path / "p.geojson")
    assert rasterio.crs.CRS.from_user_input(meta["crs"]).is_geographic
    labels, profile = read_labels(tmp_path / "l.tif")
    assert profile["crs"] == rasterio.crs.CRS.from_epsg(4326)
    burnt = rasterize(zip(geoms, columns["label"]), out_shape=labels.shape, transform=transform, dtype="uint32")
    np.testing.assert_array_equal(burnt, labels)
    assert columns["area"].sum() == pytest.approx((labels > 0).sum() * 1e-8, rel=1e-9)  # square degrees


def test_map_units_convert_with_the_pixel_size(utm):
    grid = geo.GeoRaster(utm["path"]).grid
    assert geo.map_length_to_pixels("30m", grid) == pytest.approx(3.0)
    assert geo.map_length_to_pixels("0.05km", grid) == pytest.approx(5.0)
    assert geo.map_length_to_pixels(7, grid) == 7.0
    assert geo.map_area_to_pixels("1ha", grid) == 100
    assert geo.map_area_to_pixels("950m2", grid) == 10  # rounded up
    with pytest.raises(ParameterError, match="unknown unit 'furlong'"):
        geo.map_length_to_pixels("3furlong", grid)
    with pytest.raises(ParameterError, match="projected"):
        geo.map_length_to_pixels("0.1deg", grid)


@pytest.mark.parametrize("kind", ["rotated", "sheared"])
def test_rotated_and_sheared_grids(tmp_path, kind):
    height, width = 70, 80
    base = from_origin(300000, 4000000, 10, 10)
    transform = base @ Affine.rotation(20) if kind == "rotated" else base @ Affine.shear(15, 0)
    path = write_scene(tmp_path / f"{kind}.tif", scene_bands(height, width, 4), transform, UTM,
                       valid=nodata_border(height, width))
    if kind == "sheared":
        with pytest.raises(ParameterError, match="square pixels"):
            geo.segment_raster(path, spatial_radius="40m")
        radius = 4
    else:
        radius = "40m"
    out = geo.segment_raster(path, spatial_radius=radius, labels=tmp_path / "l.tif", polygons=tmp_path / "p.gpkg")
    assert out.params["spatial_radius"] == pytest.approx(4.0)
    labels, profile = read_labels(tmp_path / "l.tif")
    assert profile["transform"].almost_equals(transform)
    _, geoms, columns = read_polygons(tmp_path / "p.gpkg")
    burnt = rasterize(zip(geoms, columns["label"]), out_shape=labels.shape, transform=profile["transform"],
                      dtype="uint32")
    np.testing.assert_array_equal(burnt, labels)
    pixel_area = abs(transform.determinant)
    np.testing.assert_allclose(shapely.area(geoms), columns["pixels"] * pixel_area, rtol=1e-9)


def test_band_scale_std_makes_one_radius_fit_unequal_bands(tmp_path):
    height, width = 64, 96
    data = scene_bands(height, width, 5, bands=2)
    a = write_scene(tmp_path / "a.tif", data, from_origin(1000, 2000, 10, 10), UTM, nodata=None)
    stretched = data.copy()
    stretched[1] = np.minimum(stretched[1].astype(np.uint32) * 4, 65535).astype(np.uint16)  # powers of two: exact
    assert stretched[1].max() < 65535
    b = write_scene(tmp_path / "b.tif", stretched, from_origin(1000, 2000, 10, 10), UTM, nodata=None)
    geo.segment_raster(a, band_scale="std", labels=tmp_path / "la.tif")
    geo.segment_raster(b, band_scale="std", labels=tmp_path / "lb.tif")
    np.testing.assert_array_equal(read_labels(tmp_path / "la.tif")[0], read_labels(tmp_path / "lb.tif")[0])
    with rasterio.open(a) as ds:
        std = ds.read().reshape(2, -1).std(axis=1)
    out = geo.segment_raster(a, band_scale="std")
    np.testing.assert_allclose(out.params["band_divisor"], std, rtol=1e-12)
    explicit = geo.segment_raster(a, band_scale="none", range_radius=0.5 * float(std.min()))
    assert explicit.params["band_divisor"] == [1.0, 1.0]
    with pytest.raises(ParameterError, match="band_scale must be 2 positive numbers"):
        geo.segment_raster(a, band_scale=[1.0])
    with pytest.raises(ParameterError, match="band_scale must be 'std'"):
        geo.segment_raster(a, band_scale="mad")


def test_stats_from_another_raster_on_the_same_grid(utm, tmp_path):
    with rasterio.open(utm["path"]) as src:
        profile = src.profile
        other = (src.read(1).astype(np.float32) * 0.5 + 3)[None]
    profile.update(count=1, dtype="float32", nodata=None)
    other_path = tmp_path / "other.tif"
    with rasterio.open(other_path, "w", **profile) as ds:
        ds.write(other)
    geo.segment_raster(utm["path"], spatial_radius="50m", range_radius=0.5, min_size=12, stats_from=other_path,
                       polygons=tmp_path / "p.gpkg")
    labels, _ = read_labels(utm["folder"] / "labels.tif")
    _, _, columns = read_polygons(tmp_path / "p.gpkg")
    assert "b2_mean" not in columns
    for row, label in enumerate(columns["label"]):
        values = other[0][labels == label].astype(np.float64)
        assert columns["b1_mean"][row] == pytest.approx(values.mean(), rel=1e-12)
        assert columns["b1_max"][row] == values.max()
    # another grid is refused
    small = tmp_path / "small.tif"
    profile.update(width=50)
    with rasterio.open(small, "w", **profile) as ds:
        ds.write(other[:, :, :50])
    with pytest.raises(ParameterError, match="same grid"):
        geo.segment_raster(utm["path"], stats_from=small, polygons=tmp_path / "q.gpkg")


def test_alpha_band_is_the_mask_and_not_a_band(tmp_path):
    height, width = 50, 70
    rgb = scene_bands(height, width, 8, bands=3).astype(np.float64)
    rgb = np.clip(rgb / rgb.max() * 255, 0, 255).astype(np.uint8)
    valid = nodata_border(height, width)
    alpha = np.where(valid, 255, 0).astype(np.uint8)[None]
    path = tmp_path / "rgba.tif"
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=4, dtype="uint8", crs=UTM,
                       transform=from_origin(1000, 2000, 1, 1), photometric="RGB", alpha="YES") as ds:
        ds.write(np.concatenate([rgb, alpha]))
    reader = geo.GeoRaster(path)
    assert reader.bands == 3 and reader.indexes == [1, 2, 3]
    out = geo.segment_raster(path, labels=tmp_path / "l.tif", polygons=tmp_path / "p.gpkg")
    labels, _ = read_labels(tmp_path / "l.tif")
    np.testing.assert_array_equal(labels > 0, valid)
    assert "b4_mean" not in out.attributes


def test_rasterio_and_pyogrio_in_one_process(tmp_path):
    # their wheels bundle their own GDAL and PROJ: both must work side by side, in either order of use
    assert rasterio.__gdal_version__ and pyogrio.__gdal_version_string__
    crs = rasterio.crs.CRS.from_epsg(32631)
    polygon = shapely.box(600000, 4999000, 601000, 5000000)
    pyogrio.raw.write(str(tmp_path / "a.gpkg"), geometry=shapely.to_wkb(np.array([polygon])),
                      field_data=[np.array([1])], fields=["label"], crs=crs.to_wkt(), geometry_type="Polygon")
    write_scene(tmp_path / "a.tif", np.ones((1, 10, 10), dtype=np.uint16), from_origin(600000, 5000000, 100, 100),
                crs)
    info = pyogrio.read_info(str(tmp_path / "a.gpkg"))
    with rasterio.open(tmp_path / "a.tif") as ds:
        assert rasterio.crs.CRS.from_user_input(info["crs"]) == ds.crs
        # PROJ in rasterio: a transformation; PROJ in pyogrio: the CRS identified from the layer's WKT
        from rasterio.warp import transform as reproject

        lon, lat = reproject(ds.crs, "EPSG:4326", [600000.0], [5000000.0])
    meta, _, wkb, _ = pyogrio.raw.read(str(tmp_path / "a.gpkg"))
    assert meta["crs"] == "EPSG:32631"
    assert 3.0 < lon[0] < 4.5 and 45.0 < lat[0] < 45.2
    assert shapely.from_wkb(wkb)[0].equals(polygon)


def test_labels_to_polygons_of_an_array(tmp_path):
    labels = np.zeros((300, 40), dtype=np.int32)
    labels[:, :20] = 1
    labels[:, 20:] = 2
    labels[10:12, 5:7] = 3
    labels[299, 39] = 0
    values = np.arange(300 * 40, dtype=np.float64).reshape(300, 40)
    table = vectors.labels_to_polygons(labels, tmp_path / "p.gpkg", transform=(2, 0, 100, 0, -2, 50),
                                       crs="EPSG:32631", values=values)
    assert table["pixels"].tolist() == [5996, 5999, 4]
    assert table["b1_mean"][2] == values[10:12, 5:7].mean()
    burnt = rasterize(zip(table["geometry"], table["label"]), out_shape=labels.shape,
                      transform=Affine(2, 0, 100, 0, -2, 50), dtype="int32")
    np.testing.assert_array_equal(burnt, labels)
    assert (tmp_path / "p.gpkg").exists()


def test_bad_outputs_and_inputs_are_refused_before_any_work(utm, tmp_path):
    with pytest.raises(ParameterError, match=r"polygons are written as .gpkg or .geojson or .json or .fgb"):
        geo.segment_raster(utm["path"], polygons=tmp_path / "p.shp")
    with pytest.raises(ParameterError, match="labels are written as .tif"):
        geo.segment_raster(utm["path"], labels=tmp_path / "l.png")
    with pytest.raises(OutputError, match="already exists"):
        geo.segment_raster(utm["path"], labels=utm["folder"] / "labels.tif")
    with pytest.raises(ParameterError, match="replace the input"):
        geo.segment_raster(utm["path"], labels=utm["path"], overwrite=True)
    with pytest.raises(ParameterError, match="spatial_radius=.*no CRS"):
        plain = write_scene(tmp_path / "plain.tif", np.ones((1, 8, 8), dtype=np.uint16), Affine.identity(), None,
                            nodata=None)
        geo.segment_raster(plain, spatial_radius="30m")
    with pytest.raises(Exception, match="cannot read as a raster"):
        (tmp_path / "junk.tif").write_bytes(b"not a tiff")
        geo.segment_raster(tmp_path / "junk.tif")


def test_a_truncated_raster_fails_with_the_drivers_reason_and_leaves_nothing(tmp_path):
    # compressed tiles, cut short: GDAL says which read failed and why, not "see previous exception"
    rng = np.random.default_rng(4)
    data = rng.integers(100, 60000, size=(2, 300, 300)).astype(np.uint16)
    path = tmp_path / "scene.tif"
    with rasterio.open(path, "w", driver="GTiff", width=300, height=300, count=2, dtype="uint16", crs=UTM,
                       transform=from_origin(600000, 5000000, 10, 10), tiled=True, blockxsize=64, blockysize=64,
                       compress="deflate") as ds:
        ds.write(data)
    cut = tmp_path / "cut.tif"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ImageReadError) as info:
        geo.segment_raster(cut, labels=out / "labels.tif", polygons=out / "p.gpkg", band_scale="none")
    message = str(info.value)
    assert "\n" not in message and "cannot read rows" in message and "previous exception" not in message
    assert "TIFF" in message  # the driver's own words
    assert list(out.iterdir()) == []


def test_outputs_are_all_or_none(utm, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OutputError("disk full")

    monkeypatch.setattr(vectors, "write_polygons", fail)
    with pytest.raises(OutputError, match="disk full"):
        geo.segment_raster(utm["path"], labels=tmp_path / "l.tif", modes=tmp_path / "m.tif",
                           polygons=tmp_path / "p.gpkg")
    assert sorted(os.listdir(tmp_path)) == []


def test_cloud_optimised_output(utm, tmp_path):
    geo.segment_raster(utm["path"], spatial_radius="50m", range_radius=0.5, min_size=12,
                       labels=tmp_path / "l.tif", cog=True)
    with rasterio.open(tmp_path / "l.tif") as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ds.crs == rasterio.crs.CRS.from_user_input(UTM) and ds.nodata == 0
        np.testing.assert_array_equal(ds.read(1), read_labels(utm["folder"] / "labels.tif")[0])


def run_cli(*args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "segshift.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=600, check=False)


def test_cli_segment_writes_georeferenced_outputs(utm, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = run_cli("segment", utm["path"], "--labels", tmp_path / "l.tif", "--polygons", tmp_path / "p.gpkg",
                   "-s", "50m", "-r", "0.5", "-m", "12", "--band-scale", "std", "--stats", "-", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f'"n_regions": {utm["out"].n_regions}' in proc.stdout
    assert '"compat": null' in proc.stdout  # the georeferenced default, not the photo one
    np.testing.assert_array_equal(read_labels(tmp_path / "l.tif")[0], read_labels(utm["folder"] / "labels.tif")[0])
    assert len(read_polygons(tmp_path / "p.gpkg")[1]) == utm["out"].n_regions
    proc = run_cli("segment", utm["path"], "--polygons", tmp_path / "p.gpkg", cwd=tmp_path, env=env)
    assert proc.returncode == 1 and "already exists" in proc.stderr
    proc = run_cli("segment", utm["path"], "--polygons", tmp_path / "q.gpkg", "-s", "3furlong", cwd=tmp_path, env=env)
    assert proc.returncode == 2 and "unknown unit" in proc.stderr


def test_without_the_extra_a_georeferenced_tiff_still_segments_with_a_hint(utm, tmp_path):
    # rasterio, pyogrio and shapely made unimportable in a child process
    (tmp_path / "block").mkdir()
    (tmp_path / "block" / "sitecustomize.py").write_text(
        "import sys\nfor name in ('rasterio', 'pyogrio', 'shapely'):\n    sys.modules[name] = None\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "block"), str(ROOT)]))
    proc = run_cli("segment", utm["path"], "--labels", tmp_path / "l.tif", "-s", "5", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    hints = [line for line in proc.stderr.splitlines() if "segshift[geo]" in line]
    assert len(hints) == 1 and "georeferenced" in hints[0]
    assert (tmp_path / "l.tif").exists()
    proc = run_cli("segment", utm["path"], "--polygons", tmp_path / "p.gpkg", cwd=tmp_path, env=env)
    assert proc.returncode == 1 and "pip install 'segshift[geo]'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_missing_extra_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyogrio", None)
    with pytest.raises(MissingDependencyError, match=r"polygons need pyogrio: pip install 'segshift\[geo\]'"):
        vectors.require()


def test_band_statistics_kernel_against_numpy_and_any_strips():
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 6, size=(45, 30)).astype(np.uint32)
    samples = rng.integers(0, 60000, size=(45, 30, 3)).astype(np.uint16)
    whole = vectors.BandStats(5, 3)
    whole.add(labels, samples)
    strips = vectors.BandStats(5, 3)
    for y0 in range(0, 45, 7):
        strips.add(labels[y0:y0 + 7], samples[y0:y0 + 7])
    a, b = whole.columns(), strips.columns()
    for name in a:  # the same raster order: the same bits
        np.testing.assert_array_equal(a[name], b[name])
    for k in range(1, 6):
        values = samples[labels == k].astype(np.float64)
        np.testing.assert_allclose(a["b2_mean"][k - 1], values[:, 1].mean(), rtol=1e-13)
        np.testing.assert_allclose(a["b3_std"][k - 1], values[:, 2].std(), rtol=1e-10)
        assert a["b1_min"][k - 1] == values[:, 0].min() and a["b1_max"][k - 1] == values[:, 0].max()
    valid = rng.random((45, 30)) < 0.5
    masked = vectors.BandStats(5, 3)
    masked.add(labels, samples, valid)
    assert masked.count[1:].tolist() == [int(((labels == k) & valid).sum()) for k in range(1, 6)]


def test_a_mode_equal_to_nodata_is_not_read_as_masked(tmp_path):
    data = np.full((2, 40, 64), 3000, dtype=np.uint16)
    checker = (np.add.outer(np.arange(40), np.arange(64)) % 2).astype(np.uint16)
    data[:, :, :32] = 99 + 2 * checker[:, :32]  # 99 and 101: the mode is 100, the nodata value, though no pixel is
    data[:, :3, :] = 100  # a nodata border
    path = write_scene(tmp_path / "s.tif", data, from_origin(1000, 2000, 10, 10), UTM, nodata=100)
    geo.segment_raster(path, band_scale="none", range_radius=50, modes=tmp_path / "m.tif", labels=tmp_path / "l.tif")
    labels, _ = read_labels(tmp_path / "l.tif")
    with rasterio.open(tmp_path / "m.tif") as ds:
        modes = ds.read()
        np.testing.assert_array_equal(ds.dataset_mask() > 0, labels > 0)
    assert set(np.unique(modes[0][labels > 0])) == {101, 3000}


def test_the_extra_is_imported_only_when_used():
    code = ("import sys, segshift, segshift.geo, segshift.vectors, segshift.tiled, segshift.cli\n"
            "segshift.cli.build_parser()\n"
            "print(sorted(m for m in ('rasterio', 'pyogrio', 'shapely') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_segment_scene_is_a_batch_task_that_never_raises(utm, tmp_path):
    outputs = [("labels", str(tmp_path / "l.tif")), ("polygons", str(tmp_path / "p.fgb"))]
    ok = geo.segment_scene(str(utm["path"]), outputs, dict(spatial_radius="50m", range_radius=0.5, min_size=12))
    assert ok["status"] == "ok" and ok["regions"] == utm["out"].n_regions
    np.testing.assert_array_equal(read_labels(tmp_path / "l.tif")[0], read_labels(utm["folder"] / "labels.tif")[0])
    (tmp_path / "bad.tif").write_bytes(b"II*\x00broken")
    failed = geo.segment_scene(str(tmp_path / "bad.tif"), [("labels", str(tmp_path / "b.tif"))], {})
    assert failed["status"] == "failed" and failed["error"].startswith(str(tmp_path / "bad.tif"))
    assert not (tmp_path / "b.tif").exists()
    wrong = geo.segment_scene(str(utm["path"]), [("labels", str(tmp_path / "w.tif"))], dict(spatial_radius="3furlong"))
    assert wrong["status"] == "failed" and "unknown unit" in wrong["error"]


def test_polygons_equal_those_of_the_whole_label_array(utm):
    # rasterio.features.shapes over the whole array (no strips), pieces of a label joined: the same point sets
    from rasterio.features import shapes

    labels, profile = read_labels(utm["folder"] / "labels.tif")
    whole: dict[int, list] = {}
    for geom, value in shapes(labels.astype(np.int32), mask=labels > 0, transform=profile["transform"]):
        whole.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    _, geoms, columns = read_polygons(utm["folder"] / "segments.gpkg")
    for geom, label in zip(geoms, columns["label"]):
        assert shapely.equals(geom, shapely.union_all(whole[int(label)])), label


def test_polygons_across_strips_equal_those_of_the_whole_array(tmp_path):
    from rasterio.features import shapes

    height, width = 600, 80
    data = scene_bands(height, width, 21, bands=2)
    path = write_scene(tmp_path / "tall.tif", data, from_origin(1000, 9000, 10, 10), UTM, nodata=None)
    geo.segment_raster(path, labels=tmp_path / "l.tif", polygons=tmp_path / "p.gpkg")
    labels, profile = read_labels(tmp_path / "l.tif")
    whole: dict[int, list] = {}
    for geom, value in shapes(labels.astype(np.int32), mask=labels > 0, transform=profile["transform"]):
        whole.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    _, geoms, columns = read_polygons(tmp_path / "p.gpkg")
    crossing = 0
    for geom, label in zip(geoms, columns["label"]):
        rows = np.nonzero((labels == label).any(axis=1))[0]
        crossing += rows[0] // 256 != rows[-1] // 256
        reference = shapely.union_all(whole[int(label)])
        assert shapely.equals(geom, reference), label
        # one valid part per part of the whole array's polygon: nothing split at a strip edge
        assert shapely.is_valid(geom) and shapely.get_num_geometries(geom) == shapely.get_num_geometries(reference)
        assert shapely.get_num_coordinates(geom) == shapely.get_num_coordinates(shapely.simplify(reference, 0))
    assert crossing >= 3  # segments that cross the 256-row strips were joined
