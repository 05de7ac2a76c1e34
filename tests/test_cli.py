"""The ``segshift`` command (segment, help, exit codes).

The writers are tested in test_writers.py; hostile inputs and file systems
(unwritable folders, full disks, odd names, ...) in test_cli_robustness.py.

The CLI is called in-process through ``segshift.cli.main`` (which returns the
exit status) on small real photos written to a temporary folder; one test
runs it as a real process.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segshift import __version__, segment, writers
from segshift.cli import main
from segshift._segment import DEFAULTS, FINEST_RANGE_RADIUS

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "images"


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A 60x80 crop of a real photo, as JPEG."""
    path = tmp_path / "photo.jpg"
    with Image.open(IMAGES / "chelsea.jpg") as im:
        im.crop((150, 40, 230, 100)).save(path, quality=95)
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- #
# Help, version, usage errors
# --------------------------------------------------------------------------- #


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"segshift {__version__}"


@pytest.mark.parametrize("command", [[], ["segment"], ["batch"]])
def test_help_shows_defaults_and_an_example(capsys, command):
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0
    assert "example" in out and "exit status" in out
    if command:
        assert "--spatial-radius" in out and "(default: auto)" in out
        flat = " ".join(out.split())  # help lines wrap with the terminal's width
        assert f"(default: {FINEST_RANGE_RADIUS:g}, with --scale fixed {DEFAULTS['range_radius']:g})" in flat
        assert f"with --scale fixed {DEFAULTS['min_size']})" in flat
        assert f"(default: {DEFAULTS['scale']})" in flat
        assert f"(default: {DEFAULTS['kernel']})" in out and f"(default: {DEFAULTS['compat'] or 'none'})" in out


@pytest.mark.parametrize(
    "argv",
    [
        [],  # no command
        ["segment"],  # no input
        ["segment", "x.jpg", "--bogus"],
        ["segment", "x.jpg", "--kernel", "cosine"],
        ["segment", "x.jpg", "-s", "seven"],
        ["batch", "in"],
    ],
)
def test_bad_usage_exits_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert "usage:" in err


def test_bad_parameter_value_exits_2_naming_the_option(capsys, photo, tmp_path):
    code, out, err = run(capsys, "segment", photo, "-o", tmp_path / "m.png", "-s", "-3")
    assert code == 2 and out == ""
    assert err.strip() == "segshift: error: --spatial-radius must be > 0, got -3.0"
    assert not (tmp_path / "m.png").exists()


# --------------------------------------------------------------------------- #
# segment: outputs
# --------------------------------------------------------------------------- #


