"""
The UCM and a precision-recall curve
====================================

The ultrametric contour map (UCM) holds every level of the hierarchy in one
picture: 0 inside the finest regions and, on each boundary, the merge height
at which its two sides join. Thresholding it at ``t`` gives exactly the
boundaries of ``seg.at(threshold=t)``. The BSDS contour benchmark scores all
thresholds at once against human segmentations: here on a small synthetic set
with known regions (``docs/examples-data``, two "annotators" per scene), so
that the example needs no external data.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import segshift
from segshift.evaluate import aggregate_contours, evaluate_segmentation, evaluate_ucm, load_ground_truth

# The repository, whether this file runs as a script or in the documentation build (from docs/examples).
ROOT = Path(__file__).resolve().parents[2] if "__file__" in globals() else Path.cwd().parents[1]
DATA = ROOT / "docs" / "examples-data"
scenes = sorted(DATA.glob("scene_*[0-9].png"))

segs = [segshift.segment(str(photo)) for photo in scenes]
truths = [load_ground_truth(photo.with_name(photo.stem + "_gt.npy")) for photo in scenes]

# The data set's curve needs the same thresholds for every scene: 40 steps up
# to the highest merge height of all.
top = max(seg.ucm.max() for seg in segs)
thresholds = np.linspace(0, top, 40, endpoint=False)
counts = [evaluate_ucm(seg.ucm, truth, thresholds=thresholds) for seg, truth in zip(segs, truths)]
summary = aggregate_contours(counts)
print(f"{summary.n_images} scenes: ODS F {summary.ods_f:.3f}, OIS F {summary.ois_f:.3f}, AP {summary.ap:.3f}")

# %%
# A scene, its UCM (darker: a boundary that survives to coarser levels) and
# the two annotators' regions.

fig, axes = plt.subplots(1, 4, figsize=(12, 2.3), layout="constrained")
axes[0].imshow(segshift.load_image(str(scenes[0])))
axes[0].set_title("scene")
axes[1].imshow(segs[0].ucm, cmap="gray_r")
axes[1].set_title("UCM")
for k in range(2):
    axes[2 + k].imshow(truths[0][k], cmap="tab10", interpolation="nearest")
    axes[2 + k].set_title(f"annotator {k + 1}")
for ax in axes:
    ax.set_axis_off()

# %%
# The precision-recall curve over the thresholds, with the optimal data-set
# scale (ODS) marked and iso-F curves in grey, as in the BSDS figures.

fig, ax = plt.subplots(figsize=(4.5, 4.5), layout="constrained")
r = np.linspace(0.01, 1, 200)
for f in np.arange(0.1, 1.0, 0.1):
    p = f * r / (2 * r - f)
    keep = p > 0
    ax.plot(r[keep], p[keep], color="0.85", linewidth=0.8)
ax.plot(summary.recall, summary.precision, label=f"segshift UCM (ODS F {summary.ods_f:.2f}, AP {summary.ap:.2f})")
ax.plot(summary.ods_recall, summary.ods_precision, "o", color="C3")
ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="recall", ylabel="precision", title="contour benchmark")
ax.legend(loc="lower left")

# %%
# The region benchmarks of the automatic level of each scene.

for photo, seg, truth in zip(scenes, segs, truths):
    s = evaluate_segmentation(seg.labels, truth)
    print(f"{photo.name}: {seg.n_regions} regions, Covering {s.covering:.3f}, PRI {s.pri:.3f}, VI {s.vi:.2f}")
plt.show()
