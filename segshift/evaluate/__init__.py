"""Segmentation quality against human ground truth: the BSDS500 benchmarks.

The region benchmark (probabilistic Rand index, variation of information,
segmentation covering) and the boundary benchmark (precision, recall and
F-measure of boundary pixels matched one-to-one within a tolerance) of
Arbelaez, Maire, Fowlkes & Malik (2011), with the data-set summaries ODS
(one setting for the whole data set) and OIS (the best setting per image).

Conventions, the same as the BSDS500 benchmark code unless said otherwise:

* A *result* (``seg``, ``labels``) is a 2-D array of integer labels; every
  value, 0 and negative ones included, is an ordinary region label.
* A *ground truth* (``gt``) is a 2-D array of integer labels ``>= 1``; label 0
  marks unlabelled pixels, which are left out of every count of that human
  segmentation (the BSDS ``match_segmentations2`` does this for PRI and VI;
  here it holds for covering and boundaries too, see each function).
  ``gts`` is a list of such arrays (the ~5 humans of one BSDS image), a
  single 2-D array or a ``(K, H, W)`` stack.
* Covering, Rand index and VI come from sparse contingency tables built
  with :func:`numpy.bincount`, so thousands of regions cost no more than a
  few. VI is in bits (log base 2).
* Boundaries are BSDS's ``seg2bmap`` thinned to one pixel
  (:func:`boundary_map`); this reproduces the ``Boundaries`` stored in the
  BSDS500 ground-truth files exactly. Boundary pixels are matched one-to-one
  (a maximum bipartite matching) within ``tolerance`` times the image
  diagonal (:func:`match_boundaries`).
* Each human scored against the other humans of its image gives, over 30
  BSDS500 val images, covering 0.73, PRI 0.87, VI 1.12 and boundary F 0.79,
  close to the "human" row of [1]_ (0.72, 0.88, 1.17, 0.80 on the test set).

References
----------
.. [1] P. Arbelaez, M. Maire, C. Fowlkes, J. Malik, "Contour Detection and
   Hierarchical Image Segmentation", IEEE TPAMI 33(5):898-916, 2011.
.. [2] D. Martin, C. Fowlkes, D. Tal, J. Malik, "A Database of Human
   Segmented Natural Images and its Application to Evaluating Segmentation
   Algorithms and Measuring Ecological Statistics", ICCV 2001.

Modules, one concern each:

* :mod:`~segshift.evaluate.regions`: covering, Rand index, VI;
* :mod:`~segshift.evaluate.boundaries`: boundary maps and matching;
* :mod:`~segshift.evaluate.contours`: the contour benchmark of an
  ultrametric contour map (precision-recall over thresholds, ODS, OIS, AP);
* :mod:`~segshift.evaluate.plots`: the precision-recall figure;
* :mod:`~segshift.evaluate.segmentation`: every score of one segmentation;
* :mod:`~segshift.evaluate.summary`: ODS and OIS over parameter settings;
* :mod:`~segshift.evaluate.ground_truth`: reading human segmentations;
* :mod:`~segshift.evaluate.scores`: the result containers.
"""

from __future__ import annotations

import numpy as np  # noqa: F401  (the examples' namespace is this module's)

from . import contours  # noqa: F401  (segshift.evaluate.contours, the module)
from ._validate import DEFAULT_TOLERANCE, GroundTruths, PathLike, _check_tolerance  # noqa: F401  (used by segshift.benchmark)
from .boundaries import boundary_map, boundary_precision_recall, match_boundaries
from .contours import (
    ContourCounts,
    ContourScores,
    aggregate_contours,
    evaluate_ucm,
    ucm_thresholds,
)
from .ground_truth import load_ground_truth
from .plots import plot_precision_recall
from .regions import (
    mean_variation_of_information,
    probabilistic_rand_index,
    rand_index,
    segmentation_covering,
    variation_of_information,
)
from .scores import BoundaryScores, DatasetScores, Scores
from .segmentation import evaluate_segmentation
from .summary import aggregate

__all__ = [
    "DEFAULT_TOLERANCE",
    "BoundaryScores",
    "ContourCounts",
    "ContourScores",
    "DatasetScores",
    "Scores",
    "aggregate",
    "aggregate_contours",
    "boundary_map",
    "boundary_precision_recall",
    "evaluate_segmentation",
    "evaluate_ucm",
    "load_ground_truth",
    "match_boundaries",
    "mean_variation_of_information",
    "plot_precision_recall",
    "probabilistic_rand_index",
    "rand_index",
    "segmentation_covering",
    "ucm_thresholds",
    "variation_of_information",
]

# doctest.testmod(segshift.evaluate) looks only at objects defined in this
# file; list the public ones so it runs their examples too.
__test__ = {name: globals()[name] for name in __all__ if callable(globals()[name])}
