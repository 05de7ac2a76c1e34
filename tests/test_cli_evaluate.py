"""``segshift evaluate`` and :func:`segshift._benchmark.evaluate_folder` on a tiny synthetic data set.

Three 48x64 photos of flat colour blocks with noise, each with ground truth
of the blocks (one as a 16-bit PNG, one as a BSDS500 ``.mat`` with two
humans, one as an 8-bit PNG whose human saw the two right-hand blocks as
one), an image without ground truth and a ground-truth file without image.
The scores are known: covering, PRI and boundary F are 1 and VI 0 where
the segmentation finds the blocks the human drew.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from segshift import segment
from segshift.cli import main
from segshift._benchmark import evaluate_folder, find_ground_truth, setting_name
from segshift.evaluate import boundary_map, evaluate_segmentation, load_ground_truth
from segshift._segment import DEFAULTS, FINEST_MIN_SIZE, FINEST_RANGE_RADIUS

# The known scores below hold for EDISON's parameters (spatial 7, range 6.5,
# 20 pixels) in CIE L*u*v*, given in full, whatever segshift's defaults are;
# BASE_ARGS are the same on the command line.
BASE = dict(spatial_radius=7.0, range_radius=6.5, min_size=20, kernel="uniform", compat=None, speedup="none",
            scale="fixed")
BASE_ARGS = ["-s", "7", "-r", "6.5", "-m", "20", "--kernel", "uniform", "--compat", "none", "--speedup", "none",
             "--scale", "fixed"]

# 2x2 sweep: the range radius changes nothing here (the block colours are far
# apart), min_size=300 swallows the 252-pixel block.
SWEEP = [dict(BASE, range_radius=r, min_size=m) for r in (6.5, 8.0) for m in (20, 300)]
NAMES = [setting_name(setting) for setting in SWEEP]


def blocks(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A 48x64 photo of four flat blocks plus noise, and the block labels (1..4).

    Block 4 (14x18 = 252 pixels) lies inside block 2.
    """
    rng = np.random.default_rng(seed)
    truth = np.ones((48, 64), dtype=np.uint8)
    truth[:, 32:] = 2
    truth[24:, :20] = 3
    truth[30:44, 40:58] = 4
    colours = rng.permutation(np.array([[200, 60, 50], [40, 110, 190], [60, 160, 70], [235, 210, 80]], float))
    image = colours[truth - 1] + rng.normal(0.0, 4.0, truth.shape + (3,))
    return np.clip(np.round(image), 0, 255).astype(np.uint8), truth


def write_bsds_mat(path: Path, segs: list[np.ndarray]) -> None:
    """A BSDS500 ground-truth file: a 1xK cell of structs with Segmentation and Boundaries."""
    cell = np.empty((1, len(segs)), dtype=object)
    for k, seg in enumerate(segs):
        cell[0, k] = {"Segmentation": seg.astype(np.uint16), "Boundaries": boundary_map(seg).astype(np.uint8)}
    scipy.io.savemat(path, {"groundTruth": cell})


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, Path]:
    images, truth = tmp_path / "images", tmp_path / "groundTruth"
    images.mkdir()
    truth.mkdir()
    photo, labels = blocks(1)
    Image.fromarray(photo).save(images / "12003.png")
    Image.fromarray(labels.astype(np.uint16)).save(truth / "12003.png")  # 16-bit label PNG
    photo, labels = blocks(2)
    Image.fromarray(photo).save(images / "12074.png")
    write_bsds_mat(truth / "12074.mat", [labels, labels])
    Image.fromarray(np.ones_like(labels)).save(truth / "12074.png")  # .mat is preferred
    photo, labels = blocks(3)
    Image.fromarray(photo).save(images / "2092.jpg", quality=98, subsampling=0)
    coarse = np.where(labels == 4, 2, labels)  # this human drew no block 4
    Image.fromarray(coarse).save(truth / "2092.png")
    Image.fromarray(blocks(4)[0]).save(images / "nogt.png")
    Image.fromarray(labels).save(truth / "lonely.png")  # ground truth without image: ignored
    (images / "notes.txt").write_text("not an image")
    return images, truth


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- #
# The library
# --------------------------------------------------------------------------- #


def test_find_ground_truth_matches_by_stem(dataset):
    images, truth = dataset
    pairs, missing = find_ground_truth(images, truth)
    assert pairs == [("12003.png", truth / "12003.png"), ("12074.png", truth / "12074.mat"),
                     ("2092.jpg", truth / "2092.png")]
    assert missing == ["nogt.png"]


