"""Tiled segmentation (segshift.tiled): the label map equals the untiled one, pixel for pixel."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tifffile
from conftest import IMAGES

import segshift
from segshift import tiled
from segshift.cli import main
from segshift.errors import ImageReadError, OutputError, ParameterError
from segshift._loader import load_image

EDISON = (7, 6.5, 20)
DEFAULT = (10, 12, 0.013)


def untiled(image, params, **options):
    """The in-memory run that segment_blocks reproduces: the fixed scale at full
    resolution, labels from 0, the regions' colours their seeded modes."""
    radii = dict(zip(("spatial_radius", "range_radius", "min_size"), params))
    return segshift.segment(image, **radii, scale="fixed", start_label=0, region_colour="seed", **options)


def photo_crop(name: str, height: int, width: int, top: int = 0, left: int = 0) -> np.ndarray:
    rgb = load_image(IMAGES / name)
    return np.round(rgb[top:top + height, left:left + width] * 255).astype(np.uint8)


def scene(rng: np.random.Generator, height: int = 150, width: int = 230) -> np.ndarray:
    """Flat regions that cross several block corners, a smooth ramp and noise."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.zeros((height, width, 3))
    image[...] = (60, 120, 170)
    image[(y - 70) ** 2 + (x - 128) ** 2 < 45**2] = (210, 80, 60)  # a disc over four blocks
    image[20:130, 20:40] = (40, 160, 70)  # a bar down three block rows
    ramp = (y > 100) & (x > 150)
    image[ramp] = np.stack([x[ramp] * 0.6, 90 + y[ramp] * 0.3, 100 + 0 * x[ramp]], -1)
    image += rng.normal(0, 3, image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def run_tiled(tmp_path, image, params, *, tile=(64, 64), name="in.tif", **options):
    path = tmp_path / name
    tifffile.imwrite(path, image, tile=tile)
    labels = tmp_path / "labels.npy"
    modes = tmp_path / "modes.tif"
    table = tiled.segment_blocks(path, *params, labels_path=labels, modes_path=modes, overwrite=True, **options)
    return table, np.load(labels), tifffile.imread(modes)


@pytest.mark.parametrize("params", [DEFAULT, EDISON], ids=["defaults", "edison"])
@pytest.mark.parametrize("tile_size", [64, 96])
def test_photo_crops_equal_untiled(tmp_path, params, tile_size):
    image = photo_crop("coffee.jpg", 170, 260, 60, 140)
    reference = untiled(image, params)
    table, labels, modes = run_tiled(tmp_path, image, params, tile_size=tile_size)
    assert table.tiled and table.n_regions == reference.n_regions
    np.testing.assert_array_equal(labels, reference.labels)
    np.testing.assert_array_equal(modes, reference.mode_image())
    np.testing.assert_array_equal(table.areas, reference.areas)
    np.testing.assert_array_equal(table.modes, reference.modes_luv)


@pytest.mark.parametrize("compat", ["edison", None])
def test_synthetic_scene_and_strips_equal_untiled(tmp_path, compat):
    image = scene(np.random.default_rng(3))
    for params in (DEFAULT, EDISON):
        reference = untiled(image, params, compat=compat)
        # striped storage, blocks of 64: regions cross block corners and strip seams
        path = tmp_path / "striped.tif"
        tifffile.imwrite(path, image, rowsperstrip=7)
        table = tiled.segment_blocks(path, *params, compat=compat, tile_size=64, labels_path=tmp_path / "l.npy",
                                    overwrite=True)
        np.testing.assert_array_equal(np.load(tmp_path / "l.npy"), reference.labels)
        assert table.n_regions == reference.n_regions
        stats = segshift.writers.segmentation_stats(reference)
        assert [r["bbox"] for r in stats["regions"]] == table.bbox.tolist()
        np.testing.assert_allclose(table.centroid, [r["centroid"] for r in stats["regions"]], atol=0.006)


def test_climbs_that_leave_their_margin_are_redone(tmp_path):
    # margins of 0 and 2 pixels: almost every tile of climbs needs a larger window
    image = photo_crop("chelsea.jpg", 100, 140, 80, 120)
    for params in (DEFAULT, EDISON):
        reference = untiled(image, params)
        for margin in (0, 2):
            table, labels, _ = run_tiled(tmp_path, image, params, tile_size=64, margin=margin)
            assert table.refiltered > 0
            np.testing.assert_array_equal(labels, reference.labels)


def test_smaller_tiles_than_the_window_and_other_kernels(tmp_path):
    image = scene(np.random.default_rng(5), 100, 140)
    reference = untiled(image, (40, 10, 30), kernel="gaussian", compat=None)
    table, labels, _ = run_tiled(tmp_path, image, (40, 10, 30), tile_size=16, kernel="gaussian", compat=None)
    assert table.block == (32, 64)
    np.testing.assert_array_equal(labels, reference.labels)


@pytest.mark.parametrize("compat", ["edison", None])
def test_region_graph_read_in_chunks_equals_untiled(tmp_path, monkeypatch, compat):
    # the region stage reads the pre-fuse edges from its scratch file in chunks: chunks of 5
    # pairs (edges of one region split between chunks), a range radius at which nothing
    # fuses (the whole graph is then pruned), and the defaults, all as the untiled run
    # With compat=None no pixel's mode is kept but those of regions a seam may join ("deferred"),
    # summed in raster order once the seams have joined them: the same means as the whole image's.
    image = photo_crop("coffee.jpg", 110, 150, 60, 140)  # 200 to 5000 connected regions
    monkeypatch.setattr(tiled, "EDGE_CHUNK", 5)
    seen = []
    real = tiled._Run.regions

    def spy(self, graph, *args):
        flags = graph.flags[:graph.count]
        seen.append((graph.modes_file, int((flags & tiled.DEFERRED).sum()), len(flags)))
        return real(self, graph, *args)

    monkeypatch.setattr(tiled._Run, "regions", spy)
    for params in (DEFAULT, (10, 0.05, 30), EDISON):
        reference = untiled(image, params, compat=compat)
        table, labels, modes = run_tiled(tmp_path, image, params, compat=compat, tile_size=32)
        np.testing.assert_array_equal(labels, reference.labels)
        np.testing.assert_array_equal(table.areas, reference.areas)
        np.testing.assert_array_equal(table.modes, reference.modes_luv)
        assert table.connected > table.n_regions
        modes_file, deferred, pieces = seen.pop()
        assert modes_file is None  # no per-pixel modes in the scratch
        if compat is None:
            assert 0 < deferred < pieces  # some components summed in their strip, some after the seams


def test_read_labels_gets_the_label_map_in_strips_and_its_errors_propagate(tmp_path):
    image = photo_crop("chelsea.jpg", 300, 200)
    path = tmp_path / "in.tif"
    tifffile.imwrite(path, image, tile=(64, 64))
    got = []

    def read(table, strips):
        got.append(table)
        got.extend(strips)

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    table = tiled.segment_blocks(path, *DEFAULT, labels_path=tmp_path / "l.npy", tile_size=64, read_labels=read,
                                 scratch_dir=scratch)
    assert got[0] is table
    starts = [y0 for y0, _ in got[1:]]
    assert starts[0] == 0 and starts == sorted(starts) and all(s.dtype == np.int32 for _, s in got[1:])
    np.testing.assert_array_equal(np.concatenate([s for _, s in got[1:]]), np.load(tmp_path / "l.npy"))
    assert list(scratch.iterdir()) == []  # the scratch went

    def fail(table, strips):
        next(iter(strips))
        raise ValueError("the consumer failed")

    with pytest.raises(ValueError, match="the consumer failed"):
        tiled.segment_blocks(path, *DEFAULT, tile_size=64, read_labels=fail, scratch_dir=scratch)
    assert list(scratch.iterdir()) == []


def test_in_memory_run_and_labels_tiff(tmp_path):
    image = photo_crop("astronaut.jpg", 120, 130)
    reference = untiled(image, EDISON)
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, image)
    table = tiled.segment_blocks(path, *EDISON, labels_path=tmp_path / "l.tif")
    assert not table.tiled
    with tifffile.TiffFile(tmp_path / "l.tif") as tif:
        assert tif.is_bigtiff and tif.pages[0].is_tiled and tif.pages[0].dtype == np.uint32
        np.testing.assert_array_equal(tif.asarray(), reference.labels)
    records = table.as_array()
    assert records["area"].sum() == image.shape[0] * image.shape[1]


def test_cli_tiles_above_the_memory_limit(tmp_path, capsys):
    image = photo_crop("rocket.jpg", 130, 150)
    # what segment() gives in memory, numbered from 1 with the regions' mean colours
    reference = segshift.segment(image, spatial_radius=7, range_radius=6.5, min_size=20, scale="fixed")
    path = tmp_path / "r.tif"
    tifffile.imwrite(path, image, tile=(32, 32), compression="zlib")
    # the block-wise path, forced by --tile-size
    code = main(["segment", str(path), "-o", str(tmp_path / "m.tif"), "--labels", str(tmp_path / "l.npy"),
                 "--stats", "-", "-s", "7", "-r", "6.5", "-m", "20", "--scale", "fixed", "--tile-size", "64", "-q"])
    assert code == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["n_regions"] == reference.n_regions
    np.testing.assert_array_equal(np.load(tmp_path / "l.npy"), reference.labels)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "m.tif"), reference.mode_image())


def test_bad_inputs_give_one_line_errors(tmp_path, capsys):
    image = photo_crop("coffee.jpg", 64, 64)
    good = tmp_path / "g.tif"
    tifffile.imwrite(good, image)
    cases = [
        (["--memory-limit", "lots"], 2, "--memory-limit"),
        (["--memory-limit", "1KB"], 2, "at least 64MB"),
        (["--bands", "3,2"], 2, "--bands"),
        (["--bands", "0,1,2"], 2, "--bands"),
        (["--bands", "3,2,1", "--tile-size", "64"], 2, "multiband"),
    ]
    for extra, status, words in cases:
        assert main(["segment", str(good), *extra]) == status, extra
        err = capsys.readouterr().err.strip().splitlines()
        assert words in err[-1] and "Traceback" not in "".join(err)
    # a format whose decoder reads whole images, too large for the limit
    big = tmp_path / "big.png"
    from PIL import Image

    Image.new("RGB", (6000, 6000)).save(big)
    with pytest.raises(ImageReadError, match="cannot be read in parts"):
        tiled.segment_blocks(big, memory_limit="64MB")
    assert main(["segment", str(big), "--memory-limit", "64MB", "-o", str(tmp_path / "x.tif")]) == 1
    assert "cannot be read in parts" in capsys.readouterr().err
    assert not (tmp_path / "x.tif").exists()
    with pytest.raises(ParameterError, match="tile_size"):
        tiled.segment_blocks(good, tile_size=0)


def test_corrupt_tile_leaves_no_output(tmp_path, capsys):
    image = photo_crop("chelsea.jpg", 128, 128)
    path = tmp_path / "c.tif"
    tifffile.imwrite(path, image, tile=(64, 64), compression="zlib")
    with tifffile.TiffFile(path) as tif:
        offset = tif.pages[0].dataoffsets[3]
    data = bytearray(path.read_bytes())
    data[offset:offset + 40] = b"\xff" * 40
    path.write_bytes(bytes(data))
    out = tmp_path / "m.tif"
    assert main(["segment", str(path), "-o", str(out), "--labels", str(tmp_path / "l.npy"), "--tile-size", "64",
                 "--scale", "fixed", "-s", "7"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    # the line that says the run tiles and why, then the one error line
    assert err[0] == "segshift: tiled: tile size 64 given, in blocks of 64x64"
    assert len(err) == 2 and "tile 3" in err[1]
    assert sorted(os.listdir(tmp_path)) == ["c.tif"]


def test_failed_write_leaves_no_partial_output(tmp_path, monkeypatch):
    image = photo_crop("coffee.jpg", 100, 100)
    path = tmp_path / "c.tif"
    tifffile.imwrite(path, image)
    real = tiled._write_tiff

    def full_disk(target, *args, **kwargs):
        real(target, *args, **kwargs)
        if "modes" in os.path.basename(target):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(tiled, "_write_tiff", full_disk)
    with pytest.raises(OutputError, match="No space left"):
        tiled.segment_blocks(path, tile_size=64, labels_path=tmp_path / "labels.tif", modes_path=tmp_path / "modes.tif")
    assert sorted(os.listdir(tmp_path)) == ["c.tif"]


def test_a_full_disk_for_the_scratch_data_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    import errno

    image = photo_crop("coffee.jpg", 100, 140)
    path = tmp_path / "in.tif"
    tifffile.imwrite(path, image, tile=(64, 64))
    out = tmp_path / "out"
    out.mkdir()
    real = tiled._Run._connect_strip
    calls = []

    def full_disk(self, graph, strip, i0, previous, files):
        calls.append(i0)
        if len(calls) % 2 == 0:  # the second strip's scratch no longer fits
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, graph, strip, i0, previous, files)

    monkeypatch.setattr(tiled._Run, "_connect_strip", full_disk)
    with pytest.raises(OutputError, match=r"out: no room for the run's scratch data \(No space left on device\)"):
        tiled.segment_blocks(path, *DEFAULT, labels_path=out / "labels.tif", tile_size=64)
    assert list(out.iterdir()) == []  # no output, no scratch folder
    calls.clear()
    # the command line: exit 1 with that line, nothing left (a radius in pixels at full resolution, in blocks)
    assert main(["segment", str(path), "-o", str(out / "m.tif"), "--labels", str(out / "l.tif"), "-s", "10",
                 "--scale", "fixed", "--resolution", "full", "--tile-size", "64", "-q"]) == 1
    assert "no room for the run's scratch data" in capsys.readouterr().err
    assert list(out.iterdir()) == []


def test_memory_limit_and_block_shape():
    assert tiled.parse_memory("2GB") == 2 * 10**9
    assert tiled.parse_memory("1.5GiB") == 3 * 2**29
    rows, cols = tiled.block_shape(14000, 14000, 2 * 10**9, 38)
    assert rows % 32 == 0 and cols % 64 == 0 and 256 <= rows <= tiled.MAX_BLOCK
    need = (rows + 76) ** 2 * tiled.BLOCK_BYTES_PER_PIXEL + rows * 14000 * tiled.STRIP_BYTES_PER_PIXEL
    assert need <= 10**9
    assert tiled.default_memory_limit() >= 256 * 10**6


def multiband_scene(rng: np.random.Generator, height: int = 150, width: int = 200) -> np.ndarray:
    """A 4-band 16-bit raster (R, G, B, NIR): a disc, a bar, a NIR ramp, noise."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.zeros((height, width, 4))
    image[...] = (500, 800, 700, 2500)
    image[(y - 70) ** 2 + (x - 100) ** 2 < 50**2] = (900, 1200, 600, 4000)
    image[20:140, 10:30] = (300, 500, 400, 1000)
    image[:, :, 3] += x * 3
    image += rng.normal(0, 30, image.shape)
    return np.clip(np.round(image), 0, 65535).astype(np.uint16)


