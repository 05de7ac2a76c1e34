"""Whatever is in the folders: ``segshift segment`` and ``segshift batch`` on hostile inputs and file systems.

Every case ends in a correct result or in one line on stderr,
``segshift: error: <file>: <problem>``, with exit status 1 (2 for bad
arguments): never a traceback, never a partial or temporary file; in batch
mode the other files still finish. Cases already covered elsewhere are not
repeated here: an unreadable/garbage/truncated JPEG input of ``segment``
(test_cli), a corrupt JPEG and PNG in a batch, an output folder inside the
input folder with ``--recursive``, symlink loops in :func:`find_images`,
SIGINT (test_batch).

The cases (CASES at the bottom counts them):

inputs, each through ``segment`` and through ``batch``
    empty file, truncated JPEG, truncated PNG, text and HTML named like
    images, a folder named like an image, an unreadable file (mode 000, or
    simulated as root), a file that ``open()`` refuses, a dangling symbolic
    link, a symbolic link to itself, a decompression bomb (a 100000 x 100000
    PNG header in a few hundred bytes), all errors; PNG bytes named ``.jpg``,
    a result.
file system
    unwritable output folder (checked, and a write refused anyway), outputs
    that name the input (a symbolic link, --labels, --boundaries, batch
    OUT_DIR spelled differently), a manifest kept among the inputs, symbolic
    link loops under --recursive, names with spaces, commas, a newline,
    non-ASCII and non-UTF-8 bytes, a disk that fills up during a write or
    an fsync (segment: one and several outputs; batch: a file and the
    manifest);
fault tolerance
    a worker process that dies (SEGSHIFT_TEST_CRASH_ON), a batch killed with
    SIGKILL (whole process group), temporary files left by such a kill.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import segshift.writers as writers
from segshift import segment
from segshift.batch import LOCK_NAME
from segshift.cli import main

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "images"
PHOTOS = sorted(IMAGES.glob("*.jpg"))
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([os.fspath(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write_photo(path: Path, index: int = 0, size: tuple[int, int] = (80, 60)) -> Path:
    """A crop of a bundled photo; the format follows the extension."""
    with Image.open(PHOTOS[index % len(PHOTOS)]) as im:
        crop = im.convert("RGB").crop((100 + 7 * index, 40, 100 + 7 * index + size[0], 40 + size[1]))
    path.parent.mkdir(parents=True, exist_ok=True)
    crop.save(path, format="JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG")
    return path


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG signature and IHDR declaring width x height RGB, with one row of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * (1 + 3 * width), 9))
        + chunk(b"IEND", b"")
    )


def one_error_line(err: str) -> str:
    """The single line of stderr, checked to be a segshift error and no traceback."""
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("segshift: error: "), err
    return err[len("segshift: error: "):].rstrip("\n")


def leftovers(folder: Path) -> list[str]:
    """Temporary files of atomic writes under ``folder``."""
    return sorted(str(p) for p in folder.rglob(".*.tmp"))


# --------------------------------------------------------------------------- #
# Broken inputs
# --------------------------------------------------------------------------- #


def _unreadable(path: Path, monkeypatch) -> None:
    write_photo(path)
    if not IS_ROOT:
        path.chmod(0)
        return
    # root reads anything: simulate what a mode-000 file does to anyone else.
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if (
        os.fspath(p) == os.fspath(path) and mode & os.R_OK) else real(p, mode, *a, **k))


def _open_refused(path: Path, monkeypatch) -> None:
    """os.access says yes but open() says no (ACLs, SELinux, a file changed meanwhile)."""
    import builtins

    write_photo(path)
    real = builtins.open

    def refusing_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and os.fspath(file) == os.fspath(path):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(file))
        return real(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing_open)


def _write(data: bytes):
    return lambda path, monkeypatch: path.write_bytes(data)


def _truncated(ext: str):
    def make(path: Path, monkeypatch) -> None:
        full = write_photo(path.with_name("full" + ext)).read_bytes()
        path.write_bytes(full[: len(full) // 2])
        path.with_name("full" + ext).unlink()

    return make


# name -> (maker(path, monkeypatch), expected problem after "<path>: ", or None for a result)
BROKEN_INPUTS = {
    "empty.jpg": (_write(b""), "empty file"),
    "truncated.jpg": (_truncated(".jpg"), "cannot decode image ("),
    "truncated.png": (_truncated(".png"), "cannot decode image ("),
    "text.png": (_write(b"Just some notes, not a picture.\n"), "not a recognised image file"),
    "page.jpg": (_write(b"<!DOCTYPE html>\n<html><body>404 Not Found</body></html>\n"),
                 "not a recognised image file"),
    "folder.png": (lambda path, mp: path.mkdir(), "is a directory, not an image file"),
    "unreadable.jpg": (_unreadable, "permission denied"),
    "refused.jpg": (_open_refused, "permission denied"),
    "dangling.jpg": (lambda path, mp: os.symlink(path.with_name("gone.jpg"), path), "no such file"),
    "self-link.png": (lambda path, mp: os.symlink(path.name, path), "cannot access file ("),
    "bomb.png": (_write(png_bomb()), "image is 100000x100000 = 10,000,000,000 pixels, above the limit of "
                 "100,000,000 (raise max_pixels / --max-pixels to allow it)"),
    "png-bytes.jpg": (lambda path, mp: write_photo(path.with_suffix(".png")).rename(path), None),
}


@pytest.mark.parametrize("name", sorted(BROKEN_INPUTS))
def test_segment_answers_every_input_with_a_result_or_one_line(capsys, tmp_path, monkeypatch, name):
    make, problem = BROKEN_INPUTS[name]
    source = tmp_path / "in" / name
    source.parent.mkdir()
    make(source, monkeypatch)
    out = tmp_path / "out"
    out.mkdir()
    code, stdout, err = run(capsys, "segment", source, "-o", out / "m.png", "--labels", out / "l.png",
                            "--stats", out / "s.json")
    if problem is None:
        assert (code, stdout, err) == (0, "", "")
        monkeypatch.undo()
        expected = segment(source)
        assert np.array_equal(np.asarray(Image.open(out / "m.png")), expected.mode_image())
        assert json.loads((out / "s.json").read_text())["n_regions"] == expected.n_regions
        return
    assert code == 1 and stdout == ""
    line = one_error_line(err)
    assert line.startswith(f"{source}: {problem}"), line
    assert sorted(os.listdir(out)) == []  # nothing written, not even a temporary file


def test_batch_finishes_the_good_files_among_broken_ones(capsys, tmp_path, monkeypatch):
    folder, out = tmp_path / "in", tmp_path / "out"
    good = [write_photo(folder / f"good{i}.{'png' if i % 2 else 'jpg'}", i).name for i in range(3)]
    for name, (make, _) in BROKEN_INPUTS.items():
        make(folder / name, monkeypatch)
    code, stdout, err = run(capsys, "batch", folder, out, "-j", "1", "--labels", "--stats")
    assert code == 1 and stdout == "" and "Traceback" not in err
    manifest = {r["input"]: r for r in json.loads((out / "manifest.json").read_text())}
    # A folder named like an image is a folder: not an input (without --recursive).
    assert sorted(manifest) == sorted(good + [n for n in BROKEN_INPUTS if n != "folder.png"])
    for name in good + ["png-bytes.jpg"]:
        record = manifest[name]
        assert record["status"] == "ok" and len(record["outputs"]) == 3, record
        with Image.open(out / record["outputs"][0]) as im:
            assert im.size == (80, 60)
    errors = [line for line in err.splitlines() if line.startswith("segshift: error: ")]
    for name, (_, problem) in BROKEN_INPUTS.items():
        if problem is None or name == "folder.png":
            continue
        record = manifest[name]
        assert record["status"] == "failed" and record["outputs"] == [] and record["regions"] is None
        assert record["error"].startswith(f"{folder / name}: {problem}"), record
        assert f"segshift: error: {record['error']}" in errors
    assert len(errors) == len(BROKEN_INPUTS) - 2
    assert f"{len(good) + 1} segmented, 0 skipped (done before), {len(errors)} failed" in err
    assert leftovers(out) == []
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["manifest.json", LOCK_NAME] + [f"{Path(n).stem}{s}" for n in good + ["png-bytes.jpg"]
                             for s in (".png", ".labels.png", ".stats.json")]
    )


def test_max_pixels_refuses_and_allows(capsys, tmp_path):
    photo = write_photo(tmp_path / "in" / "photo.png")  # 80 x 60 = 4800 pixels
    bomb = tmp_path / "in" / "bomb.png"
    bomb.write_bytes(png_bomb())
    assert len(bomb.read_bytes()) < 1000
    code, _, err = run(capsys, "segment", photo, "-o", tmp_path / "a.png", "--max-pixels", "4799")
    assert code == 1 and one_error_line(err) == (
        f"{photo}: image is 80x60 = 4,800 pixels, above the limit of 4,799 (raise max_pixels / --max-pixels to"
        " allow it)"
    )
    assert run(capsys, "segment", photo, "-o", tmp_path / "a.png", "--max-pixels", "4800")[0] == 0
    code, _, err = run(capsys, "segment", bomb, "-o", tmp_path / "b.png", "--max-pixels", "1000000000")
    assert code == 1 and "above the limit of 1,000,000,000" in one_error_line(err)
    assert not (tmp_path / "b.png").exists()
    # batch: the limit applies to each file
    code, _, err = run(capsys, "batch", tmp_path / "in", tmp_path / "out", "-j", "1", "--max-pixels", "4800")
    manifest = {r["input"]: r["status"] for r in json.loads((tmp_path / "out" / "manifest.json").read_text())}
    assert code == 1 and manifest == {"bomb.png": "failed", "photo.png": "ok"}
    code, _, err = run(capsys, "batch", tmp_path / "in", tmp_path / "out2", "-j", "1", "--max-pixels", "4799")
    assert code == 1 and "photo.png: image is 80x60 = 4,800 pixels, above the limit of 4,799" in err


# --------------------------------------------------------------------------- #
# File system: where outputs go
# --------------------------------------------------------------------------- #


class _Proxy:
    """A module stand-in for one module's global name: overrides some attributes, passes on the rest."""

    def __init__(self, module, **overrides):
        self._module = module
        self.__dict__.update(overrides)

    def __getattr__(self, name):
        return getattr(self._module, name)


