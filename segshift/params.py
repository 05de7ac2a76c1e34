"""The parameter model: every option that decides a segmentation, in one place.

:class:`Params` owns each algorithm option of segshift: its default, its
validation and its help text. :func:`segshift.segment`, the batch runner,
the evaluation, the Dask path and the command line are all built from it,
so an option is added here once and a test checks that every entry point
agrees with it.

Only the *algorithm* lives here: the options that decide the labels. How a
run is computed (memory limit, tile size, threads, executor) never changes
the result, and is passed to the entry points beside a ``Params``; so is
how the result is presented (``start_label``) and how the input is read
(``channel_axis``, ``max_pixels``).

The defaults that depend on the scale are resolved once, here: with
``scale="auto"`` (the region hierarchy) the finest level is made with
smaller radii than mean shift's fixed scale, whose boundaries the merging
may drop (see the design notes); ``repr`` shows the values that run.

This module imports nothing of segshift but :mod:`segshift.errors`: it is
the bottom of the layers.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from .errors import ParameterError

__all__ = ["Params", "SCALE_DEFAULTS", "KERNELS", "option_help"]

#: Image kernels (the point-set estimator also has "flat", another name for "uniform").
KERNELS = ("uniform", "gaussian", "epanechnikov")
SCALES = ("auto", "fixed")
COMPATS = ("edison", "none")
SPEEDUPS = ("none", "fast")
RESOLUTIONS = ("auto", "full")
REGION_COLOURS = ("mean", "seed")

#: The defaults that depend on ``scale``: the spatial radius in pixels of the
#: working resolution (481 x 321, see :mod:`segshift._resolution`), the range
#: radius in L*u*v* units and the smallest region as a fraction of the area.
#: Chosen on the BSDS500 *train* photos (``scripts/tune_bsds.py``): the
#: hierarchy's finest level (``"auto"``) is made with smaller radii than the
#: fixed scale, so that it misses few boundaries the merging may keep.
SCALE_DEFAULTS: dict[str, dict[str, float]] = {
    "auto": {"working_radius": 7.0, "range_radius": 8.0, "min_size": 0.00013},
    "fixed": {"working_radius": 10.0, "range_radius": 12.0, "min_size": 0.013},
}


def _opt(default: Any, help: str, *, cli: tuple[str, ...], metavar: str | None = None,
         choices: tuple[str, ...] | None = None) -> Any:
    return field(default=default, metadata={"help": help, "cli": cli, "metavar": metavar, "choices": choices})


def _number(name: str, value: Any, *, integer: bool = False, allow_zero: bool = False) -> Any:
    """A finite number > 0 (>= 0 with ``allow_zero``), as int or float; the messages name the option."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ParameterError(f"{name} must be finite, got {value!r}")
    if integer and not number.is_integer():
        raise ParameterError(f"{name} must be an integer, got {value!r}")
    if number < 0 or (number == 0 and not allow_zero):
        raise ParameterError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return int(number) if integer else number


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.lower() not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value.lower()


