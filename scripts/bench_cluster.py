"""segshift.MeanShift against scikit-learn's MeanShift on make_blobs: time, ARI, memory.

Every case times scikit-learn and segshift in the same process on the same
points (best of ``--repeat`` runs each, after one untimed segshift run that
loads the compiled kernels), and prints a Markdown table:

- time of scikit-learn (``n_jobs`` 1 or 2) and of segshift (numba threads 1
  or 2) and their ratio, per thread count;
- adjusted Rand index against the true blobs for both, and between them;
- the clusters found;
- with ``--memory``, the peak resident memory each fit adds above the
  process's memory before it (each fit in a fresh process, so peaks do not
  hide one another).

Cases (``--cases``, comma-separated; all by default):

- ``exact5k``: 5,000 2-D points in 5 blobs, bandwidth 1, both exact;
- ``bin20k``, ``bin100k``, ``bin1m``: 20,000 / 100,000 / 1,000,000 3-D points
  in 8 blobs at bandwidth 2: scikit-learn with ``bin_seeding=True``, segshift
  with ``algorithm="auto"`` (exact up to 10,000 points, then the grid);
- ``blobs2d20k``: 20,000 2-D points in 5 blobs, bandwidth estimated by each
  library (scikit-learn: ``estimate_bandwidth`` on 3,000 points, bin seeding);
- ``auto1m``: the 1,000,000 3-D points with the bandwidth estimated;
- ``d8_20k``: 20,000 8-D points in 8 blobs at bandwidth 4 (segshift's tree).

Usage::

    python scripts/bench_cluster.py                    # all cases, 1 and 2 threads
    python scripts/bench_cluster.py --cases exact5k,bin1m --threads 2 --memory
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402

import numba  # noqa: E402
from sklearn.cluster import MeanShift as SkMeanShift  # noqa: E402
from sklearn.cluster import estimate_bandwidth as sk_estimate_bandwidth  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from segshift import MeanShift  # noqa: E402

CASES = {
    # name: (n, d, blobs, bandwidth or None, scikit-learn bin seeding)
    "exact5k": (5_000, 2, 5, 1.0, False),
    "exact20k": (20_000, 2, 5, 1.0, False),
    "bin20k": (20_000, 3, 8, 2.0, True),
    "bin100k": (100_000, 3, 8, 2.0, True),
    "bin1m": (1_000_000, 3, 8, 2.0, True),
    "blobs2d20k": (20_000, 2, 5, None, True),
    "auto1m": (1_000_000, 3, 8, None, True),
    "d8_20k": (20_000, 8, 8, 4.0, True),
}


def data(name):
    n, d, k, _, _ = CASES[name]
    return make_blobs(n_samples=n, n_features=d, centers=k, random_state=0)


def make(lib, name, threads):
    """An unfitted estimator of ``lib`` ("sklearn" or "segshift") for a case."""
    _, _, _, bandwidth, bins = CASES[name]
    if lib == "sklearn":
        return SkMeanShift(bandwidth=bandwidth, bin_seeding=bins, n_jobs=threads)
    # scikit-learn exact (no bin seeding) is compared with segshift exact
    return MeanShift(bandwidth=bandwidth, n_jobs=threads, algorithm="auto" if bins else "exact")


def fit(lib, name, X, threads):
    est = make(lib, name, threads)
    if lib == "sklearn" and est.bandwidth is None:
        est.set_params(bandwidth=sk_estimate_bandwidth(X, n_samples=3000, random_state=0))
    start = time.perf_counter()
    est.fit(X)
    return time.perf_counter() - start, est


def _rss_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def _peak_child(lib, name, threads, queue):
    X, _ = data(name)
    if lib == "segshift":
        MeanShift(bandwidth=1.0).fit(X[:200])  # load the kernels before measuring
    before = _rss_kib("VmRSS:")
    # VmHWM is the peak so far; reset it where the kernel allows (Linux >= 4.0).
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    fit(lib, name, X, threads)
    queue.put((_rss_kib("VmHWM:") - before) / 1024)


def peak_memory(lib, name, threads):
    """Peak resident memory (MiB) a fit adds, measured in a fresh process."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_peak_child, args=(lib, name, threads, queue))
    proc.start()
    value = queue.get()
    proc.join()
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated case names")
    parser.add_argument("--threads", default="1,2", help="thread counts to time (numba threads / sklearn n_jobs)")
    parser.add_argument("--repeat", type=int, default=1, help="best of this many timed runs")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory (fresh processes)")
    parser.add_argument("--json", type=Path, help="write the rows as JSON too")
    args = parser.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]
    rows = []
    print("| case | points | d | threads | scikit-learn s | segshift s | ratio | ARI sklearn | ARI segshift |"
          " ARI between | clusters sklearn / segshift | segshift algorithm, bandwidth |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.cases.split(","):
        X, y = data(name)
        MeanShift(bandwidth=1.0).fit(X[:200])  # compiled kernels loaded before timing
        for t in threads:
            numba.set_num_threads(min(t, numba.config.NUMBA_NUM_THREADS))
            best = {}
            for _ in range(args.repeat):
                for lib in ("sklearn", "segshift"):
                    seconds, est = fit(lib, name, X, t)
                    if lib not in best or seconds < best[lib][0]:
                        best[lib] = (seconds, est)
            (ts, sk), (tg, ours) = best["sklearn"], best["segshift"]
            row = dict(
                case=name, n=len(X), d=X.shape[1], threads=t, sklearn_s=ts, segshift_s=tg, ratio=tg / ts,
                ari_sklearn=adjusted_rand_score(y, sk.labels_), ari_segshift=adjusted_rand_score(y, ours.labels_),
                ari_between=adjusted_rand_score(sk.labels_, ours.labels_),
                clusters_sklearn=len(sk.cluster_centers_), clusters_segshift=len(ours.cluster_centers_),
                algorithm=ours.algorithm_, bandwidth=ours.bandwidth_, sklearn_bandwidth=sk.bandwidth,
            )
            if args.memory:
                row["sklearn_mib"] = peak_memory("sklearn", name, t)
                row["segshift_mib"] = peak_memory("segshift", name, t)
            rows.append(row)
            mem = f" (peak {row['sklearn_mib']:.0f} / {row['segshift_mib']:.0f} MiB)" if args.memory else ""
            print(f"| {name} | {len(X):,} | {X.shape[1]} | {t} | {ts:.2f} | {tg:.3f} | {tg / ts:.3f}x |"
                  f" {row['ari_sklearn']:.3f} | {row['ari_segshift']:.3f} | {row['ari_between']:.3f} |"
                  f" {row['clusters_sklearn']} / {row['clusters_segshift']}{mem} |"
                  f" {ours.algorithm_}, {ours.bandwidth_:.3g} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    columns = ["case", "points", "d", "threads", "scikit-learn s", "segshift s", "ratio", "ARI scikit-learn",
               "ARI segshift", "ARI between", "clusters scikit-learn / segshift", "segshift algorithm, bandwidth"]
    table = [[r["case"], r["n"], r["d"], r["threads"], round(r["sklearn_s"], 3), round(r["segshift_s"], 3),
              f"{r['ratio']:.3f}x", round(r["ari_sklearn"], 3), round(r["ari_segshift"], 3), round(r["ari_between"], 3),
              f"{r['clusters_sklearn']} / {r['clusters_segshift']}", f"{r['algorithm']}, {r['bandwidth']:.3g}"]
             for r in rows]
    if args.memory:
        columns += ["peak MiB scikit-learn", "peak MiB segshift"]
        table = [t + [round(r["sklearn_mib"]), round(r["segshift_mib"])] for t, r in zip(table, rows)]
    record("bench_cluster_memory" if args.memory else "bench_cluster",
           "Point-set mean shift against scikit-learn's MeanShift",
           tables=[{"caption": f"the same make_blobs points (random_state=0) in the same process, best of {args.repeat}",
                    "columns": columns, "rows": table}],
           notes=["In the rows where each library estimates its own bandwidth, scikit-learn's estimate_bandwidth "
                  "runs before its timed fit and segshift's inside its fit, so segshift's seconds include it."])


if __name__ == "__main__":
    main()
