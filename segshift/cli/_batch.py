"""``segshift batch``: every image of a folder (or every scene), in worker processes or on a Dask cluster."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from typing import Any

from .. import writers
from ..errors import MissingDependencyError, ParameterError
from ._console import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, _isatty, _one_line, log
from ._options import (
    EXIT_HELP,
    _add_common,
    _add_parameters,
    _band_scale,
    _HelpFormatter,
    _memory,
    _params,
    _Untyped,
)

_BATCH_EPILOG = f"""\
example:
  segshift batch photos/ segments/ --recursive --jobs 4 --labels npy --stats

Outputs mirror IN_DIR: IN_DIR/sub/a.jpg -> OUT_DIR/sub/a.png (mode colours),
a.boundaries.png, a.labels.png|.npy, a.ucm.png|.npy, a.stats.json. Two inputs that would share
a name (a.jpg and a.png) keep their extension: a.jpg.png and a.png.png.
Inputs whose outputs all exist are skipped (only missing outputs are written),
so running the command again without --overwrite resumes an interrupted
batch. Files are written under a temporary name and renamed, so none is ever
half-written (temporary files a killed run left are removed by the next).
Ctrl-C finishes the running files and stops (twice: stops at once). A file
that kills its worker process (out of memory, ...) fails alone; the others
running with it are redone. The manifest lists every input with its outputs,
regions, seconds, status and error; a manifest kept inside IN_DIR is never
taken as an input. One batch at a time writes into an OUT_DIR: a second one
started meanwhile writes nothing and exits with status 1, naming the process
that holds the folder (OUT_DIR/.segshift-batch.lock; a killed run does not
keep it).

With --scheduler ADDRESS (or --scheduler-file PATH) the files run as tasks on
that Dask cluster, whose workers write the outputs straight to OUT_DIR (a file
system they share with this machine, under the same absolute paths: relative
paths are made absolute here); everything above holds there too. A file a
worker cannot see fails with a line naming it, and an output a worker reports
written is recorded only once it is found here with its size. Ctrl-C
cancels the files not finished. A file whose worker dies is moved to another
worker; one that kills each worker it touches fails after the scheduler's
allowed-failures (3 by default), and the others go on.

Folders of georeferenced scenes (pip install 'segshift[geo]'): with --polygons,
--geo, --band-scale, --cog, or -s/-m in map units (30m, 1ha), every raster of
IN_DIR (*.tif *.tiff *.jp2 *.vrt *.img unless --glob) is segmented as
`segshift segment` segments one scene, with the same defaults:
  segshift batch scenes/ segments/ --polygons gpkg --labels -s 30m --jobs 2
writes OUT_DIR/sub/a.tif (modes, GeoTIFF), a.labels.tif (uint32 labels from 1,
nodata 0) and a.gpkg|.geojson|.fgb (one polygon per segment), on the scene's
grid and CRS; everything above holds for them too.

