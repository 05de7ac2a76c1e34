"""The contour benchmark inside ``segshift evaluate`` and :func:`segshift._benchmark.evaluate_folder`.

Segmentations get a UCM here by wrapping the pipeline's region stage: the
finest regions are those segshift finds, merged by single linkage on their
mode colours (:func:`naive.ucm_from_merges` draws the UCM in the seg2bmap
convention, so ``ucm > 0`` is exactly the segmentation's boundary map).
"""

from __future__ import annotations

import json
import types

import naive
import numpy as np
import pytest
import test_cli_evaluate
from PIL import Image

from segshift import _benchmark as benchmark
from segshift._benchmark import evaluate_folder
from segshift.cli import main
from segshift.evaluate import evaluate_ucm, load_ground_truth

BASE, BASE_ARGS = test_cli_evaluate.BASE, test_cli_evaluate.BASE_ARGS
dataset = test_cli_evaluate.dataset  # the fixture: three photos of colour blocks with ground truth


def with_ucm(seg):
    """The segmentation with a UCM: regions merged by single linkage on mode colour."""
    labels = np.asarray(seg.labels)
    modes = np.asarray(seg.modes_luv, dtype=float)
    pairs = set()
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :]), (labels[:-1, :-1], labels[1:, 1:])):
        diff = a != b
        pairs |= {(int(min(p, q)), int(max(p, q))) for p, q in zip(a[diff], b[diff])}
    parent = list(range(int(labels.max()) + 1))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    merges = []
    for d, a, b in sorted((float(np.linalg.norm(modes[a] - modes[b])) + 1.0, a, b) for a, b in pairs):
        if find(a) != find(b):
            merges.append((d, a, b))
            parent[find(b)] = find(a)
    ucm = naive.ucm_from_merges(labels, merges)
    return types.SimpleNamespace(labels=labels, n_regions=seg.n_regions, modes_luv=seg.modes_luv, ucm=ucm)


@pytest.fixture
def hierarchy(monkeypatch):
    """Segmentations in this process carry a UCM (run with jobs=1)."""
    real_regions, real_segment = benchmark.segmentation_from_modes, benchmark.segment
    monkeypatch.setattr(benchmark, "segmentation_from_modes", lambda *a, **k: with_ucm(real_regions(*a, **k)))
    monkeypatch.setattr(benchmark, "segment", lambda *a, **k: with_ucm(real_segment(*a, **k)))


def test_folder_scores_the_ucm_beside_the_regions(dataset, hierarchy):
    images, truth = dataset
    ev = evaluate_folder(images, truth, [BASE, dict(BASE, min_size=300)], jobs=1)
    assert len(ev.scored) == 3 and len(ev.contours) == 2
    for record in ev.scored:
        gts = load_ground_truth(record.ground_truth)
        for k, counts in enumerate(record.contours):
            # ucm > 0 is the segmentation's boundary map: the first threshold
            # scores exactly as the flat boundary benchmark.
            b = record.scores[k].boundary
            first = (counts.matched_result[0], counts.result_pixels[0], counts.matched_gt[0], counts.gt_pixels[0])
            assert first == (b.matched_result, b.result_pixels, b.matched_gt, b.gt_pixels)
            assert counts.thresholds.tolist() == ev.contours[k].thresholds.tolist()  # common to the folder
            assert len(gts) >= 1
    for c, flat in zip(ev.contours, ev.per_setting):
        assert c.n_images == 3
        assert c.f[0] == pytest.approx(flat.boundary_ods.f)  # threshold 0: the segmentation itself
        assert c.f[0] - 1e-12 <= c.ods_f <= c.ois_f + 1e-12 and 0 < c.ap <= 1
    d = ev.as_dict()
    assert d["contours"] == ev.contours[ev.best_contours].as_dict()
    assert [row["contours"] for row in d["settings"]] == [c.as_dict() for c in ev.contours]
    assert set(d["images"][0]["scores"][ev.names[0]]["contours"]) == {"threshold", "precision", "recall", "f"}


