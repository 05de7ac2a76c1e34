"""``segment(image)``: the entry point, whether or not the image fits in memory.

It validates the options into a :class:`segshift.Params`, then runs the
pipeline (:mod:`segshift._pipeline`) on the image in memory, or, for a file
too large for the memory limit (or with a tile size), the same pipeline
streamed (:func:`segshift.tiled.segment_streamed`), which gives the same
labels; and numbers the regions from ``start_label``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import replace


from ._interrupt import interruptible
from ._pipeline import (  # noqa: F401  (re-exported: the pipeline's names as 0.x spelled them)
    DEFAULTS,
    FINEST_MIN_SIZE,
    FINEST_RANGE_RADIUS,
    FINEST_WORKING_RADIUS,
    SCALES,
    THIN,
    WORKING_RADIUS,
    Segmentation,
    _numbered,
    segment_rgb,
    check_min_size,
    check_start_label,
    finest_regions,
    hierarchy_from_modes,
    hierarchy_over,
    image_modes,
    level,
    mean_modes,
    min_size_pixels,
    regions_from_modes,
    scale_defaults,
    segment_grid,
    segmentation_from_modes,
    working_plan,
)
from ._loader import DEFAULT_MAX_PIXELS, ImageSource, load_image
from .params import Params, defaults, from_options

log = logging.getLogger("segshift")


def _positional_shim(func):
    """Accept the positional spelling of 0.x (``segment(image, 7, 10, 20)``)
    for one release, with a FutureWarning; the signature stays keyword-only."""
    import functools
    import inspect
    import warnings

    old = ("spatial_radius", "range_radius", "min_size")

    @functools.wraps(func)
    def wrapper(image, *args, **kwargs):
        if args:
            if len(args) > len(old):
                raise TypeError(f"segment() takes 1 positional argument (the image), got {1 + len(args)}")
            warnings.warn(
                "segment(image, spatial_radius, range_radius, min_size) with positional parameters is deprecated "
                "and will stop working in segshift 1.1; name them: segment(image, spatial_radius=..., ...)",
                FutureWarning, stacklevel=2,
            )
            for name, value in zip(old, args):
                if name in kwargs:
                    raise TypeError(f"segment() got multiple values for argument {name!r}")
                kwargs[name] = value
        return func(image, **kwargs)

    wrapper.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
    return wrapper


@interruptible()
@_positional_shim
def segment(
    image: ImageSource,
    *,
    spatial_radius: float | str | None = "auto",
    range_radius: float | None = None,
    min_size: float | None = None,
    scale: str = "auto",
    n_regions: int | None = None,
    kernel: str = "uniform",
    compat: str | None = "edison",
    speedup: str = "none",
    resolution: str = "auto",
    tol: float = 0.01,
    max_iter: int = 100,
    region_colour: str = "mean",
    params: Params | None = None,
    start_label: int = 1,
    channel_axis: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    memory_limit: int | str | None = None,
    tile_size: int | None = None,
    scratch_dir: str | os.PathLike[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Segmentation:
    """Segment an image by mean shift (Comaniciu & Meer 2002).

    Every pixel, as a joint (x, y, L*, u*, v*) feature vector, climbs the
    kernel density estimate to its mode (by default at a working resolution
    of about BSDS500's size, see ``resolution``); 8-connected pixels with the
    same mode form regions. With ``scale="fixed"`` (mean shift as
    published), adjacent regions whose modes are within half the range
    radius are fused and regions under ``min_size`` pixels are merged into
    their closest neighbour. Otherwise (the default) regions under
    ``min_size`` pixels are merged into their closest neighbour to make the
    finest partition, whose regions are then merged pairwise into a
    hierarchy (:mod:`segshift._hierarchy`), and one level of it is returned:
    the one :func:`segshift._hierarchy.auto_scale` picks for this image, or
    the one with ``n_regions`` regions. Other levels are a call away
    (:meth:`Segmentation.at`).

    The options fall in four groups. The *algorithm* (``spatial_radius``
    to ``region_colour``, or a :class:`segshift.Params` as ``params``)
    decides the result; *input* options say how to read the image
    (``channel_axis``, ``max_pixels``); the *output* option says how to
    number it (``start_label``); *execution* options say how to compute it
    (``memory_limit``, ``tile_size``, ``scratch_dir``, ``progress``) and
    never change it: a file too large for the memory limit is read and
    segmented in strips (:func:`segshift.tiled.segment_streamed`), with the
    same labels, pixel for pixel, as in memory; its label map is then a
    memory map in ``scratch_dir``.

    Parameters
    ----------
    image : path or array_like
        A file path or an image array; see :func:`segshift.load_image`.
    spatial_radius, range_radius, min_size, scale, n_regions, kernel, compat, speedup, resolution, tol, max_iter, region_colour
        The algorithm's options, documented in :class:`segshift.Params`.
    params : Params, optional
        All of them at once; keywords that differ from their defaults
        override it.
    start_label : int
        The label of the first region (1, the default, as
        :func:`skimage.segmentation.slic`; 0 is then free for "no region"
        and :func:`skimage.measure.regionprops` sees every region).
    channel_axis : int, optional
        The axis of an array that holds the colour channels; default: the
        last axis of a 3-D array (a 2-D array is gray).
    max_pixels : int or None
        Refuse images larger than this many pixels (``None``: no limit)
        when they are decoded whole; a file read in strips is bounded by
        ``memory_limit`` instead.
    memory_limit : int or str, optional
        Bytes (or a size such as ``"2GB"``) a file's segmentation may use;
        above it, the file is segmented in strips. Default: a quarter of the
        physical memory. It decides how, never what, is computed.
    tile_size : int, optional
        Segment a file in strips (or blocks) of this many rows even when it
        fits in memory; the same labels.
    scratch_dir : path, optional
        Where the memory maps of a streamed run go (default: the system's
        temporary folder); removed with the result.
    progress : callable, optional
        Called as ``progress(done, total)`` while pixels climb: the mean-shift
        filter's climbs done and to do, about a hundred times (the filter is
        most of a large image's run); see :func:`segshift._meanshift.filter_image`.

    Returns
    -------
    Segmentation

    Raises
    ------
    ParameterError
        For a parameter out of range (the message names it); a ValueError.
    ImageReadError
        For a file that cannot be read as an image; an OSError.
    KeyboardInterrupt
        On Ctrl-C (in the main thread), within about a second at any stage,
        the compiled kernels included.

    References
    ----------
    D. Comaniciu and P. Meer, "Mean Shift: A Robust Approach Toward Feature
    Space Analysis", IEEE TPAMI 24(5), 2002.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((20, 30, 3), dtype=np.uint8)
    >>> image[:, 15:] = (200, 40, 40)
    >>> seg = segment(image)
    >>> seg.n_regions, seg.areas.tolist(), np.unique(seg.labels).tolist()
    (2, [300, 300], [1, 2])
    >>> seg.at(n_regions=1).n_regions
    1
    """
    start = time.perf_counter()
    p = _params_from(params, spatial_radius=spatial_radius, range_radius=range_radius, min_size=min_size,
                     scale=scale, n_regions=n_regions, kernel=kernel, compat=compat, speedup=speedup,
                     resolution=resolution, tol=tol, max_iter=max_iter, region_colour=region_colour)
    start_label = check_start_label(start_label)
    if isinstance(image, (str, os.PathLike)) and _streams(image, memory_limit, tile_size):
        from .tiled import segment_streamed

        run = segment_streamed(image, p, memory_limit=memory_limit, tile_size=tile_size, scratch_dir=scratch_dir,
                               progress=progress)
        seg = Segmentation(labels=run.labels, modes_luv=run.modes_luv, modes_rgb=run.modes_rgb, areas=run.areas,
                           image=run.image, hierarchy=run.hierarchy, threshold=run.threshold,
                           source=os.fspath(image), scratch=run.scratch)
    else:
        rgb = load_image(image, max_pixels=max_pixels, channel_axis=channel_axis)
        seg = segment_rgb(rgb, p, progress=progress)
    return _numbered(replace(seg, params=p, seconds=time.perf_counter() - start), start_label)


def _streams(path, memory_limit, tile_size) -> bool:
    """Whether the file at ``path`` is segmented in strips: a tile size is
    given, or the image is above the memory limit (read from its header)."""
    if tile_size is not None:
        return True
    from ._raster import image_size
    from .tiled import default_memory_limit, needs_tiling, parse_memory

    limit = default_memory_limit() if memory_limit is None else parse_memory(memory_limit)
    size = image_size(path)
    return size is not None and needs_tiling(size[0], size[1], limit)


def _params_from(params: Params | None, **options) -> Params:
    """The Params of a call: ``params`` (or the defaults) with the keywords
    that differ from their defaults applied."""
    given = defaults()
    return from_options(params, **{k: v for k, v in options.items() if not _same(v, given[k])})


def _same(a, b) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # e.g. arrays: never a default
        return False