def test_evaluate_folder_known_scores_and_ods_ois(dataset):
    images, truth = dataset
    seen = []
    ev = evaluate_folder(images, truth, SWEEP, jobs=1, progress=lambda *a: seen.append(a))
    assert ev.names == NAMES and [r.image for r in ev.images] == ["12003.png", "12074.png", "2092.jpg"]
    assert ev.missing == ["nogt.png"] and ev.failed == []
    assert seen[0] == (0, 3, None) and [s[:2] for s in seen[1:]] == [(1, 3), (2, 3), (3, 3)]
    by_image = {r.image: r for r in ev.images}
    for name in ("12003.png", "12074.png"):  # the human drew the four blocks: m=20 is perfect
        record = by_image[name]
        assert record.regions == (4, 3, 4, 3)
        s = record.scores[0]
        assert (s.covering, s.pri, s.vi, s.boundary_f) == (1.0, 1.0, 0.0, 1.0)
        assert record.scores[1].covering < 0.95 and record.scores[1].boundary_recall < 1.0
    coarse = by_image["2092.jpg"]  # this human saw three blocks: m=300 is perfect
    assert coarse.scores[1].covering == 1.0 and coarse.scores[1].pri == 1.0
    assert coarse.scores[0].covering < 1.0 and coarse.scores[0].boundary_precision < 1.0

    # One setting for all images: m=20 (best on two of three); each image at its best: perfect.
    summary = ev.summary
    assert summary.n_images == 3
    assert summary.covering_ods_setting == summary.pri_ods_setting == summary.vi_ods_setting == NAMES[0]
    assert summary.boundary_ods_setting == NAMES[0]
    assert summary.covering_ods < 1.0 and summary.covering_ois == 1.0
    assert summary.pri_ois == 1.0 and summary.vi_ois == 0.0 and summary.boundary_ois.f == 1.0
    assert ev.per_setting[0].covering_ods == summary.covering_ods
    assert ev.mean_regions(0) == 4.0 and ev.mean_regions(1) == 3.0


def test_shared_filter_gives_the_labels_of_segment(dataset, monkeypatch):
    """The filter runs once per image and (range radius); every min_size reuses it."""
    import segshift._benchmark as benchmark

    images, truth = dataset
    calls = []
    real = benchmark.image_modes
    monkeypatch.setattr(benchmark, "image_modes", lambda *a, **k: calls.append(k) or real(*a, **k))
    ev = evaluate_folder(images, truth, SWEEP, jobs=1)
    assert len(calls) == 3 * 2
    gts = load_ground_truth(truth / "2092.png")
    for k, setting in enumerate(SWEEP):
        expected = evaluate_segmentation(segment(images / "2092.jpg", **setting).labels, gts)
        assert ev.images[2].scores[k] == expected


def test_settings_validation_and_names(dataset):
    images, truth = dataset
    with pytest.raises(ValueError, match="min_size must be >= 0, got -1"):
        evaluate_folder(images, truth, [{"min_size": -1}])
    with pytest.raises(ValueError, match="unknown parameter 'radius'"):
        evaluate_folder(images, truth, [{"radius": 3}])
    with pytest.raises(ValueError, match="non-empty list"):
        evaluate_folder(images, truth, [])
    with pytest.raises(ValueError, match="limit must be > 0"):
        evaluate_folder(images, truth, limit=0)
    # s, r and m always, then the other parameters that differ from the defaults
    explicit = dict(spatial_radius=7, range_radius=6.5, min_size=20, tol=0.001)
    assert setting_name(explicit) == "s=7 r=6.5 m=20 tol=0.001"
    other_compat = None if DEFAULTS["compat"] == "edison" else "edison"
    assert DEFAULTS["spatial_radius"] is None  # relative: named "auto"
    defaults = f"s=auto r={FINEST_RANGE_RADIUS:g} m={FINEST_MIN_SIZE:g}"
    assert setting_name({}) == defaults
    assert setting_name({"compat": other_compat, "tol": 0.001}) == f"{defaults} compat={other_compat} tol=0.001"
    # duplicates dropped: {} is the defaults spelled out
    ev = evaluate_folder(images, truth, [{}, {"spatial_radius": DEFAULTS["spatial_radius"]}], jobs=1, limit=1)
    assert ev.names == [defaults] and len(ev.images) == 1
    # min_size as a fraction of the area: 0.1 of 48x64 is 307 pixels, as many as m=300 keeps
    ev = evaluate_folder(images, truth, [dict(BASE, min_size=0.1), dict(BASE, min_size=300)], jobs=1, limit=1)
    assert ev.names == [setting_name(dict(BASE, min_size=0.1)), setting_name(dict(BASE, min_size=300))]
    assert ev.names[0].startswith("s=7 r=6.5 m=0.1") and ev.images[0].regions == (3, 3)