def test_explicit_thresholds_and_the_single_image_function_agree(dataset, hierarchy):
    images, truth = dataset
    ev = evaluate_folder(images, truth, [BASE], jobs=1, thresholds=[0.0, 5.0, 50.0, 500.0])
    assert ev.contours[0].thresholds.tolist() == [0.0, 5.0, 50.0, 500.0]
    record = ev.scored[0]
    photo = np.asarray(Image.open(images / record.image).convert("RGB"))
    from segshift import segment

    ucm = with_ucm(segment(photo, **BASE, start_label=0)).ucm
    ref = evaluate_ucm(ucm, load_ground_truth(record.ground_truth), thresholds=[0.0, 5.0, 50.0, 500.0])
    assert record.contours[0].as_dict() == ref.as_dict()


def test_without_a_hierarchy_there_is_no_contours_key(dataset):
    images, truth = dataset
    ev = evaluate_folder(images, truth, [BASE], jobs=1)
    assert ev.contours == [] and "contours" not in ev.as_dict()
    assert all("contours" not in row for row in ev.as_dict()["settings"])


def test_cli_prints_contours_and_plots_a_png(dataset, hierarchy, tmp_path, capsys):
    images, truth = dataset
    png, out = tmp_path / "pr.png", tmp_path / "scores.json"
    code = main(["evaluate", str(images), str(truth), *BASE_ARGS, "--jobs", "1", "--plot", str(png), "--json", str(out)])
    assert code == 0
    table = capsys.readouterr().out
    assert "contours (UCM)" in table and "ODS F" in table and "AP" in table
    data = json.loads(out.read_text())
    c = data["contours"]
    assert list(c) == ["thresholds", "precision", "recall", "f", "ods", "ois", "ap"]
    assert f"ODS F {c['ods']['f']:.3f}" in table and f"AP {c['ap']:.3f}" in table
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as img:
        assert img.format == "PNG" and min(img.size) >= 300
    svg = tmp_path / "pr.svg"
    assert main(["evaluate", str(images), str(truth), *BASE_ARGS, "--jobs", "1", "--plot", str(svg), "-q"]) == 0
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()


def test_cli_plot_without_a_hierarchy_fails_and_writes_nothing(dataset, tmp_path, capsys):
    images, truth = dataset
    png = tmp_path / "pr.png"
    assert main(["evaluate", str(images), str(truth), *BASE_ARGS, "--jobs", "1", "--plot", str(png)]) == 1
    assert not png.exists()
    assert "no segmentation carries a UCM" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--plot", "curve.pdf"], "not a supported plot format"),
        (["--plot", "nofolder/curve.png"], "does not exist"),
        (["--thresholds", "0"], "--thresholds must be >= 1"),
    ],
)
def test_cli_bad_arguments_are_one_line(dataset, tmp_path, capsys, monkeypatch, extra, message):
    images, truth = dataset
    monkeypatch.chdir(tmp_path)
    code = main(["evaluate", str(images), str(truth), *BASE_ARGS, "--jobs", "1", *extra])
    err = capsys.readouterr().err.strip()
    assert code in (1, 2) and message in err and len(err.splitlines()) == 1
    assert code == (2 if "supported" in message or "thresholds" in message else 1)


def test_cli_existing_plot_needs_overwrite(dataset, tmp_path, capsys):
    images, truth = dataset
    png = tmp_path / "pr.png"
    png.write_bytes(b"old")
    assert main(["evaluate", str(images), str(truth), *BASE_ARGS, "--jobs", "1", "--plot", str(png)]) == 1
    assert png.read_bytes() == b"old" and "already exists" in capsys.readouterr().err


def test_second_pass_in_worker_processes(dataset, hierarchy):
    images, truth = dataset
    one = evaluate_folder(images, truth, [BASE], jobs=1)
    # The first pass again in this process, the contour pass in two workers.
    real = benchmark._second_pass
    seen = {}

    def two_workers(records, ucm_files, thresholds, n, tolerance, jobs):
        seen["jobs"] = 2
        return real(records, ucm_files, thresholds, n, tolerance, 2)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(benchmark, "_second_pass", two_workers)
        two = evaluate_folder(images, truth, [BASE], jobs=1)
    assert seen == {"jobs": 2}
    assert two.contours[0].as_dict() == one.contours[0].as_dict()
