"""Plots of an evaluation, drawn with matplotlib (imported here only) as SVG files."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ParameterError

#: The metrics of an evaluation: key in the result, label, whether higher is better.
METRICS: tuple[tuple[str, str, bool], ...] = (
    ("covering", "Covering", True),
    ("pri", "PRI", True),
    ("vi", "VI (bits)", False),
    ("boundary_f", "Boundary F", True),
)

_SHORT = {"spatial_radius": "s", "range_radius": "r", "min_size": "m"}
_BLUE, _RED, _GRAY = "#1f58b8", "#c62828", "#8a8d93"
_PALETTE = ("#1f58b8", "#c62828", "#2e7d32", "#8e44ad", "#d68910", "#00838f", "#6d4c41", "#c2185b", "#546e7a",
            "#7cb342")


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - matplotlib is a dependency of the reports
        raise ParameterError("the evaluation report's plots need matplotlib: pip install matplotlib") from None
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    fig.patch.set_facecolor("white")
    return fig


def _svg(fig: Any) -> bytes:
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "segshift", "svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return buffer.getvalue()


def _style(ax: Any) -> None:
    ax.grid(True, color="#e3e3e0", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)


def precision_recall(settings: Sequence[Mapping[str, Any]], ods_name: str | None,
                     contours: Mapping[str, Any] | None = None) -> bytes:
    """Boundary precision against recall, with iso-F curves and the ODS point marked.

    Parameters
    ----------
    settings : sequence of mapping
        The evaluation's settings, each with ``name``, ``boundary_precision``
        and ``boundary_recall``: one point each.
    ods_name : str or None
        The setting with the best data-set F (marked).
    contours : mapping, optional
        The contour benchmark of a UCM (``thresholds``, ``precision``,
        ``recall``, ``ods``, ...): drawn as a curve with its ODS point.

    Returns
    -------
    bytes
        An SVG picture.
    """
    fig = _figure(5.4, 4.6)
    ax = fig.add_subplot()
    _style(ax)
    grid = np.linspace(0.01, 1, 200)
    for f in np.arange(0.1, 1.0, 0.1):
        r = grid[grid > f / (2 - f)]
        ax.plot(r, f * r / (2 * r - f), color="#d6d6d2", linewidth=0.8, zorder=1)
        ax.annotate(f"F={f:.1f}", (0.99, f * 0.99 / (2 * 0.99 - f)), fontsize=7, color="#9a9a96",
                    ha="right", va="bottom")
    if contours:
        rec, prec = np.asarray(contours["recall"], float), np.asarray(contours["precision"], float)
        ax.plot(rec, prec, color=_BLUE, linewidth=2, label="contours (UCM thresholds)", zorder=3)
        ods = contours.get("ods") or {}
        if "recall" in ods:
            ax.plot([ods["recall"]], [ods["precision"]], "o", color=_RED, markersize=8, zorder=5,
                    label=f"contour ODS F={ods['f']:.3f}")
    points = [s for s in settings if s.get("boundary_recall") is not None]
    if points:
        rec = [s["boundary_recall"] for s in points]
        prec = [s["boundary_precision"] for s in points]
        ax.scatter(rec, prec, s=22, color=_GRAY if contours else _BLUE, zorder=4,
                   label="settings" if len(points) > 1 else "the setting")
        best = next((s for s in points if s["name"] == ods_name), None)
        if best is not None and not contours:
            f = best.get("boundary_f") or 0.0
            ax.plot([best["boundary_recall"]], [best["boundary_precision"]], "*", color=_RED, markersize=15,
                    zorder=5, label=f"ODS F={f:.3f} ({best['name']})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.set_title("Boundaries: precision and recall", fontsize=11)
    ax.legend(loc="lower left", fontsize=8, frameon=True, framealpha=0.9)
    return _svg(fig)


def _swept(settings: Sequence[Mapping[str, Any]]) -> list[str]:
    """The parameters that take more than one value over the settings, most values first."""
    keys: dict[str, list[str]] = {}
    for s in settings:
        for key, value in (s.get("params") or {}).items():
            seen = keys.setdefault(key, [])
            if repr(value) not in seen:
                seen.append(repr(value))
    swept = [k for k, v in keys.items() if len(v) > 1]
    order = list(_SHORT)
    return sorted(swept, key=lambda k: (-len(keys[k]), order.index(k) if k in order else len(order), k))


def _label(key: str, value: Any) -> str:
    short = _SHORT.get(key, key)
    if value is None and key in _SHORT:  # the relative default (a spatial radius of "auto")
        return f"{short}=auto"
    return f"{short}={value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else f"{short}={value}"


def can_sweep(settings: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the settings sweep a parameter (so that :func:`sweep` has something to draw)."""
    return bool(_swept(settings)) and all(s.get("covering") is not None for s in settings)


