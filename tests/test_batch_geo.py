"""``segshift batch`` on folders of georeferenced scenes (segshift[geo]): real GeoTIFFs written by rasterio."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

rasterio = pytest.importorskip("rasterio")
pyogrio = pytest.importorskip("pyogrio")
shapely = pytest.importorskip("shapely")

from rasterio.features import rasterize
from rasterio.transform import from_origin

from segshift import geo
from segshift.batch import remove_stale_scratch, run_batch
from segshift.cli import main
from segshift.errors import ParameterError

#: Small settings, as a user would give them: radius in metres (10 m pixels: 3 px), a small minimum size.
SETTINGS = dict(spatial_radius="30m", min_size=8)
KINDS = ("modes", "labels", "polygons")


def scene_bands(height: int, width: int, seed: int, bands: int = 3) -> np.ndarray:
    """(bands, h, w) uint16: blocks of constant cover with noise, bands of unequal range."""
    rng = np.random.default_rng(seed)
    base = np.array([400, 2500, 12000, 900][:bands], dtype=np.float64)
    yy, xx = np.mgrid[0:height, 0:width]
    fields = (yy // 13) * 5 + (xx // 17) + ((yy + 2 * xx) // 41)
    levels = rng.uniform(0.5, 1.6, size=(fields.max() + 1, bands))
    data = levels[fields] * base + rng.normal(0, 1, size=(height, width, bands)) * base * 0.01
    return np.moveaxis(np.clip(np.round(data), 1, 65535).astype(np.uint16), -1, 0)


def write_scene(path: Path, data: np.ndarray, transform, crs: str, valid: np.ndarray | None = None) -> Path:
    data = data.copy()
    if valid is not None:
        data[:, ~valid] = 0
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                       dtype=data.dtype, crs=crs, transform=transform, nodata=0) as ds:
        ds.write(data)
    return path


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """A UTM scene, a scene with a nodata border (another UTM zone, in a sub-folder), a corrupt GeoTIFF, a note."""
    folder = tmp_path_factory.mktemp("scenes")
    (folder / "sub").mkdir()
    yy, xx = np.mgrid[0:50, 0:70]
    border = (xx > 4 + yy // 6) & (yy > 3) & (xx < 66) & (yy + xx < 105)
    write_scene(folder / "utm.tif", scene_bands(40, 60, 1), from_origin(600000, 5000000, 10, 10), "EPSG:32631")
    write_scene(folder / "sub" / "border.tif", scene_bands(50, 70, 2), from_origin(300000, 4500000, 10, 10),
                "EPSG:32633", valid=border)
    # a TIFF header, then nothing GDAL can read
    (folder / "corrupt.tif").write_bytes(b"II*\x00\x08\x00\x00\x00" + bytes(range(256)) * 3)
    (folder / "notes.txt").write_text("not a scene\n")
    return dict(folder=folder, valid={"utm.tif": np.ones((40, 60), bool), "sub/border.tif": border})


@pytest.fixture(scope="module")
def serial(scenes, tmp_path_factory):
    """The folder segmented once in this process."""
    out = tmp_path_factory.mktemp("serial")
    report = run_batch(scenes["folder"], out, **SETTINGS, outputs=KINDS, recursive=True, jobs=1)
    return dict(out=out, report=report)


def read_raster(path: Path):
    with rasterio.open(path) as ds:
        return dict(data=ds.read(), crs=ds.crs, transform=ds.transform, nodata=ds.nodata, dtype=ds.dtypes[0])


def polygons_raster(path: Path, shape, transform) -> np.ndarray:
    """The polygons rasterised back with rasterio, each burnt with its label."""
    meta, _, wkb, fields = pyogrio.raw.read(str(path))
    labels = dict(zip(meta["fields"], fields))["label"]
    shapes = [(shapely.from_wkb(g), int(v)) for g, v in zip(wkb, labels)]
    return rasterize(shapes, out_shape=shape, transform=transform, fill=0, dtype="uint32")


def label_arrays(out: Path) -> dict[str, np.ndarray]:
    return {rel: read_raster(out / rel.replace(".tif", ".labels.tif"))["data"][0]
            for rel in ("utm.tif", "sub/border.tif")}


def test_each_scene_gets_georeferenced_labels_modes_and_polygons(scenes, serial, tmp_path):
    folder, out, report = scenes["folder"], serial["out"], serial["report"]
    assert report.counts == {"ok": 2, "skipped": 0, "failed": 1, "interrupted": 0}
    assert report.ignored == ["notes.txt"]
    for rel in ("utm.tif", "sub/border.tif"):
        src = read_raster(folder / rel)
        base = rel[:-len(".tif")]
        labels = read_raster(out / f"{base}.labels.tif")
        modes = read_raster(out / f"{base}.tif")
        for made in (labels, modes):
            assert made["crs"] == src["crs"]
            assert made["transform"] == src["transform"]
        assert labels["dtype"] == "uint32" and labels["nodata"] == 0
        assert modes["dtype"] == "uint16" and modes["nodata"] == 0 and modes["data"].shape == src["data"].shape
        lab = labels["data"][0]
        valid = scenes["valid"][rel]
        np.testing.assert_array_equal(lab > 0, valid)  # masked pixels are nodata, every valid one labelled
        n = int(lab.max())
        assert np.array_equal(np.unique(lab[valid]), np.arange(1, n + 1))  # labels 1..n, none missing
        record = next(r for r in report.records if r.input == rel)
        assert record.regions == n > 1
        # the polygons, rasterised back, are the label raster pixel for pixel
        np.testing.assert_array_equal(polygons_raster(out / f"{base}.gpkg", lab.shape, src["transform"]), lab)
        # what the single-scene command makes with the same settings
        alone = geo.segment_raster(folder / rel, **SETTINGS, labels=tmp_path / f"{Path(rel).stem}.tif")
        np.testing.assert_array_equal(read_raster(Path(alone.outputs["labels"]))["data"][0], lab)


def test_the_corrupt_scene_fails_alone_with_one_line(serial):
    failed = serial["report"].with_status("failed")
    assert [r.input for r in failed] == ["corrupt.tif"]
    error = failed[0].error
    assert "\n" not in error and "corrupt.tif" in error and "Traceback" not in error
    assert failed[0].outputs == ()
    assert not list(serial["out"].glob("corrupt*"))
    assert not [p for p in serial["out"].rglob(".*") if p.name != ".segshift-batch.lock"]  # no scratch left


def test_the_manifest_lists_every_output(serial):
    rows = {r["input"]: r for r in json.loads((serial["out"] / "manifest.json").read_text())}
    assert set(rows) == {"utm.tif", "sub/border.tif", "corrupt.tif"}
    assert rows["utm.tif"]["outputs"] == ["utm.tif", "utm.labels.tif", "utm.gpkg"]
    assert rows["sub/border.tif"]["outputs"] == ["sub/border.tif", "sub/border.labels.tif", "sub/border.gpkg"]
    for row in rows.values():
        for name in row["outputs"]:
            assert (serial["out"] / name).is_file()
    assert rows["corrupt.tif"]["status"] == "failed" and rows["corrupt.tif"]["outputs"] == []


def test_a_rerun_skips_finished_scenes_and_writes_only_what_is_missing(scenes, serial, tmp_path):
    out = tmp_path / "out"
    first = run_batch(scenes["folder"], out, **SETTINGS, outputs=KINDS, recursive=True, jobs=1)
    assert first.counts["ok"] == 2
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.suffix != ".json" and not p.name.startswith(".")}
    again = run_batch(scenes["folder"], out, **SETTINGS, outputs=KINDS, recursive=True, jobs=1)
    assert again.counts == {"ok": 0, "skipped": 2, "failed": 1, "interrupted": 0}
    assert {r.input: r.regions for r in again.with_status("skipped")} == \
        {r.input: r.regions for r in first.with_status("ok")}
    (out / "sub" / "border.gpkg").unlink()
    killed = out / "sub" / ".border.labels.tif.segshift-geo-k1ll"  # a scene killed while segmenting left it
    killed.mkdir()
    (killed / "labels.npy").write_bytes(b"0" * 64)
    third = run_batch(scenes["folder"], out, **SETTINGS, outputs=KINDS, recursive=True, jobs=1)
    assert [(r.input, r.status) for r in third.records if r.status != "failed"] == \
        [("sub/border.tif", "ok"), ("utm.tif", "skipped")]
    assert not killed.exists()
    for path, stamp in stamps.items():
        if path.name != "border.gpkg":
            assert path.stat().st_mtime_ns == stamp, path  # nothing rewritten but the missing polygons
    lab = label_arrays(out)["sub/border.tif"]
    transform = read_raster(scenes["folder"] / "sub" / "border.tif")["transform"]
    np.testing.assert_array_equal(polygons_raster(out / "sub" / "border.gpkg", lab.shape, transform), lab)


def test_the_command_with_two_jobs_matches_the_serial_run(scenes, serial, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["batch", str(scenes["folder"]), str(out), "-R", "--polygons", "fgb", "--labels", "-s", "30m",
                 "-m", "8", "--jobs", "2"])
    assert code == 1  # one scene failed
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "corrupt.tif" in line]
    assert len(errors) == 1 and "Traceback" not in err
    for rel, lab in label_arrays(serial["out"]).items():
        base = rel[:-len(".tif")]
        made = read_raster(out / f"{base}.labels.tif")
        np.testing.assert_array_equal(made["data"][0], lab)
        np.testing.assert_array_equal(polygons_raster(out / f"{base}.fgb", lab.shape, made["transform"]), lab)
        assert (out / f"{base}.tif").is_file()
    rows = json.loads((out / "manifest.json").read_text())
    assert {r["input"]: r["outputs"] for r in rows}["utm.tif"] == ["utm.tif", "utm.labels.tif", "utm.fgb"]


def test_a_scene_that_kills_its_worker_fails_alone(scenes, serial, tmp_path, monkeypatch):
    monkeypatch.setenv("SEGSHIFT_TEST_CRASH_ON", "utm.tif")  # the worker process given it exits at once
    out = tmp_path / "out"
    report = run_batch(scenes["folder"], out, **SETTINGS, outputs=("labels",), recursive=True, jobs=2)
    assert report.counts == {"ok": 1, "skipped": 0, "failed": 2, "interrupted": 0}
    error = next(r for r in report.records if r.input == "utm.tif").error
    assert "utm.tif: the worker process died" in error and "\n" not in error
    assert not (out / "utm.labels.tif").exists()
    lab = label_arrays(serial["out"])["sub/border.tif"]
    np.testing.assert_array_equal(read_raster(out / "sub" / "border.labels.tif")["data"][0], lab)


def test_the_dask_path_sends_absolute_paths(scenes, serial, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    from segshift._dask_cluster import executor

    elsewhere = tmp_path / "workers-cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the worker process spawned now starts there
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                                  dashboard_address=":0", silence_logs=50) as cluster:
        monkeypatch.chdir(scenes["folder"].parent)  # relative folders here name nothing there
        out = tmp_path / "out"
        with distributed.Client(cluster, set_as_default=False) as client:
            report = run_batch(scenes["folder"].name, os.path.relpath(out), **SETTINGS,
                               outputs=("labels", "polygons"), recursive=True, executor=executor(client))
    assert report.counts == {"ok": 2, "skipped": 0, "failed": 1, "interrupted": 0}
    assert "corrupt.tif" in report.with_status("failed")[0].error
    for rel, lab in label_arrays(serial["out"]).items():
        np.testing.assert_array_equal(read_raster(out / rel.replace(".tif", ".labels.tif"))["data"][0], lab)
        assert (out / rel.replace(".tif", ".gpkg")).is_file()


def test_photo_and_scene_settings_do_not_mix(scenes, tmp_path):
    folder, out = scenes["folder"], tmp_path / "out"
    cases = [
        (dict(outputs=("labels", "polygons"), n_regions=5), "n_regions=5 is not available for georeferenced"),
        (dict(outputs=("labels", "boundaries"), geo=True), "outputs of a scene"),
        (dict(outputs=("polygons",), geo=False), "for georeferenced scenes, and geo=False"),
        (dict(outputs=("polygons",), spatial_radius="3furlong"), "unknown unit 'furlong'"),
        (dict(outputs=("polygons",), min_size="3m"), "unknown unit 'm'"),
        (dict(outputs=("polygons",), vector_format=".shp"), "vector_format must be one of"),
        (dict(outputs=("labels",), geo=True, labels_format=".npy"), "labels_format must be one of tif"),
        (dict(outputs=("labels",), band_scale="max"), "band_scale must be"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ParameterError, match=message):
            run_batch(folder, out, **kwargs)
    assert not out.exists()  # refused before anything was made


def test_scratch_of_a_killed_scene_is_removed_for_the_outputs_to_write(tmp_path):
    mine = tmp_path / ".a.labels.tif.segshift-geo-x1y2"
    other = tmp_path / ".b.labels.tif.segshift-out-x1y2"
    for folder in (mine, other):
        folder.mkdir()
        (folder / "labels.npy").write_bytes(b"0" * 10)
    assert remove_stale_scratch([tmp_path / "a.tif", tmp_path / "a.labels.tif"]) == 1
    assert not mine.exists() and other.is_dir()