def test_band_climb_matches_the_naive_reference():
    import naive

    from segshift import _band_kernels, _filter_kernels

    rng = np.random.default_rng(11)
    image = multiband_scene(rng, 18, 22)[:, :, [0, 1, 3]].astype(np.float32)  # 3 bands, not L*u*v*
    image = np.concatenate([image, image[:, :, :1] * 0.5 + 100], axis=2)  # and a fourth, 5 in all below
    image = np.concatenate([image, rng.normal(1000, 50, image.shape[:2] + (1,)).astype(np.float32)], axis=2)
    height, width = image.shape[:2]
    for kernel, kid in (("uniform", 0), ("gaussian", 1), ("epanechnikov", 2)):
        for raw in (False, True):
            hs, hr = 5.0, 250.0
            pad = _filter_kernels.window_reach(hs, width) + _filter_kernels.LANES + 1
            planes, stride = _filter_kernels.pad_planes(image, pad, pad)
            bounds = np.array([0, height - 1, -pad, width + pad - 1], dtype=np.int64)
            modes = np.empty_like(image)
            escaped = np.zeros(1, dtype=np.bool_)
            _band_kernels.filter_bands_block(planes, stride, pad, bounds, height, width, 0, height, 0, width, hs, hr,
                                             kid, 0.01, 100, raw, modes, escaped)
            assert not escaped.any()
            reference = naive.filter_bands(image, hs, hr, kernel, raw_units=raw)
            # float32 sums against float64: a pixel on the edge of a range ball may count in one and not
            # the other, which moves its climb a little (a knife edge, not a different mode)
            error = np.abs(modes - reference).max(axis=2)
            assert (error < 2e-3).mean() > 0.98 and error.max() < 0.01 * hr