def refuse_writes_in(monkeypatch, folder: Path, error: int = errno.EACCES) -> None:
    """Temporary files in ``folder`` cannot be created (a read-only mount, even for root)."""
    import tempfile

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve() == folder.resolve():
            raise OSError(error, os.strerror(error), os.fspath(dir))
        return tempfile.mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(writers, "tempfile", _Proxy(tempfile, mkstemp=mkstemp))


def say_not_writable(monkeypatch, folder: Path) -> None:
    """os.access denies writing to ``folder`` (what a non-root user sees on mode 0555)."""
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if (
        Path(p).resolve() == folder.resolve() and mode & os.W_OK) else real(p, mode, *a, **k))


def test_unwritable_output_folder(capsys, tmp_path, monkeypatch):
    photo = write_photo(tmp_path / "in" / "photo.jpg")
    locked = tmp_path / "locked"
    locked.mkdir()
    if IS_ROOT:
        say_not_writable(monkeypatch, locked)
    else:
        locked.chmod(0o555)
    try:
        code, _, err = run(capsys, "segment", photo, "-o", locked / "m.png")
        assert code == 1 and one_error_line(err) == f"{locked / 'm.png'}: folder {locked} is not writable"
        code, _, err = run(capsys, "batch", photo.parent, locked, "-j", "1")
        assert code == 1 and one_error_line(err) == f"{locked}: folder is not writable"
    finally:
        locked.chmod(0o755)
    assert os.listdir(locked) == []