# --------------------------------------------------------------------------- #
# The command
# --------------------------------------------------------------------------- #


def test_sweep_table_and_json(capsys, dataset, tmp_path):
    images, truth = dataset
    target = tmp_path / "scores.json"
    code, out, err = run(capsys, "evaluate", images, truth, *BASE_ARGS, "--sweep-range", "6.5,8",
                         "--sweep-min-size", "20,300", "-j", "1", "--json", target)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["setting", "Cover", "PRI", "VI", "BP", "BR", "BF", "regions"]
    rows = {name: line[len(name):].split() for name, line in zip(NAMES, lines[1:5]) if line.startswith(name + " ")}
    assert list(rows) == NAMES and all(len(row) == 7 for row in rows.values())
    assert rows[NAMES[0]][-1] == "4.0" and rows[NAMES[1]][-1] == "3.0"
    ods = [line for line in lines if " ODS " in line]
    assert len(ods) == 4 and ods[0].startswith("covering   ODS ") and f"({NAMES[0]})  OIS 1.000" in ods[0]
    assert lines[-1] == "3 images"
    assert "segshift: warning: 1 image(s) without ground truth" in err and "nogt.png" in err
    assert "3 image(s) scored, 0 failed, 1 without ground truth, 4 setting(s)" in err

    data = json.loads(target.read_text())
    expected = evaluate_folder(images, truth, SWEEP, jobs=1)
    assert data["counts"] == {"scored": 3, "failed": 0, "missing_ground_truth": 1}
    assert data["missing_ground_truth"] == ["nogt.png"]
    assert [s["name"] for s in data["settings"]] == NAMES
    assert data["settings"][1]["params"]["min_size"] == 300 and data["settings"][1]["mean_regions"] == 3.0
    assert data["settings"][0]["covering"] == pytest.approx(expected.per_setting[0].covering_ods)
    assert data["ods_ois"]["covering_ods_setting"] == NAMES[0] and data["ods_ois"]["covering_ois"] == 1.0
    assert data["ods_ois"]["boundary_ois"]["f"] == 1.0
    image = data["images"][2]
    assert (image["image"], image["status"], image["error"]) == ("2092.jpg", "ok", None)
    assert image["ground_truth"] == str(truth / "2092.png")
    assert image["scores"][NAMES[1]]["covering"] == 1.0 and image["scores"][NAMES[1]]["regions"] == 3
    assert image["scores"][NAMES[0]] == dict(expected.images[2].scores[0].as_dict(), regions=4)

    # The file is never replaced without --overwrite, and that is known before any work.
    code, out, err = run(capsys, "evaluate", images, truth, "--json", target)
    assert code == 1 and out == ""
    assert err == f"segshift: error: {target}: already exists (use --overwrite to replace it)\n"
    assert run(capsys, "evaluate", images, truth, "-j", "1", "-q", "--json", target, "--overwrite")[0] == 0
    assert len(json.loads(target.read_text())["settings"]) == 1


def test_one_setting_has_no_ods_lines_and_json_to_stdout(capsys, dataset):
    images, truth = dataset
    code, out, err = run(capsys, "evaluate", images, truth, *BASE_ARGS, "-j", "1", "--limit", "2", "--json", "-")
    assert code == 0
    data = json.loads(out)  # stdout holds the JSON only
    assert [i["image"] for i in data["images"]] == ["12003.png", "12074.png"]
    assert data["settings"][0]["covering"] == 1.0 and data["settings"][0]["vi"] == 0.0
    row = f"{setting_name(BASE)} 1.000 1.000 0.000 1.000 1.000 1.000 4.0".split()
    assert row in [line.split() for line in err.splitlines()]  # the table, on stderr
    assert " ODS " not in err


def test_progress_bar_on_a_terminal_only(capsys, dataset, monkeypatch):
    import segshift.cli._evaluate as cli  # the command that draws the bar

    images, truth = dataset
    monkeypatch.setattr(cli, "_isatty", lambda stream: True)
    code, _, err = run(capsys, "evaluate", images, truth, "-j", "1")
    assert code == 0 and "segshift:   0%|" in err and "0/3 [" in err
    code, out, err = run(capsys, "evaluate", images, truth, "-j", "1", "-q")
    assert code == 0 and err == "" and out.startswith("setting")


