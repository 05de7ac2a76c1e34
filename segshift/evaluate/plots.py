"""The precision-recall figure of the contour benchmark, as the BSDS plots draw it."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Union

import numpy as np

from ..errors import ParameterError
from ..writers import output_format, write_atomic
from ._validate import PathLike
from .contours import ContourScores

Curves = Union[ContourScores, Mapping[str, ContourScores]]


def plot_precision_recall(curves: Curves, path: PathLike, *, title: str | None = None) -> Path:
    """Draw precision-recall curves of the contour benchmark to a PNG or SVG file.

    Like the figures of the BSDS benchmark: recall on x, precision on y,
    both in [0, 1], iso-F curves in grey (F = 0.1, ..., 0.9), each curve
    with its ODS point marked and its ODS F, OIS F and AP in the legend. The
    file is written atomically (complete or not at all); matplotlib is
    imported here, not with segshift, and its global state is not touched.

    Parameters
    ----------
    curves : ContourScores or mapping of str to ContourScores
        One data-set summary (:func:`~segshift.evaluate.aggregate_contours`),
        or several by name (e.g. one per parameter setting).
    path : str or path-like
        Output file; ``.png`` or ``.svg`` (the format follows the extension).
    title : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ParameterError
        Unsupported extension, or no curves.
    OutputError
        The file cannot be written.

    References
    ----------
    .. [1] Arbelaez et al., IEEE TPAMI 2011, figure 8 (the BSDS500
       ``plot_eval.m`` layout).
    """
    ext = output_format(path, "plot")
    named = {"": curves} if isinstance(curves, ContourScores) else dict(curves)
    if not named or not all(isinstance(c, ContourScores) for c in named.values()):
        raise ParameterError("curves must be a ContourScores or a non-empty mapping of name to ContourScores")

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 5.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    # Iso-F curves: p = f r / (2 r - f), from (f / (2 - f), 1) to (1, f / (2 - f)).
    for f in np.arange(0.1, 0.95, 0.1):
        r = np.linspace(f / (2 - f), 1.0, 300)
        p = np.minimum(f * r / (2 * r - f), 1.0)
        ax.plot(r, p, color="0.8", linewidth=0.8, zorder=1)
        ax.annotate(f"{f:.1f}", (r[-1], p[-1]), color="0.6", fontsize=7,
                    xytext=(2, 0), textcoords="offset points", va="center")
    for k, (name, c) in enumerate(named.items()):
        color = f"C{k}"
        label = f"ODS {c.ods_f:.3f}, OIS {c.ois_f:.3f}, AP {c.ap:.3f}"
        shown = (c.recall > 0) | (c.precision > 0)  # thresholds with no boundary at all are no point
        ax.plot(c.recall[shown], c.precision[shown], color=color, linewidth=1.8, zorder=3,
                label=f"{name}: {label}" if name else label)
        ax.plot([c.ods_recall], [c.ods_precision], "o", color=color, markersize=6, zorder=4)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.grid(True, color="0.92", linewidth=0.5)
    ax.legend(loc="lower left", fontsize=8, frameon=True)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=ext.lstrip("."))
    return write_atomic(path, buffer.getvalue())