def sweep(settings: Sequence[Mapping[str, Any]]) -> bytes:
    """Each metric against the swept parameters: one panel per metric.

    The x axis is the parameter with the most values (its values equally
    spaced, in the order given); each other combination of the swept
    parameters is one line.

    Returns
    -------
    bytes
        An SVG picture.
    """
    swept = _swept(settings)
    if not swept:
        raise ParameterError("the settings sweep no parameter")
    x_key, others = swept[0], swept[1:]
    x_values: list[Any] = []
    for s in settings:
        v = s["params"][x_key]
        if v not in x_values:
            x_values.append(v)
    try:
        x_values.sort()
    except TypeError:
        pass
    lines: dict[tuple, dict[int, Mapping[str, Any]]] = {}
    for s in settings:
        key = tuple(repr(s["params"][k]) for k in others)
        lines.setdefault(key, {})[x_values.index(s["params"][x_key])] = s
    fig = _figure(9.0, 6.0)
    axes = fig.subplots(2, 2)
    for (metric, title, higher), ax in zip(METRICS, axes.ravel()):
        _style(ax)
        for n, (key, row) in enumerate(lines.items()):
            xs = sorted(row)
            first = row[xs[0]]
            label = " ".join(_label(k, first["params"][k]) for k in others) or None
            ax.plot(xs, [row[x][metric] for x in xs], "o-", color=_PALETTE[n % len(_PALETTE)], markersize=4,
                    linewidth=1.5, label=label)
        ax.set_xticks(range(len(x_values)))
        ax.set_xticklabels([_label(x_key, v).split("=", 1)[1] for v in x_values])
        ax.set_xlabel(x_key.replace("_", " "), fontsize=9)
        ax.set_title(f"{title} ({'higher' if higher else 'lower'} is better)", fontsize=10)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if labels and others:
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 6), fontsize=8, frameon=False)
    return _svg(fig)


def distributions(per_metric: Mapping[str, Sequence[float]], names: Mapping[str, str]) -> bytes:
    """Histograms of the per-photo scores, one panel per metric, each at its ODS setting.

    Parameters
    ----------
    per_metric : mapping
        ``{metric key: [score of each photo]}`` (keys of :data:`METRICS`).
    names : mapping
        ``{metric key: setting name}``, for the panel titles.

    Returns
    -------
    bytes
        An SVG picture.
    """
    fig = _figure(9.0, 5.6)
    axes = fig.subplots(2, 2)
    for (metric, title, higher), ax in zip(METRICS, axes.ravel()):
        _style(ax)
        values = np.asarray(per_metric.get(metric) or [], float)
        if values.size:
            top = max(1.0, float(values.max())) if metric == "vi" else 1.0
            ax.hist(values, bins=np.linspace(0, top, 21), color=_BLUE, alpha=0.85, edgecolor="white")
            mean = float(values.mean())
            ax.axvline(mean, color=_RED, linewidth=1.5, label=f"mean {mean:.3f}")
            ax.legend(fontsize=8, loc="upper left" if higher else "upper right")
        ax.set_title(f"{title}, per photo", fontsize=10)
        ax.set_xlabel(names.get(metric, ""), fontsize=8, color="#5c5f66")
        ax.set_ylabel("photos", fontsize=9)
    return _svg(fig)
