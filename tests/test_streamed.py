"""Streamed segmentation (segshift.tiled.segment_streamed): the memory limit and
the tile size change how a result is computed, never the result. Every test
compares with the in-memory :func:`segshift.segment`, pixel for pixel."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest
import tifffile
from conftest import IMAGES
from test_resolution import level_case

import segshift
from segshift import _resolution as resolution, tiled
from segshift.errors import ParameterError
from segshift._loader import load_image

EDISON = dict(spatial_radius=7, range_radius=6.5, min_size=20, scale="fixed", compat="edison")


def photo(name: str) -> np.ndarray:
    return np.round(load_image(IMAGES / name) * 255).astype(np.uint8)


def scene(height: int, width: int, seed: int = 5) -> np.ndarray:
    """A sky ramp, a ground, a disc, a bar and pixel noise, at any size."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    img = np.empty((height, width, 3))
    img[:] = np.stack([90 + 60 * y, 140 + 50 * y, 230 - 20 * y], -1)
    img[y > 0.62 + 0.05 * np.sin(6 * x)] = (70, 120, 50)
    img[(x - 0.3) ** 2 + (y - 0.45) ** 2 < 0.12**2] = (210, 60, 40)
    img[(np.abs(x - 0.7) < 0.04) & (np.abs(y - 0.4) < 0.3)] = (240, 220, 90)
    img += rng.normal(0.0, 3.0, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def write_tiff(tmp_path, image, name="in.tif", tile=(64, 48)):
    """A tiled TIFF (tiles that do not divide the image: the windowed reader's edge cases)."""
    path = tmp_path / name
    tifffile.imwrite(path, image, tile=tile)
    return path


def assert_same(streamed: tiled.Streamed, reference: segshift.Segmentation, levels=(3,)) -> None:
    np.testing.assert_array_equal(np.asarray(streamed.labels), reference.labels)
    np.testing.assert_array_equal(streamed.areas, reference.areas)
    np.testing.assert_array_equal(streamed.modes_luv, reference.modes_luv)
    np.testing.assert_array_equal(streamed.modes_rgb, reference.modes_rgb)
    assert streamed.threshold == reference.threshold
    if reference.hierarchy is None:
        assert streamed.hierarchy is None
        return
    h = streamed.hierarchy
    np.testing.assert_array_equal(np.asarray(h.ucm()), reference.ucm)
    for k in levels:
        other = reference.at(n_regions=k)  # numbered from the reference's start label, 0
        labels, areas = h.level_labels(h.cut(h.merges_for(n_regions=k)))
        np.testing.assert_array_equal(np.asarray(labels), other.labels)
        np.testing.assert_array_equal(areas, other.areas)


# -- the pieces ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_area_resize_in_strips_is_the_whole_resize_bitwise(seed):
    rng = np.random.default_rng(seed)
    height, width = rng.integers(40, 300, 2)
    h, w = max(1, height // rng.integers(2, 7)), max(1, width // rng.integers(2, 7)) + int(rng.integers(0, 3))
    image = rng.random((height, width, 3)).astype(np.float32)
    whole = resolution.area_resize(image, (h, w))
    # within rounding of OpenCV's INTER_AREA, which it replaces
    np.testing.assert_allclose(whole, cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA), atol=1e-6)
    for rows in (1, 3, 17, height):
        reads = []

        def read(y0, y1, reads=reads):
            reads.append((y0, y1))
            return image[y0:y1].copy()

        strips = resolution.area_resize_rows(read, (height, width), (h, w), rows)
        assert np.array_equal(strips, whole), rows
        assert reads[0][0] == 0 and reads[-1][1] == height
        # only the rows asked for, or the rows of one output row
        assert max(y1 - y0 for y0, y1 in reads) <= max(rows, -(-height // h) + 1)


def test_constant_image_resizes_to_itself():
    image = np.full((97, 131, 3), 0.3, dtype=np.float32)
    out = resolution.area_resize(image, (40, 62))
    np.testing.assert_allclose(out, 0.3, rtol=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_placement_in_strips_equals_the_whole_placement(tmp_path, seed):
    # test_resolution's cases: some regions lose every pixel and keep a forced one
    rng, rgb, labels, modes, n, whole = level_case(seed)
    H, W = whole.shape
    _, areas = resolution.place_labels(rgb, labels, modes, n, 3.0, 12.0, compat="edison")
    assert areas.min() >= 1 and areas.sum() == H * W
    for rows in (1, 5, 16, H + 3):
        out = np.lib.format.open_memmap(tmp_path / f"{rows}.npy", mode="w+", dtype=np.int32, shape=(H, W))
        read_rows = []

        def read(y0, y1, read_rows=read_rows):
            read_rows.append(y1 - y0)
            return rgb[y0:y1]

        labels_s, areas_s = resolution.place_labels(read, labels, modes, n, 3.0, 12.0, compat="edison",
                                                    shape=(H, W), out=out, strip_rows=rows)
        assert labels_s is out and max(read_rows, default=0) <= rows
        np.testing.assert_array_equal(np.load(tmp_path / f"{rows}.npy"), whole)
        np.testing.assert_array_equal(areas_s, areas)
        place = resolution.Placement(read, labels, modes, n, 3.0, 12.0, compat="edison", shape=(H, W),
                                     strip_rows=rows)
        for m in (1, 2, n // 2, n):
            region_of = rng.permutation(np.arange(n) % m)
            level, level_areas = place.level(region_of)
            np.testing.assert_array_equal(level, region_of.astype(np.int32)[whole])
            np.testing.assert_array_equal(level_areas, np.bincount(level.ravel(), minlength=m))


# -- the whole pipeline ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["astronaut.jpg", "coffee.jpg"])
@pytest.mark.parametrize("tile_size", [1000, 97, 64])
def test_photos_at_the_defaults_equal_in_memory(tmp_path, name, tile_size):
    path = write_tiff(tmp_path, photo(name))
    reference = segshift.segment(path, start_label=0)
    assert reference.hierarchy.placement is not None  # at a working resolution
    result = tiled.segment_streamed(path, tile_size=tile_size, scratch_dir=tmp_path)
    assert result.streamed and isinstance(result.labels, np.memmap)
    assert_same(result, reference, levels=(1, 4, reference.hierarchy.n_finest))


@pytest.mark.parametrize("tile_size", [33, 128])
def test_n_regions_and_the_fast_mode_equal_in_memory(tmp_path, tile_size):
    path = write_tiff(tmp_path, photo("rocket.jpg"), tile=(32, 80))
    for options in (dict(n_regions=7), dict(speedup="fast"), dict(scale="fixed")):
        reference = segshift.segment(path, start_label=0, **options)
        result = tiled.segment_streamed(path, tile_size=tile_size, **options)
        assert result.streamed, options
        assert_same(result, reference)


@pytest.mark.parametrize("tile_size", [64, 100])
def test_edison_settings_equal_in_memory(tmp_path, tile_size):
    image = photo("coffee.jpg")[100:260, 150:420]
    path = write_tiff(tmp_path, image)
    reference = segshift.segment(path, start_label=0, **EDISON)
    result = tiled.segment_streamed(path, tile_size=tile_size, **EDISON)
    assert result.streamed and "blocks of" in result.how
    assert_same(result, reference)
    # EDISON's picture: the regions' seeded modes
    reference = segshift.segment(path, start_label=0, region_colour="seed", **EDISON)
    assert_same(tiled.segment_streamed(path, tile_size=tile_size, region_colour="seed", **EDISON), reference)
    # the relative radius at full resolution, fixed scale
    reference = segshift.segment(path, resolution="full", scale="fixed", start_label=0)
    assert_same(tiled.segment_streamed(path, tile_size=tile_size, resolution="full", scale="fixed"), reference)


def test_a_scene_above_the_memory_limit_equals_in_memory(tmp_path, caplog):
    image = scene(1150, 1000)  # 69 MB in memory: above 64 MB
    path = write_tiff(tmp_path, image, tile=(128, 96))
    reference = segshift.segment(path, start_label=0)
    for limit in ("64MB", "68MB"):
        with caplog.at_level(logging.INFO, logger="segshift"):
            result = tiled.segment_streamed(path, memory_limit=limit, scratch_dir=tmp_path)
        assert result.streamed
        assert_same(result, reference)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("tiled:")]
    assert lines == ["tiled: 1.1 MP image above the 64 MB memory limit, in strips of 500 rows",
                     "tiled: 1.1 MP image above the 68 MB memory limit, in strips of 531 rows"]
    # under a limit it fits: in memory, nothing logged
    result = tiled.segment_streamed(path, memory_limit="1GB")
    assert not result.streamed and result.how == "in memory"
    assert_same(result, reference)


def test_a_striped_gray_tiff_and_a_png(tmp_path):
    image = photo("astronaut.jpg")
    gray = np.round(image.mean(axis=2)).astype(np.uint8)
    striped = tmp_path / "gray.tif"
    tifffile.imwrite(striped, gray, rowsperstrip=5)
    assert_same(tiled.segment_streamed(striped, tile_size=50), segshift.segment(striped, start_label=0))
    png = tmp_path / "a.png"
    cv2.imwrite(str(png), image[..., ::-1])
    assert_same(tiled.segment_streamed(png, tile_size=50), segshift.segment(png, start_label=0))


def test_full_resolution_hierarchy_above_the_limit_is_refused(tmp_path):
    path = write_tiff(tmp_path, scene(1150, 1000))
    with pytest.raises(ParameterError, match=r"scale='auto' at full resolution .* needs the whole image in memory "
                                             r"\(1.1 MP image above the 64 MB memory limit\); use resolution='auto'"):
        tiled.segment_streamed(path, resolution="full", memory_limit="64MB")
    with pytest.raises(ParameterError, match="needs the whole image in memory"):
        tiled.segment_streamed(path, spatial_radius=8, memory_limit="64MB")
    with pytest.raises(ParameterError, match="speedup='fast' at full resolution"):
        tiled.segment_streamed(path, spatial_radius=8, scale="fixed", speedup="fast", memory_limit="64MB")


def test_segment_blocks_takes_the_relative_radius_as_segment_does(tmp_path):
    # None is the relative radius everywhere: at full resolution, 10 / 578 of the diagonal
    image = photo("coffee.jpg")[:200, :300]
    path = write_tiff(tmp_path, image)
    reference = segshift.segment(image, resolution="full", scale="fixed", start_label=0)
    table = tiled.segment_blocks(path, None, tile_size=64, labels_path=tmp_path / "l.npy")
    assert table.params["spatial_radius"] is None and table.tiled
    np.testing.assert_array_equal(np.load(tmp_path / "l.npy"), reference.labels)
    np.testing.assert_array_equal(table.areas, reference.areas)


def test_the_scratch_folder_goes_with_the_result(tmp_path):
    import gc

    path = write_tiff(tmp_path, photo("astronaut.jpg"))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    result = tiled.segment_streamed(path, tile_size=128, scratch_dir=scratch)
    h = result.hierarchy
    other, _ = h.level_labels(h.cut(h.merges_for(n_regions=2)))  # a later level: another memory map there
    (folder,) = scratch.iterdir()
    assert len(list(folder.glob("*.npy"))) == 2 and isinstance(other, np.memmap)
    del result, h, other
    gc.collect()
    assert list(scratch.iterdir()) == []


def test_a_float_tiff_reads_the_same_in_memory_and_in_strips(tmp_path):
    """A float RGB TIFF (Pillow cannot decode it) is read by tifffile on both paths: the same labels."""
    import tifffile

    import segshift

    rng = np.random.default_rng(7)
    image = np.zeros((160, 240, 3), np.float32)
    image[:, 120:] = (0.8, 0.2, 0.1)
    image[60:110, 40:90] = (0.1, 0.3, 0.9)
    image += rng.normal(0, 0.01, image.shape).astype(np.float32)
    image = np.clip(image, 0, 1)
    path = tmp_path / "float.tif"
    tifffile.imwrite(path, image, tile=(64, 64), photometric="rgb")
    np.testing.assert_allclose(segshift.load_image(path), image, atol=1e-6)
    whole = segshift.segment(path)
    strips = segshift.segment(path, tile_size=48)
    assert whole.n_regions == 3
    np.testing.assert_array_equal(whole.labels, strips.labels)
