"""The ``segshift`` command: segment a photo, every photo of a folder, or score a data set.

A thin layer over the library: parse the options, resolve paths, call
:func:`segshift.segment`, :func:`segshift.batch.run_batch` or
:func:`segshift._benchmark.evaluate_folder`, and turn errors into one line on
stderr and an exit status:

- 0: success;
- 1: something failed: an input that cannot be read or decoded, an output
  that exists (without ``--overwrite``) or cannot be written, or, for
  ``batch`` and ``evaluate``, any file that failed;
- 2: bad arguments: unknown option, value out of range, unsupported output
  extension, an output that would replace its input;
- 130: interrupted (Ctrl-C).

stdout carries data only (an image or JSON written to ``-``); logs and the
progress bar go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import writers
from ._version import __version__
from .errors import MissingDependencyError, OutputError, ParameterError, SegshiftError
from ._loader import DEFAULT_MAX_PIXELS

__all__ = [
    "main",
    "build_parser",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

log = logging.getLogger("segshift.cli")

COMPILING = "compiling the kernels (first run after an install only, a minute or two; later runs load them)"

#: Library parameter names -> the option that sets them (for error messages).
_FLAGS = {
    "max_pixels": "--max-pixels",
    "start_label": "--start-label",
    "jobs": "--jobs",
    "numba_threads": "--threads",
    "image_format": "--format",
    "limit": "--limit",
    "thresholds": "--thresholds",
    "memory_limit": "--memory-limit",
    "tile_size": "--tile-size",
    "bands": "--bands",
}


def _model_flags() -> dict[str, str]:
    """The parameter model's options -> their long flags."""
    from .params import names, option_help

    return {name: option_help(name)["cli"][-1] for name in names()}


_FLAGS.update(_model_flags())

_EXIT_HELP = """\
exit status: 0 success; 1 a file could not be read or written (batch, evaluate:
any file failed); 2 bad arguments; 130 interrupted."""

_MAIN_EPILOG = f"""\
examples:
  segshift segment photo.jpg -o segments.png
  segshift batch photos/ segments/ --recursive --stats
  segshift evaluate BSDS500/images/val BSDS500/groundTruth/val -r 6.5,10 -m 20,300

{_EXIT_HELP}
Run 'segshift COMMAND --help' for the options of a command."""

_SEGMENT_EPILOG = f"""\
example:
  segshift segment photo.jpg -o modes.png --boundaries edges.jpg --labels labels.png --stats -
  segshift segment photo.jpg --regions 12 --ucm ucm.png

By default the level of the region hierarchy is picked for each photo;
--regions K asks for the level with K regions, --scale fixed for mean shift
as published (fuse at half the range radius, prune at --min-size, no
hierarchy). --ucm writes the ultrametric contour map: .npy holds the merge
heights (float64), .png (16-bit) holds them scaled so that the highest is
65535 (the scale is in the PNG text chunk segshift:ucm_max).

Outputs never replace an existing file unless --overwrite is given (exit 1).
Each file is written whole or not at all; if one cannot be written (disk
full, ...), the new files written before it are removed again.
Without -o, the mode image goes to NAME.seg.png in the current folder, unless
only --labels/--boundaries/--stats are asked for. '-' writes to stdout (PNG for
pictures and labels, JSON for statistics); only one output may use it.

{_EXIT_HELP}"""

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

{_EXIT_HELP}"""


_EVALUATE_EPILOG = f"""\
examples:
  segshift evaluate BSDS500/images/val BSDS500/groundTruth/val
  segshift evaluate images/ truth/ --sweep-range 6.5,10 --sweep-min-size 20,300 --json scores.json

Each image IMAGE_DIR/STEM.EXT is scored against GT_DIR/STEM.mat (BSDS500
groundTruth), STEM.npy or a label image STEM.png/.tif (one channel, one
region per value, 0 = unlabelled); with several, the first of these is used.
Images without ground truth are skipped with a warning; images that cannot
be read or scored are reported and left out of the scores (exit 1).

-s, -r and -m take one value or a comma-separated list (so do their
--sweep-* spellings); every combination is one setting. The table has one
row per setting: segmentation covering, probabilistic Rand index (PRI),
variation of information (VI, bits; lower is better), boundary precision,
recall and F, and the mean number of regions; covering and the boundary
counts are pooled over the images, PRI and VI averaged (as BSDS500). With
more than one setting, ODS (the best setting for the whole data set) and
OIS (each image at its own best setting) follow. --json writes all of it,
per-image scores included.

When the segmentations carry a region hierarchy (an ultrametric contour
map, UCM), its boundaries are also scored over thresholds as the BSDS500
contour benchmark does: ODS (one threshold for every image), OIS (each
image at its best threshold) and AP (average precision), in the table and
under "contours" in --json; --plot draws the precision-recall curve.

