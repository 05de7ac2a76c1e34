"""The first run after an install, and the runs after it: what they compile and what they cost.

From a fresh numba cache (``NUMBA_CACHE_DIR`` in a temporary folder, as after
an install), runs the command line in child processes, one after the other:

1. ``segment`` with the defaults: the first run, which says it compiles and
   then compiles every kernel the command line can use
   (:func:`segshift._first_run.warm_up_all`);
2. later runs with other settings: ``--scale fixed --kernel gaussian
   --compat none``, ``--speedup fast --resolution full``, a tiled run
   (``--tile-size 64`` on a TIFF), ``evaluate`` on a folder of two photos,
   ``batch`` and the defaults again. None should compile or say so.

The baseline (``--baseline``, on by default) is the behaviour before: the
same first three runs in another fresh cache with the warm-up ahead turned
off, each compiling only what it uses, so that each new setting compiles
again and shows the notice again.

For each run: wall seconds, the child's CPU seconds (user + system), the
seconds until its own output was written (the rest of a first run is the
warm-up), whether the notice was shown and how many numba compilations ran
(numba's compile events, counted in the child). Also the warm-up's own
running time with every kernel in the cache (a fresh process: loading them
all, then the tiny inputs): the part of the first run's warm-up that is not
compilation.

Usage::

    python scripts/bench_compile.py [--out docs/benchmarks/compile.json] [--no-baseline]

Photos are crops of the bundled ``images/`` (never BSDS500).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The command line in a child process, recording numba's compile events
# (loading from the disk cache sends none); "--no-warm-up" first turns the
# warm-up ahead off (the behaviour before it).
CHILD = """
import json, sys, time
from numba.core import event

compiled = []

class Record(event.Listener):
    def on_start(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__qualname__)

    def on_end(self, ev):
        pass

event.register("numba:compile", Record())
argv = sys.argv[2:]
if argv[0] == "--no-warm-up":
    import segshift._first_run as c
    c.warm_up_all = lambda: False
    argv = argv[1:]
from segshift.cli import main

status = main(argv)
with open(sys.argv[1], "w") as f:
    json.dump(compiled, f)
sys.exit(status)
"""

def _env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SEGSHIFT_NUMBA_CACHE"}
    env.update(NUMBA_CACHE_DIR=str(cache), PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def _run(name: str, argv: list[str], *, work: Path, cache: Path, output: str | None, warm_up: bool = True) -> dict:
    from segshift.cli import COMPILING

    events = work / f"{name}.events.json"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(events), *([] if warm_up else ["--no-warm-up"]), *argv],
                          check=False, cwd=work, env=_env(cache), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{name}: exit {proc.returncode}\n{proc.stderr}")
    compiled = json.loads(events.read_text())
    record = {
        "name": name,
        "argv": argv,
        "wall_s": round(wall, 2),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2),
        "output_written_after_s": None,
        "notice": COMPILING in proc.stderr,
        "compilations": len(compiled),
    }
    if output is not None:
        record["output_written_after_s"] = round((work / output).stat().st_mtime - started, 2)
    print(json.dumps(record), flush=True)
    return record


def _inputs(work: Path) -> None:
    """A TIFF for the tiled run, and a folder of two photos with ground truth."""
    import tifffile
    from PIL import Image

    photos = sorted((ROOT / "images").glob("*.jpg"))
    with Image.open(photos[0]) as im:
        tifffile.imwrite(work / "crop.tif", np.asarray(im.convert("RGB"))[:200, :300], tile=(64, 64))
    (work / "photos").mkdir()
    (work / "truth").mkdir()
    for k, path in enumerate(photos[:2]):
        with Image.open(path) as im:
            crop = im.convert("RGB").crop((0, 0, 160, 120))
        crop.save(work / "photos" / f"p{k}.png")
        gt = np.zeros((120, 160), dtype=np.uint16)
        gt[60:] = 1
        gt[:, 80:] += 2
        np.save(work / "truth" / f"p{k}.npy", gt[None])


def _sequence(work: Path, cache: Path, *, warm_up: bool, later: bool) -> list[dict]:
    photo = str(ROOT / "images" / "chelsea.jpg")
    runs = [
        ("first: defaults", ["segment", photo, "-o", "first.png"], "first.png"),
        ("other settings", ["segment", photo, "-o", "other.png", "--scale", "fixed", "--kernel", "gaussian",
                            "--compat", "none"], "other.png"),
        ("tiled", ["segment", "crop.tif", "--tile-size", "64", "-o", "tiled.tif"], "tiled.tif"),
    ]
    if later:
        runs += [
            ("fast, full resolution", ["segment", photo, "-o", "fast.png", "--speedup", "fast", "--resolution",
                                       "full"], "fast.png"),
            ("evaluate", ["evaluate", "photos", "truth", "--json", "scores.json"], "scores.json"),
            ("batch", ["batch", "photos", "batch", "--jobs", "1", "--labels", "npy", "--stats"], None),
            ("defaults again", ["segment", photo, "-o", "again.png"], "again.png"),
        ]
    out = []
    for name, argv, output in runs:
        out.append(_run(name, argv, work=work, cache=cache, output=output, warm_up=warm_up))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "compile.json"))
    parser.add_argument("--no-baseline", dest="baseline", action="store_false",
                        help="skip the runs without the warm-up ahead")
    args = parser.parse_args()
    import numba

    result: dict = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
        "python": platform.python_version(),
        "numba": numba.__version__,
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                 text=True, check=False).stdout.strip(),
        "note": "each run is a fresh process; wall_s includes Python and segshift's import; cpu_s is the child's "
                "user + system time (less sensitive than wall_s to other load on the machine); "
                "output_written_after_s: when the run's own output file was written, from the run's start",
    }
    with tempfile.TemporaryDirectory(prefix="segshift-bench-compile-") as tmp:
        work, cache = Path(tmp) / "now", Path(tmp) / "cache-now"
        work.mkdir()
        _inputs(work)
        result["with_warm_up"] = _sequence(work, cache, warm_up=True, later=True)
        # the warm-up's running time, every kernel loaded from the disk cache: the part of
        # the first run's warm-up that is not compilation
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from segshift._compile import warm_up_all; assert not warm_up_all()"],
                       env=_env(cache), check=True)
        result["warm_up_all_from_cache_s"] = round(time.perf_counter() - t0, 2)
        if args.baseline:
            base, base_cache = Path(tmp) / "before", Path(tmp) / "cache-before"
            base.mkdir()
            _inputs(base)
            result["without_warm_up"] = _sequence(base, base_cache, warm_up=False, later=False)
    now = result["with_warm_up"]
    summary = {
        "notices_with_warm_up": sum(r["notice"] for r in now),
        "compiling_runs_with_warm_up": sum(r["compilations"] > 0 for r in now),
        "first_run_wall_s": now[0]["wall_s"],
        "first_run_cpu_s": now[0]["cpu_s"],
        "later_runs_max_wall_s": max(r["wall_s"] for r in now[1:]),
        "warm_up_all_from_cache_s": result["warm_up_all_from_cache_s"],
    }
    if args.baseline:
        before = result["without_warm_up"]
        summary.update(
            notices_without_warm_up=sum(r["notice"] for r in before),
            first_run_cpu_ratio_vs_without=round(now[0]["cpu_s"] / before[0]["cpu_s"], 2),
            first_three_runs_cpu_ratio_vs_without=round(sum(r["cpu_s"] for r in now[:3])
                                                        / sum(r["cpu_s"] for r in before), 2),
        )
    result["summary"] = summary
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
