"""A corpus of bad, unusual and hostile inputs, and what each must get.

Every case goes through the public API (:func:`segshift.load_image` and
:func:`segshift.segment`) and must end in either a correct result or one
:class:`segshift.errors.SegshiftError` whose one-line message names the file
(or argument) and the problem: never a crash, a hang, a giant allocation or
a raw error from deep inside (KeyError, IndexError, MemoryError, numba).

All files are generated here, in ``tmp_path``. Cases that could crash the
interpreter (huge radii reaching compiled code, decompression bombs) run in a
child process with a memory limit, so a failure is a failed test, not a dead
test run.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage.measure import label as connected_label

from segshift import load_image, segment
from segshift.errors import ImageError, ImageReadError, ImageTooLargeError, ParameterError, SegshiftError
from segshift._loader import DEFAULT_MAX_PIXELS

ROOT = Path(__file__).resolve().parent.parent

# Small parameters keep every segmentation in this module fast.
FAST = dict(spatial_radius=3, range_radius=6.5, min_size=5)


# ---------------------------------------------------------------- helpers


def assert_clean_error(exc: BaseException, *needles: str) -> None:
    """A segshift error with a one-line message containing every needle."""
    assert isinstance(exc, SegshiftError), f"raw {type(exc).__name__}: {exc}"
    message = str(exc)
    assert message and "\n" not in message, f"not one line: {message!r}"
    assert "Traceback" not in message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def assert_valid_segmentation(seg, shape: tuple[int, int], min_size: int) -> None:
    """The invariants of every segmentation (see test_properties.py)."""
    labels = seg.labels - seg.start_label  # from 0, whatever the numbering
    assert labels.shape == shape and seg.labels.dtype == np.int32
    n = seg.n_regions
    np.testing.assert_array_equal(np.unique(labels), np.arange(n))
    np.testing.assert_array_equal(seg.areas, np.bincount(labels.ravel(), minlength=n))
    assert connected_label(labels + 1, connectivity=2, background=0).max() == n
    if labels.size >= min_size:
        assert seg.areas.min() >= min_size
    else:
        assert n == 1
    assert np.isfinite(seg.modes_luv).all()


def noise(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    shape = (height, width) if channels == 1 else (height, width, channels)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def halves(height: int = 16, width: int = 20) -> np.ndarray:
    """Left half dark red, right half light blue: two regions for any sane setting."""
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:, : width // 2] = (150, 30, 30)
    image[:, width // 2 :] = (120, 170, 230)
    return image


def encode(array: np.ndarray, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **kw)
    return buffer.getvalue()


def png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png_bomb(width: int, height: int) -> bytes:
    """A PNG of a few hundred bytes whose header declares width x height RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 4096, 9)  # the start of a black image
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def raw_png(samples: np.ndarray, colour_type: int) -> bytes:
    """Encode (H, W, C) uint16 samples as a 16-bit PNG of ``colour_type`` by hand."""
    height, width = samples.shape[:2]
    rows = samples.astype(">u2").reshape(height, -1).view(np.uint8)
    raw = np.hstack([np.zeros((height, 1), np.uint8), rows]).tobytes()  # filter 0 on every row
    ihdr = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b"")
    )


def jpeg_bomb(width: int = 65500, height: int = 65500) -> bytes:
    """A tiny JPEG whose frame header (SOF0) is patched to width x height."""
    data = bytearray(encode(noise(8, 8), "JPEG", quality=50))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def gif_bomb(width: int = 65535, height: int = 65535) -> bytes:
    """A tiny GIF whose logical screen and first frame are patched to width x height."""
    data = bytearray(encode(noise(4, 4, 1), "GIF"))
    struct.pack_into("<HH", data, 6, width, height)
    palette = 3 * (2 << (data[10] & 7)) if data[10] & 0x80 else 0
    frame = data.index(b"\x2c", 13 + palette)
    struct.pack_into("<HH", data, frame + 5, width, height)
    return bytes(data)