@dataclass(frozen=True, repr=False)
class Params:
    """The algorithm's options: everything that decides a segmentation.

    Every field has a default (``None`` where it depends on ``scale``, see
    :data:`SCALE_DEFAULTS`; :meth:`resolved` gives the values that run).
    Values are validated and normalised on construction: a bad one raises
    :class:`segshift.errors.ParameterError` naming the option and the
    value.

    Parameters
    ----------
    spatial_radius : "auto" or float
        Radius of the spatial window (EDISON's ``hs``). ``"auto"``
        (default): relative to the image, 7 pixels at BSDS500's 481 x 321
        with the hierarchy (1/83 of the diagonal), 10 with ``scale="fixed"``
        (1/58), at the working resolution (see ``resolution``). A number:
        pixels of the image, every pixel climbs (the full-resolution
        computation, which reproduces EDISON).
    range_radius : float, optional
        Radius of the range window in L*u*v* units (EDISON's ``hr``); for a
        multiband raster, in the bands' own units. Default 8 with the
        hierarchy, 12 with ``scale="fixed"``.
    min_size : int or float, optional
        Smallest region kept (EDISON's ``M``): an int is pixels (0 keeps
        all), a float in (0, 1) a fraction of the image's area. With the
        hierarchy, the smallest region of its finest level. Default 0.00013
        of the area with the hierarchy (20 pixels of a BSDS500 photo),
        0.013 with ``scale="fixed"``.
    scale : {"auto", "fixed"}
        ``"auto"``: build the region hierarchy and return the level picked
        for the image (or the one with ``n_regions`` regions). ``"fixed"``:
        mean shift as published: fuse at half the range radius, prune at
        ``min_size``, no hierarchy.
    n_regions : int, optional
        The level of the hierarchy with exactly this many regions (or the
        finest level, when it has fewer) instead of the automatic one.
    kernel : {"uniform", "gaussian", "epanechnikov"}
        Weights of the mean-shift update, each truncated at the bandwidth.
    compat : {"edison", None}
        ``"edison"`` reproduces the numerics of EDISON, the authors' C++
        system (its RGB -> L*u*v* conversion, convergence test and region
        seeds); ``None`` (or ``"none"``) uses CIE L*u*v* and convergence in
        bandwidth units.
    speedup : {"none", "fast"}
        ``"none"``: exact mean shift. ``"fast"``: a working resolution of
        half the side (about ten times less work at about the same scores),
        or, at full resolution, climbs from a quarter of the pixels.
    resolution : {"auto", "full"}
        With ``spatial_radius="auto"``: ``"auto"`` segments at a working
        resolution of about 481 x 321 pixels and places the boundaries at
        full resolution; ``"full"`` lets every pixel climb. A radius in
        pixels always runs at full resolution.
    tol : float
        Convergence tolerance on the squared shift, in bandwidth units.
    max_iter : int
        Most mean-shift iterations per pixel.
    region_colour : {"mean", "seed"}
        The colour a region is reported and painted with: ``"mean"``
        (default), the area-weighted mean of its pixels' modes, which
        represents its pixels; ``"seed"``, EDISON's picture, the mode of the
        pixel where the region's growth began (with ``compat="edison"`` and
        ``scale="fixed"`` it reproduces EDISON's output image).

    Examples
    --------
    >>> Params()
    Params(spatial_radius='auto', range_radius=8.0, min_size=0.00013, scale='auto', n_regions=None, kernel='uniform', compat='edison', speedup='none', resolution='auto', tol=0.01, max_iter=100, region_colour='mean')
    >>> Params(scale="fixed").range_radius_value
    12.0
    >>> Params(range_radius=-1)
    Traceback (most recent call last):
    ...
    segshift.errors.ParameterError: range_radius must be > 0, got -1
    """

    spatial_radius: float | str = _opt(
        "auto", "spatial window radius: pixels (absolute, every pixel climbs) or 'auto' (relative: 7 px at "
        "481x321, 1/83 of the diagonal; with --scale fixed 10 px, 1/58; see --resolution)",
        cli=("-s", "--spatial-radius"), metavar="PIXELS")
    range_radius: float | None = _opt(
        None, "colour window radius in L*u*v* (bands' units for multiband rasters) (default: 8, with "
        "--scale fixed 12)", cli=("-r", "--range-radius"), metavar="LUV")
    min_size: int | float | None = _opt(
        None, "smallest region kept (of the finest level with the hierarchy): pixels, or a fraction of the "
        "image's area below 1; 0 keeps all (default: 0.00013, with --scale fixed 0.013)",
        cli=("-m", "--min-size"), metavar="SIZE")
    scale: str = _opt("auto", "'auto': a level of the region hierarchy, picked per image; 'fixed': mean shift "
                      "as published", cli=("--scale",), choices=SCALES)
    n_regions: int | None = _opt(None, "the level of the hierarchy with K regions (default: picked for each "
                                 "image)", cli=("--regions",), metavar="K")
    kernel: str = _opt("uniform", "mean-shift kernel", cli=("--kernel",), choices=KERNELS)
    compat: str | None = _opt(
        "edison", "numerics: 'edison' reproduces EDISON's colour conversion, convergence test and region seeds; "
        "'none' uses CIE L*u*v* and convergence in bandwidth units", cli=("--compat",), choices=COMPATS)
    speedup: str = _opt("none", "'none': exact mean shift; 'fast': a quarter of the pixels climb",
                        cli=("--speedup",), choices=SPEEDUPS)
    resolution: str = _opt(
        "auto", "with the relative spatial radius: 'auto' segments at a working resolution of about 481x321 and "
        "places the boundaries at full resolution, 'full' lets every pixel climb", cli=("--resolution",),
        choices=RESOLUTIONS)
    tol: float = _opt(0.01, "convergence tolerance on the squared shift, in bandwidths", cli=("--tol",),
                      metavar="TOL")
    max_iter: int = _opt(100, "most mean-shift iterations per pixel", cli=("--max-iter",), metavar="N")
    region_colour: str = _opt(
        "mean", "colour of a region: 'mean' of its pixels' modes, or 'seed' (EDISON's picture: the mode where "
        "the region began)", cli=("--region-colour",), choices=REGION_COLOURS)

    def __post_init__(self) -> None:
        put = object.__setattr__
        radius = self.spatial_radius
        if radius is None or (isinstance(radius, str) and radius.strip().lower() == "auto"):
            put(self, "spatial_radius", "auto")
        else:
            put(self, "spatial_radius", _number("spatial_radius", radius))
        scale = _choice("scale", self.scale, SCALES)
        put(self, "scale", scale)
        if self.range_radius is not None:
            put(self, "range_radius", _number("range_radius", self.range_radius))
        if self.min_size is not None:
            put(self, "min_size", _check_min_size(self.min_size))
        if self.n_regions is not None:
            if scale == "fixed":
                raise ParameterError("n_regions needs the hierarchy; it cannot be used with scale='fixed'")
            n = self.n_regions
            if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
                raise ParameterError(f"n_regions must be a positive integer, got {n!r}")
            put(self, "n_regions", int(n))
        put(self, "kernel", _choice("kernel", "uniform" if self.kernel == "flat" else self.kernel, KERNELS))
        compat = "none" if self.compat is None else self.compat
        put(self, "compat", None if _choice("compat", compat, COMPATS) == "none" else "edison")
        put(self, "speedup", _choice("speedup", self.speedup, SPEEDUPS))
        put(self, "resolution", _choice("resolution", self.resolution, RESOLUTIONS))
        put(self, "tol", _number("tol", self.tol))
        put(self, "max_iter", _number("max_iter", self.max_iter, integer=True))
        put(self, "region_colour", _choice("region_colour", self.region_colour, REGION_COLOURS))

    # -- the values that run ------------------------------------------------
    @property
    def relative(self) -> bool:
        """Whether the spatial radius is relative to the image (``"auto"``)."""
        return self.spatial_radius == "auto"

    @property
    def working_radius(self) -> float:
        """The relative spatial radius, in pixels of the working resolution."""
        return SCALE_DEFAULTS[self.scale]["working_radius"]

    @property
    def range_radius_value(self) -> float:
        """The range radius that runs (the scale's default when not given)."""
        return SCALE_DEFAULTS[self.scale]["range_radius"] if self.range_radius is None else float(self.range_radius)

    @property
    def min_size_value(self) -> int | float:
        """The smallest region that runs (the scale's default when not given)."""
        return SCALE_DEFAULTS[self.scale]["min_size"] if self.min_size is None else self.min_size

    def resolved(self) -> dict[str, Any]:
        """Every option with the defaults that depend on ``scale`` filled in."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["range_radius"] = self.range_radius_value
        out["min_size"] = self.min_size_value
        return out

    def as_dict(self) -> dict[str, Any]:
        """The options as given (None where the scale decides), for JSON and round trips."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def replace(self, **changes: Any) -> Params:
        """A copy with ``changes`` (validated); defaults that depend on the scale stay defaults."""
        unknown = sorted(set(changes) - set(names()))
        if unknown:
            raise ParameterError(f"unknown parameter {unknown[0]!r}; the parameters are {', '.join(names())}")
        return Params(**{**self.as_dict(), **changes})

    # A read-only mapping of the values that run, so that ``seg.params["compat"]``
    # and ``segment(image, **seg.params)`` work as they did when params were a dict.
    def keys(self) -> tuple[str, ...]:
        """The option names."""
        return names()

    def __getitem__(self, name: str) -> Any:
        if name not in names():
            raise KeyError(name)
        return self.resolved()[name]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(names())

    def __len__(self) -> int:
        return len(names())

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={v!r}" for k, v in self.resolved().items())
        return f"Params({values})"


