"""segshift.writers: atomic files, encoders, manifests.

Failures of real writes (full disk, refused folders) are in
test_cli_robustness.py, through the command line.
"""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from segshift import writers



def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    writers.write_atomic(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert sorted(os.listdir(tmp_path)) == ["f.bin"]
    mode = target.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


@pytest.mark.parametrize("exc", [ValueError, KeyboardInterrupt])
def test_atomic_write_leaves_nothing_on_error(tmp_path, exc):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(exc):
        with writers.atomic_open(target) as handle:
            handle.write(b"half")
            raise exc()
    assert target.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["f.bin"]


def test_atomic_write_to_missing_folder(tmp_path):
    with pytest.raises(writers.OutputError, match="cannot write"):
        writers.write_atomic(tmp_path / "no" / "f.bin", b"x")


def test_png_labels_limit(tmp_path):
    labels = np.arange(65536, dtype=np.int32).reshape(256, 256)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(writers.encode_labels(labels, ".png")))), labels)
    with pytest.raises(writers.OutputError, match=r"65,537 regions do not fit a 16-bit PNG.*\.npy"):
        writers.encode_labels(labels + 1, ".png")
    np.testing.assert_array_equal(np.load(io.BytesIO(writers.encode_labels(labels + 1, ".npy"))), labels + 1)


def test_manifest_round_trip(tmp_path):
    records = [
        {"input": "a.jpg", "outputs": ["a.png", "a.stats.json"], "regions": 3, "seconds": 0.5, "status": "ok",
         "error": None},
        {"input": "b, c.jpg", "outputs": [], "regions": None, "seconds": None, "status": "failed",
         "error": 'b, c.jpg: cannot decode image ("x")'},
    ]
    for ext in (".json", ".csv"):
        path = writers.write_manifest(tmp_path / f"m{ext}", records)
        assert writers.read_manifest(path) == records
    assert writers.read_manifest(tmp_path / "missing.json") == []


ODD_NAMES = ["a, b; c.png", 'q"uote.png', "new\nline.png", "cr\r\nlf.png", "café.png", "bytes-\udcff.png", "x;.png"]


@pytest.mark.parametrize("ext", [".json", ".csv"])
def test_manifest_round_trip_with_odd_names(tmp_path, ext):
    records = [
        {"input": f"sub dir/{name}", "outputs": [f"sub dir/{name}", f"sub dir/{name}.stats.json"], "regions": 2,
         "seconds": 0.25, "status": "ok", "error": None}
        for name in ODD_NAMES
    ]
    path = writers.write_manifest(tmp_path / f"m{ext}", records)
    assert writers.read_manifest(path) == records
    if ext == ".csv":  # a plain list stays plain: a;b
        text = writers.encode_manifest([dict(records[0], outputs=["a.png", "a.stats.json"])], ".csv").decode()
        assert text.splitlines()[1].startswith('"sub dir/a, b; c.png",a.png;a.stats.json,2,')


def test_read_manifest_never_fails(tmp_path):
    for name, content in [("torn.json", b'[\n  {"input": "a.jpg"'), ("torn.csv", b'input,outputs\n"a.jpg'),
                          ("other.json", b'{"not": "a list"}'), ("binary.csv", b"\xff\xfe\x00garbage")]:
        (tmp_path / name).write_bytes(content)
        assert isinstance(writers.read_manifest(tmp_path / name), list)
    assert writers.read_manifest(tmp_path / "torn.json") == []


def test_remove_stale_temp_files(tmp_path):
    (tmp_path / "sub").mkdir()
    stale = [".a.png.k3j4h5g6.tmp", ".a.png.zzzzzzzz.tmp", ".a.stats.json.0123abcd.tmp", "sub/.b.png.abcdefgh.tmp"]
    kept = [".keep.tmp", ".ab.png.k3j4h5g6.tmp", "a.png", ".c.png.abcdefgh.tmp"]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"x")
    targets = [tmp_path / "a.png", tmp_path / "a.stats.json", tmp_path / "sub" / "b.png", tmp_path / "no" / "d.png"]
    assert writers.remove_stale_temp_files(targets) == len(stale)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == sorted(kept)


@pytest.mark.parametrize("seed", range(3))
def test_region_extents_are_bincount_sums_and_scipy_boxes(seed):
    from scipy import ndimage

    from segshift._region_kernels import extents

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 7, size=(31, 45)).repeat(3, 1).astype(np.int32)
    labels[labels == 5] = 4  # label 5 has no pixel
    n = 8  # nor has 7
    sums, boxes = extents(labels, n)
    ys, xs = np.divmod(np.arange(labels.size), labels.shape[1])
    np.testing.assert_array_equal(sums[:, 0], np.bincount(labels.ravel(), weights=xs, minlength=n))
    np.testing.assert_array_equal(sums[:, 1], np.bincount(labels.ravel(), weights=ys, minlength=n))
    for k, box in enumerate(ndimage.find_objects(labels + 1, max_label=n)):
        expected = [0, 0, 0, 0] if box is None else [box[1].start, box[0].start, box[1].stop, box[0].stop]
        assert boxes[k].tolist() == expected


def test_npy_strips_written_through_the_file(tmp_path):
    array = np.arange(7 * 5, dtype=np.int32).reshape(7, 5)
    path = tmp_path / "a.npy"
    with open(path, "wb") as handle:
        writers.write_npy_strips(handle, np.int32, array.shape, [array[:3], array[3:]])
    np.testing.assert_array_equal(np.load(path), array)
    with pytest.raises(ValueError, match="a strip of shape"):
        with open(tmp_path / "c.npy", "wb") as handle:
            writers.write_npy_strips(handle, np.int32, array.shape, [array[:, :4]])
    with open(tmp_path / "b.npy", "wb") as handle, pytest.raises(ValueError, match="6 rows written of 7"):
        writers.write_npy_strips(handle, np.int32, array.shape, [array[:6]])


def test_scratch_of_a_killed_run_is_removed_by_the_next_and_a_live_one_kept(tmp_path):
    import signal
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(repo) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = ("import sys\nfrom segshift import writers\n"
             "s = writers.ScratchFolder('.out.tif.segshift-geo-', sys.argv[1])\n"
             "open(s.name + '/labels.npy', 'wb').write(b'x' * 1000)\n"
             "print(s.name, flush=True)\nsys.stdin.read()\n")

    def start():
        proc = subprocess.Popen([sys.executable, "-c", child, str(tmp_path)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, env=env, text=True)
        return proc, Path(proc.stdout.readline().strip())  # the folder exists, its lock held

    live, live_dir = start()
    killed, killed_dir = start()
    killed.send_signal(signal.SIGKILL)
    assert killed.wait(timeout=60) == -signal.SIGKILL
    foreign = tmp_path / ".segshift-not-a-scratch-folder"  # no lock file: not ours, or being made
    foreign.mkdir()
    assert killed_dir.is_dir() and live_dir.is_dir()
    with writers.ScratchFolder(".segshift-", tmp_path) as mine:  # the next run
        assert not killed_dir.exists(), "the killed run's scratch is left"
        assert live_dir.is_dir() and (live_dir / "labels.npy").exists(), "a live run's scratch was removed"
        assert foreign.is_dir() and Path(mine).is_dir()
    assert not Path(mine).exists()
    live.stdin.close()  # the live run ends normally and removes its own
    assert live.wait(timeout=60) == 0
    assert not live_dir.exists()
    assert writers.remove_abandoned_scratch(tmp_path) == 0 and foreign.is_dir()