def test_failed_images_are_reported_and_left_out(capsys, dataset):
    images, truth = dataset
    (images / "broken.png").write_bytes((images / "12003.png").read_bytes()[:200])
    Image.fromarray(np.ones((48, 64), np.uint8)).save(truth / "broken.png")
    Image.fromarray(blocks(5)[0][:40]).save(images / "small.png")
    Image.fromarray(np.ones((48, 64), np.uint8)).save(truth / "small.png")
    Image.fromarray(blocks(6)[0]).save(images / "badmat.png")
    (truth / "badmat.mat").write_bytes(b"MATLAB 5.0 MAT-file, but not really")
    code, out, err = run(capsys, "evaluate", images, truth, "-j", "1")
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("segshift: error:")]
    assert len(errors) == 3, err  # in name order; each names the file and the problem
    assert errors[0].startswith(
        f"segshift: error: cannot read ground truth {truth / 'badmat.mat'}: not a readable MATLAB file ("
    )
    assert errors[1].startswith(f"segshift: error: {images / 'broken.png'}: cannot decode image (")
    assert errors[2] == (
        f"segshift: error: {truth / 'small.png'}: ground truth is 64x48 pixels but the image"
        f" {images / 'small.png'} is 64x40"
    )
    assert "Traceback" not in err
    assert "3 image(s) scored, 3 failed" in err
    assert out.splitlines()[-1] == "3 images"  # the table holds the three good ones


def test_errors(capsys, dataset, tmp_path):
    images, truth = dataset
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    cases = [
        ([tmp_path / "nope", truth], 1, f"{tmp_path / 'nope'}: no such folder"),
        ([images, tmp_path / "nope"], 1, f"{tmp_path / 'nope'}: no such folder"),
        ([images / "12003.png", truth], 1, f"{images / '12003.png'}: not a folder"),
        ([empty, truth], 1, f"{empty}: no images (.jpg, .jpeg"),
        ([images, empty], 1, f"{empty}: no ground truth for any of the 4 image(s) of {images} (looked for"
                             " STEM.mat, STEM.npy, STEM.png"),
        ([images, truth, "-s", "-3"], 2, "--spatial-radius must be > 0, got -3.0"),
        ([images, truth, "-m", "20,1.5"], 2, "--min-size must be an integer number of pixels or a fraction of"),
        ([images, truth, "--limit", "0"], 2, "--limit must be > 0, got 0"),
        ([images, truth, "--jobs", "0"], 2, "--jobs must be > 0, got 0"),
        ([images, truth, "--json", tmp_path / "s.txt"], 2, "extension '.txt' is not a supported stats format"),
        ([images, truth, "--json", tmp_path / "no" / "s.json"], 1, f"folder {tmp_path / 'no'} does not exist"),
    ]
    for argv, status, message in cases:
        code, out, err = run(capsys, "evaluate", *argv)
        assert (code, out) == (status, ""), (argv, err)
        assert err.startswith("segshift: error: ") and message in err and err.count("\n") == 1, (argv, err)
    for bad in (["-m", "x"], ["-r", "6.5,x"], ["--kernel", "box"]):
        code, out, err = run(capsys, "evaluate", images, truth, *bad)
        assert code == 2 and out == "" and "usage:" in err


def test_parallel_run_survives_a_dying_worker(capsys, dataset, monkeypatch):
    """Two worker processes; the one on 12074.png dies: only that image is lost."""
    images, truth = dataset
    monkeypatch.setenv("SEGSHIFT_TEST_CRASH_ON", "12074.png")
    code, out, err = run(capsys, "evaluate", images, truth, *BASE_ARGS, "-m", "20,300", "-j", "2", "--json", "-")
    assert code == 1
    assert f"segshift: error: {images / '12074.png'}: the worker process died while evaluating it" in err
    data = json.loads(out)
    assert data["counts"] == {"scored": 2, "failed": 1, "missing_ground_truth": 1}
    monkeypatch.delenv("SEGSHIFT_TEST_CRASH_ON")
    serial = evaluate_folder(images, truth, [dict(BASE, min_size=20), dict(BASE, min_size=300)], jobs=1)
    for record, expected in zip(data["images"], serial.images):
        if record["image"] != "12074.png":
            assert record["scores"][setting_name(BASE)] == dict(expected.scores[0].as_dict(), regions=4)


def test_help(capsys):
    code, out, _ = run(capsys, "evaluate", "--help")
    assert code == 0 and "examples:" in out and "exit status" in out and "ODS" in out
    assert "--sweep-range" in out and "(default: auto)" in out
    flat = " ".join(out.split())  # help lines wrap with the terminal's width
    assert f"(default: {FINEST_RANGE_RADIUS:g}, with --scale fixed {DEFAULTS['range_radius']:g})" in flat
    assert f"with --scale fixed {DEFAULTS['min_size']:g})" in flat
    assert f"(default: {DEFAULTS['kernel']})" in out and f"(default: {DEFAULTS['compat'] or 'none'})" in out
    code, out, _ = run(capsys, "--help")
    assert "segshift evaluate" in out and "score segmentations" in out