@pytest.mark.parametrize("params", [(10, 200, 50), (7, 150, 20)])
def test_multiband_16bit_tiled_equals_in_memory(tmp_path, params):
    image = multiband_scene(np.random.default_rng(2))
    path = tmp_path / "rgbn.tif"
    tifffile.imwrite(path, image, tile=(64, 64), photometric="minisblack", planarconfig="contig")
    whole = tiled.segment_blocks(path, *params, labels_path=tmp_path / "a.npy", modes_path=tmp_path / "a.tif")
    parts = tiled.segment_blocks(path, *params, tile_size=64, labels_path=tmp_path / "b.npy", modes_path=tmp_path / "b.tif",
                                bands=(4, 2, 1), margin=4)
    assert not whole.tiled and parts.tiled and parts.refiltered > 0
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    assert whole.n_regions == 3 and whole.modes.shape == (3, 4)
    # modes in the bands' units: the disc's NIR mode is about 4000 + 3 x
    disc = int(np.load(tmp_path / "a.npy")[70, 100])
    assert abs(whole.modes[disc, 0] - 900) < 5 and 4000 < whole.modes[disc, 3] < 4400
    np.testing.assert_array_equal(whole.modes, parts.modes)
    picture = tifffile.imread(tmp_path / "b.tif")
    assert picture.shape == (150, 200, 3) and parts.params["bands"] == [4, 2, 1]
    np.testing.assert_array_equal(picture[70, 100], parts.modes_rgb[disc])
    # the command line takes it as multiband by itself, and --bands picks the picture's bands
    assert main(["segment", str(path), "-o", str(tmp_path / "c.tif"), "-s", "10", "-r", "200", "-m", "50",
                 "--bands", "4,2,1", "-q"]) == 0
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "c.tif"), picture)
    assert main(["segment", str(path), "-o", str(tmp_path / "d.tif"), "--bands", "5,2,1", "-q"]) == 2