def test_writes_refused_although_the_folder_looks_writable(capsys, tmp_path, monkeypatch):
    """A read-only mount as root: the checks pass, the writes fail."""
    folder = tmp_path / "in"
    for i, rel in enumerate(["a.jpg", "b.jpg", "sub/c.jpg", "sub/d.png"]):
        write_photo(folder / rel, i)
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    refuse_writes_in(monkeypatch, out / "sub")
    code, _, err = run(capsys, "segment", folder / "a.jpg", "-o", out / "sub" / "a.png")
    assert code == 1 and one_error_line(err) == f"{out / 'sub' / 'a.png'}: cannot write (Permission denied)"
    code, _, err = run(capsys, "batch", folder, out, "-R", "-j", "1")
    assert code == 1 and "2 segmented, 0 skipped (done before), 2 failed" in err
    manifest = {r["input"]: r for r in json.loads((out / "manifest.json").read_text())}
    assert [manifest[r]["status"] for r in ("a.jpg", "b.jpg", "sub/c.jpg", "sub/d.png")] == ["ok", "ok", "failed",
                                                                                          "failed"]
    assert manifest["sub/c.jpg"]["error"] == f"{out / 'sub' / 'c.png'}: cannot write (Permission denied)"
    assert f"segshift: error: {out / 'sub' / 'c.png'}: cannot write (Permission denied)\n" in err
    assert os.listdir(out / "sub") == [] and leftovers(out) == []


