"""``segshift segment``: one image, a huge image block by block, or a georeferenced raster."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from .. import writers
from ..errors import ParameterError
from ._console import EXIT_OK, _isatty, _pixel_bar, log
from ._options import (
    EXIT_HELP,
    _add_common,
    _add_parameters,
    _band_scale,
    _bands,
    _HelpFormatter,
    _memory,
    _params,
    _Untyped,
)

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

{EXIT_HELP}"""


def add_parser(commands: Any) -> None:
    """The ``segment`` command, on the subparsers of ``segshift``."""
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


def _tiled(args: argparse.Namespace, size: tuple[int, int, bool] | None) -> bool:
    """Whether ``segment`` runs segment_blocks: a multiband raster (``size`` from its header) or --bands.
    Any other image goes through segment(), which streams a file too large for the memory limit with the
    same result."""
    return args.bands is not None or (size is not None and size[2])


def _cmd_segment_tiled(args: argparse.Namespace) -> int:
    """``segment`` on a huge image: segshift.tiled.segment_blocks, outputs written tile by tile."""
    from ..tiled import segment_blocks

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
        _write_stats(args.stats, writers.encode_stats(table.as_stats(source=args.input)),
                     written=[dest for dest in (output, args.labels) if dest is not None])
    return EXIT_OK


def _write_stats(dest: str, data: bytes, *, written: list[str]) -> None:
    """The statistics JSON to ``dest`` (``-``: stdout), written last: if it fails, the outputs
    ``written`` before it are removed, so that a run leaves all its outputs or none."""
    if dest == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        writers.write_atomic(dest, data)
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                os.unlink(path)
        raise


def _cmd_segment(args: argparse.Namespace) -> int:
    from .._segment import segment

    from .._raster import image_size

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


def _add_geo_options(parser: argparse.ArgumentParser) -> None:
    """The options of georeferenced rasters (GeoTIFF, COG, JPEG 2000, VRT, ... read with segshift[geo])."""
    from ..geo import GEO_DEFAULTS

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
    from .. import geo

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
    from ..geo import GEO_DEFAULTS, segment_raster

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
        _write_stats(args.stats, writers.encode_stats(summary), written=list(result.outputs.values()))
