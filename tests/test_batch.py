"""``segshift batch`` and :func:`segshift.batch.run_batch` on real files.

Inputs are small crops of the bundled photos (60x80) written to a temporary
folder, with corrupt and non-image files among them. Most runs use one job
(in this process, fast); a few use two worker processes, and one interrupts
a real ``segshift batch`` process with SIGINT.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import IMAGES, cli_taking_ctrl_c, make_photos
from PIL import Image

from segshift import segment
from segshift.batch import LOCK_NAME, BatchEvent, find_images, plan_outputs, run_batch
from segshift.cli import main

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def photo_dir(tmp_path: Path) -> tuple[Path, list[str]]:
    """20 photos, 2 corrupt image files and a text file."""
    folder = tmp_path / "in"
    folder.mkdir()
    good = make_photos(folder, 20, np.random.default_rng(1))
    (folder / "broken.jpg").write_bytes((folder / "img01.jpg").read_bytes()[:300])  # truncated JPEG
    (folder / "sub" / "garbage.png").write_bytes(b"\x89PNG but not really" * 10)
    (folder / "notes.txt").write_text("not an image")
    return folder, good


def read_manifest(path: Path) -> dict[str, dict]:
    return {r["input"]: r for r in json.loads(path.read_text())}


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def mtimes(folder: Path) -> dict[str, int]:
    """Modification times of the outputs (not the manifest, nor the lock file each run writes its pid in)."""
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()
            and p.name not in ("manifest.json", LOCK_NAME)}


# --------------------------------------------------------------------------- #
# The main scenario: 20 good images, 2 corrupt, 1 non-image; then resume
# --------------------------------------------------------------------------- #


def test_batch_finishes_good_files_reports_bad_ones_and_resumes(capsys, photo_dir, tmp_path):
    folder, good = photo_dir
    out = tmp_path / "out"
    code = main(["batch", str(folder), str(out), "--recursive", "--jobs", "2", "--stats", "--labels"])
    stdout, stderr = capsys.readouterr()
    assert code == 1 and stdout == ""

    manifest = read_manifest(out / "manifest.json")
    assert sorted(manifest) == sorted(good + ["broken.jpg", "sub/garbage.png"])
    for rel in good:
        record = manifest[rel]
        assert record["status"] == "ok" and record["error"] is None and record["seconds"] > 0
        stem = rel.rsplit(".", 1)[0]
        assert record["outputs"] == [f"{stem}.png", f"{stem}.labels.png", f"{stem}.stats.json"]
        assert all((out / o).is_file() for o in record["outputs"])
        assert json.loads((out / f"{stem}.stats.json").read_text())["n_regions"] == record["regions"]
    for rel, problem in [("broken.jpg", "cannot decode image"), ("sub/garbage.png", "not a recognised image")]:
        record = manifest[rel]
        assert record["status"] == "failed" and record["outputs"] == [] and record["regions"] is None
        assert record["error"].startswith(f"{folder / rel}: {problem}")
        assert f"segshift: error: {folder / rel}: {problem}" in stderr
    assert "Traceback" not in stderr
    assert "20 segmented, 0 skipped (done before), 2 failed" in stderr
    assert "ignored 1 file(s)" in stderr  # notes.txt
    assert not temp_files(out)
    # the results are those of segment()
    seg = segment(folder / good[5])
    assert np.array_equal(np.asarray(Image.open(out / (good[5].rsplit(".", 1)[0] + ".png"))), seg.mode_image())

    # A second run skips the finished work (and retries the bad files).
    before = mtimes(out)
    code = main(["batch", str(folder), str(out), "-R", "-j", "1", "--stats", "--labels"])
    _, stderr = capsys.readouterr()
    assert code == 1
    assert "0 segmented, 20 skipped (done before), 2 failed" in stderr
    assert mtimes(out) == before
    again = read_manifest(out / "manifest.json")
    assert [again[r]["status"] for r in good] == ["skipped"] * 20
    assert [again[r]["regions"] for r in good] == [manifest[r]["regions"] for r in good]  # kept from run 1


def test_missing_outputs_are_added_existing_ones_kept(capsys, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    make_photos(folder, 3, np.random.default_rng(2))
    out = tmp_path / "out"
    assert main(["batch", str(folder), str(out), "-q", "-j", "1"]) == 0
    before = mtimes(out)
    assert main(["batch", str(folder), str(out), "-q", "-j", "1", "--boundaries"]) == 0
    after = mtimes(out)
    assert {k: after[k] for k in before} == before
    assert sorted(set(after) - set(before)) == ["img00.boundaries.png", "img01.boundaries.png", "img02.boundaries.png"]
    # --overwrite redoes everything
    assert main(["batch", str(folder), str(out), "-q", "-j", "1", "--overwrite"]) == 0
    redone = mtimes(out)
    assert all(redone[k] != before[k] for k in before)
    capsys.readouterr()


# --------------------------------------------------------------------------- #
# Naming
# --------------------------------------------------------------------------- #


def test_name_collision_keeps_both(capsys, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(folder / "a.jpg")
    Image.fromarray(np.full((30, 40, 3), 200, dtype=np.uint8)).save(folder / "a.png")
    Image.fromarray(np.full((30, 40, 3), 50, dtype=np.uint8)).save(folder / "b.jpg")
    out = tmp_path / "out"
    assert main(["batch", str(folder), str(out), "-q", "-j", "1", "--stats"]) == 0
    manifest = read_manifest(out / "manifest.json")
    assert manifest["a.jpg"]["outputs"] == ["a.jpg.png", "a.jpg.stats.json"]
    assert manifest["a.png"]["outputs"] == ["a.png.png", "a.png.stats.json"]
    assert manifest["b.jpg"]["outputs"] == ["b.png", "b.stats.json"]
    assert np.array_equal(np.asarray(Image.open(out / "a.png.png")), segment(folder / "a.png").mode_image())
    assert np.array_equal(np.asarray(Image.open(out / "a.jpg.png")), segment(folder / "a.jpg").mode_image())
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["a.jpg.png", "a.jpg.stats.json", "a.png.png", "a.png.stats.json", "b.png", "b.stats.json", "manifest.json",
         LOCK_NAME]
    )
    capsys.readouterr()


def test_plan_outputs_edge_cases():
    names, errors = plan_outputs(["A.jpg", "a.png", "sub/a.jpg"], ["modes"])  # case-insensitive
    assert names == {
        "A.jpg": {"modes": "A.jpg.png"},
        "a.png": {"modes": "a.png.png"},
        "sub/a.jpg": {"modes": "sub/a.png"},
    }
    assert errors == {}
    names, _ = plan_outputs(["a.jpg", "a.labels.jpg"], ["modes", "labels"], labels_format=".png")  # across kinds
    assert names["a.jpg"] == {"modes": "a.jpg.png", "labels": "a.jpg.labels.png"}
    assert names["a.labels.jpg"] == {"modes": "a.labels.jpg.png", "labels": "a.labels.jpg.labels.png"}
    names, errors = plan_outputs(["a.jpg", "a.jpg.png", "a.png"], ["modes"])  # unresolvable: reported
    assert set(errors) == {"a.jpg", "a.jpg.png"} and "rename one of them" in errors["a.jpg"]
    assert names == {"a.png": {"modes": "a.png.png"}}
    names, _ = plan_outputs(["x.jpg"], ["modes", "boundaries", "labels", "stats"], image_format=".webp",
                            labels_format=".npy")
    assert names["x.jpg"] == {"modes": "x.webp", "boundaries": "x.boundaries.webp", "labels": "x.labels.npy",
                              "stats": "x.stats.json"}


# --------------------------------------------------------------------------- #
# Scanning
# --------------------------------------------------------------------------- #


def test_output_folder_inside_input_is_not_scanned(capsys, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    make_photos(folder, 4, np.random.default_rng(4))
    out = folder / "results"
    for _ in range(2):
        assert main(["batch", str(folder), str(out), "-q", "-R", "-j", "1"]) == 0
        manifest = read_manifest(out / "manifest.json")
        assert sorted(manifest) == ["img00.png", "img01.jpg", "img02.jpg", "sub/img03.png"]
    capsys.readouterr()


def test_symlink_loops_are_followed_once(tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(folder / "sub" / "x.png")
    os.symlink(folder, folder / "sub" / "loop")  # in/sub/loop -> in
    os.symlink(folder / "sub", folder / "again")  # a second way into sub/
    images, ignored, unreadable = find_images(folder, recursive=True)
    assert len(images) == 1 and images[0].endswith("x.png")
    assert ignored == [] and unreadable == []
    assert find_images(folder) == ([], [], [])  # not recursive: nothing at the top


def test_glob_patterns_and_hidden_files(capsys, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    make_photos(folder, 4, np.random.default_rng(5))
    (folder / "notes.txt").write_text("hello")
    (folder / ".hidden.jpg").write_bytes(b"")
    (folder / "UPPER.JPG").write_bytes((folder / "img01.jpg").read_bytes())
    assert find_images(folder, recursive=True)[0] == ["UPPER.JPG", "img00.png", "img01.jpg", "img02.jpg",
                                                      "sub/img03.png"]
    assert find_images(folder, recursive=True, patterns=["*.png"])[0] == ["img00.png", "sub/img03.png"]
    assert find_images(folder, recursive=True, patterns=["sub/*"])[0] == ["sub/img03.png"]
    assert find_images(folder, patterns=["*.jpg", "*.PNG"])[0] == ["UPPER.JPG", "img00.png", "img01.jpg",
                                                                   "img02.jpg"]
    # --glob '*' takes the text file too, which then fails as not an image
    out = tmp_path / "out"
    code = main(["batch", str(folder), str(out), "-j", "1", "--glob", "*"])
    _, err = capsys.readouterr()
    assert code == 1
    assert f"segshift: error: {folder / 'notes.txt'}: not a recognised image file" in err
    assert read_manifest(out / "manifest.json")["notes.txt"]["status"] == "failed"


# --------------------------------------------------------------------------- #
# Arguments and manifests
# --------------------------------------------------------------------------- #


def test_bad_batch_arguments(capsys, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    assert main(["batch", str(folder), str(folder)]) == 2
    assert "must differ from the input folder" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "nope"), str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == f"segshift: error: {tmp_path / 'nope'}: no such folder\n"
    assert main(["batch", str(folder), str(tmp_path / "out"), "--jobs", "0"]) == 2
    assert "--jobs must be > 0" in capsys.readouterr().err
    assert main(["batch", str(folder), str(tmp_path / "out"), "--manifest", str(tmp_path / "m.txt")]) == 2
    assert "use one of .json, .csv" in capsys.readouterr().err
    assert main(["batch", str(folder), str(tmp_path / "out"), "--no-modes"]) == 2
    assert "nothing to write" in capsys.readouterr().err
    assert main(["batch", str(folder), str(tmp_path / "out"), "--manifest", str(tmp_path / "no" / "m.json")]) == 1
    assert f"folder {tmp_path / 'no'} does not exist" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["batch", str(folder), str(tmp_path / "file")]) == 1
    assert "exists and is not a folder" in capsys.readouterr().err


def test_csv_manifest_and_stdout_manifest(capsys, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    make_photos(folder, 2, np.random.default_rng(6))
    out = tmp_path / "out"
    assert main(["batch", str(folder), str(out), "-q", "-j", "1", "--manifest", str(tmp_path / "runs.csv"),
                 "--format", "jpg", "--no-modes", "--boundaries"]) == 0
    lines = (tmp_path / "runs.csv").read_text().splitlines()
    assert lines[0] == "input,outputs,regions,seconds,status,error"
    assert lines[1].startswith("img00.png,img00.boundaries.jpg,") and lines[1].endswith(",ok,")
    assert not (out / "manifest.json").exists()
    assert main(["batch", str(folder), str(out), "-q", "-j", "1", "--manifest", "-", "--no-modes",
                 "--boundaries", "--format", "jpg"]) == 0
    out_text = capsys.readouterr().out
    assert [r["status"] for r in json.loads(out_text)] == ["skipped", "skipped"]


# --------------------------------------------------------------------------- #
# Interruption
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("jobs", [1, 2])
def test_interrupt_keeps_finished_files_and_resumes(tmp_path, jobs):
    """A KeyboardInterrupt in the parent (here from the progress callback) stops cleanly."""
    folder = tmp_path / "in"
    folder.mkdir()
    make_photos(folder, 8, np.random.default_rng(7))
    out = tmp_path / "out"
    events: list[BatchEvent] = []

    def progress(event: BatchEvent) -> None:
        events.append(event)
        if event.kind == "file" and event.done == 3:
            raise KeyboardInterrupt

    report = run_batch(folder, out, recursive=True, jobs=jobs, outputs=("modes", "stats"), progress=progress)
    assert report.interrupted and not report.ok
    counts = report.counts
    assert counts["ok"] >= 3 and counts["ok"] + counts["interrupted"] == 8 and counts["interrupted"] >= 1
    assert events[0].kind == "start" and events[0].total == 8
    assert any(e.kind == "stopping" for e in events)
    assert not temp_files(out)
    manifest = read_manifest(out / "manifest.json")
    finished = [r for r, m in manifest.items() if m["status"] == "ok"]
    assert len(finished) == counts["ok"]
    for rel in finished:
        assert all((out / o).is_file() for o in manifest[rel]["outputs"])
    for rel, record in manifest.items():
        if record["status"] == "interrupted":
            assert record["outputs"] == [] and not (out / (rel.rsplit(".", 1)[0] + ".png")).exists()

    again = run_batch(folder, out, recursive=True, jobs=1, outputs=("modes", "stats"))
    assert again.counts == {"ok": counts["interrupted"], "skipped": counts["ok"], "failed": 0, "interrupted": 0}


def test_sigint_stops_a_real_batch_cleanly_and_it_resumes(capsys, tmp_path):
    # enough files that the signal, sent when the first one is done, comes
    # before the last one even on a loaded machine
    N = 64
    folder = tmp_path / "in"
    folder.mkdir()
    make_photos(folder, N, np.random.default_rng(8), size=(240, 180))
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        cli_taking_ctrl_c("batch", str(folder), str(out), "-R", "-j", "2", "--stats"),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not list(out.rglob("*.stats.json")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    assert not temp_files(out)
    manifest = read_manifest(out / "manifest.json")
    statuses = [m["status"] for m in manifest.values()]
    done = statuses.count("ok")
    assert len(manifest) == N and done >= 1 and statuses.count("interrupted") == N - done
    for record in manifest.values():
        for name in record["outputs"]:
            path = out / name
            if name.endswith(".png"):
                with Image.open(path) as im:
                    im.load()  # complete, decodable
            else:
                json.loads(path.read_text())

    # Resume: only the interrupted files are done, the finished ones skipped.
    assert main(["batch", str(folder), str(out), "-R", "-j", "1", "--stats"]) == 0
    err = capsys.readouterr().err
    assert f"{N - done} segmented, {done} skipped (done before), 0 failed" in err
    assert [m["status"] for m in read_manifest(out / "manifest.json").values()].count("skipped") == done


def test_any_executor_runs_the_files_with_the_same_results(tmp_path):
    """The runner takes any concurrent.futures.Executor: a thread pool gives the serial run's files."""
    from concurrent.futures import ThreadPoolExecutor

    folder = tmp_path / "in"
    folder.mkdir()
    names = make_photos(folder, 6, np.random.default_rng(9))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    serial = run_batch(folder, tmp_path / "serial", recursive=True, jobs=1, outputs=("labels",))
    events: list[BatchEvent] = []
    with ThreadPoolExecutor(2) as pool:
        report = run_batch(folder, tmp_path / "pool", recursive=True, outputs=("labels",), executor=pool,
                           progress=events.append)
    assert report.counts == serial.counts == {"ok": 6, "skipped": 0, "failed": 1, "interrupted": 0}
    assert report.jobs == 2 and [e.done for e in events if e.kind == "file"] == list(range(1, 8))
    for rel in names:
        name = rel.rsplit(".", 1)[0] + ".labels.png"
        assert (tmp_path / "pool" / name).read_bytes() == (tmp_path / "serial" / name).read_bytes()
    assert [r.as_dict() for r in report.records if r.status == "failed"][0]["error"].startswith(
        str(folder / "broken.jpg"))


