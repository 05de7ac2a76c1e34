"""Ctrl-C at random moments of many ``segshift`` runs: exit status, latency, leftovers.

For each kind of run (one photo exact at full resolution, the same photo
tiled, a batch in worker processes, a batch in this process; with
``--only geo``, a georeferenced scene in blocks with its polygons) the script
first times one run to the end (with the kernels in the on-disk cache),
then starts RUNS more and sends each one
SIGINT at a moment drawn uniformly (seeded) from the start of the process
to the end of the timed run. It records the exit status, the seconds from
the signal to the exit, files left in the output folder that are temporary
or do not decode, and tracebacks or "Exception ignored" on stderr.

A signal that arrives while Python starts (before its own SIGINT handler is
installed) or is still importing segshift (before the command's code runs)
ends the process the way Python ends any program there: killed by SIGINT
(status -2, 130 in a shell), after a traceback when it was importing.
Those runs are counted apart ("during_startup").

Usage::

    python scripts/stress_sigint.py [--runs 12] [--seed 0] [--out docs/benchmarks/stress_sigint.json]
    python scripts/stress_sigint.py --only geo --out docs/benchmarks/stress_sigint_geo.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = sorted((ROOT / "images").glob("*.jpg"))
# The command line as a terminal runs it: SIGINT raises KeyboardInterrupt
# even when this script was started with SIGINT ignored (a background job).
START = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
         "sys.argv[0] = 'segshift'; runpy.run_module('segshift.cli', run_name='__main__')")


def mosaic(path: Path, width: int, height: int, seed: int = 0) -> Path:
    """A width x height photo made of the bundled photos (2 x 2, resized, with noise)."""
    rng = np.random.default_rng(seed)
    out = Image.new("RGB", (width, height))
    cw, ch = width // 2, height // 2
    for k, photo in enumerate(PHOTOS[:4]):
        with Image.open(photo) as im:
            out.paste(im.convert("RGB").resize((cw, ch), Image.BICUBIC), ((k % 2) * cw, (k // 2) * ch))
    pixels = np.asarray(out).astype(float) + rng.normal(0.0, 3.0, (height, width, 3))
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
    return path


def crops(folder: Path, n: int, rng: np.random.Generator, width: int = 280, height: int = 200) -> None:
    folder.mkdir(parents=True)
    for i in range(n):
        with Image.open(PHOTOS[i % len(PHOTOS)]) as im:
            x = int(rng.integers(0, im.width - width))
            y = int(rng.integers(0, im.height - height))
            im.convert("RGB").crop((x, y, x + width, y + height)).save(folder / f"img{i:02d}.png")


def scene(path: Path, size: int) -> Path:
    """A 4-band uint16 georeferenced scene (scripts/bench_geo.py's) of size x size pixels."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_geo import write_scene

    write_scene(path, size, size)
    return path


#: The kinds run by default; "geo" (segshift[geo]) runs when asked for with --only.
PHOTO_KINDS = ("single_full_resolution", "tiled", "batch_2_jobs", "batch_in_process")


def kinds(work: Path, only: list[str] | None = None) -> dict[str, tuple[list[str], Path]]:
    """name -> (arguments, output folder) of the kinds asked for (default: the photo kinds); only their
    inputs are made."""
    out = work / "out"
    wanted = only or list(PHOTO_KINDS)
    found = {}
    if any(name in PHOTO_KINDS for name in wanted):
        photo = mosaic(work / "photo.png", 1600, 1200)
        # the block-wise filter (margins climbed again) is slower: a smaller photo
        small = mosaic(work / "small.png", 960, 720)
        crops(work / "photos", 16, np.random.default_rng(1))
        found = {
            "single_full_resolution": (["segment", str(photo), "-o", str(out / "x.png"), "--labels",
                                        str(out / "x.labels.png"), "--stats", str(out / "x.json"),
                                        "--resolution", "full"], out),
            "tiled": (["segment", str(small), "-o", str(out / "x.tif"), "--labels", str(out / "x.labels.tif"),
                       "--tile-size", "64", "--scale", "fixed", "--resolution", "full"], out),
            "batch_2_jobs": (["batch", str(work / "photos"), str(out), "--jobs", "2", "--stats"], out),
            "batch_in_process": (["batch", str(work / "photos"), str(out), "--jobs", "1", "--stats"], out),
        }
    if "geo" in wanted:
        found["geo"] = geo_kind(work, out)
    return {name: found[name] for name in found if name in wanted}


def geo_kind(work: Path, out: Path) -> tuple[list[str], Path]:
    """A georeferenced scene in blocks, its GeoTIFFs and polygons (segshift[geo])."""
    path = scene(work / "scene.tif", 1500)
    return (["segment", str(path), "-o", str(out / "x.tif"), "--labels", str(out / "x.labels.tif"),
             "--polygons", str(out / "x.gpkg"), "--memory-limit", "64MB"], out)


def damaged(folder: Path) -> list[str]:
    """Files in folder that are temporary, scratch, or do not decode."""
    bad = []
    if not folder.exists():
        return bad
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if name == ".segshift-batch.lock":  # a batch's output folder keeps its lock file
            continue
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            bad.append(name)  # a temporary file (.NAME.XXXX.tmp) or scratch folder (.segshift-*)
            continue
        if not path.is_file():
            continue
        try:
            if path.suffix == ".png":
                with Image.open(path) as im:
                    im.load()
            elif path.suffix in (".tif", ".tiff"):
                import tifffile

                tifffile.imread(path)
            elif path.suffix == ".json":
                json.loads(path.read_text())
            elif path.suffix == ".gpkg":
                import pyogrio

                pyogrio.read_info(path)
        except Exception:  # noqa: BLE001 (whatever fails to decode is damaged)
            bad.append(name)
    return bad


def _at_import(stderr: str) -> bool:
    """Whether stderr holds a traceback from before the command's code ran
    (no frame of segshift.cli.main: Python was importing segshift)."""
    if "Traceback" not in stderr:
        return False
    frames = re.findall(r'File "([^"]*)", line \d+, in (\S+)', stderr)
    return not any(path.endswith(os.path.join("cli", "__init__.py")) and name == "main" for path, name in frames)


def run_once(args: list[str], out: Path, moment: float | None) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-c", START, *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env=env, start_new_session=True)
    record: dict = {"moment": moment}
    if moment is not None:
        try:
            process.wait(timeout=moment)
        except subprocess.TimeoutExpired:
            sent = time.monotonic()
            process.send_signal(signal.SIGINT)
            process.wait()
            record["latency"] = time.monotonic() - sent
    stderr = process.communicate()[1].decode(errors="replace")
    record.update(
        seconds=time.monotonic() - started,
        code=process.returncode,
        traceback="Traceback" in stderr,
        exception_ignored="Exception ignored" in stderr,
        during_startup=_at_import(stderr) or (process.returncode == -signal.SIGINT and not stderr),
        damaged=damaged(out),
        outputs=sorted(p.name for p in out.rglob("*") if p.is_file()),
    )
    if record["traceback"] or record["exception_ignored"]:
        record["stderr_tail"] = stderr[-600:]
    return record


def summarise(records: list[dict]) -> dict:
    signalled = [r for r in records if "latency" in r]
    after_startup = [r for r in signalled if not r["during_startup"]]
    latencies = [r["latency"] for r in after_startup]
    return {
        "runs": len(records),
        "signalled": len(signalled),
        "finished_before_the_signal": len(records) - len(signalled),
        "during_startup": sum(r["during_startup"] for r in signalled),
        "exit_codes": dict(Counter(str(r["code"]) for r in signalled)),
        "exit_codes_after_startup": dict(Counter(str(r["code"]) for r in after_startup)),
        "latency_s": {
            "median": round(statistics.median(latencies), 3) if latencies else None,
            "max": round(max(latencies), 3) if latencies else None,
            "all": [round(x, 3) for x in sorted(latencies)],
        },
        "partial_files_found": sum(len(r["damaged"]) for r in signalled),
        "runs_with_partial_files": [r["damaged"] for r in signalled if r["damaged"]],
        "tracebacks_found": sum(r["traceback"] for r in signalled),
        "tracebacks_after_startup": sum(r["traceback"] for r in after_startup),
        "exception_ignored_found": sum(r["exception_ignored"] for r in signalled),
        "exit_0_after_signal": sum(r["code"] == 0 for r in signalled),
        "runs_detail": records,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12, help="signalled runs per kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", help="kinds to run (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "stress_sigint.json")
    options = parser.parse_args()
    rng = np.random.default_rng(options.seed)
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="stress-sigint-") as tmp:
        work = Path(tmp)
        for name, (args, out) in kinds(work, options.only).items():
            if options.only and name not in options.only:
                continue
            full = run_once(args, out, None)  # (run the tests first: the kernels are then in the cache)
            assert full["code"] == 0, full
            print(f"{name}: {full['seconds']:.1f} s uninterrupted", flush=True)
            records = [run_once(args, out, float(rng.uniform(0.0, full["seconds"]))) for _ in range(options.runs)]
            summary = summarise(records)
            summary["uninterrupted_seconds"] = round(full["seconds"], 2)
            summary["command"] = "segshift " + " ".join(a if a.startswith("-") or a in ("segment", "batch")
                                                          else Path(a).name for a in args)
            results[name] = summary
            print(f"{name}: codes {summary['exit_codes']}, latency median {summary['latency_s']['median']} s, "
                  f"max {summary['latency_s']['max']} s, partial files {summary['partial_files_found']}, "
                  f"tracebacks {summary['tracebacks_found']} ({summary['during_startup']} during start-up)",
                  flush=True)
    try:
        import numba

        threads = numba.config.NUMBA_NUM_THREADS
    except ImportError:
        threads = None
    document = {
        "command": "python scripts/stress_sigint.py " + " ".join(sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "node": platform.node(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "numba_threads": threads,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
        },
        "seed": options.seed,
        "moments": "uniform from the process start to the end of one uninterrupted run of the same command",
        "latency": "seconds from SIGINT to the process's exit (runs signalled after Python's start-up)",
        "kinds": results,
    }
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
