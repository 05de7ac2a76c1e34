"""
Point sets: segshift against scikit-learn
=========================================

:class:`segshift.MeanShift` is a scikit-learn estimator that clusters any
``(n, d)`` point set by mean shift, without being told how many clusters
there are. Here both libraries cluster the same points with the same
bandwidth, in the same process: the time each takes, the clusters each
finds, and how well they agree (adjusted Rand index).
"""

import time

import matplotlib.pyplot as plt
import sklearn.cluster
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

import segshift

X, truth = make_blobs(n_samples=4000, n_features=2, centers=5, cluster_std=0.8, random_state=0)

timings = {}
start = time.perf_counter()
ours = segshift.MeanShift(bandwidth=1.5).fit(X)
timings["segshift"] = time.perf_counter() - start
start = time.perf_counter()
theirs = sklearn.cluster.MeanShift(bandwidth=1.5, bin_seeding=True).fit(X)
timings["scikit-learn"] = time.perf_counter() - start

for name, model in [("segshift", ours), ("scikit-learn", theirs)]:
    print(f"{name:<13} {timings[name]:6.3f} s  {len(model.cluster_centers_)} clusters  "
          f"ARI against the blobs {adjusted_rand_score(truth, model.labels_):.3f}")
print(f"ARI between the two: {adjusted_rand_score(ours.labels_, theirs.labels_):.3f}")
print(f"segshift's algorithm here: {ours.algorithm_}")

# %%
# The timings above are of one run in this build, on whatever machine built
# it (the first call of segshift's may also load its compiled kernels); the
# :doc:`benchmarks page <../benchmarks/pointsets>` holds measured ratios.

fig, axes = plt.subplots(1, 2, figsize=(9, 4), layout="constrained", sharey=True)
for ax, (name, model) in zip(axes, [("segshift", ours), ("scikit-learn", theirs)]):
    ax.scatter(X[:, 0], X[:, 1], c=model.labels_, s=2, cmap="tab10")
    ax.plot(*model.cluster_centers_.T, "k+", markersize=12)
    ax.set_title(f"{name}: {len(model.cluster_centers_)} clusters")

# %%
# Without a bandwidth, segshift estimates one: the finest clustering that
# stays the same over a range of scales (:func:`segshift.estimate_bandwidth`).

auto = segshift.MeanShift().fit(X)
print(f"estimated bandwidth {auto.bandwidth_:.2f}: {len(auto.cluster_centers_)} clusters, "
      f"ARI {adjusted_rand_score(truth, auto.labels_):.3f}")
plt.show()
