"""``segshift evaluate``: segment a folder at one or more settings and score it against ground truth."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .. import writers
from .._version import __version__
from ..errors import OutputError, ParameterError
from ._console import EXIT_FAILURE, EXIT_OK, _isatty, log
from ._options import EXIT_HELP, _add_common, _add_sweep_parameters, _HelpFormatter, _SWEPT

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

{EXIT_HELP}"""


def add_parser(commands: Any) -> None:
    """The ``evaluate`` command, on the subparsers of ``segshift``."""
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

    from .._benchmark import evaluate_folder

    from ..params import names

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
        from ..report import write_evaluation_report

        log.info("report: %s", write_evaluation_report(result, args.report, max_pixels=args.max_pixels))
    if not result.scored:
        log.error("no image could be scored")
    plot_failed = False
    if args.plot is not None:
        curves = {name: c for name, c in zip(result.names, result.contours) if c is not None}
        if curves:
            from ..evaluate import plot_precision_recall

            plot_precision_recall(curves if len(curves) > 1 else next(iter(curves.values())), args.plot)
            log.info("precision-recall curve: %s", args.plot)
        else:
            log.error("no precision-recall curve to draw: no segmentation carries a UCM; %s not written", args.plot)
            plot_failed = True
    return EXIT_FAILURE if result.failed or plot_failed else EXIT_OK


def _check_report_dir(folder: str, *, overwrite: bool) -> None:
    """Refuse a --report folder that is a file, or holds a report, unless --overwrite."""
    from ..report import EVALUATION_REPORT

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