{_EXIT_HELP}"""


# --------------------------------------------------------------------------- #
# Parser
# --------------------------------------------------------------------------- #


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's layout and shows each meaningful default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" not in text
            and "default:" not in text
            and default not in (None, False, argparse.SUPPRESS)
            and (action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE))
        ):
            text += " (default: %(default)s)"
        return text


def _positive_or_none(text: str) -> int | None:
    value = int(text)
    return None if value == 0 else value


def _add_common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """-v/-q/--debug, accepted before and after the command name."""
    keep: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    group = parser.add_argument_group("output control")
    group.add_argument("-v", "--verbose", action="count", help="say more (per-file details)", **keep)
    group.add_argument(
        "-q", "--quiet", action="store_true", help="only errors: no summary, no progress bar", **keep
    )
    group.add_argument("--debug", action="store_true", help="show tracebacks of errors", **keep)


#: Parse a command-line value of each option whose type is not plain text.
_PARSERS: dict[str, Any] = {}


def _option_type(name: str) -> Any:
    return {"spatial_radius": _spatial_radius, "range_radius": float, "min_size": _min_size, "n_regions": int,
            "tol": float, "max_iter": int}.get(name)


def _add_model_options(group: argparse._ArgumentGroup, *, sweep: bool = False,
                       skip: tuple[str, ...] = ()) -> None:
    """One option per field of the parameter model (segshift.params.Params): its flags,
    default, choices and help come from the model. With ``sweep``, the radii and the
    minimum size take a comma-separated list."""
    from dataclasses import fields

    from .params import Params, option_help

    for f in fields(Params):
        if f.name in skip:
            continue
        meta = option_help(f.name)
        kind = _option_type(f.name)
        default: Any = f.default
        if f.name == "compat":
            default = "none" if default is None else default
        kwargs: dict[str, Any] = dict(default=default, help=meta["help"], dest=f.name)
        if meta["choices"]:
            kwargs["choices"] = list(meta["choices"])
        if meta["metavar"]:
            kwargs["metavar"] = meta["metavar"]
        flags = list(meta["cli"])
        if sweep and f.name in _SWEPT:
            kwargs["type"] = _number_list(kind)
            kwargs["metavar"] = f"{meta['metavar']}[,...]"
            kwargs["default"] = [default] if f.name != "spatial_radius" else "auto"
            flags.append(_SWEPT[f.name])
        elif kind is not None:
            kwargs["type"] = kind
        group.add_argument(*flags, **kwargs)


#: The options ``evaluate`` sweeps, with their older long spellings.
_SWEPT = {"spatial_radius": "--sweep-spatial", "range_radius": "--sweep-range", "min_size": "--sweep-min-size"}


def _add_input_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--max-pixels",
        type=_positive_or_none,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help="refuse larger images; 0: no limit",
    )


def _add_parameters(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("segmentation parameters (segshift.Params)")
    _add_model_options(group)
    _add_input_options(group)


def _memory(text: str) -> int:
    """A memory size such as 2GB (see segshift.tiled.parse_memory)."""
    from .tiled import parse_memory

    try:
        return parse_memory(text)
    except ParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("memory_limit", "--memory-limit")) from None


_memory.__name__ = "size"


def _bands(text: str) -> tuple[int, ...]:
    """Three 1-based band numbers, comma-separated (3,2,1)."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected three band numbers from 1, such as 3,2,1; got {text!r}")
    return values


_bands.__name__ = "bands"


def _spatial_radius(text: str) -> float | str | None:
    """A spatial radius in pixels, "auto" (None: the relative default), or a map distance such as 30m
    (kept as text: georeferenced rasters convert it with their pixel size)."""
    if text.strip().lower() == "auto":
        return None
    try:
        return float(text)
    except ValueError:
        if re.fullmatch(r"\s*[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?\s*[a-zA-Z][a-zA-Z0-9-]*\s*", text):
            return text.strip()
        raise


_spatial_radius.__name__ = "radius"


