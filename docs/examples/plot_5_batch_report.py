"""
A folder in one call, with its HTML report
==========================================

:func:`segshift.batch.run_batch` (``segshift batch IN_DIR OUT_DIR`` on the
command line) segments every image of a folder into an output folder that
mirrors it, skips inputs whose outputs exist (an interrupted run resumes),
keeps going past unreadable files and writes a manifest.
:func:`segshift.report.write_batch_report` (``--report``) turns the output
folder into one HTML page.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from PIL import Image

from segshift.batch import run_batch
from segshift.report import write_batch_report

# The repository, whether this file runs as a script or in the documentation build (from docs/examples).
ROOT = Path(__file__).resolve().parents[2] if "__file__" in globals() else Path.cwd().parents[1]
IMAGES = ROOT / "images"

# A folder of inputs: the bundled photos and one file that is not an image.
work = Path(tempfile.mkdtemp())
photos = work / "photos"
shutil.copytree(IMAGES, photos, ignore=shutil.ignore_patterns("*.md"))
(photos / "notes.jpg").write_text("not a photo")

# The documentation build puts the report beside this page; elsewhere it stays in the temporary folder.
out = Path(os.environ.get("SEGSHIFT_DOCS_REPORT_DIR", work / "segments"))
shutil.rmtree(out, ignore_errors=True)
report = run_batch(photos, out, outputs=("modes", "labels", "stats"), jobs=1)
print("first run:", report.counts)

# %%
# The manifest holds one row per input: its outputs, regions, seconds and
# status, and for a failed file the one-line error.

for row in json.loads((out / "manifest.json").read_text()):
    print(f"{row['input']:<14} {row['status']:<7} regions={row['regions']!s:<5} {row['error'] or ''}")

# %%
# Running the same call again skips every input whose outputs exist: this is
# how an interrupted batch resumes.

again = run_batch(photos, out, outputs=("modes", "labels", "stats"), jobs=1)
print("second run:", again.counts)

# %%
# The report: a summary, the failed files and a card per input with
# thumbnails. It is one HTML file with its pictures beside it, making no
# network request. In the built documentation it is here:
# `the batch report <batch-report/report.html>`_.

page = write_batch_report(out, photos)
print(page.name, f"{page.stat().st_size / 1024:.0f} KiB")

modes = sorted(out.glob("*.png"))
modes = [p for p in modes if not p.name.endswith(".labels.png")][:4]
fig, axes = plt.subplots(1, len(modes), figsize=(12, 2.4), layout="constrained")
for ax, path in zip(axes, modes):
    ax.imshow(Image.open(path))
    ax.set_title(path.name, fontsize=9)
    ax.set_axis_off()
plt.show()
