"""Batch throughput of ``segshift batch``: images per second for 1 vs 2 jobs.

Runs the real command (``python -m segshift.cli batch``) once per
configuration, over the same images, each in a fresh process so that every
configuration pays its own start-up (imports, numba kernels) as a user does,
and prints wall time and images per second. The images are never copied: a
temporary folder of symbolic links selects the first ``--limit`` of them.

Usage::

    python scripts/bench_batch.py /work/shared/data/bsds500/images/val --limit 20
    python scripts/bench_batch.py FOLDER --jobs 1 2 4 --threads-compare --repeat 3

``--threads-compare`` adds a run with 2 jobs whose workers keep numba's
default thread count instead of sharing the cores (cores / jobs threads
each), to measure the oversubscription that the default avoids.

``--cluster N`` adds a run on a Dask ``LocalCluster`` of N worker processes
with one thread each, started here once (as a user's cluster would already
be running): ``segshift batch --scheduler ADDRESS --threads 1``. Its workers
are restarted before each run, so that, like the local pool's, they start,
import segshift and load the kernels within the timed run; cpu_s adds their
CPU time to the command's. Needs dask.distributed::

    python scripts/bench_batch.py /work/shared/data/bsds500/images/val --limit 0 --jobs 2 --cluster 2 --repeat 2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from segshift.batch import default_jobs, find_images  # noqa: E402

from _record import record  # noqa: E402


def run_once(folder: Path, out: Path, jobs: int | None, threads: int | None, extra: list[str],
             client: Any = None) -> tuple[float, dict]:
    """Run one batch in a fresh process; return (wall seconds, counts and CPU seconds).

    With ``client`` (a Dask client), the batch runs on its cluster, whose
    workers are restarted first and whose CPU time is added.
    """
    manifest = out / "manifest.json"
    cmd = [sys.executable, "-m", "segshift.cli", "batch", str(folder), str(out), "-q", "--overwrite",
           "--manifest", str(manifest), *extra]
    if jobs is not None:
        cmd += ["--jobs", str(jobs)]
    if client is not None:
        client.restart()
        cmd += ["--scheduler", client.scheduler.address]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the batch process and its workers
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    if client is not None:
        cpu += sum(client.run(_own_cpu).values())
    if proc.returncode not in (0, 1):
        sys.exit(f"bench_batch: batch failed (exit {proc.returncode}):\n{proc.stderr}")
    records = json.loads(manifest.read_text())
    counts: dict = {}
    for r in records:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    per_image = [r["seconds"] for r in records if r["status"] == "ok" and r["seconds"] is not None]
    counts["mean_s"] = sum(per_image) / max(1, len(per_image))
    counts["cpu_s"] = cpu
    return wall, counts


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="folder of images (not modified, not copied)")
    parser.add_argument("--limit", type=int, default=20, help="use the first N images (default: 20; 0: all)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="job counts to compare (default: 1 2)")
    parser.add_argument("--threads-compare", action="store_true",
                        help="also run 2 jobs with numba's default thread count per worker")
    parser.add_argument("--cluster", type=int, default=0, metavar="N",
                        help="also run on a Dask LocalCluster of N single-thread worker processes")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per configuration, interleaved; the fastest is kept")
    parser.add_argument("--args", default="", help="extra options for 'segshift batch', e.g. '--stats'")
    args = parser.parse_args(argv)

    images, _, _ = find_images(args.folder)
    if args.limit:
        images = images[: args.limit]
    if not images:
        sys.exit(f"bench_batch: no images in {args.folder}")

    import numba

    configs: list[tuple[str, int | None, int | None]] = [(f"jobs={j}", j, None) for j in args.jobs]
    if args.threads_compare:
        configs.append((f"jobs=2 threads={numba.config.NUMBA_NUM_THREADS}", 2, numba.config.NUMBA_NUM_THREADS))
    stack = contextlib.ExitStack()
    client = None
    if args.cluster:
        import distributed

        local = stack.enter_context(distributed.LocalCluster(
            n_workers=args.cluster, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, silence_logs=40))
        client = stack.enter_context(distributed.Client(local, set_as_default=False))
        configs.append((f"dask workers={args.cluster}", None, 1))

    print(f"# segshift batch throughput: {len(images)} images from {args.folder}")
    print(f"# {platform.processor() or platform.machine()}, {default_jobs()} cores available, "
          f"python {platform.python_version()}, numba {numba.__version__}, best of {args.repeat}")
    print("# wall_s includes process start-up, imports and numba kernel loading; mean_s is the mean "
          "per-image time inside a worker; cpu_s the CPU time of all processes; load: 1-minute load average "
          "before the run (other work on the machine distorts the figures)")
    print(f"{'config':<22} {'wall_s':>8} {'img/s':>8} {'speedup':>8} {'mean_s':>8} {'cpu_s':>8} {'load':>5}  status")
    with tempfile.TemporaryDirectory(prefix="segshift-bench-") as tmp:
        selection = Path(tmp) / "in"
        selection.mkdir()
        for rel in images:
            os.symlink((args.folder / rel).resolve(), selection / rel.replace("/", "__"))
        best: dict[str, tuple[float, dict, float]] = {}
        for rep in range(args.repeat):  # interleaved, so that a change of load hits every configuration
            for name, jobs, threads in configs:
                out = Path(tmp) / f"out-{jobs}-{threads}-{rep}"
                load = os.getloadavg()[0]
                on = client if name.startswith("dask") else None
                wall, counts = run_once(selection, out, jobs, threads, args.args.split(), on)
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, counts, load)
        base_rate = None
        rows = []
        for name, _, _ in configs:
            wall, counts, load = best[name]
            rate = len(images) / wall
            base_rate = base_rate or rate
            status = ", ".join(f"{k} {v}" for k, v in counts.items() if k not in ("mean_s", "cpu_s"))
            print(f"{name:<22} {wall:>8.2f} {rate:>8.2f} {rate / base_rate:>7.2f}x {counts['mean_s']:>8.3f} "
                  f"{counts['cpu_s']:>8.1f} {load:>5.1f}  {status}", flush=True)
            rows.append([name, round(wall, 2), round(rate, 2), f"{rate / base_rate:.2f}x", round(counts["mean_s"], 3),
                         round(counts["cpu_s"], 1), round(load, 1), status])
    stack.close()
    record("bench_batch_cluster" if args.cluster else "bench_batch",
           f"segshift batch throughput: {len(images)} images" + (" on a local Dask cluster against the local pool"
                                                                  if args.cluster else ""),
           tables=[{"caption": f"best of {args.repeat} interleaved runs per configuration",
                    "columns": ["configuration", "wall s", "images / s", "vs first", "mean s / image", "CPU s",
                                "load before", "status"], "rows": rows}],
           notes=["wall s includes process start-up, imports and loading the compiled kernels; mean s / image is "
                  "the time inside a worker; CPU s the CPU time of all processes; load: the 1-minute load average "
                  "before the run (other work on the machine distorts the figures)."])
    return 0


if __name__ == "__main__":
    sys.exit(main())