def test_default_output_in_current_folder(capsys, photo, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, out, err = run(capsys, "segment", photo)
    assert (code, out, err) == (0, "", "")  # silent on success
    written = np.asarray(Image.open(work / "photo.seg.png"))
    assert np.array_equal(written, segment(photo).mode_image())


@pytest.mark.parametrize("ext", [".png", ".tif", ".webp", ".bmp", ".jpg", ".jpeg", ".PNG"])
def test_mode_image_format_follows_extension(capsys, photo, tmp_path, ext):
    target = tmp_path / f"modes{ext}"
    assert run(capsys, "segment", photo, "-o", target)[0] == 0
    expected = segment(photo).mode_image()
    with Image.open(target) as im:
        assert im.format == writers.IMAGE_FORMATS[ext.lower()]
        got = np.asarray(im.convert("RGB"))
    if ext.lower() in (".jpg", ".jpeg"):
        assert np.abs(got.astype(int) - expected).mean() < 3
    else:
        assert np.array_equal(got, expected)


def test_every_output_kind(capsys, photo, tmp_path):
    paths = {k: tmp_path / n for k, n in
             dict(modes="m.png", labels="l.png", npy="l.npy", bounds="b.png", stats="s.json").items()}
    code, out, err = run(capsys, "segment", photo, "-o", paths["modes"], "--labels", paths["labels"],
                         "--boundaries", paths["bounds"], "--stats", paths["stats"], "-s", "5", "-r", "8",
                         "-m", "10", "--kernel", "gaussian")
    assert (code, out, err) == (0, "", "")
    assert run(capsys, "segment", photo, "--labels", paths["npy"], "-s", "5", "-r", "8", "-m", "10",
               "--kernel", "gaussian")[0] == 0
    seg = segment(photo, spatial_radius=5, range_radius=8, min_size=10, kernel="gaussian")

    with Image.open(paths["labels"]) as im:
        assert im.mode.startswith("I;16")  # 16-bit grayscale PNG
        assert np.array_equal(np.asarray(im), seg.labels)
    labels = np.load(paths["npy"])
    assert labels.dtype == np.int32 and np.array_equal(labels, seg.labels)
    assert np.array_equal(np.asarray(Image.open(paths["bounds"])), seg.boundary_image())
    assert np.array_equal(np.asarray(Image.open(paths["modes"])), seg.mode_image())

    stats = json.loads(paths["stats"].read_text())
    # The options given, and the defaults for the rest.
    assert stats["params"] == {"spatial_radius": 5.0, "range_radius": 8.0, "min_size": 10, "kernel": "gaussian",
                               "compat": "edison", "speedup": "none", "resolution": "auto", "scale": "auto",
                               "n_regions": None, "tol": 0.01, "max_iter": 100, "region_colour": "mean"}
    assert (stats["width"], stats["height"]) == (80, 60)
    assert stats["n_regions"] == seg.n_regions == len(stats["regions"])
    assert stats["seconds"] > 0 and stats["input"] == str(photo)
    ys, xs = np.indices(seg.labels.shape)
    for region in stats["regions"]:
        k = region["label"]
        mask = seg.labels == k
        assert region["area"] == mask.sum()
        assert region["rgb"] == seg.modes_rgb[k - seg.start_label].tolist()
        assert np.allclose(region["luv"], seg.modes_luv[k - seg.start_label], atol=1e-3)
        x0, y0, x1, y1 = region["bbox"]
        assert mask[y0:y1, x0:x1].sum() == mask.sum()
        assert mask[y0, x0:x1].any() and mask[y1 - 1, x0:x1].any()
        assert mask[y0:y1, x0].any() and mask[y0:y1, x1 - 1].any()
        assert np.allclose(region["centroid"], [xs[mask].mean(), ys[mask].mean()], atol=0.01)


def test_stats_to_stdout_writes_no_image(capsys, photo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "segment", photo, "--stats", "-")
    assert code == 0 and err == ""
    assert json.loads(out)["n_regions"] == segment(photo).n_regions
    assert sorted(os.listdir(tmp_path)) == ["photo.jpg"]


def test_image_to_stdout(capsysbinary, photo):
    assert main(["segment", str(photo), "-o", "-"]) == 0
    out, err = capsysbinary.readouterr()
    assert err == b""
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(out))), segment(photo).mode_image())


def test_only_one_output_on_stdout(capsys, photo):
    code, out, err = run(capsys, "segment", photo, "-o", "-", "--stats", "-")
    assert code == 2 and out == "" and "only one output can go to stdout" in err


# --------------------------------------------------------------------------- #
# segment: refusing before work, and failures
# --------------------------------------------------------------------------- #


def test_refuses_to_overwrite_without_flag(capsys, photo, tmp_path):
    target = tmp_path / "m.png"
    target.write_bytes(b"precious")
    code, out, err = run(capsys, "segment", photo, "-o", target)
    assert code == 1 and out == ""
    assert err.strip() == f"segshift: error: {target}: already exists (use --overwrite to replace it)"
    assert target.read_bytes() == b"precious"
    assert run(capsys, "segment", photo, "-o", target, "--overwrite")[0] == 0
    assert np.array_equal(np.asarray(Image.open(target)), segment(photo).mode_image())


def test_refuses_to_replace_the_input(capsys, photo):
    before = photo.read_bytes()
    code, _, err = run(capsys, "segment", photo, "-o", photo.parent / "." / photo.name, "--overwrite")
    assert code == 2 and "would replace the input" in err
    assert photo.read_bytes() == before


def test_unknown_extension_is_refused_before_reading_the_input(capsys, tmp_path):
    code, _, err = run(capsys, "segment", tmp_path / "missing.jpg", "-o", tmp_path / "m.gif")
    assert code == 2
    assert err.count("\n") == 1 and "'.gif' is not a supported image format" in err
    assert ".png, .jpg, .jpeg, .tif, .tiff, .webp, .bmp" in err
    code, _, err = run(capsys, "segment", tmp_path / "missing.jpg", "--labels", tmp_path / "l.gif")
    assert code == 2 and "use one of .png, .npy, .tif, .tiff" in err