def _check_min_size(value: Any) -> int | float:
    """An int >= 0 (pixels) or a float in (0, 1) (a fraction of the area)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"min_size must be a number, got {value!r}")
    if isinstance(value, numbers.Integral) or float(value).is_integer():
        return _number("min_size", value, integer=True, allow_zero=True)
    if not 0.0 < float(value) < 1.0:
        raise ParameterError(
            f"min_size must be an integer number of pixels or a fraction of the area in (0, 1), got {value!r}")
    return float(value)


def names() -> tuple[str, ...]:
    """The option names, in order."""
    return tuple(f.name for f in fields(Params))


def defaults() -> dict[str, Any]:
    """Each option's default as given (None where the scale decides)."""
    return {f.name: f.default for f in fields(Params) if f.default is not MISSING}


def option_help(name: str) -> dict[str, Any]:
    """The command-line spelling of option ``name``: flags, help, metavar and choices."""
    for f in fields(Params):
        if f.name == name:
            return dict(f.metadata)
    raise KeyError(name)


def from_options(params: Params | None = None, /, **options: Any) -> Params:
    """A :class:`Params` from a base ``params`` (default: the defaults) and
    keyword ``options``; an unknown option raises ParameterError."""
    base = Params() if params is None else params
    if not isinstance(base, Params):
        raise ParameterError(f"params must be a segshift.Params, got {type(base).__name__}")
    return base.replace(**options) if options else base