@pytest.mark.parametrize("how", ["symlink", "labels", "boundaries"])
def test_an_output_never_replaces_the_input(capsys, tmp_path, how):
    photo = write_photo(tmp_path / "photo.png")
    before = photo.read_bytes()
    if how == "symlink":
        link = tmp_path / "link.png"
        link.symlink_to(photo)
        argv = ["-o", link]
    else:
        argv = [f"--{how}", photo]
    code, out, err = run(capsys, "segment", photo, *argv, "--overwrite")
    assert code == 2 and out == ""
    assert one_error_line(err).endswith(f": output would replace the input file {str(photo)!r}")
    assert photo.read_bytes() == before and sorted(os.listdir(tmp_path)) == sorted(
        ["photo.png"] + (["link.png"] if how == "symlink" else []))


def test_batch_output_folder_is_the_input_folder_spelled_otherwise(capsys, tmp_path):
    folder = tmp_path / "in"
    write_photo(folder / "a.png")
    (tmp_path / "alias").symlink_to(folder)
    for spelling in (f"{folder}{os.sep}.", f"{folder}{os.sep}", tmp_path / "alias", tmp_path / "in" / ".." / "in"):
        code, _, err = run(capsys, "batch", folder, spelling, "-j", "1")
        assert code == 2 and one_error_line(err).endswith(": the output folder must differ from the input folder")
    assert sorted(os.listdir(folder)) == ["a.png"]


@pytest.mark.parametrize("ext", [".csv", ".json"])
def test_a_manifest_among_the_inputs_is_not_read_back(capsys, tmp_path, ext):
    folder = tmp_path / "in"
    write_photo(folder / "a.png")
    write_photo(folder / "b.jpg", 1)
    manifest = folder / f"runs{ext}"
    for _ in range(2):
        code, _, err = run(capsys, "batch", folder, tmp_path / "out", "-j", "1", "--glob", "*",
                           "--manifest", manifest)
        assert code == 0, err
        assert [r["input"] for r in writers.read_manifest(manifest)] == ["a.png", "b.jpg"]


def test_symlink_loops_and_broken_links_under_recursive(capsys, tmp_path):
    folder = tmp_path / "in"
    write_photo(folder / "a.jpg")
    write_photo(folder / "deep" / "b.png", 1)
    (folder / "deep" / "up").symlink_to(folder)  # a loop through the top
    (folder / "deep" / "self").symlink_to("self")  # a link to itself, no extension: ignored
    (folder / "deep" / "loop.jpg").symlink_to("loop.jpg")  # the same, named like an image
    (folder / "twin").symlink_to(folder / "deep")  # a second way into deep/
    (folder / "gone.png").symlink_to(tmp_path / "nowhere.png")
    code, out, err = run(capsys, "batch", folder, tmp_path / "out", "-R", "-j", "1")
    assert code == 1 and out == "" and "Traceback" not in err
    manifest = {r["input"]: r for r in json.loads((tmp_path / "out" / "manifest.json").read_text())}
    assert sorted(manifest) == ["a.jpg", "deep/b.png", "deep/loop.jpg", "gone.png"]
    assert manifest["a.jpg"]["status"] == manifest["deep/b.png"]["status"] == "ok"
    assert manifest["deep/loop.jpg"]["error"].startswith(f"{folder / 'deep' / 'loop.jpg'}: cannot access file (")
    assert manifest["gone.png"]["error"] == f"{folder / 'gone.png'}: no such file"


