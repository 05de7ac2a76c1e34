"""Segment every image in a folder: parallel, resumable, atomic, per-file errors.

:func:`run_batch` is the library behind ``segshift batch``. It

1. finds the images of a folder (:func:`find_images`: sorted, optionally
   recursive through symbolic links without looping, never inside the output
   folder, hidden files skipped);
2. names the outputs by mirroring the folder structure (:func:`plan_outputs`):
   ``IN/sub/a.jpg`` -> ``OUT/sub/a.png``, ``OUT/sub/a.labels.png``,
   ``OUT/sub/a.boundaries.png``, ``OUT/sub/a.stats.json``. When two inputs
   would get the same name (``a.jpg`` and ``a.png``) those two, and only
   those, keep their extension: ``a.jpg.png`` and ``a.png.png``;
3. skips inputs whose outputs all exist, unless ``overwrite`` (so an
   interrupted run resumes where it stopped);
4. segments the others (:func:`segment_file`, one plain function per
   file) where :mod:`segshift._runner` runs them: in parallel worker
   processes, in this process for ``jobs=1``, or on any
   ``concurrent.futures.Executor`` such as a Dask cluster's
   (:mod:`segshift._dask_cluster`), writing every file atomically (:mod:`segshift.writers`),
   so that no half-written file is ever left behind (and removing the
   temporary files of a run that was killed); a worker process that dies
   costs only the file it was segmenting;
5. records every input (``ok``, ``skipped``, ``failed`` with a one-line
   error, or ``interrupted``) and writes a manifest, also after Ctrl-C; an
   ``ok`` only once its outputs are on disk here.

One run at a time writes into an output folder (:func:`lock_output_folder`).

A failing file (corrupt, unreadable, too large) never stops the batch.

Folders of georeferenced scenes (``geo=True``, or any scene-only setting such
as ``"polygons"`` among the outputs; the ``segshift[geo]`` extra) go through
the same steps with another per-file work, :func:`segment_scene_file`
(:func:`segshift.geo.segment_scene`): ``IN/sub/a.tif`` -> ``OUT/sub/a.tif``
(modes), ``OUT/sub/a.labels.tif`` and ``OUT/sub/a.gpkg``, with the settings
and defaults of a single scene (:func:`segshift.geo.segment_raster`).
"""

from __future__ import annotations

import contextlib
import datetime
import multiprocessing
import os
import socket
import sys
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Union, cast

from ._compile import warm_up
from ._dask_cluster import as_dask_executor, client_of, warm_workers
from .errors import ImageReadError, OutputError, ParameterError, SegshiftError
from ._loader import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS
from ._meanshift import check_positive
from .params import Params
from ._runner import Runner, capacity_of, default_jobs
from ._segment import _params_from, check_start_label
from .writers import (
    IMAGE_FORMATS,
    LABEL_FORMATS,
    OUTPUT_KINDS,
    check_output,
    output_format,
    read_manifest,
    remove_stale_temp_files,
    write_manifest,
    write_output,
)

__all__ = [
    "run_batch",
    "find_images",
    "plan_outputs",
    "segment_file",
    "segment_scene_file",
    "remove_stale_scratch",
    "lock_output_folder",
    "verify_outputs",
    "BatchReport",
    "BatchEvent",
    "FileRecord",
    "FileTask",
]

PathLike = Union[str, "os.PathLike[str]"]

#: Extensions picked up when no glob pattern is given (case-insensitive).
DEFAULT_EXTENSIONS: tuple[str, ...] = IMAGE_EXTENSIONS

#: Extensions of scenes picked up when no glob pattern is given (rasters GDAL reads).
SCENE_EXTENSIONS: tuple[str, ...] = (".tif", ".tiff", ".jp2", ".vrt", ".img")

#: What goes between an output's base name and its extension, per kind.
OUTPUT_SUFFIXES: dict[str, str] = {
    "modes": "", "boundaries": ".boundaries", "labels": ".labels", "ucm": ".ucm", "stats": ".stats",
    "polygons": "",
}

#: Output kinds of a folder of scenes (georeferenced rasters): the mode and label GeoTIFFs, the polygons.
SCENE_KINDS: tuple[str, ...] = ("modes", "labels", "polygons")

#: Extensions of a scene's polygons (GeoPackage, GeoJSON, FlatGeobuf).
VECTOR_FORMATS: tuple[str, ...] = (".gpkg", ".geojson", ".fgb")

#: Name of the manifest inside the output folder, unless told otherwise.
DEFAULT_MANIFEST = "manifest.json"

#: The lock file inside the output folder that keeps a second batch out while
#: one is writing there (hidden, so never taken as an input).
LOCK_NAME = ".segshift-batch.lock"

Status = Literal["ok", "skipped", "failed", "interrupted"]


class _PhotoDefault(str):
    """A default of :func:`run_batch` that knows it was not given: scenes have defaults of their own
    (:data:`segshift.geo.GEO_DEFAULTS`); for photos it is the plain string."""