def test_relative_paths_reach_workers_in_another_working_directory(tmp_path, monkeypatch):
    """Worker processes started in another working directory (as remote workers are): relative input and
    output folders still name the files the batch means; the outputs land in ./out; a rerun skips."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(tmp_path)
    Path("in").mkdir()
    names = make_photos(Path("in"), 4, np.random.default_rng(4))
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"), initializer=os.chdir,
                             initargs=(str(elsewhere),)) as pool:
        assert set(pool.map(lambda_free_getcwd, range(4))) == {str(elsewhere)}
        report = run_batch("in", "out", recursive=True, outputs=("labels",), executor=pool, numba_threads=1)
        assert report.counts == {"ok": 4, "skipped": 0, "failed": 0, "interrupted": 0}
        for rel in names:
            assert (tmp_path / "out" / (rel.rsplit(".", 1)[0] + ".labels.png")).is_file()
        assert list(elsewhere.iterdir()) == []
        again = run_batch("in", "out", recursive=True, outputs=("labels",), executor=pool)
    assert again.counts == {"ok": 0, "skipped": 4, "failed": 0, "interrupted": 0}
    assert all(r["status"] == "skipped" for r in read_manifest(tmp_path / "out" / "manifest.json").values())


def lambda_free_getcwd(_: int) -> str:
    """A worker's working directory (a module function: it goes to spawned workers by name)."""
    return os.getcwd()


