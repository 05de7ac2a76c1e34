"""The command line's options: the parameter model's, the shared ones, and their value types."""

from __future__ import annotations

import argparse
import re
from typing import Any

from ..errors import ParameterError
from .._loader import DEFAULT_MAX_PIXELS

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
    from ..params import names, option_help

    return {name: option_help(name)["cli"][-1] for name in names()}


_FLAGS.update(_model_flags())

EXIT_HELP = """\
exit status: 0 success; 1 a file could not be read or written (batch, evaluate:
any file failed); 2 bad arguments; 130 interrupted."""


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


def _option_type(name: str) -> Any:
    return {"spatial_radius": _spatial_radius, "range_radius": float, "min_size": _min_size, "n_regions": int,
            "tol": float, "max_iter": int}.get(name)


def _add_model_options(group: argparse._ArgumentGroup, *, sweep: bool = False,
                       skip: tuple[str, ...] = ()) -> None:
    """One option per field of the parameter model (segshift.params.Params): its flags,
    default, choices and help come from the model. With ``sweep``, the radii and the
    minimum size take a comma-separated list."""
    from dataclasses import fields

    from ..params import Params, option_help

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
    from ..tiled import parse_memory

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


def _params(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of segment() and run_batch(): the model's options (validated
    into a segshift.Params) and --max-pixels."""
    from ..params import Params, names

    model = Params(**{name: getattr(args, name) for name in names()})
    return dict(params=model, max_pixels=args.max_pixels)