def tiff_bomb(width: int = 60000, height: int = 60000) -> bytes:
    """A tiny uncompressed TIFF whose ImageWidth/ImageLength tags are patched."""
    data = bytearray(encode(noise(4, 4), "TIFF"))
    assert data[:2] == b"II"
    ifd = struct.unpack_from("<I", data, 4)[0]
    for k in range(struct.unpack_from("<H", data, ifd)[0]):
        entry = ifd + 2 + 12 * k
        tag, kind = struct.unpack_from("<HH", data, entry)
        if tag in (256, 257):
            value = width if tag == 256 else height
            struct.pack_into("<H" if kind == 3 else "<I", data, entry + 8, value)
    return bytes(data)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def run_isolated(code: str, timeout: float = 300) -> dict:
    """Run ``code`` in a child Python with a 4 GiB address-space limit.

    The code must print one JSON object on its last line. A crash (abort,
    segfault) of the child fails the calling test instead of killing pytest.
    """
    prelude = textwrap.dedent(
        """
        import json, resource, sys, time
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        import numpy as np
        import segshift
        from segshift.errors import SegshiftError

        def peak_mb():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        def attempt(fn):
            start = time.perf_counter()
            try:
                value = fn()
            except Exception as exc:
                return dict(error=type(exc).__name__, segshift=isinstance(exc, SegshiftError),
                            value_error=isinstance(exc, ValueError), message=str(exc),
                            seconds=time.perf_counter() - start)
            return dict(value=value, seconds=time.perf_counter() - start)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, f"child died (rc {proc.returncode}):\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the file corpus


@dataclass
class Refused:
    """The file must be refused with ``error``, the message matching ``problem``."""

    error: type
    problem: str


@dataclass
class Loaded:
    """The file must load; ``check(rgb)`` checks the pixels, ``regions`` the region count."""

    check: Callable[[np.ndarray], None]
    regions: int | None = None


def equals(expected: np.ndarray, atol: float = 1e-6) -> Callable[[np.ndarray], None]:
    """Check that load_image gave ``expected`` (uint8 -> /255, uint16 -> /65535)."""
    scale = 65535.0 if expected.dtype == np.uint16 else 255.0
    want = expected.astype(np.float64) / scale
    if want.ndim == 2:
        want = np.repeat(want[..., None], 3, axis=2)

    def check(rgb: np.ndarray) -> None:
        np.testing.assert_allclose(rgb, want, atol=atol)

    return check


def shaped(height: int, width: int) -> Callable[[np.ndarray], None]:
    def check(rgb: np.ndarray) -> None:
        assert rgb.shape == (height, width, 3)

    return check


def file_cases() -> list[tuple[str, Callable[[Path], tuple[Path, object]]]]:
    """(id, make) pairs; make(tmp_path) writes the file and returns (path, expectation)."""
    cases = {}

    def case(fn):
        cases[fn.__name__] = fn
        return fn

    # -- broken files
    @case
    def empty_file(d):
        return write(d / "empty.jpg", b""), Refused(ImageReadError, "empty file")

    @case
    def truncated_jpeg(d):
        data = encode(noise(48, 64), "JPEG", quality=90)
        return write(d / "cut.jpg", data[: len(data) // 2]), Refused(ImageReadError, "cannot decode image")

    @case
    def truncated_png(d):
        data = encode(noise(48, 64), "PNG")
        return write(d / "cut.png", data[: len(data) // 2]), Refused(ImageReadError, "cannot decode image")

    @case
    def png_header_only(d):
        data = encode(noise(48, 64), "PNG")
        return write(d / "head.png", data[:33]), Refused(ImageReadError, "cannot decode image")

    @case
    def png_bad_crc(d):
        data = bytearray(encode(noise(8, 8), "PNG"))
        data[29] ^= 0xFF  # inside the IHDR CRC
        return write(d / "crc.png", bytes(data)), Refused(ImageReadError, "cannot decode image")

    @case
    def text_named_jpg(d):
        return write(d / "notes.jpg", b"just some text\n" * 10), Refused(ImageReadError, "not a recognised image")

    @case
    def html_named_png(d):
        page = b"<!DOCTYPE html><html><body>404 Not Found</body></html>"
        return write(d / "download.png", page), Refused(ImageReadError, "not a recognised image")

    @case
    def directory_named_png(d):
        (d / "photos.png").mkdir()
        return d / "photos.png", Refused(ImageReadError, "is a directory")

    @case
    def missing_file(d):
        return d / "missing.png", Refused(ImageReadError, "no such file")

    @case
    def dangling_symlink(d):
        os.symlink(d / "gone.png", d / "link.png")
        return d / "link.png", Refused(ImageReadError, "no such file")

    @case
    def fifo_named_png(d):
        os.mkfifo(d / "pipe.png")  # opening it would block forever
        return d / "pipe.png", Refused(ImageReadError, "not a regular file")

    @case
    def name_too_long(d):
        return d / ("x" * 300 + ".png"), Refused(ImageReadError, "cannot access file")

    # -- the content decides, not the extension
    @case
    def png_named_jpg(d):
        image = noise(9, 11)
        return write(d / "really_png.jpg", encode(image, "PNG")), Loaded(equals(image))

    @case
    def jpeg_named_png(d):
        image = halves()
        data = encode(image, "JPEG", quality=95, subsampling=0)
        return write(d / "really_jpeg.png", data), Loaded(equals(image, 0.05), 2)

    @case
    def no_extension(d):
        image = noise(5, 6)
        return write(d / "image", encode(image, "PNG")), Loaded(equals(image))

    # -- unusual but valid
    @case
    def one_by_one(d):
        image = np.array([[[10, 200, 30]]], dtype=np.uint8)
        return write(d / "1x1.png", encode(image, "PNG")), Loaded(equals(image), 1)

    @case
    def one_row(d):
        image = noise(1, 37)
        return write(d / "1xN.png", encode(image, "PNG")), Loaded(equals(image))

    @case
    def one_column(d):
        image = noise(37, 1)
        return write(d / "Nx1.png", encode(image, "PNG")), Loaded(equals(image))

    @case
    def gray16_png(d):
        image = np.random.default_rng(2).integers(0, 65536, (7, 9), dtype=np.uint16)
        return write(d / "g16.png", encode(image, "PNG")), Loaded(equals(image))

    @case
    def gray16_tiff(d):
        image = np.random.default_rng(3).integers(0, 65536, (7, 9), dtype=np.uint16)
        return write(d / "g16.tif", encode(image, "TIFF")), Loaded(equals(image))

    @case
    def rgb16_tiff_deflate(d):
        import cv2

        image = np.random.default_rng(4).integers(0, 65536, (7, 9, 3), dtype=np.uint16)
        cv2.imwrite(str(d / "c16.tif"), image[..., ::-1], [cv2.IMWRITE_TIFF_COMPRESSION, 8])
        return d / "c16.tif", Loaded(equals(image))

    @case
    def rgba16_png(d):
        import cv2

        image = np.random.default_rng(5).integers(0, 65536, (6, 8, 4), dtype=np.uint16)
        image[..., 3] = 65535
        cv2.imwrite(str(d / "c16a.png"), image[..., [2, 1, 0, 3]])
        return d / "c16a.png", Loaded(equals(image[..., :3]))

    @case
    def gray_alpha16_png(d):
        gray = np.random.default_rng(6).integers(0, 65536, (5, 7), dtype=np.uint16)
        opaque = np.full_like(gray, 65535)
        return write(d / "ga16.png", raw_png(np.dstack([gray, opaque]), 4)), Loaded(equals(gray))

    @case
    def rgb16_png_by_hand(d):
        rgb = np.random.default_rng(7).integers(0, 65536, (5, 7, 3), dtype=np.uint16)
        return write(d / "hand16.png", raw_png(rgb, 2)), Loaded(equals(rgb))

    @case
    def cmyk_jpeg(d):
        image = halves()
        Image.fromarray(image).convert("CMYK").save(d / "cmyk.jpg", quality=95)
        return d / "cmyk.jpg", Loaded(equals(image, 0.06), 2)

    @case
    def palette_gif_with_transparency(d):
        index = np.zeros((6, 8), dtype=np.uint8)
        index[:, 4:] = 1
        im = Image.fromarray(index, mode="P")
        im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
        im.save(d / "p.gif", transparency=0)
        want = np.zeros((6, 8, 3), dtype=np.uint8)
        want[:, :4] = 255  # transparent red -> white
        want[:, 4:] = (0, 0, 255)
        return d / "p.gif", Loaded(equals(want), 2)

    @case
    def gray_alpha_png(d):
        gray = np.full((6, 8), 0, dtype=np.uint8)
        alpha = np.zeros_like(gray)
        alpha[:, 4:] = 255
        Image.fromarray(np.dstack([gray, alpha]), mode="LA").save(d / "la.png")
        want = np.where(alpha == 255, 0, 255).astype(np.uint8)
        return d / "la.png", Loaded(equals(want), 2)

    @case
    def rgba_png(d):
        image = np.dstack([halves(), np.full((16, 20), 255, dtype=np.uint8)])
        image[:4, :, 3] = 0  # a transparent band on top: white
        want = image[..., :3].copy()
        want[:4] = 255
        return write(d / "rgba.png", encode(image, "PNG")), Loaded(equals(want))

    @case
    def one_bit_png(d):
        bits = np.zeros((6, 8), dtype=bool)
        bits[:, 4:] = True
        Image.fromarray(bits).save(d / "bits.png")
        return d / "bits.png", Loaded(equals(bits.astype(np.uint8) * 255), 2)

    @case
    def float_tiff(d):
        values = np.linspace(0, 1, 30, dtype=np.float32).reshape(5, 6)
        Image.fromarray(values, mode="F").save(d / "f.tif")
        return d / "f.tif", Loaded(equals((values * 255).astype(np.float64).astype(np.uint8), 1 / 255))

    @case
    def float_tiff_out_of_range(d):
        Image.fromarray(np.full((5, 6), 1000.0, dtype=np.float32), mode="F").save(d / "hdr.tif")
        return d / "hdr.tif", Refused(ImageError, "must lie in [0, 1]")

    @case
    def int32_tiff_out_of_range(d):
        Image.fromarray(np.full((5, 6), 100_000, dtype=np.int32), mode="I").save(d / "i32.tif")
        return d / "i32.tif", Refused(ImageError, "outside 0..65535")

    @case
    def bmp(d):
        image = noise(5, 7)
        return write(d / "a.bmp", encode(image, "BMP")), Loaded(equals(image))

    @case
    def exif_orientation_invalid(d):
        image = halves()
        im = Image.fromarray(image)
        exif = im.getexif()
        exif[0x0112] = 9  # not an orientation: ignored, as viewers do
        im.save(d / "o9.jpg", exif=exif, quality=95, subsampling=0)
        return d / "o9.jpg", Loaded(equals(image, 0.05), 2)

    # -- several frames: the first one is segmented
    @case
    def animated_gif(d):
        frames = [Image.fromarray(np.full((6, 8, 3), c, dtype=np.uint8)) for c in ((255, 0, 0), (0, 0, 255))]
        frames[0].save(d / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
        return d / "anim.gif", Loaded(equals(np.full((6, 8, 3), (255, 0, 0), dtype=np.uint8)), 1)

    @case
    def animated_png(d):
        frames = [Image.fromarray(np.full((6, 8, 3), c, dtype=np.uint8)) for c in ((0, 200, 0), (0, 0, 255))]
        frames[0].save(d / "anim.png", save_all=True, append_images=frames[1:], duration=100)
        return d / "anim.png", Loaded(equals(np.full((6, 8, 3), (0, 200, 0), dtype=np.uint8)), 1)

    @case
    def multipage_tiff(d):
        first, second = halves(), noise(9, 9)
        Image.fromarray(first).save(d / "pages.tif", save_all=True, append_images=[Image.fromarray(second)])
        return d / "pages.tif", Loaded(equals(first), 2)

    # -- content extremes
    @case
    def flat_colour(d):
        image = np.full((20, 30, 3), (90, 140, 60), dtype=np.uint8)
        return write(d / "flat.png", encode(image, "PNG")), Loaded(equals(image), 1)

    @case
    def flat_white(d):
        image = np.full((20, 30, 3), 255, dtype=np.uint8)
        return write(d / "white.png", encode(image, "PNG")), Loaded(equals(image), 1)

    @case
    def flat_black(d):
        image = np.zeros((20, 30, 3), dtype=np.uint8)
        return write(d / "black.png", encode(image, "PNG")), Loaded(equals(image), 1)

    @case
    def pure_noise(d):
        image = noise(32, 32, seed=11)
        return write(d / "noise.png", encode(image, "PNG")), Loaded(equals(image))

    # -- hostile: headers declaring enormous images
    @case
    def png_bomb_100000x100000(d):
        return write(d / "bomb.png", png_bomb(100_000, 100_000)), Refused(ImageTooLargeError, "100000x100000")

    @case
    def jpeg_bomb_65500x65500(d):
        return write(d / "bomb.jpg", jpeg_bomb()), Refused(ImageTooLargeError, "65500x65500")

    @case
    def gif_bomb_65535x65535(d):
        return write(d / "bomb.gif", gif_bomb()), Refused(ImageTooLargeError, "65535x65535")

    @case
    def tiff_bomb_60000x60000(d):
        return write(d / "bomb.tif", tiff_bomb()), Refused(ImageTooLargeError, "60000x60000")

    return list(cases.items())


FILE_CASES = file_cases()


@pytest.mark.parametrize("make", [m for _, m in FILE_CASES], ids=[i for i, _ in FILE_CASES])
def test_file_corpus(make, tmp_path):
    path, expect = make(tmp_path)
    if isinstance(expect, Refused):
        for call in (lambda: load_image(path), lambda: segment(path, **FAST)):
            with pytest.raises(expect.error) as info:
                call()
            assert_clean_error(info.value, str(path), expect.problem)
    else:
        rgb = load_image(path)
        assert rgb.dtype == np.float32 and rgb.ndim == 3 and rgb.shape[2] == 3
        assert rgb.flags.c_contiguous
        expect.check(rgb)
        seg = segment(path, **FAST)
        assert_valid_segmentation(seg, rgb.shape[:2], FAST["min_size"])
        np.testing.assert_array_equal(seg.image, rgb)
        if expect.regions is not None:
            assert seg.n_regions == expect.regions


def test_the_docstring_says_which_frame_is_read():
    doc = " ".join(load_image.__doc__.split())
    assert "only the first frame is read" in doc


@pytest.mark.parametrize("simulated", [False, True], ids=["chmod", "access-denied"])
def test_unreadable_file(tmp_path, monkeypatch, simulated):
    """A file without read permission is refused, naming it, where the OS
    refuses to read it (root reads anything, so there the refusal is simulated
    through os.access, which the loader asks first)."""
    image = noise(6, 7)
    path = write(tmp_path / "secret.png", encode(image, "PNG"))
    path.chmod(0)
    try:
        if simulated:
            real_access = os.access
            monkeypatch.setattr(
                os, "access", lambda p, mode, **kw: False if Path(p) == path else real_access(p, mode, **kw)
            )
        if os.access(path, os.R_OK):  # root: reading is allowed, and must work
            np.testing.assert_allclose(load_image(path), image / 255, atol=1e-6)
        else:
            for call in (lambda: load_image(path), lambda: segment(path, **FAST)):
                with pytest.raises(ImageReadError) as info:
                    call()
                assert_clean_error(info.value, str(path), "permission denied")
    finally:
        path.chmod(0o644)


def test_permission_error_while_opening(tmp_path, monkeypatch):
    """The file becomes unreadable between the checks and the open."""
    path = write(tmp_path / "racy.png", encode(noise(4, 4), "PNG"))

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Image, "open", denied)
    with pytest.raises(ImageReadError) as info:
        load_image(path)
    assert_clean_error(info.value, str(path), "permission denied")


@pytest.mark.parametrize(
    "failure",
    [KeyError("tile"), IndexError("list index out of range"), struct.error("unpack requires a buffer"),
     MemoryError(), ZeroDivisionError("division by zero"), SyntaxError("broken PNG file")],
    ids=lambda e: type(e).__name__,
)
def test_decoder_failures_become_one_error(tmp_path, monkeypatch, failure):
    """Whatever a decoder raises on a hostile file reaches the caller as one
    ImageReadError naming the file (Pillow's fuzzers keep finding new ones)."""
    path = write(tmp_path / "hostile.png", encode(noise(4, 4), "PNG"))

    def broken(self, *args, **kwargs):
        raise failure

    monkeypatch.setattr(Image.Image, "load", broken)
    monkeypatch.setattr(Image.Image, "convert", broken)
    with pytest.raises(ImageReadError) as info:
        load_image(path)
    assert_clean_error(info.value, str(path))


def test_path_with_nul_byte(tmp_path):
    with pytest.raises(ImageReadError) as info:
        load_image(str(tmp_path / "a\0b.png"))
    assert_clean_error(info.value, "cannot access file")


def test_empty_path():
    with pytest.raises(ImageReadError) as info:
        load_image("")
    assert_clean_error(info.value, "no such file")


# ---------------------------------------------------------------- orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path, orientation):
    """Every EXIF orientation turns the image as Pillow's exif_transpose does."""
    image = noise(6, 10, seed=orientation)
    im = Image.fromarray(image)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.save(tmp_path / "o.png", exif=exif)
    want = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.png")).convert("RGB"))
    np.testing.assert_allclose(load_image(tmp_path / "o.png"), want / 255, atol=1e-6)


@pytest.mark.parametrize("orientation", [3, 6])
def test_exif_orientation_applies_to_16bit_colour(tmp_path, orientation):
    """16-bit colour data (read through OpenCV) is turned upright too, not only 8-bit."""
    rgb16 = np.random.default_rng(orientation).integers(0, 65536, (6, 10, 3), dtype=np.uint16)
    plain = tmp_path / "plain.png"
    import cv2

    cv2.imwrite(str(plain), rgb16[..., ::-1])
    # Add an eXIf chunk before IDAT: the pixel data stays 16-bit.
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = plain.read_bytes()
    at = data.index(b"IDAT") - 4
    (tmp_path / "o.png").write_bytes(data[:at] + png_chunk(b"eXIf", exif.tobytes()) + data[at:])
    turned = np.rot90(rgb16, 2) if orientation == 3 else np.rot90(rgb16, -1)
    np.testing.assert_allclose(load_image(tmp_path / "o.png"), turned / 65535, atol=1e-6)


# ---------------------------------------------------------------- decompression bombs and max_pixels


def test_png_bomb_is_refused_before_decoding(tmp_path):
    """A 300-byte PNG declaring 10^10 pixels: refused from the header, fast, with no big allocation."""
    bomb = write(tmp_path / "bomb.png", png_bomb(100_000, 100_000))
    assert bomb.stat().st_size < 500
    result = run_isolated(
        f"""
        path = {str(bomb)!r}
        before = peak_mb()
        outcomes = [attempt(lambda: segshift.load_image(path)), attempt(lambda: segshift.segment(path)),
                    attempt(lambda: segshift.load_image(path, max_pixels=10**9))]
        print(json.dumps(dict(outcomes=outcomes, grew_mb=peak_mb() - before)))
        """
    )
    for outcome in result["outcomes"]:
        assert outcome.get("error") == "ImageTooLargeError", outcome
        assert "100000x100000" in outcome["message"] and "\n" not in outcome["message"]
    assert result["grew_mb"] < 50, result


def test_max_pixels_default_is_sensible():
    assert 10_000_000 <= DEFAULT_MAX_PIXELS <= 1_000_000_000
    import inspect

    assert inspect.signature(segment).parameters["max_pixels"].default == DEFAULT_MAX_PIXELS
    assert inspect.signature(load_image).parameters["max_pixels"].default == DEFAULT_MAX_PIXELS


def test_max_pixels_can_be_raised_or_removed(tmp_path):
    """A real 3000 x 3000 PNG of a few kilobytes (a small zip bomb)."""
    path = write(tmp_path / "zeros.png", encode(np.zeros((3000, 3000), dtype=np.uint8), "PNG"))
    assert path.stat().st_size < 50_000
    with pytest.raises(ImageTooLargeError) as info:
        load_image(path, max_pixels=1_000_000)
    assert_clean_error(info.value, str(path), "3000x3000", "above the limit of 1,000,000")
    assert load_image(path, max_pixels=9_000_000).shape == (3000, 3000, 3)
    assert load_image(path, max_pixels=None).shape == (3000, 3000, 3)
    with pytest.raises(ImageTooLargeError):
        segment(path, max_pixels=8_999_999)


def test_array_bomb_is_refused_before_copying():
    """A zero-stride view of 400 million pixels takes no memory; copying it would."""
    view = np.broadcast_to(np.zeros((1, 1, 3), dtype=np.uint8), (20_000, 20_000, 3))
    for call in (lambda: load_image(view), lambda: segment(view)):
        with pytest.raises(ImageTooLargeError) as info:
            call()
        assert_clean_error(info.value, "400,000,000 pixels")
    assert load_image(view[:3, :4], max_pixels=12).shape == (3, 4, 3)


@pytest.mark.parametrize("value", [True, False, 0, -5, 1.5, 1e9, "1000", np.bool_(True)], ids=repr)
def test_max_pixels_must_be_a_positive_integer(value):
    image = np.zeros((2, 2))
    for call in (lambda: load_image(image, max_pixels=value), lambda: segment(image, max_pixels=value)):
        with pytest.raises(ParameterError) as info:
            call()
        assert_clean_error(info.value, "max_pixels", repr(value))


def test_pillow_guard_is_restored_even_across_threads(tmp_path):
    """segshift sets Pillow's global bomb guard only while it decodes."""
    before = Image.MAX_IMAGE_PIXELS
    good = write(tmp_path / "ok.png", encode(noise(20, 20), "PNG"))
    bad = write(tmp_path / "bad.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    errors = []

    def work(seed):
        for k in range(15):
            try:
                load_image(bad if (k + seed) % 3 == 0 else good, max_pixels=[None, 400, 10**9][(k + seed) % 3])
            except ImageReadError:
                pass
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert Image.MAX_IMAGE_PIXELS == before


# ---------------------------------------------------------------- the array corpus

BAD_ARRAYS = {
    "nan": (np.array([[0.5, np.nan]]), ImageError, "NaN or infinite"),
    "inf": (np.full((3, 3, 3), np.inf), ImageError, "NaN or infinite"),
    "minus_inf_float32": (np.array([[-np.inf]], dtype=np.float32), ImageError, "NaN or infinite"),
    "float_above_one": (np.full((2, 2), 255.0), ImageError, "[0, 1]"),
    "float64_beyond_float32": (np.full((2, 2), 1e300), ImageError, "[0, 1]"),
    "negative_int": (np.array([[0, -1]]), ImageError, "negative values"),
    "negative_float": (np.array([[0.0, -0.25]]), ImageError, "[0, 1]"),
    "int_above_16bit": (np.array([[70_000]], dtype=np.int64), ImageError, "0..65535"),
    "uint64_huge": (np.array([[2**63]], dtype=np.uint64), ImageError, "0..65535"),
    "4d": (np.zeros((2, 2, 3, 2)), ImageError, "image must have shape"),
    "5_channels": (np.zeros((2, 2, 5)), ImageError, "image must have shape"),
    "1d": (np.zeros(10), ImageError, "image must have shape"),
    "0d": (np.float64(0.5), ImageError, "image must have shape"),
    "zero_rows": (np.zeros((0, 5, 3), dtype=np.uint8), ImageError, "image is empty"),
    "zero_cols": (np.zeros((5, 0)), ImageError, "image is empty"),
    "zero_by_zero": (np.zeros((0, 0)), ImageError, "image is empty"),
    "object": (np.array([[1, None]], dtype=object), ImageError, "unsupported dtype object"),
    "complex": (np.zeros((2, 2), dtype=complex), ImageError, "unsupported dtype complex128"),
    "strings": (np.array([["a", "b"]]), ImageError, "unsupported dtype"),
    "datetime": (np.zeros((2, 2), dtype="datetime64[s]"), ImageError, "unsupported dtype"),
    "none": (None, ImageError, "unsupported dtype object"),
    "ragged_list": ([[1, 2], [3]], ImageError, "cannot be read as an array"),
}


@pytest.mark.parametrize("key", list(BAD_ARRAYS))
def test_bad_array_corpus(key):
    array, error, problem = BAD_ARRAYS[key]
    for call in (lambda: load_image(array), lambda: segment(array, **FAST)):
        with pytest.raises(error) as info:
            call()
        assert_clean_error(info.value, "image", problem)
        assert isinstance(info.value, ValueError)


def _good_arrays():
    base8 = noise(12, 14, seed=3)
    gray16 = np.random.default_rng(4).integers(0, 65536, (12, 14), dtype=np.uint16)
    return {
        # (array, the equivalent float32 RGB)
        "bool": (base8[..., 0] > 127, np.repeat((base8[..., :1] > 127).astype(np.float32), 3, 2)),
        "int64_8bit": (base8.astype(np.int64), base8 / 255),
        "int16_8bit": (base8.astype(np.int16), base8 / 255),
        "int32_16bit": (gray16.astype(np.int32), np.repeat(gray16[..., None], 3, 2) / 65535),
        "big_endian_uint16": (gray16.astype(">u2"), np.repeat(gray16[..., None], 3, 2) / 65535),
        "big_endian_uint16_small_values": (
            np.full((3, 3), 200, dtype=">u2"),
            np.full((3, 3, 3), 200 / 65535),
        ),
        "float16": (np.full((3, 4), 0.5, dtype=np.float16), np.full((3, 4, 3), 0.5)),
        "float64": (base8 / 255.0, base8 / 255),
        "nested_list": (base8[:2, :3].tolist(), base8[:2, :3] / 255),
        "one_channel": (base8[..., :1], np.repeat(base8[..., :1], 3, 2) / 255),
        "gray_alpha_opaque": (
            np.dstack([base8[..., 0], np.full((12, 14), 255, np.uint8)]),
            np.repeat(base8[..., :1], 3, 2) / 255,
        ),
        "one_pixel": (np.array([[[1.0, 0.0, 0.0]]]), np.array([[[1.0, 0.0, 0.0]]])),
        "one_row": (base8[:1], base8[:1] / 255),
        "one_column": (base8[:, :1], base8[:, :1] / 255),
    }


GOOD_ARRAYS = _good_arrays()


@pytest.mark.parametrize("key", list(GOOD_ARRAYS))
def test_good_array_corpus(key):
    array, want = GOOD_ARRAYS[key]
    rgb = load_image(array)
    assert rgb.dtype == np.float32 and rgb.flags.c_contiguous
    np.testing.assert_allclose(rgb, want, atol=1e-6)
    seg = segment(array, **FAST)
    assert_valid_segmentation(seg, rgb.shape[:2], FAST["min_size"])


def _layouts():
    base = noise(14, 18, seed=5)
    base[:, 9:] //= 3
    big = np.zeros((28, 36, 3), dtype=np.uint8)
    big[::2, ::2] = base
    readonly = base.copy()
    readonly.setflags(write=False)
    return {
        "fortran": np.asfortranarray(base),
        "strided": big[::2, ::2],
        "negative_strides": np.ascontiguousarray(base[::-1, ::-1])[::-1, ::-1],
        "channels_moved": np.moveaxis(np.ascontiguousarray(np.moveaxis(base, 2, 0)), 0, 2),
        "read_only": readonly,
        "float_fortran": np.asfortranarray(base / 255.0),
        "gray_transposed": np.ascontiguousarray(base[..., 0].T).T,
    }


LAYOUTS = _layouts()


@pytest.mark.parametrize("key", list(LAYOUTS))
def test_any_memory_layout_gives_the_same_result(key):
    view = LAYOUTS[key]
    before = view.copy()
    contiguous = np.ascontiguousarray(view)
    np.testing.assert_array_equal(load_image(view), load_image(contiguous))
    seg, ref = segment(view, **FAST), segment(contiguous, **FAST)
    np.testing.assert_array_equal(seg.labels, ref.labels)
    np.testing.assert_array_equal(seg.modes_luv, ref.modes_luv)
    np.testing.assert_array_equal(view, before)  # the input is never modified
    assert not np.shares_memory(seg.image, view)


# ---------------------------------------------------------------- the parameter corpus

BAD_PARAMETERS = [
    ("spatial_radius", 0),
    ("spatial_radius", -3),
    ("spatial_radius", -0.0),
    ("spatial_radius", float("nan")),
    ("spatial_radius", float("inf")),
    ("spatial_radius", True),
    ("spatial_radius", "7"),
    ("resolution", "half"),
    ("resolution", None),
    ("spatial_radius", [7]),
    ("range_radius", 0.0),
    ("range_radius", -6.5),
    ("range_radius", float("nan")),
    ("range_radius", float("-inf")),
    ("range_radius", False),
    ("min_size", -1),
    ("min_size", 2.5),
    ("min_size", float("nan")),
    ("min_size", float("inf")),
    ("min_size", True),
    ("kernel", "box"),
    ("kernel", ""),
    ("kernel", None),
    ("kernel", 0),
    ("tol", 0),
    ("tol", -1e-3),
    ("tol", float("nan")),
    ("tol", True),
    ("max_iter", 0),
    ("max_iter", 2.5),
    ("max_iter", True),
    ("compat", "edisonn"),
    ("compat", True),
]


@pytest.mark.parametrize("name, value", BAD_PARAMETERS, ids=[f"{n}={v!r}" for n, v in BAD_PARAMETERS])
def test_bad_parameter_corpus(name, value):
    with pytest.raises(ParameterError) as info:
        segment(halves(), **{name: value})
    assert isinstance(info.value, ValueError)
    assert_clean_error(info.value, name, repr(value))


def test_bad_parameter_is_reported_before_the_image_is_read(tmp_path):
    """A bad parameter is a bad parameter, whatever the file."""
    with pytest.raises(ParameterError, match="spatial_radius"):
        segment(tmp_path / "missing.png", spatial_radius=-1)


@pytest.mark.parametrize(
    "params, regions",
    [
        (dict(range_radius=1e9, scale="fixed"), 1),  # fusing covers every colour
        (dict(min_size=16 * 20 + 1), 1),  # larger than the image
        (dict(min_size=1e18), 1),
        (dict(min_size=10**18), 1),
        (dict(spatial_radius=50), 2),  # larger than the image
        (dict(spatial_radius=1e-200), 2),  # every pixel its own window
        (dict(spatial_radius=np.float32(3), range_radius=np.float64(6.5), min_size=np.int64(5)), 2),
        (dict(max_iter=1), 2),
        (dict(tol=1e-300), 2),
    ],
    ids=repr,
)
@pytest.mark.filterwarnings("error")
def test_extreme_but_valid_parameters(params, regions):
    seg = segment(halves(), **{**FAST, **params})
    assert_valid_segmentation(seg, (16, 20), int(min(params.get("min_size", FAST["min_size"]), 10**9)))
    assert seg.n_regions == regions


def test_min_size_beyond_float_precision():
    """A Python int too large for exact float conversion is still an integer."""
    seg = segment(halves(), **{**FAST, "min_size": 10**30})
    assert seg.n_regions == 1


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("radius, regions", [(1e300, 1), (1e-200, 2)], ids=repr)
def test_range_radius_whose_square_is_not_a_float(radius, regions):
    """1e300 covers every colour (one region, or a clean error naming it);
    1e-200 fuses nothing. Neither may raise OverflowError or warn (the fixed
    scale, where the radius sets the fusing; the hierarchy must give a valid
    segmentation too)."""
    auto = segment(halves(), **{**FAST, "range_radius": radius})
    assert_valid_segmentation(auto, (16, 20), FAST["min_size"])
    try:
        seg = segment(halves(), **{**FAST, "range_radius": radius, "scale": "fixed"})
    except ParameterError as exc:
        assert_clean_error(exc, "range_radius", repr(radius))
    else:
        assert_valid_segmentation(seg, (16, 20), FAST["min_size"])
        assert seg.n_regions == regions


def test_huge_max_iter():
    """max_iter=10**30 is just 'until converged': a result, or a clean error that does not lie."""
    try:
        seg = segment(halves(), **{**FAST, "max_iter": 10**30})
    except ParameterError as exc:
        assert_clean_error(exc, "max_iter", repr(10**30))
        assert "must be an integer" not in str(exc), str(exc)
    else:
        assert seg.n_regions == 2


SPATIAL_CODE = """
rng = np.random.default_rng(0)
image = np.zeros((18, 24, 3), dtype=np.uint8)
image[:, 12:] = (120, 170, 230)
image[:, :12] = (150, 30, 30)
image[6:12, 4:9] = (40, 200, 60)
image = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
diagonal = float(np.hypot(*image.shape[:2])) + 1.0
segshift.segment(image, 2.0, 6.5, 5)  # load the compiled kernels
before = peak_mb()
ref = segshift.segment(image, diagonal, 6.5, 5)
outcomes = {}
for radius in RADII:
    outcome = attempt(lambda: segshift.segment(image, radius, 6.5, 5).labels.tolist())
    if "value" in outcome:
        labels = outcome.pop("value")
        outcome["same"] = labels == ref.labels.tolist()
        outcome["n_regions"] = len({v for row in labels for v in row})
    outcomes[repr(radius)] = outcome
print(json.dumps(dict(outcomes=outcomes, grew_mb=peak_mb() - before, n_ref=ref.n_regions)))
"""


def test_spatial_radius_beyond_the_image_is_the_diagonal():
    """spatial_radius=1e9 must not allocate a padded buffer of 1e9 pixels a
    side: it is the same as a radius just over the image diagonal."""
    result = run_isolated("RADII = [1e9, 1e6]\n" + SPATIAL_CODE)
    assert result["grew_mb"] < 200, result
    for radius, outcome in result["outcomes"].items():
        assert "error" not in outcome, (radius, outcome)
        assert outcome["same"], f"spatial_radius={radius} differs from the image diagonal"


def test_absurd_spatial_radius_is_a_result_or_a_clean_error():
    """1e300 and the largest float: no crash (a heap overflow once), no raw error."""
    result = run_isolated("RADII = [1e300, 1.7976931348623157e308, 2.0**63]\n" + SPATIAL_CODE)
    assert result["grew_mb"] < 200, result
    for radius, outcome in result["outcomes"].items():
        if "error" in outcome:
            assert outcome["segshift"] and outcome["value_error"], (radius, outcome)
            assert "spatial_radius" in outcome["message"] and "\n" not in outcome["message"]
        else:
            # Convergence is measured in bandwidth units, so with a radius of
            # 1e300 the spatial shift counts for nothing and the climbs may
            # stop elsewhere than with the diagonal: the three blocks remain.
            assert outcome["n_regions"] == result["n_ref"], (radius, outcome)


def test_segmentation_renders_for_odd_shapes():
    """The renderers work on the odd shapes too (1 x N, N x 1, one region)."""
    for image in (noise(1, 9), noise(9, 1), np.zeros((1, 1, 3), np.uint8)):
        seg = segment(image, **FAST)
        for picture in (seg.mode_image(), seg.boundary_image(), seg.label_image()):
            assert picture.shape == image.shape and picture.dtype == np.uint8


def test_error_hierarchy():
    """Files fail as OSError, arguments and arrays as ValueError, all as SegshiftError."""
    assert issubclass(ImageTooLargeError, ImageReadError) and issubclass(ImageReadError, OSError)
    assert issubclass(ParameterError, ValueError) and issubclass(ImageError, ValueError)
    for cls in (ImageReadError, ImageTooLargeError, ParameterError, ImageError):
        assert issubclass(cls, SegshiftError)


# ---------------------------------------------------------------- library messages and Pillow's limits


def tiff_with_a_bad_tag(tmp_path: Path) -> Path:
    """A TIFF whose XResolution points past the end of the file: both decoders complain, both read it."""
    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, halves(40, 64), resolution=(72, 72))
    data = bytearray(buffer.getvalue())
    ifd = struct.unpack_from("<I", data, 4)[0]
    for k in range(struct.unpack_from("<H", data, ifd)[0]):
        at = ifd + 2 + 12 * k
        if struct.unpack_from("<H", data, at)[0] == 282:
            struct.pack_into("<I", data, at + 8, len(data) + 1000)
    return write(tmp_path / "bad-tag.tif", bytes(data))


def test_decoder_remarks_go_to_segshift_loggers(tmp_path, caplog, capfd):
    """Pillow's warning and tifffile's log record become DEBUG records of segshift.loader / segshift.raster:
    no raw warning, nothing on stderr, and the warnings filters and tifffile's logger are restored."""
    import logging
    import warnings

    from test_fuzz_readers import tiled_run

    path = tiff_with_a_bad_tag(tmp_path)
    tiff_logger = logging.getLogger("tifffile")
    handlers, propagate, filters = list(tiff_logger.handlers), tiff_logger.propagate, list(warnings.filters)
    with caplog.at_level(logging.DEBUG, logger="segshift"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_image(path).shape == (40, 64, 3)
        assert tiled_run(path).n_regions == 2
    assert not caught, [str(w.message) for w in caught]
    assert capfd.readouterr().err == ""
    by_logger = {(r.name, r.levelno) for r in caplog.records}
    assert ("segshift._loader", logging.DEBUG) in by_logger
    assert ("segshift._raster", logging.DEBUG) in by_logger
    assert any("tifffile" in r.getMessage() and "282" in r.getMessage() for r in caplog.records)
    assert tiff_logger.handlers == handlers and tiff_logger.propagate == propagate
    assert warnings.filters == filters


def test_library_messages_are_shared_by_threads(tmp_path):
    """Reads on several threads at once (the tiled path reads ahead on one): no warning escapes
    while any read is under way, and the process-wide state is restored after the last."""
    import warnings

    from segshift._loader import library_messages

    barrier = threading.Barrier(4)
    leaked = []
    original = warnings.showwarning

    def read(k):
        barrier.wait()
        for _ in range(50):
            with library_messages():
                warnings.warn(f"remark {k}", UserWarning)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threads = [threading.Thread(target=read, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        leaked = list(caught)
    assert not leaked, [str(w.message) for w in leaked[:3]]
    assert warnings.showwarning is original


def test_pillow_bomb_warning_becomes_segshift_error(tmp_path, monkeypatch):
    """Pillow only warns between its pixel limit and twice it: segshift refuses with its own error."""
    import warnings

    from segshift import _loader as loader

    path = write(tmp_path / "frame.png", encode(noise(8, 8), "PNG"))
    real = loader._pil_to_array

    def warns(im, name):
        warnings.warn("Image size (400000000 pixels) exceeds limit", Image.DecompressionBombWarning)
        return real(im, name)

    monkeypatch.setattr(loader, "_pil_to_array", warns)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageTooLargeError) as info:
            load_image(path)
    assert not caught
    assert_clean_error(info.value, str(path), "too large", "400000000 pixels")


def test_tiled_path_refuses_a_png_bomb_by_its_memory_limit(tmp_path):
    """A 300-byte PNG declaring 2*10^8 pixels (beyond Pillow's own limit): the tiled path's header
    check gives segshift's memory-limit error, not Pillow's DecompressionBombError or warning,
    and decodes nothing."""
    import warnings

    from test_fuzz_readers import tiled_run

    path = write(tmp_path / "bomb.png", png_bomb(20_000, 10_000))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageReadError) as info:
            tiled_run(path, memory_limit="64MB")
    assert not caught
    assert_clean_error(info.value, str(path), "20000x10000", "above the memory limit")


def test_sizes_in_a_message_never_read_alike():
    from segshift._raster import _sizes

    assert _sizes(144_194_112, 100_000_000) == ("144 MB", "100 MB")
    need, limit = _sizes(100_400_000, 100_000_000)
    assert need != limit and need == "100,400,000 bytes"


def test_a_file_name_with_spaces_is_quoted(tmp_path, capsys):
    from segshift.cli import main

    photo = tmp_path / "with spaces.jpg"
    photo.write_bytes((Path(__file__).resolve().parent.parent / "images" / "coffee.jpg").read_bytes())
    assert main(["segment", str(photo), "-o", str(photo), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert f"output would replace the input file {str(photo)!r}" in err