class _LosingExecutor(ThreadPoolExecutor):
    """Runs the files, then loses one output of ``lost`` after its worker reported it written:
    what this process sees when a worker elsewhere wrote into a folder that is not this one."""

    def __init__(self, lost: str) -> None:
        super().__init__(2)
        self.lost = lost

    def submit(self, fn, /, *args, **kwargs):
        def work():
            result = fn(*args, **kwargs)
            task = args[0]
            if Path(task.source).name == self.lost and result["status"] == "ok":
                Path(task.outputs[0][1]).unlink()
            return result

        return super().submit(work)


def test_an_output_reported_written_but_not_here_is_a_failure_and_is_redone(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    make_photos(folder, 3, np.random.default_rng(6))
    out = tmp_path / "out"
    with _LosingExecutor("img01.jpg") as pool:
        report = run_batch(folder, out, outputs=("labels", "stats"), executor=pool)
    assert report.counts == {"ok": 2, "skipped": 0, "failed": 1, "interrupted": 0}
    row = {r.input: r for r in report.records}["img01.jpg"]
    assert row.status == "failed" and row.outputs == ("img01.stats.json",)
    assert re.fullmatch(
        re.escape(f"{out / 'img01.labels.png'}: the worker reported it written (") + r"\d+"
        + re.escape(" bytes) but it is not there for this process: the workers must see OUT_DIR on a file "
                    "system shared with this machine, under the same path"),
        row.error,
    ), row.error
    # Not "ok": the next run writes the missing output (and only that).
    again = run_batch(folder, out, outputs=("labels", "stats"), jobs=1)
    assert again.counts == {"ok": 1, "skipped": 2, "failed": 0, "interrupted": 0}
    assert (out / "img01.labels.png").is_file()


def test_verify_outputs_compares_each_size_with_what_the_worker_wrote(tmp_path):
    from segshift.batch import FileTask, segment_file, verify_outputs

    out = tmp_path / "out"
    out.mkdir()
    task = FileTask(0, str(IMAGES / "chelsea.jpg"), (("labels", str(out / "a.labels.png")),
                                                     ("stats", str(out / "a.stats.json"))),
                    {"spatial_radius": 5.0}, None, None, str(out))
    result = segment_file(task)
    assert result["status"] == "ok" and verify_outputs(task, result) is None
    written = dict(result["written"])
    assert written == {path: Path(path).stat().st_size for _, path in task.outputs}
    Path(task.outputs[1][1]).write_text("{}")  # another writer replaced it meanwhile
    assert verify_outputs(task, result) == (
        f"{out / 'a.stats.json'}: the worker wrote {written[str(out / 'a.stats.json')]} bytes but 2 are there "
        "(was it written by another run at the same time?)")


def test_a_file_done_but_not_yet_collected_at_ctrl_c_is_kept_not_waited_for():
    """When Ctrl-C arrives, a future that finished but was not yet collected
    (a Dask task's result in flight) cannot be cancelled: its result is kept
    and it is not counted among the running files."""
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import dataclass

    from segshift._runner import Runner

    @dataclass
    class Task:
        index: int
        source: str
        outputs: tuple = ()

    second_may_run, second_done = threading.Event(), threading.Event()

    def work(task):
        if task.index == 1:
            second_may_run.wait(10)
            second_done.set()
        return {"status": "ok", "n": task.index}

    events = []

    def notify(kind, task, running):
        events.append((kind, None if task is None else task.index, running))
        if kind == "file" and task.index == 0:
            second_may_run.set()
            second_done.wait(10)
            time.sleep(0.1)  # its future is done now, but not collected
            raise KeyboardInterrupt

    tasks = [Task(i, f"f{i}") for i in range(5)]
    with ThreadPoolExecutor(2) as pool:
        runner = Runner(tasks, work, notify)
        runner.run_executor(pool, lambda: 2)
    assert runner.interrupted
    assert sorted(runner.results) == [0, 1] and runner.results[1] == {"status": "ok", "n": 1}
    # the second file's result is kept before the stop is announced, with nothing left running
    assert events[-2:] == [("file", 1, 0), ("stopping", None, 0)], events


def test_a_ctrl_c_dropped_in_a_finaliser_is_counted_and_not_printed(monkeypatch):
    # SIGINT raising inside a __del__ (a Dask future released in this thread)
    # is dropped by Python, which hands it to sys.unraisablehook (by default:
    # "Exception ignored in ..." and a traceback on stderr); count_sigint
    # counts it and keeps it from the hook, and passes any other on
    from segshift._signals import count_sigint

    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: seen.append(info.exc_type))

    class Released:
        def __del__(self):
            signal.raise_signal(signal.SIGINT)  # the handler runs here and raises

    class Broken:
        def __del__(self):
            raise ValueError("boom")

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, also in a background job
    try:
        with count_sigint() as counter:
            Released()
            Broken()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert counter.count == 1
    assert seen == [ValueError]
