"""The ``segshift`` command: segment a photo, or every photo of a folder.

A thin layer over the library: parse the options, resolve paths, call
:func:`segshift.segment` or :func:`segshift.batch.run_batch`, and turn errors
into one line on stderr and an exit status:

- 0: success;
- 1: something failed: an input that cannot be read or decoded, an output
  that exists (without ``--overwrite``) or cannot be written, or, for
  ``batch``, any file that failed;
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

from . import __version__, writers
from .errors import ParameterError, SegshiftError
from .loader import DEFAULT_MAX_PIXELS
from .meanshift import KERNELS

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

log = logging.getLogger("segshift.cli")

#: Library parameter names -> the option that sets them (for error messages).
_FLAGS = {
    "spatial_radius": "--spatial-radius",
    "range_radius": "--range-radius",
    "min_size": "--min-size",
    "kernel": "--kernel",
    "max_pixels": "--max-pixels",
    "jobs": "--jobs",
    "numba_threads": "--threads",
    "image_format": "--format",
}

_EXIT_HELP = """\
exit status: 0 success; 1 a file could not be read or written (batch: any file
failed); 2 bad arguments; 130 interrupted."""

_MAIN_EPILOG = f"""\
examples:
  segshift segment photo.jpg -o segments.png
  segshift batch photos/ segments/ --recursive --stats

{_EXIT_HELP}
Run 'segshift COMMAND --help' for the options of a command."""

_SEGMENT_EPILOG = f"""\
example:
  segshift segment photo.jpg -o modes.png --boundaries edges.jpg --labels labels.png --stats -

Outputs never replace an existing file unless --overwrite is given (exit 1).
Without -o, the mode image goes to NAME.seg.png in the current folder, unless
only --labels/--boundaries/--stats are asked for. '-' writes to stdout (PNG for
pictures and labels, JSON for statistics); only one output may use it.

{_EXIT_HELP}"""

_BATCH_EPILOG = f"""\
example:
  segshift batch photos/ segments/ --recursive --jobs 4 --labels npy --stats

Outputs mirror IN_DIR: IN_DIR/sub/a.jpg -> OUT_DIR/sub/a.png (mode colours),
a.boundaries.png, a.labels.png|.npy, a.stats.json. Two inputs that would share
a name (a.jpg and a.png) keep their extension: a.jpg.png and a.png.png.
Inputs whose outputs all exist are skipped (only missing outputs are written),
so running the command again without --overwrite resumes an interrupted batch. Files are written
under a temporary name and renamed, so none is ever half-written. Ctrl-C
finishes the running files and stops (twice: stops at once). The manifest
lists every input with its outputs, regions, seconds, status and error.

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


def _add_parameters(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("segmentation parameters")
    group.add_argument(
        "-s", "--spatial-radius", type=float, default=7.0, metavar="PIXELS", help="spatial window radius"
    )
    group.add_argument(
        "-r", "--range-radius", type=float, default=6.5, metavar="LUV", help="colour window radius in L*u*v*"
    )
    group.add_argument(
        "-m", "--min-size", type=int, default=20, metavar="PIXELS", help="smallest region kept; 0 keeps all"
    )
    group.add_argument(
        "--kernel", choices=sorted(k for k in KERNELS if k != "flat"), default="uniform", help="mean-shift kernel"
    )
    group.add_argument(
        "--max-pixels",
        type=_positive_or_none,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help="refuse larger images; 0: no limit",
    )


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
    out.add_argument("--boundaries", metavar="PATH", help=f"region boundaries over the input: {image_exts}")
    out.add_argument(
        "--stats",
        metavar="PATH",
        help="JSON: parameters, size, regions, seconds, and per region label, area, "
        "RGB and L*u*v* mode, bounding box, centroid; - for stdout",
    )
    out.add_argument("--overwrite", action="store_true", help="replace existing output files")
    _add_parameters(seg)
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
    run = bat.add_argument_group("running")
    run.add_argument(
        "-j", "--jobs", type=int, default=None, metavar="N", help="worker processes (default: the CPU cores)"
    )
    run.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="numba threads per worker (default: cores / jobs, at least 1)",
    )
    _add_parameters(bat)
    _add_common(bat, top=False)
    bat.set_defaults(func=_cmd_batch)
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
    return dict(
        spatial_radius=args.spatial_radius,
        range_radius=args.range_radius,
        min_size=args.min_size,
        kernel=args.kernel,
        max_pixels=args.max_pixels,
    )


def _cmd_segment(args: argparse.Namespace) -> int:
    from .segment import segment

    requested = [("labels", args.labels), ("boundaries", args.boundaries), ("stats", args.stats)]
    output = args.output
    if output is None and not any(dest for _, dest in requested):
        output = f"{Path(args.input).stem}.seg.png"
    plan = [(kind, dest) for kind, dest in [("modes", output), *requested] if dest is not None]

    # Check every output before doing any work.
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

    seg = segment(args.input, **_params(args))
    log.debug("%s: %dx%d, %d regions in %.2f s", args.input, *seg.shape[::-1], seg.n_regions, seg.seconds)
    for kind, dest in plan:
        if dest == "-":
            ext = ".json" if kind == "stats" else ".png"
            data = writers.encode_output(kind, seg, ext, source=args.input)
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            writers.write_output(kind, dest, seg, source=args.input)
            log.debug("wrote %s", dest)
    return EXIT_OK


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
            log.warning(
                "interrupted: finishing %d running file(s), then stopping (Ctrl-C again to stop at once)",
                event.running,
            )
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
    if args.boundaries:
        outputs.append("boundaries")
    if args.stats:
        outputs.append("stats")
    if not outputs:
        raise ParameterError("nothing to write: --no-modes needs --labels, --boundaries or --stats")
    manifest: Any = None if args.manifest is None else (False if args.manifest == "-" else args.manifest)

    progress = _Progress(enabled=not args.quiet and _isatty(sys.stderr), debug=args.debug)
    try:
        report = run_batch(
            args.in_dir,
            args.out_dir,
            **_params(args),
            outputs=outputs,
            image_format=args.format,
            labels_format=args.labels or "png",
            recursive=args.recursive,
            patterns=args.patterns,
            jobs=args.jobs,
            numba_threads=args.threads,
            overwrite=args.overwrite,
            manifest=manifest,
            progress=progress,
        )
    finally:
        progress.close()

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
    if report.interrupted:
        log.warning("interrupted; run the same command again to resume")
        return EXIT_INTERRUPTED
    return EXIT_FAILURE if c["failed"] else EXIT_OK


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
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help/--version (0) or bad usage (2, message printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    debug = bool(args.debug)
    _setup_logging(args.verbose or 0, bool(args.quiet), debug)
    try:
        return int(args.func(args))
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


if __name__ == "__main__":
    sys.exit(main())
