"""Benchmarks over a folder: segment a data set and score it against people.

:func:`evaluate_folder` segments every image of a folder for each parameter
setting and scores it with :mod:`segshift.evaluate` against the human
segmentations of a ground-truth folder (matched by file stem), in parallel
over images; settings that differ only in the region stage share one
mean-shift filter per image. It sits above :func:`segshift.segment`, like
the batch runner; the metrics module stays free of the pipeline.

Segmentations that carry a region hierarchy (``seg.ucm``, an ultrametric
contour map) are also scored by the contour benchmark
(:mod:`segshift.evaluate.contours`), at thresholds common to every image of
the folder: a first pass segments and scores the regions, keeping each UCM
in a temporary folder; a second pass matches every UCM's boundaries at
those thresholds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import multiprocessing
import os
import signal
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

from ._compile import warm_up
from ._signals import hold_sigint
from .errors import ImageError, ImageReadError, ParameterError, SegshiftError
from .evaluate import (
    DEFAULT_TOLERANCE,
    ContourCounts,
    ContourScores,
    DatasetScores,
    PathLike,
    Scores,
    _check_tolerance,
    aggregate,
    aggregate_contours,
    evaluate_segmentation,
    evaluate_ucm,
    load_ground_truth,
)
from .evaluate.contours import DEFAULT_THRESHOLDS, _check_thresholds
from ._loader import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, load_image
from ._meanshift import check_positive
from .params import Params
from .params import defaults as _model_defaults
from ._segment import (
    image_modes,
    min_size_pixels,
    scale_defaults,
    segment,
    segmentation_from_modes,
)

__all__ = [
    "GROUND_TRUTH_EXTENSIONS",
    "FolderEvaluation",
    "ImageEvaluation",
    "evaluate_folder",
    "find_ground_truth",
    "setting_name",
]

#: Ground-truth files, by extension, in order of preference when a stem has several.
GROUND_TRUTH_EXTENSIONS: tuple[str, ...] = (".mat", ".npy", ".png", ".tif", ".tiff", ".bmp", ".pgm")

# The options a setting may give (the parameter model's), with their defaults;
# the relative spatial radius is None here, as the filter stage takes it.
_SEGMENT_DEFAULTS = {**_model_defaults(), "spatial_radius": None}
# Those the filter stage takes: settings that differ only in the others share it.
_FILTER_PARAMS = set(inspect.signature(image_modes).parameters) - {"rgb"}
# Those only the region stage reads (after the filter).
_REGION_PARAMS = {"min_size", "scale", "n_regions", "region_colour"}
# Short names for setting_name(); other parameters appear as name=value.
_SHORT = {"spatial_radius": "s", "range_radius": "r", "min_size": "m"}


@dataclass(frozen=True)
class ImageEvaluation:
    """The scores of one image of a folder under every setting.

    Attributes
    ----------
    image : str
        The image's file name (relative to the image folder).
    ground_truth : str
        The ground-truth file it was scored against.
    scores : tuple of Scores
        One per setting, in the order of :attr:`FolderEvaluation.settings`;
        empty when the image failed.
    regions : tuple of int
        Regions of the segmentation, one per setting.
    seconds : float
        Wall time for the image: reading, every setting, scoring.
    error : str or None
        Why the image failed: one line naming the file.
    contours : tuple of ContourCounts or None
        One per setting: the contour benchmark of the segmentation's UCM,
        None for a segmentation without one; empty when none has one.
    """

    image: str
    ground_truth: str
    scores: tuple[Scores, ...] = ()
    regions: tuple[int, ...] = ()
    seconds: float = 0.0
    error: str | None = None
    detail: str | None = field(default=None, repr=False, compare=False)
    contours: tuple[ContourCounts | None, ...] = field(default=(), repr=False)

    @property
    def ok(self) -> bool:
        """True when the image was scored."""
        return self.error is None

    def as_dict(self, names: Sequence[str]) -> dict[str, Any]:
        """JSON-ready record; ``names`` are the setting names."""
        return {
            "image": self.image,
            "ground_truth": self.ground_truth,
            "status": "ok" if self.ok else "failed",
            "error": self.error,
            "seconds": round(self.seconds, 4),
            "scores": {
                name: dict(s.as_dict(), regions=n, **self._contour_dict(k))
                for k, (name, s, n) in enumerate(zip(names, self.scores, self.regions))
            },
        }

    def _contour_dict(self, setting: int) -> dict[str, Any]:
        """``{"contours": the best threshold's threshold, P, R, F}`` (OIS pick), or nothing."""
        c = self.contours[setting] if setting < len(self.contours) else None
        if c is None:
            return {}
        f = c.f
        k = int(np.flatnonzero(f == f.max())[-1])
        best = {"threshold": float(c.thresholds[k]), "precision": float(c.precision[k]),
                "recall": float(c.recall[k]), "f": float(f[k])}
        return {"contours": best}


@dataclass
class FolderEvaluation:
    """The outcome of :func:`evaluate_folder`.

    Attributes
    ----------
    image_dir, gt_dir : pathlib.Path
    settings : list of dict
        The settings, complete (every :func:`segshift.segment` keyword
        argument), without duplicates, in the order given.
    names : list of str
        A short name per setting (:func:`setting_name`), the keys of
        ``summary``'s ``*_setting`` fields.
    images : list of ImageEvaluation
        Every image that has ground truth, sorted by name, scored or failed.
    missing : list of str
        Images without ground truth (not scored).
    per_setting : list of DatasetScores
        For each setting, the data-set scores of that setting alone
        (covering and boundary counts pooled over images, PRI and VI
        averaged, as BSDS); empty when no image was scored.
    summary : DatasetScores or None
        ODS and OIS over all settings (:func:`aggregate`); None when no
        image was scored.
    seconds : float
        Wall time of the run.
    contours : list of ContourScores or None
        For each setting, the contour benchmark of its UCMs over the scored
        images (:func:`~segshift.evaluate.aggregate_contours`): the
        precision-recall curve, ODS, OIS and AP; None for a setting whose
        segmentations carry no UCM; empty when none does.
    """

    image_dir: Path
    gt_dir: Path
    settings: list[dict[str, Any]]
    names: list[str]
    images: list[ImageEvaluation]
    missing: list[str] = field(default_factory=list)
    per_setting: list[DatasetScores] = field(default_factory=list)
    summary: DatasetScores | None = None
    seconds: float = 0.0
    contours: list[ContourScores | None] = field(default_factory=list)

    @property
    def best_contours(self) -> int | None:
        """The setting whose UCMs score the best contour ODS F (None when no setting has UCMs)."""
        ranked = [(c.ods_f, -k) for k, c in enumerate(self.contours) if c is not None]
        return -max(ranked)[1] if ranked else None

    @property
    def scored(self) -> list[ImageEvaluation]:
        """The images that were scored."""
        return [r for r in self.images if r.ok]

    @property
    def failed(self) -> list[ImageEvaluation]:
        """The images that could not be scored (unreadable, wrong size, ...)."""
        return [r for r in self.images if not r.ok]

    def mean_regions(self, setting: int) -> float:
        """Mean number of regions of setting number ``setting`` over the scored images."""
        counts = [r.regions[setting] for r in self.scored]
        return float(np.mean(counts)) if counts else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-ready data, per-image scores included.

        When segmentations carry a UCM, each setting's row has its
        ``"contours"`` and the top level a ``"contours"`` key: thresholds,
        precision, recall, f (lists), ``ods`` (threshold, precision, recall,
        f), ``ois`` (precision, recall, f) and ``ap``, of the setting with
        the best ODS F.
        """
        rows = []
        for k, (name, params) in enumerate(zip(self.names, self.settings)):
            row: dict[str, Any] = {"name": name, "params": dict(params)}
            if self.per_setting:
                d = self.per_setting[k]
                row.update(
                    covering=d.covering_ods,
                    pri=d.pri_ods,
                    vi=d.vi_ods,
                    boundary_precision=d.boundary_ods.precision,
                    boundary_recall=d.boundary_ods.recall,
                    boundary_f=d.boundary_ods.f,
                    mean_regions=self.mean_regions(k),
                )
            if k < len(self.contours) and self.contours[k] is not None:
                row["contours"] = self.contours[k].as_dict()
            rows.append(row)
        out = {
            "image_dir": str(self.image_dir),
            "gt_dir": str(self.gt_dir),
            "counts": {
                "scored": len(self.scored),
                "failed": len(self.failed),
                "missing_ground_truth": len(self.missing),
            },
            "seconds": round(self.seconds, 3),
            "settings": rows,
            "ods_ois": None if self.summary is None else self.summary.as_dict(),
            "images": [r.as_dict(self.names) for r in self.images],
            "missing_ground_truth": list(self.missing),
        }
        best = self.best_contours
        if best is not None:
            # The contour benchmark of the setting with the best ODS F (the only one, with one setting).
            out["contours"] = self.contours[best].as_dict()
        return out


def setting_name(setting: Mapping[str, Any]) -> str:
    """A short readable name of a setting: ``"s=7 r=6.5 m=20"``, then other non-default parameters.

    Examples
    --------
    >>> setting_name({"spatial_radius": 7, "range_radius": 6.5, "min_size": 20, "kernel": "gaussian"})
    's=7 r=6.5 m=20 kernel=gaussian'
    """
    full = {**_SEGMENT_DEFAULTS, **setting}
    full.update(scale_defaults(full["scale"], range_radius=full["range_radius"], min_size=full["min_size"]))
    parts = [f"{_SHORT[k]}=auto" if full[k] is None else f"{_SHORT[k]}={full[k]:g}" for k in _SHORT]
    for key, value in full.items():
        if key not in _SHORT and value != _SEGMENT_DEFAULTS.get(key, object()):
            parts.append(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}")
    return " ".join(parts)


def _check_settings(settings: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Complete, validate and de-duplicate the settings (messages name the parameter)."""
    if isinstance(settings, Mapping):
        settings = [settings]
    if not isinstance(settings, Sequence) or isinstance(settings, str) or not settings:
        raise ParameterError("settings must be a non-empty list of dicts of segment() keyword arguments")
    out: list[dict[str, Any]] = []
    for k, setting in enumerate(settings):
        if not isinstance(setting, Mapping):
            raise ParameterError(f"settings[{k}] must be a dict of segment() keyword arguments, got {setting!r}")
        unknown = sorted(set(setting) - set(_SEGMENT_DEFAULTS))
        if unknown:
            raise ParameterError(
                f"settings[{k}]: unknown parameter {unknown[0]!r}; use {', '.join(_SEGMENT_DEFAULTS)}"
            )
        model = Params().replace(**setting)  # validated by the parameter model
        full = model.resolved()
        full["spatial_radius"] = None if model.relative else model.spatial_radius
        if full not in out:
            out.append(full)
    return out


def _groups(settings: list[dict[str, Any]]) -> tuple[tuple[dict[str, Any], tuple[int, ...]], ...]:
    """Settings that share the filter stage (differ only in ``min_size``, ``scale``, ``n_regions``):
    ``((shared parameters, setting indices), ...)``."""
    groups: dict[tuple, tuple[dict[str, Any], list[int]]] = {}
    for index, setting in enumerate(settings):
        shared = {k: v for k, v in setting.items() if k not in _REGION_PARAMS}
        key = tuple(sorted((k, repr(v)) for k, v in shared.items()))
        groups.setdefault(key, (shared, []))[1].append(index)
    return tuple((shared, tuple(members)) for shared, members in groups.values())


def find_ground_truth(
    image_dir: PathLike, gt_dir: PathLike
) -> tuple[list[tuple[str, Path]], list[str]]:
    """Pair the images of a folder with ground-truth files of the same stem.

    Parameters
    ----------
    image_dir : str or path-like
        Folder of images (extensions of :data:`IMAGE_EXTENSIONS`; hidden
        files and sub-folders are skipped).
    gt_dir : str or path-like
        Folder of ground truth: ``STEM.mat`` (BSDS), ``STEM.npy`` or a label
        image ``STEM.png``/``.tif``/... When a stem has several, the first
        of :data:`GROUND_TRUTH_EXTENSIONS` is used. May be ``image_dir``
        (a file is never its own ground truth).

    Returns
    -------
    pairs : list of (str, pathlib.Path)
        ``(image file name, ground-truth path)``, sorted by image name.
    missing : list of str
        Images without ground truth, sorted.

    Raises
    ------
    ImageReadError
        A folder does not exist, is not a folder, or cannot be listed.
    """
    image_root, gt_root = Path(image_dir), Path(gt_dir)
    images = [e for e in _list_folder(image_root) if Path(e).suffix.lower() in IMAGE_EXTENSIONS]
    truth: dict[str, tuple[int, Path]] = {}
    for name in _list_folder(gt_root):
        path = Path(name)
        suffix = path.suffix.lower()
        if suffix in GROUND_TRUTH_EXTENSIONS:
            rank = GROUND_TRUTH_EXTENSIONS.index(suffix)
            if path.stem not in truth or rank < truth[path.stem][0]:
                truth[path.stem] = (rank, gt_root / name)
    same_folder = os.path.normcase(os.path.realpath(image_root)) == os.path.normcase(os.path.realpath(gt_root))
    pairs: list[tuple[str, Path]] = []
    missing: list[str] = []
    for name in images:
        found = truth.get(Path(name).stem)
        if found is None or (same_folder and found[1].name == name):
            missing.append(name)
        else:
            pairs.append((name, found[1]))
    return pairs, missing


def _list_folder(folder: Path) -> list[str]:
    """Sorted names of the non-hidden files of a folder (links followed)."""
    if not folder.exists():
        raise ImageReadError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise ImageReadError(f"{folder}: not a folder")
    try:
        with os.scandir(folder) as listing:
            names = []
            for entry in listing:
                with contextlib.suppress(OSError):
                    if not entry.name.startswith(".") and not entry.is_dir():
                        names.append(entry.name)
    except OSError as exc:
        raise ImageReadError(f"{folder}: cannot list folder ({exc.strerror or exc})") from None
    return sorted(names)


@dataclass(frozen=True)
class _PhotoTask:
    """One image to score under every setting (picklable, sent to a worker)."""

    index: int
    image: str  # path
    ground_truth: str
    groups: tuple[tuple[dict[str, Any], tuple[int, ...]], ...]
    settings: tuple[dict[str, Any], ...]
    max_pixels: int | None
    tolerance: float
    ucm_dir: str | None = None
    n_thresholds: int = DEFAULT_THRESHOLDS


@dataclass(frozen=True)
class _ContourTask:
    """The contour benchmark of one image's UCMs (second pass; picklable)."""

    index: int
    image: str  # path, for messages
    ground_truth: str
    ucms: tuple[tuple[int, str], ...]  # (setting, .npy file)
    thresholds: tuple[tuple[float, ...], ...]  # per setting
    tolerance: float


def evaluate_folder(
    image_dir: PathLike,
    gt_dir: PathLike,
    settings: Sequence[Mapping[str, Any]] = ({},),
    *,
    jobs: int | None = None,
    limit: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    tolerance: float = DEFAULT_TOLERANCE,
    thresholds: int | Sequence[float] = DEFAULT_THRESHOLDS,
    progress: Callable[[int, int, ImageEvaluation | None], None] | None = None,
) -> FolderEvaluation:
    """Segment every image of a folder under each setting and score it against its ground truth.

    For each image the mean-shift filter, the expensive stage, runs once per
    group of settings that differ only in ``min_size``; each ``min_size``
    then reuses its modes (:func:`segshift._segment.regions_from_modes`). The
    labels are those :func:`segshift.segment` gives.

    Parameters
    ----------
    image_dir : str or path-like
        Folder of images (not searched recursively).
    gt_dir : str or path-like
        Folder of ground truth matched by file stem: ``images/12003.jpg`` is
        scored against ``gt/12003.mat`` (BSDS500 layout), ``gt/12003.npy``
        or a label image ``gt/12003.png`` (see :func:`find_ground_truth`
        and :func:`load_ground_truth`).
    settings : sequence of dict
        Keyword arguments of :func:`segshift.segment` (``spatial_radius``,
        ``range_radius``, ``min_size`` in pixels or as a fraction of the
        image's area, ``kernel``, ``tol``, ``max_iter``, ``compat``, ...),
        one dict per setting; missing ones take segment()'s defaults.
        Default: one setting, segment()'s defaults.
    jobs : int, optional
        Worker processes, one image each at a time, each with one numba
        thread (default: the CPU cores). With 1, images are done in this
        process with numba's threads.
    limit : int, optional
        Score only the first ``limit`` images (by name) that have ground truth.
    max_pixels : int or None
        Refuse larger images (as :func:`segshift.load_image`).
    tolerance : float
        Boundary match distance as a fraction of the image diagonal.
    thresholds : int or sequence of float
        Thresholds of the contour benchmark, for segmentations that carry a
        UCM: the same for every image, so that ODS is one threshold for the
        data set. A count ``N`` (default 99): when the UCMs of a setting
        have at most ``N`` distinct heights in all, each of them (see
        :func:`~segshift.evaluate.ucm_thresholds`), otherwise ``N``
        evenly spaced from 0 up to the largest height of any image. Or the
        increasing thresholds themselves.
    progress : callable, optional
        ``progress(done, total, record)``: once with ``(0, total, None)``
        before the first image, then after each image with its
        :class:`ImageEvaluation`.

    Returns
    -------
    FolderEvaluation
        Per-image scores for every setting, each setting's data-set scores,
        ODS/OIS over the settings, and the contour benchmark of the settings
        whose segmentations carry a UCM. Images without ground truth are
        listed in ``missing``; images that cannot be read, segmented or
        scored (corrupt, ground truth of another size, ...) are kept with
        their ``error`` and left out of the data-set scores.

    Raises
    ------
    ParameterError
        A setting or option is out of range (the message names it).
    ImageReadError
        A folder is missing or unreadable, it has no images, or no image
        has ground truth.

    Notes
    -----
    A worker process that dies (killed, out of memory) costs only the image
    it was working on: the others that were running with it are redone.

    References
    ----------
    .. [1] Arbelaez et al., IEEE TPAMI 2011.

    Examples
    --------
    >>> ev = evaluate_folder("BSDS500/images/val", "BSDS500/groundTruth/val",
    ...                      [{"min_size": m} for m in (20, 300)])  # doctest: +SKIP
    >>> ev.summary.covering_ods, ev.summary.covering_ods_setting  # doctest: +SKIP
    """
    start = time.perf_counter()
    full = _check_settings(settings)
    jobs = _default_jobs() if jobs is None else int(check_positive("jobs", jobs, integer=True))
    if limit is not None:
        limit = int(check_positive("limit", limit, integer=True))
    if max_pixels is not None:
        max_pixels = int(check_positive("max_pixels", max_pixels, integer=True))
    tolerance = _check_tolerance(tolerance)
    thresholds = _check_thresholds(thresholds)
    image_root, gt_root = Path(image_dir), Path(gt_dir)

    pairs, missing = find_ground_truth(image_root, gt_root)
    if not pairs and not missing:
        raise ImageReadError(f"{image_root}: no images ({', '.join(IMAGE_EXTENSIONS)})")
    if not pairs:
        raise ImageReadError(
            f"{gt_root}: no ground truth for any of the {len(missing)} image(s) of {image_root}"
            f" (looked for STEM{', STEM'.join(GROUND_TRUTH_EXTENSIONS)})"
        )
    if limit is not None:
        pairs = pairs[:limit]
    groups = _groups(full)
    with tempfile.TemporaryDirectory(prefix="segshift-ucm-") as ucm_dir:
        n_thresholds = thresholds if isinstance(thresholds, int) else DEFAULT_THRESHOLDS
        tasks = [
            _PhotoTask(
                i, str(image_root / name), str(gt), groups, tuple(full), max_pixels, tolerance, ucm_dir, n_thresholds
            )
            for i, (name, gt) in enumerate(pairs)
        ]
        records, ucm_files = _first_pass(tasks, pairs, full, jobs, progress)
        if ucm_files:
            records = _second_pass(records, ucm_files, thresholds, n_thresholds, tolerance, jobs)

    names = [setting_name(s) for s in full]
    evaluation = FolderEvaluation(image_root, gt_root, full, names, records, missing)
    scored = evaluation.scored
    if scored:
        by_setting = {name: [r.scores[k] for r in scored] for k, name in enumerate(names)}
        evaluation.per_setting = [aggregate({name: rows}) for name, rows in by_setting.items()]
        evaluation.summary = aggregate(by_setting)
        if any(r.contours for r in scored):
            evaluation.contours = []
            for k in range(len(full)):
                counts = [r.contours[k] for r in scored if r.contours and r.contours[k] is not None]
                evaluation.contours.append(aggregate_contours(counts) if counts else None)
    evaluation.seconds = time.perf_counter() - start
    return evaluation


def _first_pass(
    tasks: list[_PhotoTask],
    pairs: list[tuple[str, Path]],
    full: list[dict[str, Any]],
    jobs: int,
    progress: Callable[[int, int, ImageEvaluation | None], None] | None,
) -> tuple[list[ImageEvaluation], dict[int, list[tuple[int, str, NDArray[np.float64] | float]]]]:
    """Segment and score every image; returns the records and, per image, its UCM files.

    The UCM files of image ``i``: ``[(setting, path, heights), ...]``, with
    ``heights`` its distinct heights when few, else its largest one.
    """
    results: dict[int, ImageEvaluation] = {}
    ucm_files: dict[int, list[tuple[int, str, Any]]] = {}

    def done(task: _PhotoTask, result: dict[str, Any]) -> None:
        if result.get("ucms"):
            ucm_files[task.index] = result["ucms"]
        results[task.index] = ImageEvaluation(
            pairs[task.index][0],
            task.ground_truth,
            tuple(result.get("scores", ())),
            tuple(result.get("regions", ())),
            result.get("seconds", 0.0),
            result.get("error"),
            result.get("detail"),
        )
        if progress is not None:
            progress(len(results), len(tasks), results[task.index])

    if progress is not None:
        progress(0, len(tasks), None)
    jobs = max(1, min(jobs, len(tasks)))
    if jobs == 1:
        for task in tasks:
            done(task, _evaluate_photo(task))
    else:
        # Compile (or load) the kernels here once, so that the workers load
        # them from the cache rather than all compiling at once.
        warm_up(full, evaluate=True)
        _run_pool(tasks, jobs, done, _evaluate_photo)
    records = [results[i] for i in sorted(results)]
    ucm_files = {i: files for i, files in ucm_files.items() if records[i].ok}
    return records, ucm_files


def _common_thresholds(heights: list[Any], n: int) -> tuple[float, ...]:
    """Thresholds common to the UCMs of one setting (each: its distinct heights, or its maximum)."""
    if all(isinstance(h, np.ndarray) for h in heights):
        every = np.unique(np.concatenate([np.zeros(1), *heights]))
        positive = every[every > 0]
        if positive.size <= n:
            return tuple(float(v) for v in np.concatenate([[0.0], positive[:-1]]))
    top = max((float(h.max()) if h.size else 0.0) if isinstance(h, np.ndarray) else float(h) for h in heights)
    return tuple(float(v) for v in top * np.arange(n, dtype=np.float64) / n)


def _second_pass(
    records: list[ImageEvaluation],
    ucm_files: dict[int, list[tuple[int, str, Any]]],
    thresholds: int | NDArray[np.float64],
    n_thresholds: int,
    tolerance: float,
    jobs: int,
) -> list[ImageEvaluation]:
    """The contour benchmark of every kept UCM at thresholds common to the folder."""
    settings = sorted({k for files in ucm_files.values() for k, _, _ in files})
    common: dict[int, tuple[float, ...]] = {}
    for k in settings:
        if isinstance(thresholds, int):
            common[k] = _common_thresholds([h for files in ucm_files.values() for s, _, h in files if s == k], n_thresholds)
        else:
            common[k] = tuple(float(v) for v in thresholds)
    tasks = [
        _ContourTask(
            i, records[i].image, records[i].ground_truth,
            tuple((k, path) for k, path, _ in files), tuple(common[k] for k, _, _ in files), tolerance,
        )
        for i, files in sorted(ucm_files.items())
    ]
    out = list(records)
    n_settings = len(records[0].scores) if records else 0

    def done(task: _ContourTask, result: dict[str, Any]) -> None:
        record = out[task.index]
        if result.get("error") is not None:
            out[task.index] = dataclasses.replace(
                record, scores=(), regions=(), error=result["error"], detail=result.get("detail")
            )
            return
        contours: list[ContourCounts | None] = [None] * max(n_settings, len(record.scores))
        for k, counts in result["contours"]:
            contours[k] = counts
        out[task.index] = dataclasses.replace(
            record, contours=tuple(contours), seconds=record.seconds + result["seconds"]
        )

    jobs = max(1, min(jobs, len(tasks)))
    if jobs == 1:
        for task in tasks:
            done(task, _evaluate_contours(task))
    else:
        # Compile (or load) the contour kernels here once, before the workers do.
        tiny = np.zeros((8, 8))
        tiny[:, 3] = 1.0
        evaluate_ucm(tiny, [np.ones((8, 8), dtype=np.int64)])
        _run_pool(tasks, jobs, done, _evaluate_contours)
    return out


def _evaluate_contours(task: _ContourTask) -> dict[str, Any]:
    """The contour benchmark of one image's UCMs; never raises except KeyboardInterrupt."""
    start = time.perf_counter()
    try:
        gts = load_ground_truth(task.ground_truth)
        contours = []
        for (k, path), thresholds in zip(task.ucms, task.thresholds):
            ucm = np.load(path, allow_pickle=False)
            contours.append((k, evaluate_ucm(ucm, gts, thresholds=np.array(thresholds), tolerance=task.tolerance)))
        return {"contours": contours, "seconds": time.perf_counter() - start}
    except Exception as exc:
        return _failure(task, exc, start)


def _failure(task: Any, exc: Exception, start: float) -> dict[str, Any]:
    """The result row of a photo whose work raised ``exc`` (call inside the except block)."""
    if isinstance(exc, (SegshiftError, OSError)):
        message, detail = str(exc).strip() or type(exc).__name__, None
    elif isinstance(exc, MemoryError):
        message, detail = "out of memory (lower --max-pixels, or use fewer --jobs)", None
    else:  # a bug: keep going, keep the traceback
        message, detail = f"unexpected {type(exc).__name__}: {exc}", traceback.format_exc()
    if task.image not in message and task.ground_truth not in message:
        message = f"{task.image}: {message}"
    return {"error": " ".join(message.split()), "detail": detail, "seconds": time.perf_counter() - start}


def _default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _evaluate_photo(task: _PhotoTask) -> dict[str, Any]:
    """Segment one image under every setting and score it; never raises except KeyboardInterrupt."""
    _test_crash_hook(task.image)
    start = time.perf_counter()
    try:
        rgb = load_image(task.image, max_pixels=task.max_pixels)
        gts = load_ground_truth(task.ground_truth)
        (height, width), (gh, gw) = rgb.shape[:2], gts[0].shape
        if (gh, gw) != (height, width):
            raise ImageError(
                f"{task.ground_truth}: ground truth is {gw}x{gh} pixels but the image {task.image} is"
                f" {width}x{height}"
            )
        scores: list[Any] = [None] * len(task.settings)
        regions = [0] * len(task.settings)
        ucms: list[tuple[int, str, Any]] = []
        for shared, members in task.groups:
            # The steps of segment(), with the filter run once for the whole group.
            modes = None
            if shared["spatial_radius"] is not None and set(shared) - {"resolution"} <= _FILTER_PARAMS:
                # pixel radii: every pixel climbs, whatever ``resolution`` says
                modes = image_modes(rgb, **{k: v for k, v in shared.items() if k != "resolution"})
            for i in members:
                setting = task.settings[i]
                if modes is None:  # a parameter image_modes does not take: segment() as a whole
                    seg = segment(rgb, **setting, max_pixels=None, start_label=0)
                else:
                    min_pixels = min_size_pixels(setting["min_size"], height * width)
                    seg = segmentation_from_modes(
                        rgb, modes, setting["range_radius"], min_pixels, compat=setting["compat"],
                        scale=setting["scale"], n_regions=setting["n_regions"],
                    )
                scores[i] = evaluate_segmentation(seg.labels, gts, tolerance=task.tolerance)
                regions[i] = int(seg.n_regions)
                ucm = getattr(seg, "ucm", None)
                if ucm is not None and task.ucm_dir is not None:
                    ucms.append(_keep_ucm(task, i, ucm))
        return {"scores": scores, "regions": regions, "ucms": ucms, "seconds": time.perf_counter() - start}
    except Exception as exc:
        return _failure(task, exc, start)


def _keep_ucm(task: _PhotoTask, setting: int, ucm: Any) -> tuple[int, str, Any]:
    """Save a UCM for the second pass: (setting, file, its distinct heights when few, else its largest)."""
    array = np.asarray(ucm)
    path = os.path.join(task.ucm_dir or "", f"{task.index}-{setting}.npy")
    np.save(path, array, allow_pickle=False)
    heights = np.unique(array[array > 0]) if array.size else np.zeros(0)
    return setting, path, heights if heights.size <= task.n_thresholds else float(heights[-1])


def _test_crash_hook(path: str) -> None:
    """Test-only: a worker dies at once on the file named by SEGSHIFT_TEST_CRASH_ON."""
    name = os.environ.get("SEGSHIFT_TEST_CRASH_ON")
    if name and Path(path).name == name and multiprocessing.parent_process() is not None:
        os._exit(70)


def _init_worker() -> None:
    """Worker start-up: Ctrl-C is the parent's business; one numba thread (one image per core)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    numba.set_num_threads(1)


def _run_pool(
    tasks: Sequence[Any],
    jobs: int,
    done: Callable[[Any, dict[str, Any]], None],
    work: Callable[[Any], dict[str, Any]],
) -> None:
    """Run ``work(task)`` for ``tasks`` in ``jobs`` worker processes, calling ``done`` for each result.

    When a worker dies, every running image gets a :class:`BrokenProcessPool`;
    an image that was running alone is the one that killed it and fails,
    the others are run again, one at a time, to find out.
    """
    context = multiprocessing.get_context("spawn")
    queue = list(reversed(tasks))  # pop() from the end
    alone: list[Any] = []  # suspects of a crash, run one at a time
    executor: ProcessPoolExecutor | None = None
    inflight: dict[Future, Any] = {}
    try:
        while queue or alone or inflight:
            if executor is None:
                executor = ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker)
            source = alone if alone else queue
            while source and len(inflight) < (1 if alone else jobs):
                task = source.pop()
                try:
                    with hold_sigint():  # a worker may start here: Ctrl-C is for this process only
                        inflight[executor.submit(work, task)] = task
                except BrokenProcessPool:  # a worker died since the last wait: its future tells which
                    source.append(task)
                    break
            if not inflight:  # broken with nothing running (a worker killed while idle): start afresh
                executor.shutdown(wait=True, cancel_futures=True)
                executor = None
                continue
            finished, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            crashed = []
            for future in finished:
                task = inflight.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    crashed.append(task)
                    continue
                done(task, result)
            if crashed:
                suspects = crashed + list(inflight.values())
                inflight.clear()
                executor.shutdown(wait=True, cancel_futures=True)
                executor = None
                if len(suspects) == 1:
                    done(suspects[0], {
                        "error": f"{suspects[0].image}: the worker process died while evaluating it"
                        " (killed, or out of memory?)"
                    })
                else:
                    alone.extend(reversed(suspects))
    finally:
        if executor is not None:
            if inflight:  # interrupted: stop the workers now
                for process in list(getattr(executor, "_processes", {}).values()):
                    with contextlib.suppress(Exception):
                        process.terminate()
            executor.shutdown(wait=not inflight, cancel_futures=True)
