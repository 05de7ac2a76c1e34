"""Mutation fuzz of both readers: corrupt files end in a result or a segshift error.

Small valid files of every format segshift reads (40x60 pixels, so that a
case takes milliseconds) are mutated (bytes flipped, deleted, inserted, the
file truncated, header fields rewritten to 0, 1 or huge values) and read
through the whole-image loader (:func:`segshift.segment`) and the tiled
path (:func:`tiled_run`). Each case must give a result or one
:class:`segshift.errors.SegshiftError` with a one-line message: never another
exception, never a hang (a per-case alarm), never a giant allocation (the
address space is capped while the fuzz runs, so one shows as a
MemoryError), never a partial output file, and no raw library warning.

The corpus and the mutations are also used by ``scripts/fuzz_readers.py``,
which runs many more cases and writes docs/benchmarks/fuzz_readers.json.
"""

from __future__ import annotations

import contextlib
import io
import resource
import signal
import struct
import warnings
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

HEIGHT, WIDTH = 40, 60
# Small parameters: a decoded case segments in milliseconds.
FAST = {"spatial_radius": 3, "range_radius": 6.5, "min_size": 5}
# A header rewritten to a larger image is refused above this (a bigger image
# would be a valid but slow case).
MAX_PIXELS = 4 * HEIGHT * WIDTH
# Seconds a single case may take before it counts as a hang.
CASE_SECONDS = 20


def tiled_run(path, labels_path=None, **options):
    """The tiled path on ``path`` (its one call site in these tests: the entry point is changing)."""
    from segshift.tiled import segment_blocks

    return segment_blocks(path, 10, 12, 20, tile_size=64, labels_path=labels_path, **options)


def whole_run(path):
    """The whole-image path on ``path``."""
    import segshift

    return segshift.segment(path, **FAST, scale="fixed", max_pixels=MAX_PIXELS)


# ---------------------------------------------------------------- the corpus


