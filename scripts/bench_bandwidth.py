"""Bandwidth rules of segshift.estimate_bandwidth against scikit-learn's, on data with known clusters.

For each data set, each rule picks a bandwidth, ``segshift.MeanShift`` clusters
with it (the rule's 1 % minimum cluster size applies only to the stability
rule, as in ``MeanShift(bandwidth=None)``), and the table gives the bandwidth,
the clusters found and the adjusted Rand index against the true labels.

Rules: segshift's ``"stability"`` (the default of ``MeanShift``), Scott's rule
(``"scott"``) and scikit-learn's ``estimate_bandwidth`` (quantile 0.3, on
3,000 points, as its ``MeanShift`` would use it).

Usage::

    python scripts/bench_bandwidth.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from sklearn.cluster import estimate_bandwidth as sk_estimate_bandwidth  # noqa: E402
from sklearn.datasets import load_iris, load_wine, make_blobs  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from segshift import MeanShift, estimate_bandwidth  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402


def datasets():
    for seed in range(3):
        yield f"make_blobs 100,000 x 3-D, 8 blobs (random_state={seed})", make_blobs(
            100_000, n_features=3, centers=8, random_state=seed
        )
    for seed in range(2):
        yield f"make_blobs 20,000 x 2-D, 5 blobs (random_state={seed})", make_blobs(
            20_000, n_features=2, centers=5, random_state=seed
        )
    X, y = make_blobs(n_samples=50, random_state=1)
    yield "make_blobs 50 x 2-D, 3 blobs, standardised (check_clustering's)", (StandardScaler().fit_transform(X), y)
    iris = load_iris()
    yield "iris, standardised (4-D, 3 species)", (StandardScaler().fit_transform(iris.data), iris.target)
    wine = load_wine()
    yield "wine, standardised (13-D, 3 cultivars)", (StandardScaler().fit_transform(wine.data), wine.target)


def main():
    import argparse

    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    print("| data | rule | bandwidth | clusters (true) | ARI | rule seconds |")
    print("|---|---|---|---|---|---|")
    rows = []
    for name, (X, y) in datasets():
        for rule in ("stability", "scott", "sklearn quantile"):
            start = time.perf_counter()
            if rule == "sklearn quantile":
                h = sk_estimate_bandwidth(X, n_samples=min(len(X), 3000), random_state=0)
            else:
                h = estimate_bandwidth(X, method=rule)
            seconds = time.perf_counter() - start
            min_size = 0.01 if rule == "stability" else 0.0
            ms = MeanShift(bandwidth=h, min_cluster_size=min_size).fit(X)
            print(f"| {name} | {rule} | {h:.3g} | {len(ms.cluster_centers_)} ({len(np.unique(y))}) |"
                  f" {adjusted_rand_score(y, ms.labels_):.3f} | {seconds:.1f} |", flush=True)
            rows.append([name, rule, float(f"{h:.3g}"), f"{len(ms.cluster_centers_)} ({len(np.unique(y))})",
                         round(adjusted_rand_score(y, ms.labels_), 3), round(seconds, 1)])
    record("bench_bandwidth", "Bandwidth rules: segshift's stability rule, Scott's and scikit-learn's quantile rule",
           tables=[{"caption": "the bandwidth each rule picks, the clusters MeanShift then finds and the adjusted "
                               "Rand index against the true classes",
                    "columns": ["data", "rule", "bandwidth", "clusters (true)", "ARI", "rule seconds"],
                    "rows": rows}])


if __name__ == "__main__":
    main()