def _min_size(text: str) -> int | float | str:
    """A minimum region size: whole pixels ("20"), a fraction of the image's area ("0.002"), or an area of
    a georeferenced raster such as 1ha or 900m2 (kept as text)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        if re.fullmatch(r"\s*[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?\s*[a-zA-Z][a-zA-Z0-9]*\s*", text):
            return text.strip()
        raise


_min_size.__name__ = "size"  # argparse names the type in its error messages


def _number_list(kind: Any) -> Any:
    """An argparse type: one value of ``kind`` or a comma-separated list of them."""

    def parse(text: str) -> list[Any]:
        values = []
        for item in text.split(","):
            item = item.strip()
            try:
                value = kind(item)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{item!r} is not a number") from None
            if value not in values:
                values.append(value)
        return values

    parse.__name__ = "list"
    return parse


def _add_sweep_parameters(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("segmentation parameters (one value or a comma-separated list each)")
    _add_model_options(group, sweep=True, skip=("n_regions",))
    _add_input_options(group)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``segshift`` command (for docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="segshift",
        description="Mean-shift image segmentation (Comaniciu & Meer 2002).",
        epilog=_MAIN_EPILOG,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"segshift {__version__}")
    _add_common(parser, top=True)
    parser.set_defaults(verbose=0)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    image_exts = " ".join(writers.IMAGE_FORMATS)
    seg = commands.add_parser(
        "segment",
        help="segment one image",
        description="Segment one image; write its mode-colour picture and, on request,\n"
        "its label map, boundary overlay and statistics.",
        epilog=_SEGMENT_EPILOG,
        formatter_class=_HelpFormatter,
    )
    seg.add_argument("input", metavar="INPUT", help="image file (PNG, JPEG, TIFF, WebP, BMP, GIF, ...)")
    out = seg.add_argument_group("outputs (format from the extension)")
    out.add_argument(
        "-o",
        "--output",
        metavar="OUTPUT",
        help=f"mode-colour picture: {image_exts}, or - for PNG on stdout "
        "(default: NAME.seg.png in the current folder)",
    )
    out.add_argument("--labels", metavar="PATH", help="label map: .png (16-bit) or .npy (int32)")
    out.add_argument(
        "--ucm", metavar="PATH",
        help="ultrametric contour map of the hierarchy: .png (16-bit, scaled) or .npy (float64 heights)",
    )
    out.add_argument("--boundaries", metavar="PATH", help=f"region boundaries over the input: {image_exts}")
    out.add_argument(
        "--stats",
        metavar="PATH",
        help="JSON: parameters, size, regions, seconds, and per region label, area, "
        "RGB and L*u*v* mode, bounding box, centroid; - for stdout",
    )
    out.add_argument("--overwrite", action="store_true", help="replace existing output files")
    _add_parameters(seg)
    big = seg.add_argument_group(
        "huge images (how a run is computed, never what: the same labels at any memory limit or tile size)"
    )
    big.add_argument(
        "--memory-limit", type=_memory, default=None, metavar="SIZE",
        help="memory a run may use, e.g. 2GB; a larger image is read and segmented in strips (TIFF/BigTIFF "
        "read lazily), with the same labels; every output format is written within it (default: a quarter of "
        "the physical memory)",
    )
    big.add_argument(
        "--tile-size", type=int, default=None, metavar="N",
        help="segment in strips of N rows (blocks of N pixels at full resolution) even when the image fits",
    )
    big.add_argument(
        "--bands", type=_bands, default=None, metavar="R,G,B",
        help="multiband rasters (e.g. R,G,B,NIR; the range radius is in the bands' units): the bands the "
        "mode picture shows, 1-based, e.g. 3,2,1 (default: 1,2,3)",
    )
    _add_geo_options(seg)
    _add_common(seg, top=False)
    seg.set_defaults(func=_cmd_segment)

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

    ev = commands.add_parser(
        "evaluate",
        help="score segmentations of a folder against ground truth",
        description="Segment every image of IMAGE_DIR, for each setting, and score it against the\n"
        "human segmentations in GT_DIR (BSDS500 benchmarks); print a table.",
        epilog=_EVALUATE_EPILOG,
        formatter_class=_HelpFormatter,
    )
    ev.add_argument("image_dir", metavar="IMAGE_DIR", help="folder of images")
    ev.add_argument("gt_dir", metavar="GT_DIR", help="folder of ground truth (.mat, .npy or label images)")
    _add_sweep_parameters(ev)
    out = ev.add_argument_group("inputs and outputs")
    out.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N images (by name)")
    out.add_argument(
        "--json", metavar="PATH", help="write everything, per-image scores too, as JSON; - for stdout "
        "(the table then goes to stderr)",
    )
    out.add_argument(
        "--plot", metavar="PATH",
        help="draw the precision-recall curve of the contour benchmark (.png or .svg); needs segmentations"
        " that carry a UCM",
    )
    out.add_argument(
        "--thresholds", type=int, default=99, metavar="N",
        help="thresholds of the contour benchmark (fewer when the UCMs have fewer distinct heights)",
    )
    out.add_argument(
        "--report", metavar="DIR",
        help="write an HTML report to DIR/index.html: scores, plots, photos from worst to best",
    )
    out.add_argument(
        "--overwrite", action="store_true", help="replace an existing --json or --plot file, or --report"
    )
    run = ev.add_argument_group("running")
    run.add_argument(
        "-j", "--jobs", type=int, default=None, metavar="N",
        help="worker processes, one image each (default: the CPU cores)",
    )
    _add_common(ev, top=False)
    ev.set_defaults(func=_cmd_evaluate)
    return parser


# --------------------------------------------------------------------------- #
# Logging
# --------------------------------------------------------------------------- #


class _StderrHandler(logging.Handler):
    """Writes to the current sys.stderr through tqdm, so a progress bar stays intact."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.ERROR:
            message = f"segshift: error: {message}"
        elif record.levelno >= logging.WARNING:
            message = f"segshift: warning: {message}"
        else:
            message = f"segshift: {message}"
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        return message