NAMES = ["my photo.jpg", "café crème.png", "写真.jpg", "a, b; c.png", "new\nline.jpg", "quote\"s.png"]


@pytest.mark.parametrize("name", NAMES + ["bytes-\udcff.png"])
def test_segment_any_file_name(capsys, tmp_path, monkeypatch, name):
    try:
        photo = write_photo(tmp_path / "in" / name)
    except UnicodeEncodeError:
        pytest.skip("this file system takes no such name")
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "segment", photo) == (0, "", "")
    assert (tmp_path / f"{Path(name).stem}.seg.png").is_file()  # the default name follows the input's
    code, out, err = run(capsys, "segment", photo, "--stats", tmp_path / f"{Path(name).stem}.json")
    assert (code, out, err) == (0, "", "")
    assert json.loads((tmp_path / f"{Path(name).stem}.json").read_text())["input"] == str(photo)


def test_batch_any_file_name_and_manifests_that_round_trip(capsys, tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    names = NAMES + (["bytes-\udcff.png"] if sys.getfilesystemencoding() == "utf-8" else [])
    for i, name in enumerate(names):
        write_photo(folder / "sub dir" / name, i)
    (folder / "sub dir" / "bad, file.png").write_bytes(b"not a png")
    for ext in (".json", ".csv"):
        code, stdout, err = run(capsys, "batch", folder, out, "-R", "-j", "1", "--manifest", tmp_path / f"m{ext}")
        assert code == 1 and stdout == ""
        records = writers.read_manifest(tmp_path / f"m{ext}")
        assert sorted(r["input"] for r in records) == sorted(f"sub dir/{n}" for n in names + ["bad, file.png"])
        for record in records:
            if record["input"].endswith("bad, file.png"):
                assert record["error"] == f"{folder / 'sub dir' / 'bad, file.png'}: not a recognised image file"
            else:
                assert record["status"] in ("ok", "skipped") and (out / record["outputs"][0]).is_file()
    rows = list(csv.DictReader(io.StringIO((tmp_path / "m.csv").read_bytes().decode("utf-8", "surrogateescape"))))
    assert len(rows) == len(names) + 1
    assert sorted(p.name for p in (out / "sub dir").iterdir()) == sorted(f"{Path(n).stem}.png" for n in names)


# --------------------------------------------------------------------------- #
# A disk that fills up
# --------------------------------------------------------------------------- #


def disk_full(monkeypatch, when: str, names: tuple[str, ...] = ()) -> list[str]:
    """Make writes of the files named ``names`` (all when empty) fail with ENOSPC.

    ``when="write"``: after half of the data reached the disk; ``"fsync"``:
    when the data are flushed to disk. Returns the list of targets hit.
    """
    import tempfile

    hit: list[str] = []
    temp_of_fd: dict[int, str] = {}

    def mkstemp(*args, **kwargs):
        fd, path = tempfile.mkstemp(*args, **kwargs)
        target = Path(path).name[1:].rsplit(".", 2)[0]
        temp_of_fd.pop(fd, None)  # descriptor numbers are reused
        if not names or target in names:
            temp_of_fd[fd] = target
        return fd, path

    class HalfWriter(io.FileIO):
        def write(self, data):
            io.FileIO.write(self, bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fdopen(fd, mode="r", *args, **kwargs):
        if fd in temp_of_fd and when == "write":
            hit.append(temp_of_fd[fd])
            return HalfWriter(fd, "wb")
        return os.fdopen(fd, mode, *args, **kwargs)

    def fsync(fd):
        if fd in temp_of_fd and when == "fsync":
            hit.append(temp_of_fd[fd])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.fsync(fd)

    monkeypatch.setattr(writers, "tempfile", _Proxy(tempfile, mkstemp=mkstemp))
    monkeypatch.setattr(writers, "os", _Proxy(os, fdopen=fdopen, fsync=fsync))
    return hit


@pytest.mark.parametrize("when", ["write", "fsync"])
def test_segment_disk_full_leaves_nothing(capsys, tmp_path, monkeypatch, when):
    photo = write_photo(tmp_path / "in" / "photo.jpg")
    out = tmp_path / "out"
    out.mkdir()
    # One output: nothing written.
    hit = disk_full(monkeypatch, when)
    code, _, err = run(capsys, "segment", photo, "-o", out / "m.png")
    assert hit == ["m.png"] and code == 1
    assert one_error_line(err) == f"{out / 'm.png'}: cannot write (No space left on device)"
    assert os.listdir(out) == []
    # Several outputs, the third fails: the two written before it are taken back, an old file stays.
    monkeypatch.undo()
    (out / "s.json").write_text("old")
    hit = disk_full(monkeypatch, when, names=("b.png",))
    code, _, err = run(capsys, "segment", photo, "-o", out / "m.png", "--labels", out / "l.npy",
                       "--boundaries", out / "b.png", "--stats", out / "s.json", "--overwrite")
    assert hit == ["b.png"] and code == 1
    assert one_error_line(err) == f"{out / 'b.png'}: cannot write (No space left on device)"
    assert os.listdir(out) == ["s.json"] and (out / "s.json").read_text() == "old"


def test_batch_disk_full_on_one_file_and_on_the_manifest(capsys, tmp_path, monkeypatch):
    folder, out = tmp_path / "in", tmp_path / "out"
    for i in range(4):
        write_photo(folder / f"img{i}.jpg", i)
    hit = disk_full(monkeypatch, "write", names=("img2.labels.png",))
    code, _, err = run(capsys, "batch", folder, out, "-j", "1", "--labels")
    assert hit == ["img2.labels.png"] and code == 1
    assert f"segshift: error: {out / 'img2.labels.png'}: cannot write (No space left on device)\n" in err
    assert "3 segmented, 0 skipped (done before), 1 failed" in err
    manifest = {r["input"]: r for r in json.loads((out / "manifest.json").read_text())}
    assert manifest["img2.jpg"]["status"] == "failed" and manifest["img2.jpg"]["outputs"] == ["img2.png"]
    assert not (out / "img2.labels.png").exists() and leftovers(out) == []
    with Image.open(out / "img2.png") as im:  # what was written is whole
        im.load()
    monkeypatch.undo()
    # The next run writes only what is missing.
    code, _, err = run(capsys, "batch", folder, out, "-j", "1", "--labels")
    assert code == 0 and "1 segmented, 3 skipped (done before), 0 failed" in err
    # The disk fills up as the manifest is written: one line, and the old manifest is intact.
    before = (out / "manifest.json").read_bytes()
    disk_full(monkeypatch, "fsync", names=("manifest.json",))
    code, _, err = run(capsys, "batch", folder, out, "-j", "1", "--labels")
    assert code == 1 and one_error_line(err) == f"{out / 'manifest.json'}: cannot write (No space left on device)"
    assert (out / "manifest.json").read_bytes() == before and leftovers(out) == []


# --------------------------------------------------------------------------- #
# Fault tolerance
# --------------------------------------------------------------------------- #


def test_a_dying_worker_costs_only_its_file(capsys, tmp_path, monkeypatch):
    folder, out = tmp_path / "in", tmp_path / "out"
    names = [write_photo(folder / f"img{i}.{'png' if i % 2 else 'jpg'}", i).name for i in range(5)]
    manifest = tmp_path / "runs.csv"
    monkeypatch.setenv("SEGSHIFT_TEST_CRASH_ON", "img2.jpg")
    code, _, err = run(capsys, "batch", folder, out, "-j", "2", "--stats", "--manifest", manifest)
    assert code == 1 and "Traceback" not in err
    expected = (f"{folder / 'img2.jpg'}: the worker process died while segmenting it"
                " (crashed, killed, or out of memory?)")
    assert f"segshift: error: {expected}\n" in err
    assert "4 segmented, 0 skipped (done before), 1 failed" in err
    records = {r["input"]: r for r in writers.read_manifest(manifest)}
    assert [records[n]["status"] for n in names] == ["ok", "ok", "failed", "ok", "ok"]
    assert records["img2.jpg"]["error"] == expected and records["img2.jpg"]["outputs"] == []
    assert leftovers(out) == []
    # The next run redoes it, and only it.
    monkeypatch.delenv("SEGSHIFT_TEST_CRASH_ON")
    code, _, err = run(capsys, "batch", folder, out, "-j", "1", "--stats", "--manifest", manifest)
    assert code == 0 and "1 segmented, 4 skipped (done before), 0 failed" in err
    assert [r["status"] for r in writers.read_manifest(manifest)] == ["skipped", "skipped", "ok", "skipped",
                                                                      "skipped"]


def test_temporary_files_of_a_killed_run_are_removed(capsys, tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    write_photo(folder / "a.jpg")
    out.mkdir()
    (out / ".a.png.k3j4h5g6.tmp").write_bytes(b"half a png")
    (out / ".a.stats.json.0123abcd.tmp").write_bytes(b"{")
    (out / ".keep.tmp").write_bytes(b"someone else's")
    code, _, err = run(capsys, "batch", folder, out, "-j", "1", "--stats")
    assert code == 0, err
    assert sorted(os.listdir(out)) == [".keep.tmp", LOCK_NAME, "a.png", "a.stats.json", "manifest.json"]


def test_a_killed_batch_leaves_valid_files_and_resumes(capsys, tmp_path):
    """SIGKILL to the whole process group: no cleanup code runs at all."""
    folder, out = tmp_path / "in", tmp_path / "out"
    for i in range(12):
        write_photo(folder / f"img{i:02d}.jpg", i, size=(160, 120))
    manifest = tmp_path / "runs.csv"
    assert main(["batch", str(folder), str(out), "-q", "-j", "1", "--glob", "img00.*", "--manifest",
                 str(manifest)]) == 0
    before = manifest.read_bytes()
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "segshift.cli", "batch", str(folder), str(out), "-j", "2", "--stats",
         "--manifest", str(manifest)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while len(list(out.glob("*.stats.json"))) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    # The manifest is the previous run's, whole; every output there is whole.
    assert manifest.read_bytes() == before
    for path in out.iterdir():
        if path.name.endswith(".tmp") or path.name == LOCK_NAME:
            continue
        if path.suffix == ".png":
            with Image.open(path) as im:
                im.load()
        else:
            json.loads(path.read_text())
    code, _, err = run(capsys, "batch", folder, out, "-j", "1", "--stats", "--manifest", manifest)
    assert code == 0 and "0 failed" in err
    assert [r["status"] in ("ok", "skipped") for r in writers.read_manifest(manifest)] == [True] * 12
    assert leftovers(out) == []


# The cases above, for the record: {case: (ends in a clean error, ends in a correct result)}.
CASES = {
    "broken inputs through segment": (len(BROKEN_INPUTS) - 1, 1),  # PNG bytes named .jpg: a result
    "broken inputs through batch": (len(BROKEN_INPUTS) - 2, 2),  # and a folder named .png: not an input
    "--max-pixels lower/raise (segment, batch); bomb above a raised limit": (3, 2),
    "output folder not writable (segment, batch)": (2, 0),
    "writes refused although the folder looks writable (segment, batch)": (2, 0),
    "output names the input (symlink, --labels, --boundaries; OUT_DIR spelled 4 ways)": (7, 0),
    "manifest kept among the inputs (csv, json)": (0, 2),
    "--recursive: link loop, two links to a folder, a looping link, dangling, looping without extension": (2, 3),
    "odd file names (7 through segment, 7 through batch)": (0, 14),
    "disk full (segment: write/fsync x one/several outputs; batch: a file, the manifest)": (6, 0),
    "worker dies, then the next run": (1, 1),
    "batch killed by SIGKILL; its temporary files": (0, 2),
}
# In all 44 clean errors (exit 1, or 2 for an output naming the input) and 27 correct results.