@dataclass(frozen=True)
class FileRecord:
    """What happened to one input.

    Attributes
    ----------
    input : str
        The input, relative to the input folder (``/``-separated).
    outputs : tuple of str
        Output files relative to the output folder: all requested ones for
        ``ok`` and ``skipped``, those that exist for ``failed``/``interrupted``.
    status : {"ok", "skipped", "failed", "interrupted"}
    regions : int or None
        Number of regions (for ``skipped``: from the previous manifest, if any).
    seconds : float or None
        Wall time for this file: reading, segmenting and writing.
    error : str or None
        One line naming the file and the problem.
    detail : str or None
        The traceback of an unexpected error (not written to the manifest).
    """

    input: str
    outputs: tuple[str, ...] = ()
    status: Status = "ok"
    regions: int | None = None
    seconds: float | None = None
    error: str | None = None
    detail: str | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The manifest record: input, outputs, regions, seconds, status, error."""
        return {
            "input": self.input,
            "outputs": list(self.outputs),
            "regions": self.regions,
            "seconds": None if self.seconds is None else round(self.seconds, 4),
            "status": self.status,
            "error": self.error,
        }


@dataclass(frozen=True)
class BatchEvent:
    """Progress of a batch, passed to the ``progress`` callback of :func:`run_batch`.

    Attributes
    ----------
    kind : {"start", "file", "stopping"}
        ``"start"`` once before the first file (``total`` is known),
        ``"file"`` after each processed file (``record`` is set),
        ``"stopping"`` when an interrupt arrives (``running`` files are
        being finished).
    done, total : int
        Files processed so far, and files to process (skipped ones excluded).
    record : FileRecord or None
    running : int
        Files being processed when ``kind == "stopping"``.
    """

    kind: Literal["start", "file", "stopping"]
    done: int
    total: int
    record: FileRecord | None = None
    running: int = 0


@dataclass
class BatchReport:
    """The outcome of :func:`run_batch`.

    Attributes
    ----------
    records : list of FileRecord
        One per input found, in sorted input order.
    in_dir, out_dir : pathlib.Path
    manifest : pathlib.Path or None
        Where the manifest was written.
    seconds : float
        Wall time of the whole run.
    interrupted : bool
        True when a KeyboardInterrupt stopped the run early.
    ignored : list of str
        Files of the input folder that matched no pattern (not images).
    jobs : int
        Worker processes used (1: this process); with an executor, the most
        files in flight at once.
    """

    records: list[FileRecord]
    in_dir: Path
    out_dir: Path
    manifest: Path | None = None
    seconds: float = 0.0
    interrupted: bool = False
    ignored: list[str] = field(default_factory=list)
    jobs: int = 1

    def with_status(self, status: Status) -> list[FileRecord]:
        """The records with this status."""
        return [r for r in self.records if r.status == status]

    @property
    def counts(self) -> dict[str, int]:
        """Number of records per status (every status present, possibly 0)."""
        out = {s: 0 for s in ("ok", "skipped", "failed", "interrupted")}
        for record in self.records:
            out[record.status] += 1
        return out

    @property
    def ok(self) -> bool:
        """True when nothing failed and the run was not interrupted."""
        return not self.interrupted and not self.with_status("failed")

    @property
    def images_per_second(self) -> float:
        """Processed files (ok or failed) per second of wall time."""
        c = self.counts
        return (c["ok"] + c["failed"]) / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class FileTask:
    """One input to segment: everything :func:`segment_file` needs (picklable).

    Attributes
    ----------
    index : int
        Position of the input among the inputs found.
    source : str
        Path of the input.
    outputs : tuple of (kind, path)
        Outputs to write (only the missing ones, unless overwriting).
    params : dict
        Keyword arguments of :func:`segshift.segment`.
    max_pixels : int or None
    numba_threads : int or None
        Numba threads for this file (None: leave the worker's setting).
    out_root : str or None
        The output folder, which exists before the task is sent: a worker
        that does not see it writes nothing and says so.

    Notes
    -----
    ``source``, the output paths and ``out_root`` are absolute: a worker
    (a Dask worker above all) may run in another working directory.
    """

    index: int
    source: str
    outputs: tuple[tuple[str, str], ...]
    params: dict[str, Any]
    max_pixels: int | None
    numba_threads: int | None = None
    out_root: str | None = None


# --------------------------------------------------------------------------- #
# Finding inputs and naming outputs
# --------------------------------------------------------------------------- #


def find_images(
    in_dir: PathLike,
    *,
    recursive: bool = False,
    patterns: Sequence[str] | None = None,
    exclude: Iterable[PathLike] = (),
) -> tuple[list[str], list[str], list[str]]:
    """List the images of a folder, sorted.

    Parameters
    ----------
    in_dir : str or path-like
        The folder.
    recursive : bool
        Descend into sub-folders, following symbolic links; a folder reached
        twice (a link loop, or two links to one place) is read once, under
        the first of its paths in name order.
    patterns : sequence of str, optional
        Glob patterns matched case-insensitively against the path relative to
        ``in_dir`` from the right (``"*.jpg"``, ``"raw/*.png"``). Default:
        files with an extension of :data:`DEFAULT_EXTENSIONS`.
    exclude : iterable of path-like
        Folders never entered (the output folder).

    Returns
    -------
    images : list of str
        Matching files, relative to ``in_dir`` with ``/`` separators.
    ignored : list of str
        Other (non-hidden) files.
    unreadable : list of str
        Sub-folders that could not be listed, relative, ending in ``/``.

    Notes
    -----
    Hidden files and folders (name starting with ``.``) are skipped; so are
    the temporary files of interrupted writes.
    """
    root = Path(in_dir)
    lowered = [p.lower() for p in patterns] if patterns else None
    excluded = {os.path.normcase(os.path.realpath(e)) for e in exclude}
    seen: set[tuple[int, int]] = set()
    images: list[PurePosixPath] = []
    ignored: list[PurePosixPath] = []
    unreadable: list[str] = []
    stack: list[tuple[Path, PurePosixPath]] = [(root, PurePosixPath())]
    while stack:
        folder, rel = stack.pop()
        try:
            info = folder.stat()
            key = (info.st_dev, info.st_ino)
            if key in seen:
                continue
            seen.add(key)
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            if rel == PurePosixPath():
                raise ImageReadError(f"{root}: cannot list folder ({exc.strerror or exc})") from None
            unreadable.append(f"{rel}/")
            continue
        folders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = rel / entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                if recursive and os.path.normcase(os.path.realpath(entry.path)) not in excluded:
                    folders.append((Path(entry.path), path))
                continue
            if _matches(path, lowered):
                images.append(path)
            else:
                ignored.append(path)
        # Depth first in name order, so that of two ways into one folder the first by name is kept.
        stack.extend(reversed(folders))
    key_of = lambda p: p.parts
    return (
        [str(p) for p in sorted(images, key=key_of)],
        [str(p) for p in sorted(ignored, key=key_of)],
        sorted(unreadable),
    )


def _matches(path: PurePosixPath, patterns: list[str] | None) -> bool:
    if patterns is None:
        return path.suffix.lower() in DEFAULT_EXTENSIONS
    lower = PurePosixPath(str(path).lower())
    return any(lower.match(p) for p in patterns)


def _names(base: str, kinds: Sequence[str], exts: dict[str, str]) -> dict[str, str]:
    return {kind: base + OUTPUT_SUFFIXES[kind] + exts[kind] for kind in kinds}


def plan_outputs(
    inputs: Sequence[str],
    kinds: Sequence[str] = ("modes",),
    *,
    image_format: str = ".png",
    labels_format: str = ".png",
    vector_format: str = ".gpkg",
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Name the outputs of each input, mirroring the folder structure.

    Parameters
    ----------
    inputs : sequence of str
        Input paths relative to the input folder (``/``-separated), as
        :func:`find_images` returns them.
    kinds : sequence of {"modes", "boundaries", "labels", "ucm", "stats", "polygons"}
    image_format, labels_format : str
        Extensions of pictures and of label maps and contour maps (UCM)
        (for scenes: ``.tif``, the mode and label GeoTIFFs).
    vector_format : str
        Extension of a scene's polygons: ``sub/a.tif`` gives ``sub/a.gpkg``.

    Returns
    -------
    names : dict
        ``names[input][kind]``: output path relative to the output folder.
        ``sub/a.jpg`` gives ``sub/a.png``, ``sub/a.boundaries.png``,
        ``sub/a.labels.png``/``.npy``, ``sub/a.ucm.png``/``.npy`` and ``sub/a.stats.json``. Inputs whose
        names would collide (compared case-insensitively, so that the
        result is the same on every file system) keep their extension:
        ``a.jpg`` -> ``a.jpg.png``, ``a.png`` -> ``a.png.png``.
    errors : dict
        ``errors[input]``: why an input has no names (a collision that even
        the full names do not resolve; rare, e.g. ``a.jpg`` next to
        ``a.jpg.png``).

    Examples
    --------
    >>> names, errors = plan_outputs(["a.jpg", "a.png", "b.jpg"])
    >>> [names[i]["modes"] for i in ("a.jpg", "a.png", "b.jpg")]
    ['a.jpg.png', 'a.png.png', 'b.png']
    """
    exts = {"modes": image_format, "boundaries": image_format, "labels": labels_format, "ucm": labels_format,
            "stats": ".json", "polygons": vector_format}
    bases = {rel: str(PurePosixPath(rel).with_suffix("")) for rel in inputs}
    clashes: dict[str, set[str]] = {}
    for attempt in range(2):
        owners: dict[str, set[str]] = defaultdict(set)
        for rel in inputs:
            for name in _names(bases[rel], kinds, exts).values():
                owners[name.casefold()].add(rel)
        clashes = {}
        for owner_set in owners.values():
            if len(owner_set) > 1:
                for rel in owner_set:
                    clashes.setdefault(rel, set()).update(owner_set - {rel})
        if not clashes:
            break
        if attempt == 0:
            for rel in clashes:
                bases[rel] = rel
    names = {rel: _names(bases[rel], kinds, exts) for rel in inputs if rel not in clashes}
    errors = {
        rel: f"{rel}: output names collide with those of {', '.join(sorted(others))}; rename one of them"
        for rel, others in clashes.items()
    }
    return names, errors


# --------------------------------------------------------------------------- #
# Running
# --------------------------------------------------------------------------- #


def run_batch(
    in_dir: PathLike,
    out_dir: PathLike,
    *,
    spatial_radius: float | str | None = "auto",
    range_radius: float | None = None,
    min_size: float | None = None,
    scale: str = "auto",
    n_regions: int | None = None,
    kernel: str = "uniform",
    compat: str | None = _PhotoDefault("edison"),
    speedup: str = "none",
    resolution: str = "auto",
    tol: float = 0.01,
    max_iter: int = 100,
    region_colour: str = "mean",
    params: Params | None = None,
    start_label: int = 1,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    outputs: Sequence[str] = ("modes",),
    image_format: str = _PhotoDefault(".png"),
    labels_format: str = _PhotoDefault(".png"),
    recursive: bool = False,
    patterns: Sequence[str] | None = None,
    jobs: int | None = None,
    numba_threads: int | None = None,
    overwrite: bool = False,
    manifest: PathLike | None | Literal[False] = None,
    progress: Callable[[BatchEvent], None] | None = None,
    executor: Executor | None = None,
    geo: bool | None = None,
    band_scale: str | Sequence[float] | None = None,
    vector_format: str = ".gpkg",
    cog: bool = False,
    memory_limit: int | str | None = None,
) -> BatchReport:
    """Segment every image (or every georeferenced scene) of a folder into an output folder.

    Parameters
    ----------
    in_dir : str or path-like
        Folder of images (see :func:`find_images`).
    out_dir : str or path-like
        Folder for the outputs, created if needed; the folder structure of
        ``in_dir`` is mirrored there (see :func:`plan_outputs`). It may lie
        inside ``in_dir`` (it is not scanned) but may not be ``in_dir``.
    spatial_radius, range_radius, min_size, scale, n_regions, kernel, compat, speedup, resolution, tol, max_iter, region_colour, params
        The algorithm's options (:class:`segshift.Params`), as for
        :func:`segshift.segment`; checked before anything is done.
    start_label, max_pixels
        As for :func:`segshift.segment`.
    outputs : sequence of {"modes", "boundaries", "labels", "ucm", "stats"}
        What to write for each image: the mode-colour picture, the input with
        region boundaries, the label map, the ultrametric contour map of the
        hierarchy (not with ``scale="fixed"``), the JSON statistics.
    image_format : str
        Extension of pictures: ``.png``, ``.jpg``, ``.tif``, ``.webp``, ``.bmp``.
    labels_format : {".png", ".npy"}
        Extension of label maps (16-bit PNG, or int32 NumPy) and of contour
        maps (16-bit PNG scaled as :func:`segshift.writers.encode_ucm` says,
        or float64 NumPy).
    recursive : bool
        Include sub-folders.
    patterns : sequence of str, optional
        Glob patterns selecting inputs (default: image extensions).
    jobs : int, optional
        Worker processes (default: the CPU cores available). With 1, files
        are segmented in this process.
    numba_threads : int, optional
        Numba threads per worker process when ``jobs > 1``. Default: the
        numba thread count divided by ``jobs`` (at least 1), so that the
        workers together use each core once. With ``executor``: numba
        threads per file (default: the worker's own setting).
    overwrite : bool
        Redo inputs whose outputs exist. Without it, only missing outputs are
        written, and an input whose outputs all exist is skipped.
    manifest : path-like, None or False
        Where to write the manifest (``.json`` or ``.csv``); ``None``:
        ``OUT_DIR/manifest.json``; ``False``: none. It is rewritten each run
        (with the previous run's region counts kept for skipped inputs) and
        written also after an interruption.
    progress : callable, optional
        Called with a :class:`BatchEvent` at the start, after each file, and
        when an interrupt arrives. An exception from it stops the run as an
        interrupt does if it is a KeyboardInterrupt, else propagates.
    executor : concurrent.futures.Executor, optional
        Run the files there instead of in a local process pool: any
        executor whose workers can import segshift and reach ``out_dir``,
        e.g. :func:`segshift._dask_cluster.executor` of a Dask client (a
        client's own ``client.get_executor()`` is replaced by that one, with
        the same client and options). It is not shut down here. Its workers write
        the outputs; this process writes the manifest. Paths are sent to
        the workers absolute (a worker's working directory is its own); a
        worker that cannot see an input or the output folder fails that
        file with a line naming the path, and an output a worker reports
        written counts only once it is found here, with the size written
        (:func:`verify_outputs`).

    geo : bool, optional
        Segment the inputs as georeferenced scenes with
        :func:`segshift.geo.segment_raster` (the ``segshift[geo]`` extra):
        see *Folders of scenes* below. Default: when a scene-only setting is
        given (``"polygons"`` among the outputs, ``band_scale``, ``cog``, a
        radius in map units such as ``"30m"``, a minimum size as an area
        such as ``"1ha"``); otherwise photos, as always.
    band_scale : {"std", "none"} or sequence of float, optional
        Scenes: divide each band by its standard deviation, by nothing, or
        by the given numbers (default: ``"std"``).
    vector_format : {".gpkg", ".geojson", ".fgb"}
        Scenes: the polygons' format.
    cog : bool
        Scenes: write Cloud-Optimised GeoTIFFs.
    memory_limit : int or str, optional
        Scenes: memory one scene may use (``"2GB"``); default: a quarter of
        the physical memory shared by the local worker processes (with an
        executor, each worker's own quarter). It decides how a scene is
        tiled, never its labels.

    Returns
    -------
    BatchReport

    Raises
    ------
    ParameterError
        A parameter is out of range, an extension is not supported, a
        photo-only setting is given for scenes (or a scene-only one with
        ``geo=False``), or ``out_dir`` is ``in_dir``.
    MissingDependencyError
        Scenes without the ``segshift[geo]`` extra.
    ImageReadError
        ``in_dir`` does not exist or cannot be listed.
    OutputError
        ``out_dir`` cannot be created or written, another batch is writing
        into it (see :func:`lock_output_folder`), or the manifest cannot be
        written.

    Notes
    -----
    One run at a time writes into an output folder: the run holds
    ``OUT_DIR/.segshift-batch.lock`` (:func:`lock_output_folder`) from
    before it lists the inputs until the manifest is written, and a second
    run into the folder raises at once, having written nothing. A run that
    is killed leaves the lock file but not the lock.

    Local worker processes end with this process, however it ends
    (:func:`segshift._runner.die_with_parent`).

    Ctrl-C (KeyboardInterrupt) stops the run cleanly: no new file is
    started, the files being segmented are finished (a second Ctrl-C
    terminates the workers and removes their temporary files), every
    finished output stays, and the manifest marks the rest
    ``"interrupted"``. Worker processes ignore SIGINT, so that only this
    process decides. The report's ``interrupted`` is then True; nothing is
    raised. On an ``executor``, the first Ctrl-C also cancels the
    submitted files that have not started (on a Dask cluster: all of
    them), and a second one stops waiting for the running ones.

    Folders of scenes: each input (by default ``*.tif``, ``*.tiff``,
    ``*.jp2``, ``*.vrt``, ``*.img``: :data:`SCENE_EXTENSIONS`) is segmented
    by :func:`segshift.geo.segment_scene` with the defaults of
    :data:`segshift.geo.GEO_DEFAULTS` for the settings not given
    (``spatial_radius`` and ``min_size`` also in map units, ``compat`` None
    unless given) and writes ``sub/a.tif`` -> ``OUT/sub/a.tif`` (the modes:
    GeoTIFF in the input's bands, type and nodata), ``OUT/sub/a.labels.tif``
    (uint32 labels from 1, nodata 0, on the input's grid and CRS) and
    ``OUT/sub/a.gpkg`` (one polygon per segment with its statistics), each
    atomically. Resume, the manifest, per-scene failures, ``jobs`` and
    ``executor`` work as for photos. The photo-only settings (``params``,
    ``n_regions``, ``scale``, ``speedup``, ``resolution``, ``tol``,
    ``max_iter``, ``region_colour``, ``start_label``) are refused unless
    left at their defaults, and the outputs ``boundaries``, ``ucm`` and
    ``stats`` too; ``max_pixels`` does not apply (scenes are read in
    windows within ``memory_limit``).

    Examples
    --------
    >>> report = run_batch("photos", "segments", outputs=("modes", "stats"))  # doctest: +SKIP
    >>> report.counts  # doctest: +SKIP
    {'ok': 18, 'skipped': 0, 'failed': 2, 'interrupted': 0}
    >>> scenes = run_batch("scenes", "segments", outputs=("labels", "polygons"), spatial_radius="50m",
    ...                    vector_format=".fgb")  # doctest: +SKIP
    """
    start = time.perf_counter()
    geo = _is_scene_batch(geo, outputs, spatial_radius=spatial_radius, min_size=min_size, band_scale=band_scale,
                          cog=cog, memory_limit=memory_limit)
    if geo:
        task_params, kinds, exts = _scene_settings(
            outputs, params=params, spatial_radius=spatial_radius, range_radius=range_radius, min_size=min_size,
            kernel=kernel, compat=compat, band_scale=band_scale, cog=cog, memory_limit=memory_limit,
            image_format=image_format, labels_format=labels_format, vector_format=vector_format,
            photo_only=dict(scale=scale, n_regions=n_regions, speedup=speedup, resolution=resolution, tol=tol,
                            max_iter=max_iter, region_colour=region_colour, start_label=start_label),
        )
        image_ext, labels_ext, vector_ext = exts
        max_pixels = None  # scenes are read in windows, within the memory limit
    else:
        task_params, kinds, image_ext, labels_ext = _photo_settings(
            params, outputs, spatial_radius=spatial_radius, range_radius=range_radius, min_size=min_size,
            scale=scale, n_regions=n_regions, kernel=kernel, compat=compat, speedup=speedup,
            resolution=resolution, tol=tol, max_iter=max_iter, region_colour=region_colour,
            start_label=start_label, max_pixels=max_pixels, image_format=image_format,
            labels_format=labels_format,
        )
        vector_ext = vector_format
    if jobs is not None:
        jobs = int(check_positive("jobs", jobs, integer=True))
    if numba_threads is not None:
        check_positive("numba_threads", numba_threads, integer=True)

    source_root = Path(in_dir)
    target_root = Path(out_dir)
    if not source_root.is_dir():
        what = "no such folder" if not source_root.exists() else "not a folder"
        raise ImageReadError(f"{source_root}: {what}")
    if target_root.exists() and os.path.samefile(source_root, target_root):
        raise ParameterError(f"{target_root}: the output folder must differ from the input folder")
    manifest_path: Path | None
    if manifest is False:
        manifest_path = None
    else:
        manifest_path = target_root / DEFAULT_MANIFEST if manifest is None else Path(manifest)
        output_format(manifest_path, "manifest")
    _prepare_out_dir(target_root)
    with lock_output_folder(target_root):
        return _run_locked(
            source_root, target_root, manifest_path, task_params,
            kinds=kinds, image_ext=image_ext, labels_ext=labels_ext, vector_ext=vector_ext, geo=geo,
            max_pixels=max_pixels,
            recursive=recursive, patterns=patterns, jobs=jobs, numba_threads=numba_threads,
            overwrite=overwrite, progress=progress, executor=executor, start=start,
        )


def _photo_settings(
    params: Params | None, outputs: Sequence[str], *, start_label: int, max_pixels: int | None, image_format: str,
    labels_format: str, **options: Any,
) -> tuple[dict[str, Any], tuple[str, ...], str, str]:
    """(keywords of segment() for the workers, output kinds, picture and label extensions) of a batch of photos."""
    # an unset default is the plain string here, so that it never overrides a value of ``params``
    options = {k: str(v) if isinstance(v, _PhotoDefault) else v for k, v in options.items()}
    model = _params_from(params, **options)
    # what travels to the workers: plain keywords of segment()
    task_params = dict(model.as_dict(), start_label=check_start_label(start_label))
    if max_pixels is not None:
        check_positive("max_pixels", max_pixels, integer=True)
    kinds = _check_kinds(outputs)
    if "ucm" in kinds and model.scale == "fixed":
        raise ParameterError("a UCM needs the region hierarchy; it cannot be written with scale='fixed'")
    image_ext = _check_ext(image_format, IMAGE_FORMATS, "image_format")
    labels_ext = _check_ext(labels_format, LABEL_FORMATS, "labels_format")
    return task_params, kinds, image_ext, labels_ext


def _map_units(value: Any) -> bool:
    """A radius or size given with a unit ("30m", "1ha"): only a scene converts it."""
    return isinstance(value, str) and value.strip().lower() != "auto"


def _is_scene_batch(geo: bool | None, outputs: Sequence[str], **given: Any) -> bool:
    """Whether a batch segments scenes: ``geo``, or (when None) whether a scene-only setting is given."""
    kinds = (outputs,) if isinstance(outputs, str) else tuple(outputs)
    scene_only = [
        name for name, on in (
            ("the output 'polygons'", "polygons" in kinds),
            ("band_scale", given["band_scale"] is not None),
            ("cog", bool(given["cog"])),
            (f"spatial_radius={given['spatial_radius']!r}", _map_units(given["spatial_radius"])),
            (f"min_size={given['min_size']!r}", _map_units(given["min_size"])),
        ) if on
    ]
    if geo is None:
        geo = bool(scene_only)
    elif not geo and scene_only:
        raise ParameterError(f"{scene_only[0]} is for georeferenced scenes, and geo=False says photos")
    if not geo and given["memory_limit"] is not None:
        raise ParameterError("memory_limit is for georeferenced scenes (geo=True); a batch of photos is limited "
                             "by max_pixels")
    return bool(geo)


def _scene_settings(
    outputs: Sequence[str],
    *,
    params: Params | None,
    spatial_radius: Any,
    range_radius: Any,
    min_size: Any,
    kernel: str,
    compat: str | None,
    band_scale: Any,
    cog: bool,
    memory_limit: Any,
    image_format: str,
    labels_format: str,
    vector_format: str,
    photo_only: dict[str, Any],
) -> tuple[dict[str, Any], tuple[str, ...], tuple[str, str, str]]:
    """(keywords of segment_raster() for the workers, output kinds, (modes, labels, polygons) extensions)
    of a batch of scenes: the settings not given take GEO_DEFAULTS; every value is checked here, once."""
    from . import geo
    from .params import Params as Model
    from .params import defaults
    from .tiled import parse_memory

    if params is not None:
        raise ParameterError("params (a segshift.Params) holds photo settings; give a batch of scenes its "
                             "settings as keywords (spatial_radius='30m', band_scale='std', ...)")
    photo_defaults = dict(defaults(), start_label=1)
    for name, value in photo_only.items():
        if not (type(value) is type(photo_defaults[name]) and value == photo_defaults[name]):
            raise ParameterError(f"{name}={value!r} is not available for georeferenced rasters")
    kinds = (outputs,) if isinstance(outputs, str) else tuple(dict.fromkeys(outputs))
    unknown = [k for k in kinds if k not in SCENE_KINDS]
    if unknown or not kinds:
        raise ParameterError(f"the outputs of a scene are a non-empty selection of {', '.join(SCENE_KINDS)}; "
                             f"got {list(kinds)!r}")
    rasters = geo.RASTER_FORMATS
    exts = []
    for name, value in (("image_format", image_format), ("labels_format", labels_format)):
        exts.append(".tif" if isinstance(value, _PhotoDefault) else _check_ext(value, rasters, name))
    exts.append(_check_ext(vector_format, VECTOR_FORMATS, "vector_format"))
    geo.require()  # the extra, or one line saying how to install it
    if "polygons" in kinds:
        from . import vectors

        vectors.require()

    defaults_geo = geo.GEO_DEFAULTS
    if spatial_radius is None or (isinstance(spatial_radius, str) and spatial_radius.strip().lower() == "auto"):
        spatial_radius = defaults_geo["spatial_radius"]
    if isinstance(spatial_radius, str):
        geo.check_units(spatial_radius, "spatial_radius", "length")
    else:
        spatial_radius = check_positive("spatial_radius", spatial_radius)
    range_radius = check_positive("range_radius", defaults_geo["range_radius"] if range_radius is None
                                  else range_radius)
    if min_size is None:
        min_size = defaults_geo["min_size"]
    if isinstance(min_size, str):
        geo.check_units(min_size, "min_size", "area")
    else:
        min_size = check_positive("min_size", min_size, integer=True, allow_zero=True)
    if band_scale is None:
        band_scale = defaults_geo["band_scale"]
    if isinstance(band_scale, str):
        if band_scale.strip().lower() not in ("std", "none"):
            raise ParameterError(f"band_scale must be 'std', 'none' or one number per band, got {band_scale!r}")
        band_scale = band_scale.strip().lower()
    else:
        try:
            values = tuple(float(v) for v in band_scale)
        except (TypeError, ValueError):
            raise ParameterError(f"band_scale must be 'std', 'none' or one number per band, "
                                 f"got {band_scale!r}") from None
        if not values or not all(v > 0 and v < float("inf") for v in values):
            raise ParameterError(f"band_scale must be positive numbers (one per band), got {band_scale!r}")
        band_scale = values
    if isinstance(compat, _PhotoDefault):
        compat = cast("str | None", defaults_geo["compat"])
    elif isinstance(compat, str) and compat.lower() == "none":
        compat = None
    model = Model(kernel=kernel, compat=compat)  # checks both, with the model's messages
    if memory_limit is not None:
        memory_limit = parse_memory(memory_limit)
    task_params = dict(spatial_radius=spatial_radius, range_radius=range_radius, min_size=min_size,
                       band_scale=band_scale, kernel=model.kernel, compat=model.compat, cog=bool(cog),
                       memory_limit=memory_limit)
    return task_params, kinds, (exts[0], exts[1], exts[2])


def _run_locked(
    source_root: Path,
    target_root: Path,
    manifest_path: Path | None,
    params: dict[str, Any],
    *,
    kinds: tuple[str, ...],
    image_ext: str,
    labels_ext: str,
    vector_ext: str = ".gpkg",
    geo: bool = False,
    max_pixels: int | None,
    recursive: bool,
    patterns: Sequence[str] | None,
    jobs: int | None,
    numba_threads: int | None,
    overwrite: bool,
    progress: Callable[[BatchEvent], None] | None,
    executor: Executor | None,
    start: float,
) -> BatchReport:
    """The run of :func:`run_batch` once its arguments are checked and the output folder is locked."""
    if manifest_path is not None:  # fail now rather than after all the work
        check_output(manifest_path, "manifest", overwrite=True, inputs=[])

    if geo and patterns is None:
        patterns = [f"*{ext}" for ext in SCENE_EXTENSIONS]
    images, ignored, unreadable = find_images(
        source_root, recursive=recursive, patterns=patterns, exclude=[target_root]
    )
    if manifest_path is not None:  # a manifest kept among the inputs is never an input itself
        own = os.path.normcase(os.path.realpath(manifest_path))
        if own.startswith(os.path.normcase(os.path.realpath(source_root)) + os.sep):
            images = [r for r in images if os.path.normcase(os.path.realpath(source_root / r)) != own]
    names, clashes = plan_outputs(images, kinds, image_format=image_ext, labels_format=labels_ext,
                                  vector_format=vector_ext)
    previous = {r.get("input"): r for r in read_manifest(manifest_path)} if manifest_path else {}

    # Tasks carry absolute paths: a worker may run in another working
    # directory (a Dask worker started elsewhere), where a relative path
    # names another file, or none. Not resolved through symbolic links:
    # the paths stay those the user gave, made absolute here.
    source_abs = Path(os.path.abspath(source_root))
    target_abs = Path(os.path.abspath(target_root))
    records: dict[int, FileRecord] = {}
    tasks: list[FileTask] = []
    for index, rel in enumerate(images):
        if rel in clashes:
            records[index] = FileRecord(rel, status="failed", error=clashes[rel])
            continue
        rel_outputs = names[rel]
        todo = [
            (kind, str(target_abs / name))
            for kind, name in rel_outputs.items()
            if overwrite or not (target_root / name).exists()
        ]
        if not todo:
            old = previous.get(rel) or {}
            regions = old.get("regions") if old.get("status") in ("ok", "skipped") else None
            seconds = old.get("seconds") if old.get("status") in ("ok", "skipped") else None
            records[index] = FileRecord(
                rel, tuple(rel_outputs.values()), "skipped", regions=regions, seconds=seconds
            )
            continue
        threads = numba_threads if executor is not None else None  # a local pool sets it per worker
        tasks.append(FileTask(index, str(source_abs / rel), tuple(todo), params, max_pixels, threads,
                              str(target_abs)))
    for offset, folder in enumerate(unreadable):
        records[len(images) + offset] = FileRecord(
            folder, status="failed", error=f"{source_root / folder}: cannot list folder"
        )

    # A batch that was killed (not interrupted) may have left temporary files.
    remove_stale_temp_files([path for task in tasks for _, path in task.outputs])
    # and a scene killed there its scratch folders (named after whichever of its outputs came first)
    planned = [str(target_abs / name) for rel in names for name in names[rel].values()]
    if geo:
        remove_stale_scratch(planned)
    rows = _Rows(images, names, target_root, progress)
    runner = Runner(tasks, segment_scene_file if geo else segment_file, rows.notify)
    warm = _warm_up_scenes if geo else (lambda setting: warm_up([setting]))
    rows.runner = runner
    try:
        if executor is not None:
            # Fill the on-disk kernel cache that workers sharing this file
            # system load from, rather than each compiling the kernels.
            warm(params)
            executor = as_dask_executor(executor)
            client = client_of(executor)
            if client is not None and not geo:  # and on every worker now, before the files
                warm_workers(client, [params])
            fixed = jobs
            capacity = (lambda: fixed) if fixed else capacity_of(executor)
            runner.run_executor(executor, capacity)
            jobs = fixed or capacity()
            if not runner.interrupted:
                # A worker that died while writing left its temporary files
                # (the file itself was redone elsewhere, or failed).
                remove_stale_temp_files([path for task in tasks for _, path in task.outputs])
                if geo:
                    remove_stale_scratch(planned)
        else:
            jobs = max(1, min(jobs or default_jobs(), len(tasks)))
            if jobs == 1:
                runner.run_serial()
            else:
                # Compile (or load) the kernels here once, so that the workers
                # load them from the cache rather than all compiling at once.
                warm(params)
                if geo and params.get("memory_limit") is None:
                    # the scenes in flight share the default memory limit (it decides the tiling, never the labels)
                    from .tiled import default_memory_limit

                    share = dict(params, memory_limit=max(2**28, default_memory_limit() // jobs))
                    runner.tasks = [replace(task, params=share) for task in tasks]
                runner.run_pool(jobs, numba_threads)
    finally:
        records.update(rows.records(tasks))
        report = BatchReport(
            records=[records[i] for i in sorted(records)],
            in_dir=source_root,
            out_dir=target_root,
            manifest=manifest_path,
            interrupted=runner.interrupted,
            ignored=ignored,
            jobs=jobs or 1,
        )
        if manifest_path is not None:
            write_manifest(manifest_path, [r.as_dict() for r in report.records])
        report.seconds = time.perf_counter() - start
    return report


@contextlib.contextmanager
def lock_output_folder(out_dir: PathLike) -> Iterator[Path]:
    """Hold the output folder of a batch for this process: one run per folder at a time.

    Takes an exclusive lock on ``OUT_DIR/.segshift-batch.lock``
    (:data:`LOCK_NAME`) without waiting, and writes this process's id,
    host and start time into it, so that a second run can say who holds
    the folder. The lock belongs to the open file: the operating system
    releases it when this process ends, however it ends (kill -9 too), so
    a crash never leaves the folder locked; the file itself stays.

    Parameters
    ----------
    out_dir : str or path-like
        The output folder (it must exist).

    Yields
    ------
    pathlib.Path
        The lock file.

    Raises
    ------
    OutputError
        Another run holds the folder (the message names its process), the
        lock file cannot be opened, or the file system has no file locks.

    Notes
    -----
    The lock is ``flock`` on POSIX (on NFS, Linux maps it to a lock the
    server sees, so runs on two machines exclude each other too) and
    ``msvcrt.locking`` on Windows. The file descriptor is not inherited by
    worker processes, so a worker left behind never holds the folder.
    """
    path = Path(out_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(f"{path}: cannot open the lock file ({exc.strerror or exc})") from None
    try:
        try:
            locked = _try_lock(fd)
        except OSError as exc:  # no locks on this file system (an NFS mount without its lock service, ...)
            raise OutputError(
                f"{Path(out_dir)}: cannot lock the output folder ({exc.strerror or exc}); "
                "a batch needs a folder on a file system with file locks"
            ) from None
        if not locked:
            holder = _lock_holder(fd)
            raise OutputError(
                f"{Path(out_dir)}: another segshift batch{holder} is writing into this folder; "
                "wait for it to end or choose another output folder"
            )
        with contextlib.suppress(OSError, AttributeError):  # who holds it: a courtesy for the message
            started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {started}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock


def _try_lock(fd: int) -> bool:
    """Lock ``fd`` exclusively without waiting; False if another process holds it."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _lock_holder(fd: int) -> str:
    """`` (pid N on HOST since TIME)`` from the lock file, or "" when it says nothing readable."""
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except (OSError, AttributeError):  # AttributeError: no pread (Windows)
        return ""
    return f" ({' '.join(text.split())})" if text.startswith("pid ") else ""


class _Rows:
    """Turns the runner's plain results into :class:`FileRecord` rows and progress events."""

    def __init__(
        self,
        images: list[str],
        names: dict[str, dict[str, str]],
        out_dir: Path,
        progress: Callable[[BatchEvent], None] | None,
    ) -> None:
        self.images = images
        self.names = names
        self.out_dir = out_dir
        self.progress = progress
        self.runner: Runner | None = None
        self._verdicts: dict[int, dict[str, Any]] = {}

    def _checked(self, task: FileTask, result: dict[str, Any]) -> dict[str, Any]:
        """``result``, or a failure when an output it reports written is not here (checked once per task)."""
        if result.get("status") != "ok":
            return result
        if task.index not in self._verdicts:
            problem = verify_outputs(task, result)
            self._verdicts[task.index] = result if problem is None else {
                "status": "failed", "seconds": result.get("seconds"), "error": problem,
            }
        return self._verdicts[task.index]

    def record(self, task: FileTask, result: dict[str, Any]) -> FileRecord:
        """The manifest row of a task from its result (an ``ok`` checked against the disk here)."""
        rel = self.images[task.index]
        result = self._checked(task, result)
        status = result["status"]
        if status == "ok":
            outputs = tuple(self.names[rel].values())
        else:
            outputs = tuple(n for n in self.names[rel].values() if (self.out_dir / n).exists())
        return FileRecord(
            rel,
            outputs,
            status,
            regions=result.get("regions"),
            seconds=result.get("seconds"),
            error=result.get("error"),
            detail=result.get("detail"),
        )

    def records(self, tasks: Sequence[FileTask]) -> dict[int, FileRecord]:
        """Rows of all tasks; those without a result are ``interrupted``."""
        results = self.runner.results if self.runner is not None else {}
        return {t.index: self.record(t, results.get(t.index) or {"status": "interrupted"}) for t in tasks}

    def notify(self, kind: str, task: FileTask | None, running: int) -> None:
        if self.progress is None or self.runner is None:
            return
        results = self.runner.results
        record = self.record(task, results[task.index]) if task is not None else None
        self.progress(BatchEvent(kind, len(results), len(self.runner.tasks), record, running))  # type: ignore[arg-type]


def _check_kinds(outputs: Sequence[str]) -> tuple[str, ...]:
    if isinstance(outputs, str):
        outputs = (outputs,)
    kinds = tuple(dict.fromkeys(outputs))
    unknown = [k for k in kinds if k not in OUTPUT_KINDS]
    if unknown or not kinds:
        raise ParameterError(
            f"outputs must be a non-empty selection of {', '.join(OUTPUT_KINDS)}; got {list(outputs)!r}"
        )
    return kinds


def _check_ext(value: str, allowed: Iterable[str], name: str) -> str:
    ext = value.lower() if value.startswith(".") else "." + value.lower()
    allowed = tuple(allowed)
    if ext not in allowed:
        raise ParameterError(f"{name} must be one of {', '.join(a.lstrip('.') for a in allowed)}; got {value!r}")
    return ext


def _prepare_out_dir(target_root: Path) -> None:
    if target_root.exists() and not target_root.is_dir():
        raise OutputError(f"{target_root}: exists and is not a folder")
    try:
        target_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{target_root}: cannot create folder ({exc.strerror or exc})") from None
    if not os.access(target_root, os.W_OK | os.X_OK):
        raise OutputError(f"{target_root}: folder is not writable")


def _set_numba_threads(threads: int) -> None:
    import numba

    available = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    numba.set_num_threads(max(1, min(threads, available)))


def _test_crash_hook(source: str) -> None:
    """Test-only: a worker process dies at once on the file named by SEGSHIFT_TEST_CRASH_ON."""
    name = os.environ.get("SEGSHIFT_TEST_CRASH_ON")
    if name and Path(source).name == name and multiprocessing.parent_process() is not None:
        os._exit(70)


def verify_outputs(task: FileTask, result: Mapping[str, Any]) -> str | None:
    """Check here that the outputs a worker reports written are on disk, with the sizes it wrote.

    A worker elsewhere (a Dask worker) writes into the output folder as
    *it* sees it; when that is not the folder this process sees (another
    file system, or a mount missing on that machine), its files are not
    here, and the input must not be recorded ``ok``.

    Parameters
    ----------
    task : FileTask
    result : mapping
        :func:`segment_file`'s ``ok`` result: ``written`` lists
        ``(path, bytes)`` of each output.

    Returns
    -------
    str or None
        One line naming the first output that is missing or differs, or
        None when all are here.
    """
    written = result.get("written")
    expected = [(path, None) for _, path in task.outputs] if written is None else written
    for path, size in expected:
        try:
            here = os.stat(path).st_size
        except OSError:
            where = _host_of(result)
            return (f"{path}: the worker{where} reported it written ({size} bytes) but it is not there for this "
                    "process: the workers must see OUT_DIR on a file system shared with this machine, "
                    "under the same path")
        if size is not None and here != size:
            return (f"{path}: the worker{_host_of(result)} wrote {size} bytes but {here} are there "
                    "(was it written by another run at the same time?)")
    return None


def _host_of(result: Mapping[str, Any]) -> str:
    worker = result.get("worker")
    return f" ({worker})" if worker else ""


def _worker_name() -> str | None:
    """This process as a worker's name in messages (a Dask worker's address, else pid and host);
    None in the process that runs the batch."""
    if "distributed" in sys.modules:  # only a Dask worker has it imported and a worker to name
        with contextlib.suppress(Exception):
            from distributed import get_worker

            return f"Dask worker {get_worker().address} on {socket.gethostname()}"
    if multiprocessing.parent_process() is None:
        return None
    return f"pid {os.getpid()} on {socket.gethostname()}"


def _unseen(task: FileTask) -> str | None:
    """Why the process running ``task`` cannot do it: it cannot see its input, or the output folder."""
    name = _worker_name()
    who = "this process" if name is None else f"the worker ({name})"
    if task.out_root is not None and not os.path.isdir(task.out_root):
        return (f"{task.out_root}: {who} cannot see the output folder (no such folder there; the workers must "
                "share its file system, under the same path)")
    if not os.path.lexists(task.source):  # nothing at all: a dangling link has its own message
        return (f"{task.source}: {who} cannot see this file (no such file there: removed or renamed since the "
                "batch started, or, with workers on other machines, IN_DIR is not on a file system they share "
                "under the same path)")
    return None


def _begin(task: FileTask) -> tuple[float, dict[str, Any] | None]:
    """The start of a file's work, photo or scene: (its start time, and the failure when this
    process cannot see its input or output folder); sets the task's numba threads."""
    _test_crash_hook(task.source)
    start = time.perf_counter()
    unseen = _unseen(task)
    if unseen is not None:
        return start, {"status": "failed", "seconds": time.perf_counter() - start, "error": unseen,
                       "detail": None, "worker": _worker_name()}
    if task.numba_threads is not None:
        _set_numba_threads(task.numba_threads)
    return start, None


def _naming_the_file(task: FileTask, message: str) -> str:
    """A failure's message on one line, naming the input unless it names it or an output already."""
    if task.source not in message and not any(path in message for _, path in task.outputs):
        message = f"{task.source}: {message}"
    return " ".join(message.split())


def segment_file(task: FileTask) -> dict[str, Any]:
    """Segment one input and write its outputs, each atomically.

    The work of one file, wherever it runs (this process, a local worker, a
    cluster's worker): it never raises except KeyboardInterrupt.

    Parameters
    ----------
    task : FileTask

    Returns
    -------
    dict
        ``status`` (``"ok"`` or ``"failed"``), ``seconds``, ``worker`` (who
        ran it), and ``regions`` and ``written`` (``(path, bytes)`` of each
        output, for :func:`verify_outputs`) when ok, or ``error`` (one line
        naming the file) and ``detail`` (the traceback of an unexpected
        error, or None).
    """
    from ._segment import segment

    start, refused = _begin(task)
    if refused is not None:
        return refused
    try:
        seg = segment(task.source, **task.params, max_pixels=task.max_pixels)
        written = []
        for kind, path in task.outputs:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            written.append((path, write_output(kind, path, seg, source=task.source).stat().st_size))
        return {"status": "ok", "regions": int(seg.n_regions), "seconds": time.perf_counter() - start,
                "written": written, "worker": _worker_name()}
    except (SegshiftError, OSError) as exc:
        message = str(exc).strip() or type(exc).__name__
        detail = None
    except MemoryError:
        message = "out of memory (lower --max-pixels, or use fewer --jobs)"
        detail = None
    except Exception as exc:
        message = f"unexpected {type(exc).__name__}: {exc}"
        detail = traceback.format_exc()
    message = _naming_the_file(task, message)
    return {
        "status": "failed",
        "seconds": time.perf_counter() - start,
        "error": message,
        "detail": detail,
    }


# --------------------------------------------------------------------------- #
# Scenes (georeferenced rasters, the segshift[geo] extra)
# --------------------------------------------------------------------------- #


def segment_scene_file(task: FileTask) -> dict[str, Any]:
    """Segment one scene and write its outputs, each atomically: :func:`segshift.geo.segment_scene`
    as a batch's per-file work (the counterpart of :func:`segment_file`; it never raises except
    KeyboardInterrupt).

    Parameters
    ----------
    task : FileTask
        ``params`` are keywords of :func:`segshift.geo.segment_raster`;
        ``outputs`` kinds ``"modes"``, ``"labels"``, ``"polygons"``.

    Returns
    -------
    dict
        As :func:`segment_file`: ``status``, ``seconds``, ``worker``, and
        ``regions`` and ``written`` when ok, or ``error`` (one line naming
        the file) and ``detail``.
    """
    from .geo import segment_scene

    start, refused = _begin(task)
    if refused is not None:
        return refused
    detail = None
    try:
        for _, path in task.outputs:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        result = segment_scene(task.source, task.outputs, task.params)
        if result["status"] == "ok":
            result["written"] = [(path, os.stat(path).st_size) for _, path in task.outputs]
            result["worker"] = _worker_name()
            return result
        message = result["error"]
    except OSError as exc:  # a sub-folder of the outputs that cannot be made
        message = str(exc).strip() or type(exc).__name__
    except Exception as exc:
        message = f"unexpected {type(exc).__name__}: {exc}"
        detail = traceback.format_exc()
    message = _naming_the_file(task, message)
    return {"status": "failed", "seconds": time.perf_counter() - start, "error": message,
            "detail": detail, "worker": _worker_name()}


def _warm_up_scenes(params: Mapping[str, Any]) -> None:
    """Compile (or load) the kernels that scenes use with ``params``, on a tiny scene in a temporary folder."""
    import tempfile

    import numpy as np

    from .geo import geo_available, require, segment_raster

    require()
    import rasterio
    from rasterio.transform import from_origin

    data = np.random.default_rng(0).integers(100, 900, size=(2, 24, 24)).astype(np.uint16)
    with tempfile.TemporaryDirectory(prefix="segshift-warm-") as folder:
        scene = os.path.join(folder, "warm.tif")
        with rasterio.open(scene, "w", driver="GTiff", width=24, height=24, count=2, dtype="uint16",
                           crs="EPSG:32631", transform=from_origin(500000, 4000000, 10, 10)) as ds:
            ds.write(data)
        band_scale = params["band_scale"] if isinstance(params["band_scale"], str) else "std"
        segment_raster(scene, spatial_radius=3, range_radius=params["range_radius"], min_size=5,
                       band_scale=band_scale, kernel=params["kernel"], compat=params["compat"],
                       labels=os.path.join(folder, "labels.tif"),
                       polygons=os.path.join(folder, "polygons.gpkg") if geo_available() else None)


def remove_stale_scratch(paths: Sequence[PathLike]) -> int:
    """Remove the scratch folders a killed scene left beside any of ``paths`` (see
    :func:`segshift.geo.scratch_prefix`); like :func:`segshift.writers.remove_stale_temp_files`,
    meant for the start of a run that will write ``paths``.

    Returns
    -------
    int
        How many were removed.
    """
    import shutil

    from .geo import SCRATCH_STAGES, scratch_prefix

    by_folder: dict[Path, set[str]] = {}
    for path in paths:
        target = Path(path)
        by_folder.setdefault(target.parent, set()).update(
            scratch_prefix([("", target)], stage) for stage in SCRATCH_STAGES
        )
    removed = 0
    for folder, prefixes in by_folder.items():
        try:
            with os.scandir(folder) as listing:
                stale = [e.path for e in listing if e.name.startswith(".") and e.is_dir(follow_symlinks=False)
                         and any(e.name.startswith(p) for p in prefixes)]
        except OSError:
            continue
        for entry in stale:
            shutil.rmtree(entry, ignore_errors=True)
            removed += not os.path.exists(entry)
    return removed
