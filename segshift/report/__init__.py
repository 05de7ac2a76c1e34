"""HTML reports of batches and evaluations: self-contained pages to look at the results.

- :func:`write_batch_report` writes ``OUT_DIR/report.html`` for a batch: a
  gallery of every input (photo, mode colours, boundaries), sortable and
  filterable, with the failed files and their errors, built from the
  manifest and the files on disk.
- :func:`write_evaluation_report` writes ``DIR/index.html`` for an
  evaluation: the ODS/OIS table, plots (boundary precision-recall, each
  metric against the swept parameters, per-photo scores) and the photos
  from worst to best beside a human segmentation.

The pages need no network: thumbnails and plots are files beside the page,
linked by relative URLs, so a report opens from ``file://`` or from any
static web server. They are rendered from Jinja2 templates with
autoescaping; plots need matplotlib.
"""

from ._batch import BATCH_REPORT, write_batch_report
from ._evaluation import EVALUATION_REPORT, write_evaluation_report

__all__ = ["BATCH_REPORT", "EVALUATION_REPORT", "write_batch_report", "write_evaluation_report"]