@pytest.mark.parametrize(
    "kind",
    ["gray-striped", "rgb16-planar", "rgba-tiled", "jpeg"],
)
def test_storage_layouts_and_sample_types(tmp_path, kind):
    rgb = photo_crop("rocket.jpg", 110, 140, 100, 200)
    path = tmp_path / "in.tif"
    if kind == "gray-striped":
        array = rgb[..., 1]
        tifffile.imwrite(path, array, rowsperstrip=5, compression="zlib")
    elif kind == "rgb16-planar":
        array = (rgb.astype(np.uint16) * 257 + np.arange(140, dtype=np.uint16)[None, :, None]) % 65535
        tifffile.imwrite(path, np.moveaxis(array, 2, 0), photometric="rgb", planarconfig="separate", tile=(32, 48))
    elif kind == "rgba-tiled":
        array = np.concatenate([rgb, np.linspace(0, 255, 140).astype(np.uint8)[None, :, None].repeat(110, 0)], axis=2)
        tifffile.imwrite(path, array, photometric="rgb", extrasamples=["unassalpha"], tile=(48, 32))
    else:
        path = IMAGES / "chelsea.jpg"
        array = load_image(path)
    reference = untiled(array, EDISON)
    table = tiled.segment_blocks(path, *EDISON, tile_size=64, labels_path=tmp_path / "l.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "l.npy"), reference.labels)
    assert table.n_regions == reference.n_regions


def test_segment_large_is_a_deprecated_name_of_segment_blocks(tmp_path):
    import tifffile

    import segshift

    image = np.zeros((40, 70, 3), dtype=np.uint8)
    image[:, 30:] = (200, 40, 40)
    path = tmp_path / "two.tif"
    tifffile.imwrite(path, image)
    with pytest.warns(FutureWarning, match="segment_large is deprecated"):
        table = segshift.segment_large(path, 10, 12, 20)
    assert table.areas.tolist() == tiled.segment_blocks(path, 10, 12, 20).areas.tolist()