def test_same_file_named_twice(capsys, photo, tmp_path):
    code, _, err = run(capsys, "segment", photo, "-o", tmp_path / "x.png", "--boundaries", tmp_path / "x.png")
    assert code == 2 and "named for both" in err


def test_missing_output_folder(capsys, photo, tmp_path):
    code, _, err = run(capsys, "segment", photo, "-o", tmp_path / "nope" / "m.png")
    assert code == 1 and "does not exist" in err


@pytest.mark.parametrize(
    "content, message",
    [(None, "no such file"), (b"not an image at all", "not a recognised image file"), ("truncated", "cannot decode")],
)
def test_unreadable_input_is_one_line_exit_1(capsys, photo, tmp_path, content, message):
    bad = tmp_path / "bad.jpg"
    if content == "truncated":
        bad.write_bytes(photo.read_bytes()[:200])
    elif content is not None:
        bad.write_bytes(content)
    code, out, err = run(capsys, "segment", bad, "-o", tmp_path / "m.png")
    assert code == 1 and out == ""
    assert err.startswith(f"segshift: error: {bad}: {message}") and err.count("\n") == 1
    assert "Traceback" not in err
    assert not (tmp_path / "m.png").exists()


def test_debug_shows_the_traceback(capsys, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"garbage")
    code, _, err = run(capsys, "segment", bad, "-o", tmp_path / "m.png", "--debug")
    assert code == 1 and "Traceback" in err and "not a recognised image file" in err


def test_verbose_and_quiet(capsys, photo, tmp_path):
    code, out, err = run(capsys, "segment", photo, "-o", tmp_path / "a.png", "-v")
    assert code == 0 and out == "" and f"wrote {tmp_path / 'a.png'}" in err and "regions" in err
    code, out, err = run(capsys, "-q", "segment", photo, "-o", tmp_path / "b.png")
    assert (code, out, err) == (0, "", "")


def test_runs_as_a_program(photo, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-m", "segshift", "segment", str(photo), "-o", str(tmp_path / "m.png"), "--stats", "-"],
        capture_output=True, env=env, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["width"] == 80 and (tmp_path / "m.png").exists()
    proc = subprocess.run([sys.executable, "-m", "segshift.cli", "segment", str(tmp_path / "none.jpg")],
                          capture_output=True, env=env, text=True, timeout=300)
    assert proc.returncode == 1 and proc.stderr == f"segshift: error: {tmp_path / 'none.jpg'}: no such file\n"


def test_method_options_reach_segment(capsys, photo, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    # Values other than the defaults, so that the options are seen to take effect.
    compat = "none" if DEFAULTS["compat"] == "edison" else "edison"
    assert "fast" != DEFAULTS["speedup"] and "gaussian" != DEFAULTS["kernel"] and 0.01 != DEFAULTS["min_size"]
    code, out, _ = run(capsys, "segment", str(photo), "--stats", "-", "--speedup", "fast", "--compat", compat,
                       "--kernel", "gaussian", "-m", "0.01")
    assert code == 0
    params = json.loads(out)["params"]
    assert params["speedup"] == "fast" and params["kernel"] == "gaussian"
    assert params["compat"] == (None if compat == "none" else compat)
    assert params["min_size"] == 0.01
    code, _, err = run(capsys, "segment", str(photo), "--speedup", "turbo")
    assert code == 2 and "--speedup" in err


def test_regions_with_only_a_ucm_also_writes_that_level(capsys, photo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "segment", photo, "--regions", "3", "--ucm", "ucm.png")
    assert code == 0, err
    picture = tmp_path / f"{photo.stem}.seg.png"
    assert (tmp_path / "ucm.png").is_file() and picture.is_file()
    colours = np.unique(np.asarray(Image.open(picture)).reshape(-1, 3), axis=0)
    assert len(colours) <= 3
    assert "--regions 3" in err


def test_more_regions_than_the_finest_level_says_so(capsys, photo, tmp_path):
    code, out, err = run(capsys, "segment", photo, "--regions", "100000", "--stats", tmp_path / "s.json")
    assert code == 0, err
    stats = json.loads((tmp_path / "s.json").read_text())
    assert stats["n_regions"] < 100000
    assert f"asked for 100000 regions, but the finest level of this image's hierarchy has {stats['n_regions']}" in err
