"""segshift.writers on every path: label maps in memory and memory-mapped,
written in strips of bounded memory, every format decoded and compared.

The pictures written in strips are compared with the whole-image renderings
of :mod:`segshift._render` (which :class:`segshift.Segmentation` uses), for
several memory limits: from one row a strip to the whole picture at once.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from segshift import _render as render, writers
from segshift._segment import Segmentation

#: Memory limits: a row a strip (and TIFF tiles of 16), a few rows, everything at once.
BUDGETS = [1, 60_000, 10**9]


def blocky_labels(rng: np.random.Generator, height: int, width: int, cell: int = 7, n: int = 40) -> np.ndarray:
    """Labels of random blocks, renumbered contiguously from 0 in raster order of first pixels."""
    coarse = rng.integers(0, n, size=(-(-height // cell), -(-width // cell)))
    raw = coarse.repeat(cell, 0).repeat(cell, 1)[:height, :width]
    raw[rng.random(raw.shape) < 0.01] = n  # single pixels, a region of its own
    _, first, inverse = np.unique(raw.ravel(), return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse].reshape(height, width).astype(np.int32)


def make_seg(rng: np.random.Generator, height: int = 83, width: int = 61) -> Segmentation:
    labels = blocky_labels(rng, height, width)
    n = int(labels.max()) + 1
    return Segmentation(
        labels=labels,
        modes_luv=rng.uniform(0, 100, size=(n, 3)).astype(np.float32),
        modes_rgb=rng.integers(0, 256, size=(n, 3), dtype=np.uint8),
        areas=np.bincount(labels.ravel(), minlength=n).astype(np.int64),
        image=rng.random((height, width, 3), dtype=np.float32),
        params={"spatial_radius": 5.0},
        seconds=0.25,
    )


def memmapped(seg: Segmentation, folder: Path) -> Segmentation:
    """The same segmentation with its label map and image as read-only memory maps."""
    np.save(folder / "labels.npy", seg.labels)
    np.save(folder / "image.npy", seg.image)
    return dataclasses.replace(seg, labels=np.load(folder / "labels.npy", mmap_mode="r"),
                               image=np.load(folder / "image.npy", mmap_mode="r"))


@dataclasses.dataclass
class FromOne:
    """A segmentation whose labels are numbered from 1 (0: nodata), as segshift 1.0 numbers them."""

    labels: np.ndarray
    modes_luv: np.ndarray
    modes_rgb: np.ndarray
    areas: np.ndarray
    image: np.ndarray
    params: dict
    seconds: float
    start_label: int = 1
    hierarchy: None = None

    @property
    def n_regions(self) -> int:
        return len(self.areas)

    def image_rows(self, y0: int, y1: int) -> np.ndarray:
        return self.image[y0:y1]


def from_one(seg: Segmentation) -> FromOne:
    return FromOne(seg.labels + 1, seg.modes_luv, seg.modes_rgb, seg.areas, seg.image, seg.params, seg.seconds)


def decode(path: Path) -> np.ndarray:
    ext = path.suffix.lower()
    if ext == ".npy":
        return np.load(path)
    if ext in (".tif", ".tiff"):
        return tifffile.imread(path)
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB") if im.mode not in ("I;16", "I;16B", "L", "I") else im)


def expected(kind: str, seg: Segmentation) -> np.ndarray:
    labels = np.asarray(seg.labels)
    return {
        "modes": seg.modes_rgb[labels],
        "boundaries": render.draw_boundaries(np.asarray(seg.image), labels),
        "label_colours": render.random_colours(seg.n_regions)[labels],
        "labels": labels,
    }[kind]


@pytest.fixture
def seg():
    return make_seg(np.random.default_rng(3))


# --------------------------------------------------------------------------- #
# Every format x {in memory, memory map} x memory limits
# --------------------------------------------------------------------------- #


PICTURE_EXTS = [".png", ".tif", ".tiff", ".webp", ".bmp", ".jpg"]


@pytest.mark.parametrize("mapped", [False, True], ids=["ndarray", "memmap"])
@pytest.mark.parametrize("kind", ["modes", "boundaries", "label_colours"])
@pytest.mark.parametrize("ext", PICTURE_EXTS)
def test_pictures_every_format_and_path(tmp_path, seg, kind, ext, mapped):
    source = memmapped(seg, tmp_path) if mapped else seg
    want = expected(kind, seg)
    outputs = []
    budgets = BUDGETS
    if ext in writers.WHOLE_IMAGE_FORMATS:  # the picture, and one row a strip to one strip of all
        whole = seg.shape[0] * seg.shape[1] * writers.WHOLE_BYTES_PER_PIXEL
        budgets = [whole + 1, whole + 60_000, 10**9]
    for budget in budgets:
        path = tmp_path / f"{kind}.{budget}{ext}"
        writers.write_output(kind, path, source, memory_limit=budget)
        got = decode(path)
        if ext == ".jpg":  # lossy: close to the picture, and the same whatever the strips
            assert got.shape == want.shape
            assert np.abs(got.astype(int) - want).mean() < 12
        else:
            np.testing.assert_array_equal(got, want)
        outputs.append(got)
    for got in outputs[1:]:
        np.testing.assert_array_equal(got, outputs[0])
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("mapped", [False, True], ids=["ndarray", "memmap"])
@pytest.mark.parametrize("ext", [".png", ".tif", ".tiff", ".npy"])
def test_labels_every_format_and_path(tmp_path, seg, ext, mapped):
    source = memmapped(seg, tmp_path) if mapped else seg
    for budget in BUDGETS:
        path = tmp_path / f"labels.{budget}{ext}"
        writers.write_output("labels", path, source, memory_limit=budget)
        got = decode(path)
        np.testing.assert_array_equal(got, seg.labels)
        assert got.dtype == {".png": np.uint16, ".npy": np.int32}.get(ext, np.uint32)
        if ext == ".png":
            with Image.open(path) as im:
                assert im.mode.startswith("I;16")
                np.testing.assert_array_equal(np.asarray(im), seg.labels)


@pytest.mark.parametrize("kind, ext", [("modes", ".png"), ("boundaries", ".png"), ("label_colours", ".png"),
                                       ("labels", ".png"), ("labels", ".npy")])
def test_same_bytes_whatever_the_strips(tmp_path, seg, kind, ext):
    mapped = memmapped(seg, tmp_path)
    data = set()
    for budget in BUDGETS + [3 * seg.shape[1] * 70 + 5]:
        for source in (seg, mapped):
            path = tmp_path / f"out{ext}"
            writers.write_output(kind, path, source, memory_limit=budget)
            data.add(path.read_bytes())
    data.add(writers.encode_output(kind, seg, ext))
    assert len(data) == 1


def test_tiff_bytes_do_not_depend_on_strips_when_tiles_fit(tmp_path, seg):
    mapped = memmapped(seg, tmp_path)
    data = set()
    for budget in (10**6, 4 * 10**6, 10**9):
        for source in (seg, mapped):
            writers.write_output("modes", tmp_path / "m.tif", source, memory_limit=budget)
            data.add((tmp_path / "m.tif").read_bytes())
    assert len(data) == 1
    with tifffile.TiffFile(tmp_path / "m.tif") as tif:
        page = tif.pages[0]
        assert page.is_tiled and page.tilewidth == writers.TIFF_TILE and page.compression == 8  # zlib
    with Image.open(tmp_path / "m.tif") as im:  # readable by Pillow (libtiff) too
        np.testing.assert_array_equal(np.asarray(im), expected("modes", seg))


def test_bigtiff_when_large(tmp_path, seg, monkeypatch):
    writers.write_output("labels", tmp_path / "small.tif", seg)
    monkeypatch.setattr(writers, "BIGTIFF_BYTES", seg.shape[0] * seg.shape[1] * 4 - 1)  # as if over 2 GB
    writers.write_output("labels", tmp_path / "big.tif", seg, memory_limit=60_000)
    for name, big in (("small.tif", False), ("big.tif", True)):
        with tifffile.TiffFile(tmp_path / name) as tif:
            assert tif.is_bigtiff == big
            np.testing.assert_array_equal(tif.asarray(), seg.labels)


def test_labels_numbered_from_one(tmp_path, seg):
    one = from_one(seg)
    one.labels[:3, :4] = 0  # nodata
    for ext in (".png", ".tif", ".npy"):
        writers.write_output("labels", tmp_path / f"l{ext}", one, memory_limit=5000)
        np.testing.assert_array_equal(decode(tmp_path / f"l{ext}"), one.labels)
    writers.write_output("modes", tmp_path / "m.png", one, memory_limit=5000)
    want = expected("modes", seg)
    want[:3, :4] = 0  # nodata is black
    np.testing.assert_array_equal(decode(tmp_path / "m.png"), want)


# --------------------------------------------------------------------------- #
# UCM
# --------------------------------------------------------------------------- #


@pytest.fixture
def ucm():
    rng = np.random.default_rng(5)
    heights = np.where(rng.random((47, 66)) < 0.3, rng.uniform(0, 7.5, (47, 66)), 0.0)
    heights[0, 0] = 1e-9  # a border far below the top stays a border
    return heights


@pytest.mark.parametrize("mapped", [False, True], ids=["ndarray", "memmap"])
def test_ucm_every_format(tmp_path, ucm, mapped):
    np.save(tmp_path / "ucm.npy", ucm)
    source = np.load(tmp_path / "ucm.npy", mmap_mode="r") if mapped else ucm
    top = ucm.max()
    scaled = np.round(ucm * (65535.0 / top)).astype(np.uint16)
    scaled[(ucm > 0) & (scaled == 0)] = 1
    for budget in BUDGETS:
        for ext in (".png", ".tif", ".npy"):
            path = tmp_path / f"u{budget}{ext}"
            writers.write_ucm(path, source, memory_limit=budget)
            assert path.read_bytes() == writers.encode_ucm(ucm, ext) or ext == ".tif"
            if ext == ".png":
                with Image.open(path) as im:
                    assert float(im.text["segshift:ucm_max"]) == top
                    np.testing.assert_array_equal(np.asarray(im), scaled)
            else:
                got = decode(path)
                assert got.dtype == np.float64
                np.testing.assert_array_equal(got, ucm)


# --------------------------------------------------------------------------- #
# The PNG encoder, checked by hand
# --------------------------------------------------------------------------- #


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(tag + body), f"bad CRC in {tag!r}"
        chunks.append((tag, body))
        pos += 12 + length
    assert pos == len(data)
    return chunks


def unfilter(raw: bytes, height: int, row_bytes: int, bpp: int) -> np.ndarray:
    """PNG's reconstruction, byte by byte (the specification's definitions)."""
    out = np.zeros((height, row_bytes), dtype=np.int64)
    stream = np.frombuffer(raw, dtype=np.uint8).reshape(height, row_bytes + 1)
    for y in range(height):
        kind, row = stream[y, 0], stream[y, 1:].astype(np.int64)
        assert kind in range(5)
        for x in range(row_bytes):
            a = out[y, x - bpp] if x >= bpp else 0
            b = out[y - 1, x] if y else 0
            c = out[y - 1, x - bpp] if y and x >= bpp else 0
            if kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            else:
                pred = [0, a, b, (a + b) // 2][kind]
            out[y, x] = (row[x] + pred) % 256
    return out.astype(np.uint8)


@pytest.mark.parametrize("kind, depth, colour_type", [("modes", 8, 2), ("boundaries", 8, 2), ("labels", 16, 0)])
def test_png_chunks_crcs_and_rows(tmp_path, kind, depth, colour_type):
    seg = make_seg(np.random.default_rng(11), 23, 31)
    path = tmp_path / "x.png"
    writers.write_output(kind, path, seg, memory_limit=1)  # one row a strip
    data = path.read_bytes()
    chunks = png_chunks(data)
    tags = [t for t, _ in chunks]
    assert tags[0] == b"IHDR" and tags[-1] == b"IEND" and set(tags[1:-1]) == {b"IDAT"}
    width, height, bit_depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (width, height, bit_depth, ctype, comp, filt, interlace) == (31, 23, depth, colour_type, 0, 0, 0)
    raw = zlib.decompress(b"".join(body for tag, body in chunks if tag == b"IDAT"))
    bpp = 3 if colour_type == 2 else 2
    rows = unfilter(raw, height, width * bpp, bpp)
    if depth == 16:
        pixels = rows.view(">u2").astype(np.int64)
    else:
        pixels = rows.reshape(height, width, 3)
    np.testing.assert_array_equal(pixels, expected(kind, seg))
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        np.testing.assert_array_equal(np.asarray(im), expected(kind, seg))


def test_png_chunks_are_split_and_text_comes_first(tmp_path, monkeypatch):
    monkeypatch.setattr(writers, "PNG_CHUNK", 1000)
    rng = np.random.default_rng(2)
    ucm = rng.uniform(0, 3, (60, 70))
    writers.write_ucm(tmp_path / "u.png", ucm, memory_limit=7000)
    chunks = png_chunks((tmp_path / "u.png").read_bytes())
    tags = [t for t, _ in chunks]
    assert tags[:2] == [b"IHDR", b"tEXt"] and tags[-1] == b"IEND"
    assert chunks[1][1] == b"segshift:ucm_max\0" + repr(float(ucm.max())).encode()
    sizes = [len(body) for tag, body in chunks if tag == b"IDAT"]
    assert len(sizes) > 3 and set(sizes[:-1]) == {1000} and 0 < sizes[-1] <= 1000


# --------------------------------------------------------------------------- #
# Boundaries: thick enough to see on large pictures, the same in any strips
# --------------------------------------------------------------------------- #


def test_boundary_thickness_rule():
    assert render.boundary_thickness(1080, 1920) == 1  # up to about 2 megapixels
    assert render.boundary_thickness(1225, 1633) == 1
    assert render.boundary_thickness(1200, 2000) == 2
    assert render.boundary_thickness(3000, 4000) == 3  # a 12-megapixel photo
    assert render.boundary_thickness(8000, 12000) == 7
    with pytest.raises(ValueError, match="thickness must be an integer >= 1, got 0"):
        render.draw_boundaries(np.zeros((4, 4, 3)), np.zeros((4, 4), dtype=int), thickness=0)


@pytest.mark.parametrize("thickness", [1, 2, 3, 5])
def test_thick_boundaries_are_dilated_inner_boundaries(thickness):
    from scipy import ndimage
    from skimage.segmentation import find_boundaries

    rng = np.random.default_rng(thickness)
    labels = blocky_labels(rng, 57, 44, cell=5)
    inner = find_boundaries(labels, connectivity=1, mode="inner", background=-1)
    want = ndimage.binary_dilation(inner, np.ones((2 * thickness - 1,) * 2, dtype=bool)) if thickness > 1 else inner
    np.testing.assert_array_equal(render.boundary_mask_rows(labels, 0, 57, thickness), want)
    image = rng.random((57, 44, 3), dtype=np.float32)
    whole = render.draw_boundaries(image, labels, (1, 2, 3), thickness=thickness)
    np.testing.assert_array_equal(np.all(whole == (1, 2, 3), axis=-1), want)
    for rows in (1, 2, 5, 13, 57):
        strips = [render.boundary_rows(labels, lambda a, b: image[a:b], y0, min(57, y0 + rows), (1, 2, 3), thickness)
                  for y0 in range(0, 57, rows)]
        np.testing.assert_array_equal(np.concatenate(strips), whole)


def test_boundaries_thicken_on_a_large_picture(tmp_path):
    height, width = 1500, 1700  # 2.6 megapixels: outlines 2 pixels wide
    labels = np.zeros((height, width), dtype=np.int32)
    labels[:, width // 2:] = 1
    np.save(tmp_path / "l.npy", labels)
    mapped = np.load(tmp_path / "l.npy", mmap_mode="r")
    grey = np.full((height, width, 3), 0.5, dtype=np.float32)
    writers.write_boundaries(tmp_path / "b.png", mapped, lambda a, b: grey[a:b], memory_limit=2 * 10**6)
    red = np.all(decode(tmp_path / "b.png") == (255, 0, 0), axis=-1)
    assert render.boundary_thickness(height, width) == 2
    assert red[:, width // 2 - 2:width // 2 + 2].all() and red.sum() == 4 * height


# --------------------------------------------------------------------------- #
# Statistics
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("budget", [1, 3000, 10**9])
def test_stats_of_a_memory_map_are_those_in_memory(tmp_path, seg, budget):
    want = writers.encode_stats(writers.segmentation_stats(seg))
    writers.write_output("stats", tmp_path / "s.json", memmapped(seg, tmp_path), memory_limit=budget)
    assert (tmp_path / "s.json").read_bytes() == want
    writers.write_output("stats", tmp_path / "one.json", from_one(seg), memory_limit=budget)
    one = json.loads((tmp_path / "one.json").read_text())
    stats = json.loads(want)
    assert [r["label"] for r in one["regions"]] == [r["label"] + 1 for r in stats["regions"]]
    for a, b in zip(one["regions"], stats["regions"]):
        assert {**a, "label": 0} == {**b, "label": 0}


def test_write_stats_streams_a_generator(tmp_path):
    stats = {"n_regions": 3, "regions": ({"label": k} for k in range(3))}
    writers.write_stats(tmp_path / "s.json", stats)
    assert (tmp_path / "s.json").read_bytes() == writers.encode_stats({"n_regions": 3, "regions": [
        {"label": k} for k in range(3)]})
    for case in ({}, {"regions": []}, {"a": 1, "regions": []}):
        writers.write_stats(tmp_path / "e.json", case)
        assert json.loads((tmp_path / "e.json").read_text()) == case


# --------------------------------------------------------------------------- #
# Refusals and atomicity
# --------------------------------------------------------------------------- #


def test_too_many_labels_for_png(tmp_path):
    labels = np.arange(65536, dtype=np.int32).reshape(256, 256)
    message = r"65,536 regions do not fit a 16-bit PNG \(labels up to 65,536, at most 65,535\); .*\.tif or \.npy"
    with pytest.raises(writers.OutputError, match=message):  # the largest label read from the map
        writers.write_labels(tmp_path / "l.png", labels + 1, start_label=1, memory_limit=5000)
    with pytest.raises(writers.OutputError, match=message):  # or known
        writers.write_labels(tmp_path / "l.png", labels + 1, start_label=1, n_regions=65536)
    writers.write_labels(tmp_path / "fits.png", labels, start_label=1, memory_limit=5000)
    np.testing.assert_array_equal(decode(tmp_path / "fits.png"), labels)
    (tmp_path / "fits.png").unlink()
    assert list(tmp_path.iterdir()) == []
    writers.write_labels(tmp_path / "l.tif", labels + 1, start_label=1, memory_limit=5000)
    np.testing.assert_array_equal(decode(tmp_path / "l.tif"), labels + 1)
    with pytest.raises(writers.OutputError) as info:
        writers.write_labels(tmp_path / "l.png", labels + 1, n_regions=65536, start_label=1)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("ext", [".jpg", ".jpeg", ".webp", ".bmp"])
def test_whole_picture_formats_refused_over_the_limit(tmp_path, seg, ext):
    mapped = memmapped(seg, tmp_path)
    height, width = seg.shape
    limit = height * width * writers.WHOLE_BYTES_PER_PIXEL - 1
    for kind in ("modes", "boundaries", "label_colours"):
        target = tmp_path / f"out{ext}"
        with pytest.raises(writers.OutputError, match=rf"out{ext}: a 61x83 \{ext} picture is encoded whole and needs "
                           r"about 0\.05 MB, over the memory limit of 0\.05 MB; write \.png or \.tif instead"):
            writers.write_output(kind, target, mapped, memory_limit=limit)
        assert not target.exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
        with pytest.raises(writers.OutputError, match="encoded whole"):
            writers.check_output_fits(kind, target, seg.shape, memory_limit=limit)
        with pytest.raises(writers.OutputError, match="encoded whole"):
            writers.encode_output(kind, mapped, ext, memory_limit=limit)
    writers.write_output("modes", tmp_path / f"ok{ext}", mapped, memory_limit=limit + 1)
    assert decode(tmp_path / f"ok{ext}").shape == (height, width, 3)


def test_webp_side_limit(tmp_path):
    labels = np.zeros((2, 16384), dtype=np.int32)
    colours = np.array([[1, 2, 3]], dtype=np.uint8)
    with pytest.raises(writers.OutputError, match=r"\.webp pictures are at most 16383 pixels a side.*\.png or \.tif"):
        writers.write_modes(tmp_path / "w.webp", labels, colours)
    assert list(tmp_path.iterdir()) == []
    writers.write_modes(tmp_path / "w.png", labels, colours, memory_limit=10**5)
    assert decode(tmp_path / "w.png").shape == (2, 16384, 3)


class Interrupted(KeyboardInterrupt):
    pass


@pytest.mark.parametrize("exc", [Interrupted, ValueError])
@pytest.mark.parametrize("ext", [".png", ".tif", ".npy", ".jpg"])
def test_no_partial_file_on_interrupt(tmp_path, exc, ext):
    calls = []

    def read(y0, y1):
        calls.append(y0)
        if len(calls) == 3:
            raise exc("stop")
        return np.full((y1 - y0, 50), 7, dtype=np.uint8)

    rows = writers.Rows(40, 50, 1, np.dtype(np.uint8), read, 2)
    target = tmp_path / f"out{ext}"
    target.write_bytes(b"old")
    with pytest.raises(exc):
        whole = 40 * 50 * writers.WHOLE_BYTES_PER_PIXEL if ext in writers.WHOLE_IMAGE_FORMATS else 0
        writers._write_rows(target, ext, rows, whole + 50 * 2 * 4)  # strips of 4 rows
    assert len(calls) == 3
    assert sorted(os.listdir(tmp_path)) == [f"out{ext}"] and target.read_bytes() == b"old"


def test_interrupt_while_drawing_boundaries_leaves_nothing(tmp_path, seg):
    mapped = memmapped(seg, tmp_path)
    calls = []

    def rows(y0, y1):
        calls.append(y0)
        if y0 > 40:
            raise Interrupted()
        return mapped.image[y0:y1]

    whole = seg.shape[0] * seg.shape[1] * writers.WHOLE_BYTES_PER_PIXEL + 1
    for ext in (".png", ".tif", ".webp"):
        with pytest.raises(Interrupted):
            writers.write_boundaries(tmp_path / f"b{ext}", mapped.labels, rows, memory_limit=whole)
    assert sorted(os.listdir(tmp_path)) == ["image.npy", "labels.npy"]


def test_every_kind_writes_what_it_encodes(tmp_path, seg):
    for kind, ext in [("modes", ".png"), ("modes", ".tif"), ("boundaries", ".png"), ("labels", ".png"),
                      ("labels", ".tif"), ("labels", ".npy"), ("label_colours", ".png"), ("stats", ".json")]:
        path = tmp_path / f"{kind}{ext}"
        writers.write_output(kind, path, seg)
        assert path.read_bytes() == writers.encode_output(kind, seg, ext), (kind, ext)
    with pytest.raises(writers.ParameterError, match="a UCM needs the region hierarchy"):
        writers.write_output("ucm", tmp_path / "u.png", seg)
    with pytest.raises(writers.ParameterError, match="not a supported labels format"):
        writers.write_output("labels", tmp_path / "l.jpg", seg)


# --------------------------------------------------------------------------- #
# Bounded memory
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("kind, ext", [("modes", ".png"), ("boundaries", ".png"), ("modes", ".tif"),
                                       ("boundaries", ".tif"), ("labels", ".png"), ("labels", ".tif"),
                                       ("labels", ".npy"), ("stats", ".json")])
def test_memory_stays_within_the_limit(tmp_path, kind, ext):
    """A 6-megapixel memory-mapped segmentation written within 4 MB (its
    picture alone would take 18 MB): the peak of Python's and NumPy's
    allocations stays under the limit."""
    height, width = 2000, 3000
    rng = np.random.default_rng(1)
    labels = np.lib.format.open_memmap(tmp_path / "labels.npy", mode="w+", dtype=np.int32, shape=(height, width))
    image = np.lib.format.open_memmap(tmp_path / "image.npy", mode="w+", dtype=np.float32, shape=(height, width, 3))
    for y0 in range(0, height, 250):
        labels[y0:y0 + 250] = blocky_labels(rng, 250, width, cell=50, n=300) + (y0 // 250) * 302
        image[y0:y0 + 250] = rng.random((250, width, 3), dtype=np.float32)
    labels.flush()
    image.flush()
    del labels, image
    labels = np.load(tmp_path / "labels.npy", mmap_mode="r")
    n = int(labels.max()) + 1
    seg = Segmentation(labels=labels, modes_luv=np.zeros((n, 3), np.float32),
                       modes_rgb=rng.integers(0, 256, (n, 3), dtype=np.uint8), areas=np.ones(n, np.int64),
                       image=np.load(tmp_path / "image.npy", mmap_mode="r"))
    limit = 4 * 10**6
    # the same writing on a small picture first: imports and compiled kernels are not the writing's memory
    (tmp_path / "warm").mkdir()
    warm = memmapped(make_seg(rng, 40, 30), tmp_path / "warm")
    writers.write_output(kind, tmp_path / "warm" / f"out{ext}", warm, memory_limit=limit)
    import scipy.ndimage  # noqa: F401  (thick outlines; the small picture's are one pixel)
    tracemalloc.start()
    try:
        writers.write_output(kind, tmp_path / f"out{ext}", seg, memory_limit=limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit, f"{peak:,} bytes"
    if kind != "stats":
        got = decode(tmp_path / f"out{ext}")
        assert got.shape[:2] == (height, width)
        if kind == "labels":
            np.testing.assert_array_equal(got[::97], labels[::97])


# --------------------------------------------------------------------------- #
# The command line's in-memory path writes every format
# --------------------------------------------------------------------------- #


def test_cli_writes_tiff_labels_and_pictures(tmp_path):
    from segshift import segment
    from segshift.cli import main

    rng = np.random.default_rng(4)
    image = np.zeros((40, 60, 3), dtype=np.uint8)
    image[:, 30:] = (200, 40, 40)
    image[20:, :20] = (40, 160, 60)
    image = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
    tifffile.imwrite(tmp_path / "in.tif", image, tile=(16, 16))
    out = {name: tmp_path / name for name in ("m.tif", "l.tif", "s.json", "b.webp", "u.tif")}
    code = main(
        ["segment", str(tmp_path / "in.tif"), "-o", str(out["m.tif"]), "--labels", str(out["l.tif"]),
         "--stats", str(out["s.json"]), "--boundaries", str(out["b.webp"]), "--ucm", str(out["u.tif"]),
         "--memory-limit", "2GB"])
    assert code == 0
    seg = segment(tmp_path / "in.tif")
    np.testing.assert_array_equal(decode(out["l.tif"]), seg.labels)
    np.testing.assert_array_equal(decode(out["m.tif"]), seg.mode_image())
    np.testing.assert_array_equal(decode(out["b.webp"]), seg.boundary_image())
    np.testing.assert_array_equal(decode(out["u.tif"]), seg.ucm)
    assert json.loads(out["s.json"].read_text())["n_regions"] == seg.n_regions