def _picture(rng: np.random.Generator, channels: int = 3, dtype=np.uint8) -> np.ndarray:
    """Flat blocks plus a little noise: compresses like a photo, segments quickly."""
    top = np.iinfo(dtype).max
    colours = rng.integers(0, top + 1, (4, channels))
    truth = np.zeros((HEIGHT, WIDTH), dtype=np.int64)
    truth[:, WIDTH // 2:] = 1
    truth[HEIGHT // 2:, : WIDTH // 3] = 2
    truth[10:30, 35:50] = 3
    image = colours[truth] + rng.integers(-(top // 50), top // 50 + 1, (HEIGHT, WIDTH, channels))
    return np.clip(image, 0, top).astype(dtype)


def _pillow(fmt: str, **options) -> Callable[[np.random.Generator], bytes]:
    def make(rng):
        from PIL import Image

        buffer = io.BytesIO()
        image = Image.fromarray(_picture(rng))
        if fmt == "GIF":
            image = image.quantize(16)
        image.save(buffer, fmt, **options)
        return buffer.getvalue()

    return make


def _png16(rng) -> bytes:
    import cv2

    ok, data = cv2.imencode(".png", _picture(rng, 3, np.uint16))
    assert ok
    return data.tobytes()


def _tiff(**options) -> Callable[[np.random.Generator], bytes]:
    def make(rng):
        import tifffile

        options_ = dict(options)
        channels, dtype = options_.pop("channels", 3), options_.pop("dtype", np.uint8)
        buffer = io.BytesIO()
        image = _picture(rng, channels, dtype)
        if channels not in (3, 4):
            options_.setdefault("photometric", "minisblack")
            options_.setdefault("planarconfig", "contig")
        tifffile.imwrite(buffer, image, **options_)
        return buffer.getvalue()

    return make


#: name -> (maker of the valid file's bytes, file extension).
FORMATS: dict[str, tuple[Callable[[np.random.Generator], bytes], str]] = {
    "jpeg": (_pillow("JPEG", quality=90), ".jpg"),
    "png": (_pillow("PNG"), ".png"),
    "png16": (_png16, ".png"),
    "gif": (_pillow("GIF"), ".gif"),
    "webp": (_pillow("WEBP", quality=80), ".webp"),
    "bmp": (_pillow("BMP"), ".bmp"),
    "tiff_tiled": (_tiff(tile=(16, 32)), ".tif"),
    "tiff_striped": (_tiff(rowsperstrip=7), ".tif"),
    "tiff_deflate": (_tiff(tile=(16, 16), compression="zlib"), ".tif"),
    "tiff_striped_deflate": (_tiff(rowsperstrip=9, compression="zlib"), ".tif"),
    "bigtiff": (_tiff(tile=(16, 32), bigtiff=True), ".tif"),
    "bigtiff_striped": (_tiff(rowsperstrip=11, bigtiff=True, compression="zlib"), ".tif"),
    "tiff_multiband16": (_tiff(tile=(16, 16), channels=5, dtype=np.uint16), ".tif"),
    "tiff_separate": (_tiff(rowsperstrip=8, planarconfig="separate"), ".tif"),
}
#: The formats the tiled path reads in windows (the others it decodes whole).
TIFF_FORMATS = tuple(name for name in FORMATS if "tiff" in name)


# ---------------------------------------------------------------- mutations


def flip(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 5))):
        at = int(rng.integers(len(out)))
        out[at] ^= int(rng.integers(1, 256))
    return bytes(out)


def delete(data: bytes, rng: np.random.Generator) -> bytes:
    at = int(rng.integers(len(data)))
    return data[:at] + data[at + int(rng.integers(1, 33)):]


def insert(data: bytes, rng: np.random.Generator) -> bytes:
    at = int(rng.integers(len(data) + 1))
    return data[:at] + rng.bytes(int(rng.integers(1, 33))) + data[at:]


def truncate(data: bytes, rng: np.random.Generator) -> bytes:
    return data[: int(rng.integers(1, len(data)))]


def _extreme(rng: np.random.Generator, bits: int, old: int) -> int:
    """0, 1, huge, all ones, or a multiple or a random value of a field of ``bits`` bits."""
    top = (1 << bits) - 1
    choices = [0, 1, top, top // 2 + 1, 3_600_000_000 & top, min(top, old * 1000 + 7),
               int(rng.integers(0, min(top, 2**62) + 1)), max(old - 1, 0), old + 1]
    return int(choices[int(rng.integers(len(choices)))])


#: TIFF tags whose values size or place the data: the fields a rewrite targets.
TIFF_FIELDS = (256, 257, 258, 259, 273, 277, 278, 279, 284, 322, 323, 324, 325, 338, 339)
_TIFF_TYPES = {1: "B", 2: "B", 3: "H", 4: "I", 6: "b", 7: "B", 8: "h", 9: "i", 16: "Q", 17: "q", 18: "Q"}


def tiff_entries(data: bytes) -> list[tuple[int, int, int, int]]:
    """(tag, type, count, position of the value or of its first element) of the first IFD."""
    order = "<" if data[:2] == b"II" else ">"
    big = struct.unpack(order + "H", data[2:4])[0] == 43
    if big:
        ifd = struct.unpack(order + "Q", data[8:16])[0]
        count = struct.unpack(order + "Q", data[ifd:ifd + 8])[0]
        start, size, head = ifd + 8, 20, "HHQ"
    else:
        ifd = struct.unpack(order + "I", data[4:8])[0]
        count = struct.unpack(order + "H", data[ifd:ifd + 2])[0]
        start, size, head = ifd + 2, 12, "HHI"
    inline = 8 if big else 4
    entries = []
    for k in range(count):
        at = start + k * size
        tag, kind, n = struct.unpack(order + head, data[at:at + struct.calcsize(order + head)])
        field = at + (4 + (8 if big else 4))
        width = struct.calcsize(_TIFF_TYPES.get(kind, "B"))
        if n * width > inline:
            field = struct.unpack(order + ("Q" if big else "I"), data[field:field + inline])[0]
        entries.append((tag, kind, n, field))
    return entries


def rewrite_tiff(data: bytes, rng: np.random.Generator) -> bytes:
    """One element of a size, layout or offset field of the first IFD set to an extreme value."""
    order = "<" if data[:2] == b"II" else ">"
    targets = [e for e in tiff_entries(data) if e[0] in TIFF_FIELDS and e[1] in _TIFF_TYPES]
    _, kind, n, field = targets[int(rng.integers(len(targets)))]
    code = _TIFF_TYPES[kind].upper() if _TIFF_TYPES[kind] != "B" else "B"
    width = struct.calcsize(code)
    out = bytearray(data)
    at = field + int(rng.integers(n)) * width
    old = struct.unpack(order + code, data[at:at + width])[0]
    struct.pack_into(order + code, out, at, _extreme(rng, 8 * width, old))
    return bytes(out)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def rewrite_png(data: bytes, rng: np.random.Generator) -> bytes:
    """IHDR's width, height, bit depth or colour type rewritten (with a valid CRC)."""
    body = bytearray(data[16:29])
    field = int(rng.integers(4))
    if field < 2:
        old = struct.unpack(">I", body[4 * field:4 * field + 4])[0]
        struct.pack_into(">I", body, 4 * field, _extreme(rng, 31, old))
    else:
        body[6 + field] = [0, 1, 2, 3, 4, 6, 8, 16, 255][int(rng.integers(9))]
    return data[:8] + _png_chunk(b"IHDR", bytes(body)) + data[33:]


def rewrite_bmp(data: bytes, rng: np.random.Generator) -> bytes:
    """Width, height, bit count or data offset of the BMP header rewritten."""
    out = bytearray(data)
    at, code = [(18, "<i"), (22, "<i"), (28, "<H"), (10, "<I"), (34, "<I")][int(rng.integers(5))]
    bits = 16 if code == "<H" else 31
    value = _extreme(rng, bits, struct.unpack_from(code, data, at)[0])
    struct.pack_into(code, out, at, -value if code == "<i" and rng.random() < 0.2 else value)
    return bytes(out)


def rewrite_gif(data: bytes, rng: np.random.Generator) -> bytes:
    """The logical screen's width or height, or the first image descriptor's, rewritten."""
    out = bytearray(data)
    places = [6, 8]
    descriptor = data.find(b"\x2c", 13)
    if descriptor > 0:
        places += [descriptor + 1, descriptor + 3, descriptor + 5, descriptor + 7]
    at = places[int(rng.integers(len(places)))]
    struct.pack_into("<H", out, at, _extreme(rng, 16, struct.unpack_from("<H", data, at)[0]))
    return bytes(out)


def rewrite_jpeg(data: bytes, rng: np.random.Generator) -> bytes:
    """The frame header's height, width or component count rewritten."""
    out = bytearray(data)
    sof = next((k for k in range(2, len(data) - 9) if data[k] == 0xFF and data[k + 1] in (0xC0, 0xC1, 0xC2)),
               None)
    if sof is None:
        return flip(data, rng)
    at = sof + 5 + 2 * int(rng.integers(2))
    if rng.random() < 0.2:
        out[sof + 9] = int(rng.integers(256))
    else:
        struct.pack_into(">H", out, at, _extreme(rng, 16, struct.unpack_from(">H", data, at)[0]))
    return bytes(out)


def rewrite_webp(data: bytes, rng: np.random.Generator) -> bytes:
    """The RIFF size or the VP8 frame's width or height rewritten."""
    out = bytearray(data)
    frame = data.find(b"VP8 ")
    places = [(4, "<I", 32)]
    if frame > 0:
        places += [(frame + 14, "<H", 14), (frame + 16, "<H", 14), (frame + 4, "<I", 32)]
    at, code, bits = places[int(rng.integers(len(places)))]
    struct.pack_into(code, out, at, _extreme(rng, bits, struct.unpack_from(code, data, at)[0]))
    return bytes(out)


def rewrite_header(fmt: str, data: bytes, rng: np.random.Generator) -> bytes:
    if "tiff" in fmt:
        return rewrite_tiff(data, rng)
    return {"png": rewrite_png, "png16": rewrite_png, "bmp": rewrite_bmp, "gif": rewrite_gif,
            "jpeg": rewrite_jpeg, "webp": rewrite_webp}[fmt](data, rng)


MUTATIONS = ("flip", "delete", "insert", "truncate", "header")


def mutate(fmt: str, data: bytes, rng: np.random.Generator, kind: str | None = None) -> tuple[str, bytes]:
    """(mutation name, mutated bytes); header rewrites are half of the cases, the rest evenly split."""
    if kind is None:
        kind = "header" if rng.random() < 0.4 else MUTATIONS[int(rng.integers(4))]
    if kind == "header":
        return kind, rewrite_header(fmt, data, rng)
    return kind, {"flip": flip, "delete": delete, "insert": insert, "truncate": truncate}[kind](data, rng)


def cases(fmt: str, n: int, seed: int) -> Iterator[tuple[str, bytes]]:
    """``n`` mutated files of format ``fmt`` (a few valid originals), reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    make = FORMATS[fmt][0]
    originals = [make(rng) for _ in range(3)]
    for k in range(n):
        yield mutate(fmt, originals[k % len(originals)], rng)


# ---------------------------------------------------------------- the guards


class CaseTimeout(Exception):
    """A case ran past CASE_SECONDS (raised from the alarm; not a SegshiftError)."""


@contextlib.contextmanager
def capped_address_space(extra: int = 3 << 30) -> Iterator[None]:
    """While inside, the process may map at most ``extra`` more bytes: a giant allocation raises MemoryError."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as stat:
        current = int(stat.read().split()[0]) * resource.getpagesize()
    cap = current + extra if hard == resource.RLIM_INFINITY else min(hard, current + extra)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextlib.contextmanager
def alarm(seconds: float) -> Iterator[None]:
    def expire(signum, frame):
        raise CaseTimeout(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_case(run: Callable[..., object], path: Path, outputs: tuple[Path, ...] = ()) -> BaseException | None:
    """Run one case; None when it gave a result, else the exception (anything but KeyboardInterrupt)."""
    try:
        with alarm(CASE_SECONDS):
            run(path, *outputs)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - every outcome is classified by the caller
        return exc
    return None


# ---------------------------------------------------------------- the fuzz


def check_outcome(fmt: str, kind: str, data: bytes, error: BaseException | None, outputs=()) -> None:
    from segshift.errors import SegshiftError

    if error is not None:
        assert isinstance(error, SegshiftError), (
            f"{fmt}/{kind}: raw {type(error).__name__}: {error} (file bytes {data[:64]!r}...)"
        )
        message = str(error)
        assert message and "\n" not in message, f"{fmt}/{kind}: not one line: {message!r}"
        for out in outputs:
            assert not out.exists(), f"{fmt}/{kind}: {out.name} left behind by a failed run"
        leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(".")] if outputs else []
        assert not leftovers, f"{fmt}/{kind}: temporary files left behind: {leftovers}"


@pytest.fixture
def no_raw_warnings():
    """Library warnings reach segshift's logger, not the warnings module."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    raw = [f"{w.category.__name__}: {w.message}" for w in caught]
    assert not raw, f"{len(raw)} raw warnings, e.g. {raw[:3]}"


#: Cases per format and path in the test suite (the script runs more).
WHOLE_CASES = 80
TILED_CASES = 120


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_whole_image_reader_fuzz(fmt, tmp_path, no_raw_warnings):
    path = tmp_path / f"case{FORMATS[fmt][1]}"
    with capped_address_space():
        for k, (kind, data) in enumerate(cases(fmt, WHOLE_CASES, seed=1000 + sorted(FORMATS).index(fmt))):
            path.write_bytes(data)
            check_outcome(fmt, kind, data, run_case(whole_run, path))


@pytest.mark.parametrize("fmt", TIFF_FORMATS)
def test_tiled_reader_fuzz(fmt, tmp_path, no_raw_warnings):
    path = tmp_path / f"case{FORMATS[fmt][1]}"
    out = tmp_path / "out"
    out.mkdir()
    labels = out / "labels.tif"
    with capped_address_space():
        for k, (kind, data) in enumerate(cases(fmt, TILED_CASES, seed=2000 + TIFF_FORMATS.index(fmt))):
            path.write_bytes(data)
            # a third of the cases write a label map (a written one is synced to disk: slow here)
            outputs = (labels,) if k % 3 == 0 else ()
            error = run_case(tiled_run, path, outputs)
            check_outcome(fmt, kind, data, error, outputs)
            if labels.exists():
                labels.unlink()


# ---------------------------------------------------------------- regressions: the crashes the fuzz found


def set_tiff_field(data: bytes, tag: int, value: int, element: int = 0) -> bytes:
    """The file with one element of a first-IFD field set to ``value`` (in the field's own type)."""
    order = "<" if data[:2] == b"II" else ">"
    entry = next(e for e in tiff_entries(data) if e[0] == tag)
    code = _TIFF_TYPES[entry[1]].upper()
    out = bytearray(data)
    struct.pack_into(order + code, out, entry[3] + element * struct.calcsize(code), value)
    return bytes(out)


def tiff_bytes(image: np.ndarray, **options) -> bytes:
    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, image, **options)
    return buffer.getvalue()


def one_line_error(run, path, *needles):
    from segshift.errors import SegshiftError

    with pytest.raises(SegshiftError) as info:
        run(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message
    for needle in needles:
        assert needle in message, message
    return info.value


def test_tile_size_zero_is_a_clean_error(tmp_path, no_raw_warnings):
    """Was ZeroDivisionError in raster._read_tiff."""
    from segshift.errors import ImageReadError

    data = tiff_bytes(_picture(np.random.default_rng(1)), tile=(16, 32))
    for tag, shown in ((323, "tile size 32x0"), (322, "tile size 0x16")):
        path = tmp_path / f"tile{tag}.tif"
        path.write_bytes(set_tiff_field(data, tag, 0))
        assert isinstance(one_line_error(tiled_run, path, "corrupt TIFF", shown), ImageReadError)


def test_rows_per_strip_zero_is_a_clean_error(tmp_path, no_raw_warnings):
    """Was ZeroDivisionError in tifffile's decode."""
    path = tmp_path / "strips.tif"
    path.write_bytes(set_tiff_field(tiff_bytes(_picture(np.random.default_rng(2)), rowsperstrip=8), 278, 0))
    one_line_error(tiled_run, path, "corrupt TIFF", "0 rows per strip")


@pytest.mark.parametrize("tag", [256, 257])
def test_image_without_pixels_is_a_clean_error(tmp_path, tag, no_raw_warnings):
    """Was IndexError in tiled.filter_and_connect (no blocks to plan)."""
    path = tmp_path / "empty.tif"
    path.write_bytes(set_tiff_field(tiff_bytes(_picture(np.random.default_rng(3)), tile=(16, 16)), tag, 0))
    one_line_error(tiled_run, path, "corrupt TIFF", "0 pixels" if tag == 257 else "0x40 pixels")


def test_tiled_run_refuses_a_raster_without_pixels(tmp_path, monkeypatch):
    """The guard at the tiled path's entry, for any reader that could hand it an empty raster."""
    import segshift.tiled
    from segshift.errors import ImageError
    from segshift._raster import Raster

    path = tmp_path / "x.tif"
    path.write_bytes(tiff_bytes(_picture(np.random.default_rng(4))))
    empty = Raster(path, 0, 60, 3, np.dtype(np.uint8), False, False, _array=np.zeros((0, 60, 3), np.uint8))
    monkeypatch.setattr(segshift.tiled, "open_raster", lambda *args, **kwargs: empty)
    assert isinstance(one_line_error(tiled_run, path, "no pixels (60x0)"), ImageError)


def test_billions_of_declared_rows_are_refused_before_allocating(tmp_path, no_raw_warnings):
    """Was an attempt to allocate 27 GiB: a small file whose header declares 3.6 billion rows."""
    for name, options in (("plain", {}), ("big", {"bigtiff": True}), ("deflate", {"compression": "zlib"})):
        data = tiff_bytes(_picture(np.random.default_rng(5)), **options)
        path = tmp_path / f"{name}.tif"
        path.write_bytes(set_tiff_field(data, 257, 3_600_000_000))
        with capped_address_space(1 << 30):
            one_line_error(tiled_run, path, "corrupt TIFF", "60x3600000000 pixels", "more than a")


def test_declared_pixel_data_beyond_the_file(tmp_path, no_raw_warnings):
    """An offset past the end, a strip count too short for the image, an uncompressed strip cut short."""
    base = tiff_bytes(_picture(np.random.default_rng(6)), rowsperstrip=8)
    size = len(base)
    cases = {
        "offset": (set_tiff_field(base, 273, size - 10, element=2), "strip 2 lies outside the file"),
        "count": (set_tiff_field(base, 279, 10, element=1), "uncompressed strip 1 has 10 bytes, needs 1440"),
        "strips": (set_tiff_field(base, 278, 4), "needs 10 strips but the header lists 5"),
    }
    for name, (data, needle) in cases.items():
        path = tmp_path / f"{name}.tif"
        path.write_bytes(data)
        one_line_error(tiled_run, path, "corrupt TIFF", needle)


def test_failed_run_leaves_no_output(tmp_path, no_raw_warnings):
    """A file that opens but whose data cannot be decoded: the error names the strip, no label file remains."""
    base = tiff_bytes(_picture(np.random.default_rng(7)), rowsperstrip=8, compression="zlib")
    entry = next(e for e in tiff_entries(base) if e[0] == 273)
    order = "<" if base[:2] == b"II" else ">"
    third = struct.unpack_from(order + "I", base, entry[3] + 8)[0]
    data = bytearray(base)
    data[third:third + 8] = b"\x00" * 8  # the third strip's deflate header destroyed
    path = tmp_path / "broken.tif"
    path.write_bytes(bytes(data))
    labels = tmp_path / "out" / "labels.tif"
    labels.parent.mkdir()
    with pytest.raises(Exception) as info:
        tiled_run(path, labels)
    check_outcome("tiff_striped_deflate", "manual", bytes(data), info.value, (labels,))
    assert "cannot decode strip 2" in str(info.value)


def test_row_wider_than_the_memory_limit_is_refused(tmp_path, no_raw_warnings):
    """A 15 kB deflate TIFF of one row of 5 million pixels: legal, but a row needs 240 MB of working memory."""
    from segshift.errors import ImageError

    path = tmp_path / "wide.tif"
    path.write_bytes(tiff_bytes(np.zeros((1, 5_000_000, 3), np.uint8), compression="zlib"))
    assert path.stat().st_size < 100_000
    with capped_address_space(1 << 30):
        error = one_line_error(lambda p: tiled_run(p, memory_limit="64MB"), path, "5,000,000 pixels wide",
                               "above the memory limit")
    assert isinstance(error, ImageError)


def test_tiled_region_count_when_the_last_strip_joins_earlier_regions(tmp_path):
    """A valid image (a picture above a flat area, as a GIF whose screen was enlarged decodes):
    the tiled run must equal the untiled one (found by the fuzz: the regions were counted by the
    last strip piece's region, too few when it joins an earlier region)."""
    top = _picture(np.random.default_rng(1))
    image = np.empty((96, WIDTH, 3), np.uint8)
    image[:] = top[-1, -1]
    image[:HEIGHT] = top
    path = tmp_path / "tall.tif"
    path.write_bytes(tiff_bytes(image))

    from segshift.tiled import segment_blocks

    whole = segment_blocks(path, 10, 12, 20)
    assert tiled_run(path).areas.tolist() == whole.areas.tolist()
