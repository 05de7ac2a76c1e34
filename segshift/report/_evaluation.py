"""The evaluation report: scores, plots, and the photos from worst to best beside a human segmentation."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..errors import OutputError, ParameterError
from .._loader import DEFAULT_MAX_PIXELS
from ..writers import write_atomic
from . import _plots
from . import _thumbnails as th
from ._html import relative_url, render, text, url

PathLike = Union[str, "os.PathLike[str]"]

#: File name of the evaluation report inside its folder.
EVALUATION_REPORT = "index.html"

_METRIC_KEYS = [m for m, _, _ in _plots.METRICS]
_HIGHER = {m: h for m, _, h in _plots.METRICS}
_TITLES = {m: t for m, t, _ in _plots.METRICS}
_ODS_KEYS = {"covering": "covering", "pri": "pri", "vi": "vi", "boundary_f": "boundary"}


def write_evaluation_report(
    evaluation: Any,
    out_dir: PathLike,
    *,
    image_dir: PathLike | None = None,
    rank_by: str = "covering",
    max_photos: int | None = 100,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    segment_photos: bool = True,
) -> Path:
    """Write the HTML report of an evaluation: ``OUT_DIR/index.html``, its plots and pictures.

    The page shows the ODS/OIS table and the scores of each setting; plots
    (``plots/*.svg``) of boundary precision against recall with the ODS point
    marked (the contour curve of a UCM when the evaluation has one), each
    metric against the swept parameters, and the distribution of the
    per-photo scores; then the photos ranked from worst to best by
    ``rank_by``, each with its segmentation at that metric's ODS setting and
    the first human segmentation.

    The segmentations are not kept by the evaluation: the photos shown are
    segmented again with that setting (:func:`segshift.segment` gives the
    labels the evaluation scored). Their pictures are kept in
    ``OUT_DIR/img/`` and reused while newer than the photo, so writing the
    report again costs little.

    Parameters
    ----------
    evaluation : FolderEvaluation or mapping
        The result of :func:`segshift._benchmark.evaluate_folder`, or its
        ``as_dict()`` (e.g. read back from ``segshift evaluate --json``).
    out_dir : str or path-like
        Folder of the report (created if needed).
    image_dir : str or path-like, optional
        Where the photos are (default: the evaluation's ``image_dir``).
    rank_by : {"covering", "pri", "vi", "boundary_f"}
        The metric that ranks the photos (each at its ODS setting).
    max_photos : int or None
        Show at most this many photos: the worst half and the best half
        (``None``: all).
    max_pixels : int or None
        Larger photos are not segmented again.
    segment_photos : bool
        Segment the photos shown (False: photos and humans only).

    Returns
    -------
    pathlib.Path
        The report file.

    Raises
    ------
    ParameterError
        ``rank_by`` is not a metric, or ``evaluation`` is not an evaluation.
    OutputError
        The folder or a file in it cannot be written.
    """
    if rank_by not in _METRIC_KEYS:
        raise ParameterError(f"rank_by must be one of {', '.join(_METRIC_KEYS)}, got {rank_by!r}")
    if max_photos is not None and (not isinstance(max_photos, int) or max_photos < 0):
        raise ParameterError(f"max_photos must be an integer >= 0 or None, got {max_photos!r}")
    data = evaluation.as_dict() if hasattr(evaluation, "as_dict") else evaluation
    if not isinstance(data, Mapping) or "settings" not in data or "images" not in data:
        raise ParameterError("evaluation must be a FolderEvaluation or its as_dict()")
    root = Path(out_dir)
    for folder in (root, root / "plots", root / "img"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{folder}: cannot create folder ({exc.strerror or exc})") from None
    photos_root = Path(image_dir if image_dir is not None else data.get("image_dir") or ".")

    settings = list(data["settings"])
    by_name = {s["name"]: s for s in settings}
    summary = data.get("ods_ois")
    contours = data.get("contours")
    images = list(data["images"])
    scored = [r for r in images if r.get("status") == "ok" and r.get("scores")]
    failed = [r for r in images if r.get("status") != "ok"]

    ods_setting = {m: _ods_setting(summary, m, settings) for m in _METRIC_KEYS}
    plots = _write_plots(root / "plots", settings, scored, ods_setting, summary, contours)

    rank_setting = ods_setting[rank_by]
    ranked = sorted(
        (r for r in scored if rank_setting in r["scores"]),
        key=lambda r: (r["scores"][rank_setting][rank_by] * (1 if _HIGHER[rank_by] else -1), r["image"]),
    )
    shown, hidden = _choose(ranked, max_photos)
    params = dict(by_name[rank_setting]["params"]) if rank_setting in by_name else None
    maker = _PhotoPictures(root, photos_root, params if segment_photos else None, max_pixels)
    rows = []
    for position, record in shown:
        row = {
            "rank": position + 1,
            "name": record["image"],
            "scores": record["scores"][rank_setting],
            "pictures": maker.pictures(record),
        }
        rows.append(row)
    th.remove_unused(root / "img", maker.used)

    html = render(
        "evaluation.html.j2",
        title="segshift evaluation",
        image_dir=text(str(data.get("image_dir", ""))),
        gt_dir=text(str(data.get("gt_dir", ""))),
        counts=data.get("counts") or {},
        seconds=data.get("seconds"),
        table=_score_table(summary, contours),
        settings=settings,
        best=_best_per_metric(settings),
        plots=plots,
        rank_by=rank_by,
        rank_title=_TITLES[rank_by],
        rank_higher=_HIGHER[rank_by],
        rank_setting=rank_setting,
        rows=rows,
        hidden=hidden,
        n_ranked=len(ranked),
        failed=failed,
        missing=list(data.get("missing_ground_truth") or []),
        segmented=maker.segmented,
        segment_seconds=maker.seconds,
    )
    path = root / EVALUATION_REPORT
    write_atomic(path, html)
    return path


def _ods_setting(summary: Mapping[str, Any] | None, metric: str, settings: list[Mapping[str, Any]]) -> str:
    """The name of the setting a metric's ODS picked (the first setting without a summary)."""
    if summary:
        name = summary.get(f"{_ODS_KEYS[metric]}_ods_setting")
        if name is not None:
            return str(name)
    return str(settings[0]["name"]) if settings else ""


def _choose(ranked: list[Any], limit: int | None) -> tuple[list[tuple[int, Any]], int]:
    """The photos to show, with their rank: all, or the worst and best halves of ``limit``."""
    numbered = list(enumerate(ranked))
    if limit is None or len(numbered) <= limit:
        return numbered, 0
    worst = (limit + 1) // 2
    best = limit - worst
    return numbered[:worst] + (numbered[len(numbered) - best:] if best else []), len(numbered) - limit


def _score_table(summary: Mapping[str, Any] | None, contours: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Rows of the ODS/OIS table."""
    rows: list[dict[str, Any]] = []
    if summary:
        for metric, key in (("Covering", "covering"), ("PRI", "pri"), ("VI (bits, lower is better)", "vi")):
            rows.append({
                "metric": metric,
                "ods": summary.get(f"{key}_ods"),
                "ois": summary.get(f"{key}_ois"),
                "setting": summary.get(f"{key}_ods_setting"),
                "extra": None,
            })
        ods, ois = summary.get("boundary_ods") or {}, summary.get("boundary_ois") or {}
        rows.append({
            "metric": "Boundary F",
            "ods": ods.get("f"),
            "ois": ois.get("f"),
            "setting": summary.get("boundary_ods_setting"),
            "extra": f"P {ods.get('precision', 0):.3f}, R {ods.get('recall', 0):.3f} at ODS",
        })
    if contours and contours.get("ods"):
        ods, ois = contours["ods"], contours.get("ois") or {}
        threshold = ods.get("threshold")
        rows.append({
            "metric": "Contours F (UCM)",
            "ods": ods.get("f"),
            "ois": ois.get("f"),
            "setting": None if threshold is None else f"threshold {threshold:.3g}",
            "extra": None if contours.get("ap") is None else f"AP {contours['ap']:.3f}",
        })
    return rows


def _best_per_metric(settings: list[Mapping[str, Any]]) -> dict[str, str]:
    """For each metric, the name of the setting with the best data-set score (highlighted in the table)."""
    best: dict[str, str] = {}
    for metric in _METRIC_KEYS:
        rows = [s for s in settings if s.get(metric) is not None]
        if rows:
            pick = max if _HIGHER[metric] else min
            best[metric] = pick(rows, key=lambda s: s[metric])["name"]
    return best


def _write_plots(folder: Path, settings: list[Mapping[str, Any]], scored: list[Mapping[str, Any]],
                 ods_setting: Mapping[str, str], summary: Mapping[str, Any] | None,
                 contours: Mapping[str, Any] | None) -> list[dict[str, str]]:
    plots: list[dict[str, str]] = []
    if not scored:
        return plots

    def save(name: str, svg: bytes, alt: str, caption: str, wide: bool = False) -> None:
        write_atomic(folder / name, svg)
        plots.append({"src": f"plots/{name}", "alt": alt, "caption": caption, "wide": wide})

    ods_name = summary.get("boundary_ods_setting") if summary else None
    save(
        "precision-recall.svg",
        _plots.precision_recall(settings, None if ods_name is None else str(ods_name), contours),
        "Boundary precision against recall",
        "Boundary precision and recall: " + (
            "the contour curve over the UCM's thresholds, with its ODS point, and each setting"
            if contours else "one point per setting, the ODS setting starred"
        ) + "; grey curves are equal F.",
    )
    per_metric = {
        m: [r["scores"][ods_setting[m]][m] for r in scored if ods_setting[m] in r["scores"]] for m in _METRIC_KEYS
    }
    save("per-photo.svg", _plots.distributions(per_metric, {m: ods_setting[m] for m in _METRIC_KEYS}),
         "Per-photo score distributions",
         "Scores of single photos, each metric at its ODS setting (named under each panel).")
    if _plots.can_sweep(settings):
        save("sweep.svg", _plots.sweep(settings), "Each metric against the swept parameters",
             "Each metric over the data set against the swept parameters.", wide=True)
    return plots


class _PhotoPictures:
    """Pictures of one photo for the ranking: the photo, its segmentation, a human segmentation."""

    def __init__(self, root: Path, photos: Path, params: dict[str, Any] | None, max_pixels: int | None) -> None:
        self.root = root
        self.folder = root / "img"
        self.photos = photos
        self.params = params
        self.max_pixels = max_pixels
        self.tag = "" if params is None else hashlib.sha1(
            json.dumps(params, sort_keys=True, default=repr).encode()).hexdigest()[:10]
        self.used: set[str] = set()
        self.segmented = 0
        self.seconds = 0.0

    def pictures(self, record: Mapping[str, Any]) -> dict[str, Any]:
        name = record["image"]
        key = hashlib.sha1(name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        source = self.photos / name
        gt_path = Path(record.get("ground_truth") or "")
        out: dict[str, Any] = {"photo": None, "seg": None, "gt": None, "href": relative_url(source, self.root),
                               "problem": None}
        targets = {
            "photo": self.folder / f"{key}-photo.jpg",
            "seg": self.folder / f"{key}-seg-{self.tag}.jpg" if self.params is not None else None,
            "gt": self.folder / f"{key}-human.jpg",
        }
        need = [k for k, t in targets.items() if t is not None and not (
            th.fresh(t, source) and (k != "gt" or th.fresh(t, gt_path)))]
        try:
            if need:
                self._make(source, gt_path, {k: targets[k] for k in need}, out)
        except Exception as exc:  # noqa: BLE001 - a photo that cannot be shown leaves a note, not a failure
            out["problem"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        for kind, target in targets.items():
            if target is not None and th.fresh(target, source):
                self.used.add(target.name)
                out[kind] = {"src": f"img/{url(target.name)}", "size": _size(target)}
        return out

    def _make(self, source: Path, gt_path: Path, targets: dict[str, Path], out: dict[str, Any]) -> None:
        from PIL import Image

        from ..evaluate import load_ground_truth
        from .._loader import load_image

        rgb = load_image(source, max_pixels=self.max_pixels)
        rgb8 = (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
        if "photo" in targets:
            th.save_thumbnail(th.shrink(Image.fromarray(rgb8)), targets["photo"])
        if "seg" in targets:
            from .._segment import segment

            t0 = time.perf_counter()
            seg = segment(rgb, **self.params, max_pixels=None)
            self.seconds += time.perf_counter() - t0
            self.segmented += 1
            th.save_thumbnail(_regions_picture(rgb8, seg.labels), targets["seg"])
        if "gt" in targets:
            humans = load_ground_truth(gt_path)
            if humans and humans[0].shape == rgb8.shape[:2]:
                th.save_thumbnail(_regions_picture(rgb8, humans[0]), targets["gt"])


def _regions_picture(rgb8: np.ndarray, labels: np.ndarray) -> Any:
    """A thumbnail of a segmentation: each region painted with the photo's mean colour there, outlined."""
    from PIL import Image

    labels = np.asarray(labels)
    _, flat = np.unique(labels.ravel(), return_inverse=True)
    counts = np.bincount(flat).astype(np.float64)
    means = np.stack([np.bincount(flat, weights=rgb8[..., c].ravel()) for c in range(3)], axis=1)
    means = (means / np.maximum(counts, 1)[:, None] + 0.5).astype(np.uint8)
    painted = means[flat].reshape(rgb8.shape)
    small = th.shrink(Image.fromarray(painted))
    return th.overlay_edges(small, th.label_edges(labels), colour=(255, 255, 255))


def _size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.size