{EXIT_HELP}"""


def add_parser(commands: Any) -> None:
    """The ``batch`` command, on the subparsers of ``segshift``."""
    bat = commands.add_parser(
        "batch",
        help="segment every image of a folder",
        description="Segment every image of IN_DIR in parallel, writing the results under OUT_DIR.",
        epilog=_BATCH_EPILOG,
        formatter_class=_HelpFormatter,
    )
    bat.add_argument("in_dir", metavar="IN_DIR", help="folder of images")
    bat.add_argument("out_dir", metavar="OUT_DIR", help="folder for the results (created if needed)")
    sel = bat.add_argument_group("inputs")
    sel.add_argument("-R", "--recursive", action="store_true", help="include sub-folders (following links)")
    sel.add_argument(
        "--glob",
        action="append",
        metavar="PATTERN",
        dest="patterns",
        help="select inputs by a case-insensitive pattern such as '*.jpg' (repeatable; "
        "default: the usual image extensions)",
    )
    out = bat.add_argument_group("outputs")
    out.add_argument("--no-modes", action="store_true", help="do not write the mode-colour pictures")
    out.add_argument(
        "--labels", nargs="?", const="png", choices=("png", "npy"), help="write label maps (png: 16-bit)"
    )
    out.add_argument("--boundaries", action="store_true", help="write boundary overlays")
    out.add_argument(
        "--ucm", action="store_true",
        help="write ultrametric contour maps of the hierarchy, in the --labels format (png: 16-bit, scaled)",
    )
    out.add_argument("--stats", action="store_true", help="write JSON statistics")
    out.add_argument(
        "--format",
        choices=sorted({e.lstrip(".") for e in writers.IMAGE_FORMATS}),
        default="png",
        help="picture format",
    )
    out.add_argument(
        "--manifest",
        metavar="PATH",
        help="manifest file, .json or .csv; - for JSON on stdout (default: OUT_DIR/manifest.json)",
    )
    out.add_argument("--overwrite", action="store_true", help="redo inputs whose outputs exist")
    out.add_argument(
        "--report", action="store_true",
        help="write OUT_DIR/report.html: a gallery of every input (thumbnails in OUT_DIR/.report/), "
        "rebuilt from the manifest after each run",
    )
    run = bat.add_argument_group("running")
    run.add_argument(
        "-j", "--jobs", type=int, default=None, metavar="N",
        help="worker processes (default: the CPU cores); with a scheduler, files in flight "
        "(default: the cluster's worker threads)",
    )
    run.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="numba threads per worker (default: cores / jobs, at least 1; with a scheduler: the worker's "
        "NUMBA_NUM_THREADS)",
    )
    dask = bat.add_argument_group("on a Dask cluster (pip install 'segshift[dask]')")
    where = dask.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler", metavar="ADDRESS",
        help="run the files as tasks on the Dask cluster of this scheduler (e.g. tcp://10.0.0.5:8786); "
        "its workers must reach IN_DIR and OUT_DIR at the same paths",
    )
    where.add_argument(
        "--scheduler-file", metavar="PATH", help="or of the scheduler that wrote this file "
        "(dask scheduler --scheduler-file PATH)",
    )
    dask.add_argument(
        "--scheduler-timeout", type=float, default=10.0, metavar="SECONDS",
        help="give up when the scheduler does not answer within this time",
    )
    _add_parameters(bat)
    _add_batch_geo_options(bat)
    _add_common(bat, top=False)
    bat.set_defaults(func=_cmd_batch)


class _Progress:
    """The batch progress callback: a tqdm bar on stderr plus per-file log lines."""

    def __init__(self, enabled: bool, debug: bool) -> None:
        self.enabled = enabled
        self.debug = debug
        self.bar: Any = None

    def __call__(self, event: Any) -> None:
        if event.kind == "start":
            if self.enabled and event.total:
                from tqdm import tqdm

                self.bar = tqdm(
                    total=event.total, unit="img", desc="segshift", file=sys.stderr, dynamic_ncols=True, leave=False
                )
            return
        if event.kind == "stopping":
            if event.running:
                log.warning(
                    "interrupted: finishing %d running file(s), then stopping (Ctrl-C again to stop at once)",
                    event.running,
                )
            else:
                log.warning("interrupted: the files not finished are cancelled; stopping")
            return
        record = event.record
        if self.bar is not None:
            self.bar.update(1)
        if record.status == "failed":
            log.error("%s", record.error)
            if self.debug and record.detail:
                log.debug("%s", record.detail.rstrip())
        else:
            log.debug("%s -> %s (%d regions, %.2f s)", record.input, ", ".join(record.outputs), record.regions or 0,
                      record.seconds or 0.0)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _cmd_batch(args: argparse.Namespace) -> int:
    from ..batch import run_batch

    outputs = [] if args.no_modes else ["modes"]
    if args.labels:
        outputs.append("labels")
    if args.ucm:
        outputs.append("ucm")
    if args.boundaries:
        outputs.append("boundaries")
    if args.stats:
        outputs.append("stats")
    if args.polygons:
        outputs.append("polygons")
    if not outputs:
        raise ParameterError("nothing to write: --no-modes needs --labels, --ucm, --boundaries, --stats or "
                             "--polygons")
    manifest: Any = None if args.manifest is None else (False if args.manifest == "-" else args.manifest)

    stack = contextlib.ExitStack()  # the Dask client, if any, and Dask's log level
    try:
        executor = _dask_executor(args, stack)
    except MissingDependencyError as exc:
        log.error("%s", _one_line(exc), exc_info=args.debug)
        return EXIT_USAGE
    progress = _Progress(enabled=not args.quiet and _isatty(sys.stderr), debug=args.debug)
    try:
        report = run_batch(
            args.in_dir,
            args.out_dir,
            **_batch_settings(args),
            outputs=outputs,
            recursive=args.recursive,
            patterns=args.patterns,
            jobs=args.jobs,
            numba_threads=args.threads,
            overwrite=args.overwrite,
            manifest=manifest,
            progress=progress,
            executor=executor,
        )
    finally:
        progress.close()
        stack.close()

    if args.manifest == "-":
        sys.stdout.buffer.write(writers.encode_manifest([r.as_dict() for r in report.records], ".json"))
        sys.stdout.buffer.flush()
    if not report.records:
        hint = "" if args.recursive else " (use --recursive for sub-folders)"
        log.warning("no images found in %s%s", args.in_dir, hint)
    c = report.counts
    processed = c["ok"] + c["failed"]
    rate = f" ({report.images_per_second:.2f} images/s)" if processed else ""
    log.info(
        "%d input(s): %d segmented, %d skipped (done before), %d failed, %d interrupted in %.1f s%s",
        len(report.records), c["ok"], c["skipped"], c["failed"], c["interrupted"], report.seconds, rate,
    )
    if report.ignored:
        log.info("ignored %d file(s) that are not images by name (use --glob to choose inputs)", len(report.ignored))
    if report.manifest is not None:
        log.info("manifest: %s", report.manifest)
    if args.report:
        _batch_report(args, report)
    if report.interrupted:
        log.warning("interrupted; run the same command again to resume")
        return EXIT_INTERRUPTED
    return EXIT_FAILURE if c["failed"] else EXIT_OK


def _add_batch_geo_options(parser: argparse.ArgumentParser) -> None:
    """``batch`` on folders of georeferenced scenes (segshift[geo]): its options, and the photo defaults
    (--compat, --format, --labels' format) marked so that scenes take theirs."""
    from ..geo import GEO_DEFAULTS

    for action in parser._actions:
        if action.dest == "compat" and isinstance(action.default, str):
            action.default = _Untyped(action.default)
        elif action.dest == "format":
            action.default = _Untyped(action.default)
        elif action.dest == "labels":
            action.const = _Untyped(action.const)
            action.choices = (*action.choices, "tif")
    geo = parser.add_argument_group(
        "folders of georeferenced scenes (pip install 'segshift[geo]'; any of these, or -s/-m in map units "
        "such as 30m and 1ha, makes the inputs scenes: modes and --labels are GeoTIFFs on each scene's grid; "
        f"defaults -s {GEO_DEFAULTS['spatial_radius']:g} -r {GEO_DEFAULTS['range_radius']:g} "
        f"-m {GEO_DEFAULTS['min_size']})"
    )
    geo.add_argument(
        "--polygons", nargs="?", const="gpkg", choices=("gpkg", "geojson", "fgb"), default=None,
        help="write one polygon per segment with its pixel count, area, perimeter and per-band statistics "
        "(format: gpkg)",
    )
    geo.add_argument("--geo", action="store_true",
                     help="segment the inputs as georeferenced scenes even without --polygons")
    geo.add_argument(
        "--band-scale", type=_band_scale, default=None, metavar="SCALE",
        help="divide each band before segmenting: std (its standard deviation: -r is then in standard "
        f"deviations), none, or one number per band (default: {GEO_DEFAULTS['band_scale']})",
    )
    geo.add_argument("--cog", action="store_true", help="write the rasters as Cloud-Optimised GeoTIFFs")
    geo.add_argument(
        "--memory-limit", type=_memory, default=None, metavar="SIZE",
        help="memory one scene may use, e.g. 2GB; it decides the tiling, never the labels (default: a quarter "
        "of the physical memory, shared by the --jobs)",
    )


def _batch_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings keywords of run_batch(): photos as always, or scenes when a scene option is given."""
    geo = bool(args.geo or args.polygons or args.band_scale is not None or args.cog
               or isinstance(args.spatial_radius, str) or isinstance(args.min_size, str))
    if not geo:
        if args.memory_limit is not None:
            raise ParameterError("--memory-limit is for georeferenced scenes (with --geo); photos are limited by "
                                 "--max-pixels")
        return dict(**_params(args), image_format=args.format, labels_format=args.labels or "png")
    from ..params import names

    settings: dict[str, Any] = {name: getattr(args, name) for name in names()}
    if isinstance(args.compat, _Untyped):
        del settings["compat"]  # the scenes' default
    formats = {}
    if not isinstance(args.format, _Untyped):
        formats["image_format"] = args.format
    if args.labels is not None and not isinstance(args.labels, _Untyped):
        formats["labels_format"] = args.labels
    return dict(settings, **formats, geo=True, band_scale=args.band_scale, cog=args.cog,
                memory_limit=args.memory_limit, vector_format=args.polygons or "gpkg")


def _dask_executor(args: argparse.Namespace, stack: contextlib.ExitStack) -> Any:
    """With --scheduler/--scheduler-file: connect, and return the client's executor (closed by ``stack``)."""
    if args.scheduler is None and args.scheduler_file is None:
        return None
    from .. import _dask_cluster as cluster

    stack.enter_context(_quiet_dask(args.debug))
    try:
        client = cluster.connect(args.scheduler, scheduler_file=args.scheduler_file, timeout=args.scheduler_timeout)
    except BaseException:
        stack.close()
        raise
    stack.callback(_close_client, client, args.scheduler_timeout)
    threads = client.nthreads()
    log.info("Dask scheduler %s: %d worker(s), %d thread(s)%s", client.scheduler.address, len(threads),
             sum(threads.values()), "" if threads else "; waiting for workers to join")
    return cluster.executor(client)


def _close_client(client: Any, timeout: float) -> None:
    with contextlib.suppress(Exception):
        client.close(timeout=timeout)


@contextlib.contextmanager
def _quiet_dask(debug: bool) -> Any:
    """Keep Dask's own log lines (connection retries, closing) off stderr unless --debug."""
    loggers = [logging.getLogger(name) for name in ("distributed", "tornado")]
    levels = [lg.level for lg in loggers]
    if not debug:
        for lg in loggers:
            lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _batch_report(args: argparse.Namespace, report: Any) -> None:
    """Rebuild OUT_DIR/report.html from the manifest (or, without a manifest file, this run's records)."""
    from ..report import write_batch_report

    c = report.counts
    path = write_batch_report(
        report.out_dir,
        report.in_dir,
        manifest=report.manifest if report.manifest is not None else [r.as_dict() for r in report.records],
        run={"seconds": report.seconds, "processed": c["ok"] + c["failed"], "jobs": report.jobs,
             "interrupted": report.interrupted},
        jobs=args.jobs,
        max_pixels=args.max_pixels,
    )
    log.info("report: %s", path)