def _setup_logging(verbose: int, quiet: bool, debug: bool) -> None:
    logger = logging.getLogger("segshift")
    for handler in list(logger.handlers):
        if isinstance(handler, _StderrHandler):
            logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(_Formatter())
    logger.addHandler(handler)
    logger.propagate = False
    if debug or verbose:
        logger.setLevel(logging.DEBUG)
    elif quiet:
        logger.setLevel(logging.ERROR)
    else:
        logger.setLevel(logging.INFO)


# --------------------------------------------------------------------------- #
# Commands
# --------------------------------------------------------------------------- #


def _params(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of segment() and run_batch(): the model's options (validated
    into a segshift.Params) and --max-pixels."""
    from .params import Params, names

    model = Params(**{name: getattr(args, name) for name in names()})
    return dict(params=model, max_pixels=args.max_pixels)


def _tiled(args: argparse.Namespace, size: tuple[int, int, bool] | None) -> bool:
    """Whether ``segment`` runs segment_blocks: a multiband raster (``size`` from its header) or --bands.
    Any other image goes through segment(), which streams a file too large for the memory limit with the
    same result."""
    return args.bands is not None or (size is not None and size[2])


def _pixel_bar(args: argparse.Namespace) -> tuple[Any, Any]:
    """(progress callback, close) of a tqdm bar on stderr, shown once a run has taken a couple of seconds."""
    bar: Any = None
    if args.quiet or not _isatty(sys.stderr):
        # no bar: no callback, so that the filter runs in one call (a few per cent faster)
        return None, lambda: None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="px", unit_scale=True, desc="segshift", file=sys.stderr,
                       dynamic_ncols=True, leave=False, delay=2)
        bar.update(done - bar.n)

    def close() -> None:
        if bar is not None:
            bar.close()

    return progress, close


def _cmd_segment_tiled(args: argparse.Namespace) -> int:
    """``segment`` on a huge image: segshift.tiled.segment_blocks, outputs written tile by tile."""
    from .tiled import segment_blocks

    if args.boundaries is not None:
        raise ParameterError("--boundaries is not available for tiled runs (huge images); use --labels")
    if args.speedup != "none":
        raise ParameterError("--speedup fast is not available for tiled runs (huge images)")
    if args.n_regions is not None or args.ucm is not None:
        raise ParameterError("--regions and --ucm need the region hierarchy; tiled runs (huge images) are fixed-scale")
    output = args.output
    if output is None and args.labels is None and args.stats is None:
        output = f"{Path(args.input).stem}.seg.tif"
    for dest in (output, args.labels):
        if dest == "-":
            raise ParameterError("a tiled run writes pictures and labels to files, not to stdout")
    if args.stats not in (None, "-"):
        writers.check_output(args.stats, "stats", overwrite=args.overwrite, inputs=[args.input])
    names = [os.path.normcase(os.path.abspath(d)) for d in (output, args.labels, args.stats) if d not in (None, "-")]
    if len(set(names)) < len(names):
        raise ParameterError("the same file is named for two outputs")

    progress, close_bar = _pixel_bar(args)
    model = _params(args)["params"]
    if model.scale != "fixed":
        log.info("%s: a multiband raster is segmented at full resolution with the fixed scale (the region "
                 "hierarchy needs L*u*v* colours); --scale fixed says so", args.input)
    model = model.replace(scale="fixed")
    params = dict(range_radius=model.range_radius_value, min_size=model.min_size_value, kernel=model.kernel,
                  compat=model.compat, tol=model.tol, max_iter=model.max_iter)
    if not model.relative:
        params["spatial_radius"] = model.spatial_radius
    try:
        table = segment_blocks(
            args.input, **params, labels_path=args.labels, modes_path=output, memory_limit=args.memory_limit,
            tile_size=args.tile_size, bands=args.bands, overwrite=args.overwrite, progress=progress,
        )
    finally:
        close_bar()
    log.debug("%s: %dx%d, %d regions in %.2f s (tiled in blocks of %dx%d)", args.input, *table.shape[::-1],
              table.n_regions, table.seconds, *table.block)
    if args.stats is not None:
        data = writers.encode_stats(table.as_stats(source=args.input))
        if args.stats == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            try:
                writers.write_atomic(args.stats, data)
            except BaseException:
                for dest in (output, args.labels):  # all the outputs or none of them
                    if dest is not None:
                        with contextlib.suppress(OSError):
                            os.unlink(dest)
                raise
    return EXIT_OK


def _cmd_segment(args: argparse.Namespace) -> int:
    from ._segment import segment

    from ._raster import image_size

    if _geo_run(args):  # map units (-s 30m, -m 1ha) always go there: it says when the input has no CRS
        return _cmd_segment_geo(args)
    size = image_size(args.input)  # (height, width, multiband) from the header, or None
    if _tiled(args, size):
        return _cmd_segment_tiled(args)
    requested = [("labels", args.labels), ("ucm", args.ucm), ("boundaries", args.boundaries), ("stats", args.stats)]
    output = args.output
    level_outputs = [dest for kind, dest in requested if kind != "ucm" and dest is not None]
    if output is None and not level_outputs and (args.n_regions is not None or args.ucm is None):
        # nothing shows a level: the mode picture does (with --regions and only --ucm too, so that
        # --regions has its effect: the UCM holds every level, not the one asked for)
        output = f"{Path(args.input).stem}.seg.png"
        if args.ucm is not None:
            log.info("--regions %d: writing that level to %s (the UCM holds every level)", args.n_regions,
                     output)
    plan = [(kind, dest) for kind, dest in [("modes", output), *requested] if dest is not None]

    # Check every output before doing any work.
    params = _params(args)
    if args.ucm is not None and args.scale == "fixed":
        raise ParameterError("--ucm needs the region hierarchy; it cannot be used with --scale fixed")
    to_stdout = [kind for kind, dest in plan if dest == "-"]
    if len(to_stdout) > 1:
        raise ParameterError(f"only one output can go to stdout ('-'); got {len(to_stdout)}")
    if to_stdout and to_stdout[0] != "stats" and _isatty(sys.stdout):
        raise ParameterError("refusing to write a binary image to a terminal; redirect stdout or name a file")
    seen: dict[str, str] = {}
    for kind, dest in plan:
        if dest == "-":
            continue
        writers.check_output(dest, writers.OUTPUT_KINDS[kind], overwrite=args.overwrite, inputs=[args.input])
        key = os.path.normcase(os.path.abspath(dest))
        if key in seen:
            raise ParameterError(f"{dest}: named for both {seen[key]} and {kind}")
        seen[key] = kind

    if size is not None:  # a picture the memory limit cannot hold is refused before any work
        for kind, dest in plan:
            if dest != "-":
                writers.check_output_fits(kind, dest, size[:2], memory_limit=args.memory_limit)
    progress, close_bar = _pixel_bar(args)
    try:
        seg = segment(args.input, **params, memory_limit=args.memory_limit, tile_size=args.tile_size,
                      progress=progress)
    finally:
        close_bar()
    log.debug("%s: %dx%d, %d regions in %.2f s", args.input, *seg.shape[::-1], seg.n_regions, seg.seconds)
    # All the outputs or none of them: each is written atomically, and a failure takes back the new ones.
    created: list[str] = []
    try:
        for kind, dest in plan:
            if dest == "-":
                ext = ".json" if kind == "stats" else ".png"
                sys.stdout.buffer.write(writers.encode_output(kind, seg, ext, source=args.input,
                                                              memory_limit=args.memory_limit))
                sys.stdout.buffer.flush()
                continue
            existed = os.path.lexists(dest)
            writers.write_output(kind, dest, seg, source=args.input, memory_limit=args.memory_limit)
            if not existed:
                created.append(dest)
            log.debug("wrote %s", dest)
    except BaseException:
        for dest in created:  # a later write failed (disk full, ...): take back the new files
            with contextlib.suppress(OSError):
                os.unlink(dest)
        raise
    return EXIT_OK


# --------------------------------------------------------------------------- #
# Georeferenced rasters (segshift[geo]): self-contained, one library call
# --------------------------------------------------------------------------- #

#: Extensions whose files may be georeferenced rasters GDAL reads.
_GEO_EXTS = (".tif", ".tiff", ".jp2", ".vrt", ".img", ".nc", ".hdf", ".h5", ".ecw", ".sid", ".dem", ".bil")


def _band_scale(text: str) -> str | tuple[float, ...]:
    """std, none, or one positive divisor per band (comma-separated)."""
    if text.strip().lower() in ("std", "none"):
        return text.strip().lower()
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected std, none or numbers such as 1,1,0.5; got {text!r}") from None


_band_scale.__name__ = "band scale"


class _Untyped(str):
    """A default that knows it was not typed: georeferenced rasters have defaults of their own."""


def _add_geo_options(parser: argparse.ArgumentParser) -> None:
    """The options of georeferenced rasters (GeoTIFF, COG, JPEG 2000, VRT, ... read with segshift[geo])."""
    from .geo import GEO_DEFAULTS

    for action in parser._actions:  # --compat's photo default must not override the georeferenced one
        if action.dest == "compat" and isinstance(action.default, str):
            action.default = _Untyped(action.default)

    geo = parser.add_argument_group(
        "georeferenced rasters (pip install 'segshift[geo]'; then -o and --labels write GeoTIFFs with the "
        "input's CRS, transform and nodata, masked pixels are not segmented, -s and -m accept map units "
        f"such as 30m and 1ha; defaults -s {GEO_DEFAULTS['spatial_radius']:g} -r {GEO_DEFAULTS['range_radius']:g} "
        f"-m {GEO_DEFAULTS['min_size']})"
    )
    geo.add_argument(
        "--polygons", metavar="PATH",
        help="one polygon per segment with its pixel count, area, perimeter and per-band mean, std, min, max: "
        ".gpkg, .geojson or .fgb",
    )
    geo.add_argument(
        "--stats-from", metavar="RASTER",
        help="take the polygons' band statistics from this raster (same grid) instead of the input",
    )
    geo.add_argument(
        "--band-scale", type=_band_scale, default=None, metavar="SCALE",
        help="divide each band before segmenting: std (its standard deviation: -r is then in standard "
        f"deviations), none (its own units), or one number per band (default: {GEO_DEFAULTS['band_scale']})",
    )
    geo.add_argument("--cog", action="store_true", help="write the rasters as Cloud-Optimised GeoTIFFs")


def _geo_run(args: argparse.Namespace) -> bool:
    """Whether ``segment`` runs segshift.geo: geo options or map units given, or a georeferenced input with
    the extra installed. A georeferenced TIFF without the extra is segmented as before, with a one-line hint."""
    from . import geo

    if (args.polygons or args.stats_from or args.band_scale is not None or args.cog
            or isinstance(args.spatial_radius, str) or isinstance(args.min_size, str)):
        return True
    if Path(args.input).suffix.lower() not in _GEO_EXTS:
        return False
    hint = geo.georeferenced_hint(args.input)
    if hint is not None:
        log.warning("%s", hint)
        return False
    return geo.is_georeferenced(args.input)


def _cmd_segment_geo(args: argparse.Namespace) -> int:
    """``segment`` on a georeferenced raster: segshift.geo.segment_raster."""
    for flag, value in (("--boundaries", args.boundaries), ("--ucm", args.ucm), ("--regions", args.n_regions),
                        ("--bands", args.bands)):
        if value is not None:
            raise ParameterError(f"{flag} is not available for georeferenced rasters")
    if args.speedup != "none":
        raise ParameterError("--speedup fast is not available for georeferenced rasters")
    output = args.output
    if output is None and args.labels is None and args.polygons is None and args.stats is None:
        output = f"{Path(args.input).stem}.seg.tif"
    if "-" in (output, args.labels, args.polygons):
        raise ParameterError("georeferenced outputs are written to files, not to stdout")
    if args.stats not in (None, "-"):
        writers.check_output(args.stats, "stats", overwrite=args.overwrite, inputs=[args.input])

    progress, close_bar = _pixel_bar(args)
    try:
        result = _run_segment_raster(args, output, progress)
    finally:
        close_bar()
    _report_geo(args, result)
    return EXIT_OK


def _run_segment_raster(args: argparse.Namespace, output: str | None, progress: Any) -> Any:
    """The one library call of ``segment`` on a georeferenced raster; unset options take GEO_DEFAULTS."""
    from .geo import GEO_DEFAULTS, segment_raster

    def pick(value: Any, name: str) -> Any:
        return GEO_DEFAULTS[name] if value is None else value

    return segment_raster(
        args.input,
        spatial_radius=pick(args.spatial_radius, "spatial_radius"),
        range_radius=pick(args.range_radius, "range_radius"),
        min_size=pick(args.min_size, "min_size"),
        band_scale=pick(args.band_scale, "band_scale"),
        labels=args.labels, modes=output, polygons=args.polygons, stats_from=args.stats_from, cog=args.cog,
        memory_limit=args.memory_limit, tile_size=args.tile_size, kernel=args.kernel,
        compat=GEO_DEFAULTS["compat"] if isinstance(args.compat, _Untyped) else (
            None if args.compat == "none" else args.compat),
        overwrite=args.overwrite, progress=progress,
    )


def _report_geo(args: argparse.Namespace, result: Any) -> None:
    """Log the run; write --stats (a JSON summary: the polygons carry the per-segment statistics)."""
    log.debug("%s: %d segments in %.2f s (%s)", args.input, result.n_regions, result.seconds["total"],
              ", ".join(f"{k} {v:.2f} s" for k, v in result.seconds.items() if k != "total"))
    if args.stats is not None:
        summary = {
            "input": args.input, "n_regions": result.n_regions, "params": result.params,
            "seconds": result.seconds, "outputs": result.outputs, "crs": result.grid.crs_wkt,
            "transform": list(result.grid.transform), "width": result.grid.width, "height": result.grid.height,
        }
        data = writers.encode_stats(summary)
        if args.stats == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            try:
                writers.write_atomic(args.stats, data)
            except BaseException:
                for dest in result.outputs.values():  # all the outputs or none of them
                    with contextlib.suppress(OSError):
                        os.unlink(dest)
                raise


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
    from .batch import run_batch

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
    from .geo import GEO_DEFAULTS

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
    from .params import names

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
    from . import _dask_cluster as cluster

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
    from .report import write_batch_report

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


class _EvalProgress:
    """The evaluate progress callback: a tqdm bar on stderr, and each failed image logged."""

    def __init__(self, enabled: bool, debug: bool) -> None:
        self.enabled = enabled
        self.debug = debug
        self.bar: Any = None

    def __call__(self, done: int, total: int, record: Any) -> None:
        if record is None:
            if self.enabled and total:
                from tqdm import tqdm

                self.bar = tqdm(
                    total=total, unit="img", desc="segshift", file=sys.stderr, dynamic_ncols=True, leave=False
                )
            return
        if self.bar is not None:
            self.bar.update(1)
        if record.error is not None:
            log.error("%s", record.error)
            if self.debug and record.detail:
                log.debug("%s", record.detail.rstrip())
        else:
            log.debug("%s: %.2f s", record.image, record.seconds)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import itertools
    import json

    from ._benchmark import evaluate_folder

    from .params import names

    fixed = {name: getattr(args, name) for name in names() if name not in _SWEPT and name != "n_regions"}
    fixed["compat"] = None if fixed["compat"] == "none" else fixed["compat"]
    settings = [
        dict(spatial_radius=hs, range_radius=hr, min_size=m, **fixed)
        for hs, hr, m in itertools.product(args.spatial_radius, args.range_radius, args.min_size)
    ]
    if args.json not in (None, "-"):
        writers.check_output(args.json, "stats", overwrite=args.overwrite)
    if args.plot is not None:
        writers.check_output(args.plot, "plot", overwrite=args.overwrite)
        if args.json not in (None, "-") and os.path.abspath(args.plot) == os.path.abspath(args.json):
            raise ParameterError(f"--plot and --json name the same file {args.plot}")
    if args.report is not None:
        _check_report_dir(args.report, overwrite=args.overwrite)
    progress = _EvalProgress(enabled=not args.quiet and _isatty(sys.stderr), debug=args.debug)
    try:
        result = evaluate_folder(
            args.image_dir, args.gt_dir, settings, jobs=args.jobs, limit=args.limit,
            max_pixels=args.max_pixels, thresholds=args.thresholds, progress=progress,
        )
    finally:
        progress.close()

    if result.missing:
        shown = ", ".join(result.missing[:5]) + (", ..." if len(result.missing) > 5 else "")
        log.warning("%d image(s) without ground truth in %s, skipped: %s", len(result.missing), args.gt_dir, shown)
        log.debug("without ground truth: %s", ", ".join(result.missing))
    log.info(
        "%d image(s) scored, %d failed, %d without ground truth, %d setting(s), in %.1f s",
        len(result.scored), len(result.failed), len(result.missing), len(result.settings), result.seconds,
    )
    table = _score_table(result)
    if args.json is not None:
        data = (json.dumps({"segshift_version": __version__, **result.as_dict()}, indent=1) + "\n").encode()
        if args.json == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            writers.write_atomic(args.json, data)
            log.info("scores: %s", args.json)
    if table:
        if args.json == "-":
            if not args.quiet:
                sys.stderr.write(table)
        else:
            sys.stdout.write(table)
            sys.stdout.flush()
    if args.report is not None:
        from .report import write_evaluation_report

        log.info("report: %s", write_evaluation_report(result, args.report, max_pixels=args.max_pixels))
    if not result.scored:
        log.error("no image could be scored")
    plot_failed = False
    if args.plot is not None:
        curves = {name: c for name, c in zip(result.names, result.contours) if c is not None}
        if curves:
            from .evaluate import plot_precision_recall

            plot_precision_recall(curves if len(curves) > 1 else next(iter(curves.values())), args.plot)
            log.info("precision-recall curve: %s", args.plot)
        else:
            log.error("no precision-recall curve to draw: no segmentation carries a UCM; %s not written", args.plot)
            plot_failed = True
    return EXIT_FAILURE if result.failed or plot_failed else EXIT_OK


def _check_report_dir(folder: str, *, overwrite: bool) -> None:
    """Refuse a --report folder that is a file, or holds a report, unless --overwrite."""
    from .report import EVALUATION_REPORT

    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{folder}: exists and is not a folder")
    if not overwrite and (path / EVALUATION_REPORT).exists():
        raise OutputError(f"{path / EVALUATION_REPORT}: exists (use --overwrite to replace it)")


def _score_table(result: Any) -> str:
    """The evaluate table: one row per setting, then ODS/OIS lines when several settings."""
    if not result.per_setting:
        return ""
    width = max(len("setting"), *(len(n) for n in result.names)) + 2
    lines = [
        f"{'setting':<{width}}{'Cover':>7}{'PRI':>7}{'VI':>7}{'BP':>7}{'BR':>7}{'BF':>7}{'regions':>9}"
    ]
    for k, (name, d) in enumerate(zip(result.names, result.per_setting)):
        b = d.boundary_ods
        lines.append(
            f"{name:<{width}}{d.covering_ods:>7.3f}{d.pri_ods:>7.3f}{d.vi_ods:>7.3f}"
            f"{b.precision:>7.3f}{b.recall:>7.3f}{b.f:>7.3f}{result.mean_regions(k):>9.1f}"
        )
    if len(result.names) > 1:
        o = result.summary
        lines.append("")
        for label, ods, setting, ois in [
            ("covering", o.covering_ods, o.covering_ods_setting, o.covering_ois),
            ("PRI", o.pri_ods, o.pri_ods_setting, o.pri_ois),
            ("VI", o.vi_ods, o.vi_ods_setting, o.vi_ois),
            ("boundary F", o.boundary_ods.f, o.boundary_ods_setting, o.boundary_ois.f),
        ]:
            lines.append(f"{label:<10} ODS {ods:.3f} ({setting})  OIS {ois:.3f}")
    contours = [(name, c) for name, c in zip(result.names, result.contours) if c is not None]
    if contours:
        lines.append("")
        lines.append("contours (UCM)")
        for name, c in contours:
            lines.append(
                f"{name:<{width}}ODS F {c.ods_f:.3f} (t={c.ods_threshold:.4g}, P {c.ods_precision:.3f},"
                f" R {c.ods_recall:.3f})  OIS F {c.ois_f:.3f}  AP {c.ap:.3f}"
            )
    n = len(result.scored)
    lines.append(f"{n} image{'s' if n != 1 else ''}")
    return "\n".join(lines) + "\n"


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# --------------------------------------------------------------------------- #
# Entry point
# --------------------------------------------------------------------------- #


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, ParameterError):
        text = re.sub(r"^(\w+)\b", lambda m: _FLAGS.get(m.group(1), m.group(1)), text)
    return text


def _compiling_once() -> Any:
    """Say so when a run compiles the kernels, and then compile every kernel any
    later run can use, after the run's own work (its outputs are written first)
    unless it was interrupted."""
    from ._first_run import compile_once

    return compile_once(lambda: log.info(COMPILING), failed=lambda exc: log.warning(
        "could not compile the kernels of other settings ahead (later runs compile what they use): %s",
        _one_line(exc), exc_info=log.isEnabledFor(logging.DEBUG)))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``segshift`` command; return its exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 success, 1 failure, 2 bad arguments, 130 interrupted.
    """
    # the command's logging setup is undone when it returns, so that calling main() from
    # Python (tests, notebooks) leaves the "segshift" logger as it found it
    logger = logging.getLogger("segshift")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    try:
        return _main(argv)
    except KeyboardInterrupt:  # while parsing the arguments, or logging the error of another
        return EXIT_INTERRUPTED
    finally:
        logger.handlers[:] = saved[0]
        logger.setLevel(saved[1])
        logger.propagate = saved[2]


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help/--version (0) or bad usage (2, message printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    debug = bool(args.debug)
    _setup_logging(args.verbose or 0, bool(args.quiet), debug)
    try:
        from ._interrupt import interruptible

        # Ctrl-C stops the compiled kernels too, and always ends in KeyboardInterrupt
        with interruptible() as interrupt, _compiling_once() as ahead:
            code = int(args.func(args))
            interrupt.handled = code == EXIT_INTERRUPTED  # a batch that stopped cleanly said so itself
            ahead.wanted = code != EXIT_INTERRUPTED  # Ctrl-C: stop now
            return code
    except ParameterError as exc:
        log.error("%s", _one_line(exc), exc_info=debug)
        return EXIT_USAGE
    except KeyboardInterrupt:
        log.error("interrupted", exc_info=debug)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout went away (e.g. '| head'): stop quietly.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILURE
    except (SegshiftError, OSError) as exc:
        log.error("%s", _one_line(exc), exc_info=debug)
        return EXIT_FAILURE
    except MemoryError:
        log.error("out of memory (try a smaller image, or --max-pixels)", exc_info=debug)
        return EXIT_FAILURE
    except Exception as exc:  # a bug: still one line, the traceback with --debug
        log.error(
            "internal error: %s: %s (run with --debug for the traceback)", type(exc).__name__, _one_line(exc),
            exc_info=debug,
        )
        return EXIT_FAILURE


def run() -> None:
    """The ``segshift`` program: :func:`main`, then exit with its status.

    Once the command is done, a Ctrl-C only turns the status into 130 (the
    outputs are whole by then). The program leaves as Python's shutdown
    would (threads joined, ``atexit`` functions run, streams flushed) but
    skips its last part, finalising every object, which takes about a second
    once the compiled kernels are loaded and would let a Ctrl-C kill the
    process (or be ignored) after the status was decided.
    """
    import atexit
    import signal
    import threading

    late: list[int] = []
    try:
        code = main()
    except KeyboardInterrupt:  # after main returned
        code = EXIT_INTERRUPTED
    with contextlib.suppress(ValueError):  # (not the main thread)
        signal.signal(signal.SIGINT, lambda signum, frame: late.append(signum))
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()  # non-daemon threads, as Python's shutdown would
    atexit._run_exitfuncs()  # logging, worker pools, executors
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(EXIT_INTERRUPTED if late else code)


if __name__ == "__main__":
    run()
