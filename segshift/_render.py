"""Pictures of a segmentation: mode colours, boundaries, random label colours.

The whole-image functions return new uint8 RGB arrays of shape (H, W, 3).
The ``*_rows`` functions make rows ``y0..y1-1`` of the same pictures from a
label map that may be a memory map of a huge image, reading only the rows
they need, so that :mod:`segshift.writers` can write any picture strip by
strip; a picture assembled from strips of any height equals the whole-image
one pixel for pixel.

Boundaries are drawn thicker on large images (:func:`boundary_thickness`), so
that they stay visible when the picture is shown whole on a screen.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from .errors import ParameterError

#: The diagonal, in pixels, of the screen a picture is assumed to be viewed
#: on when shown whole: a 1920 x 1080 screen's (2202.9), rounded up.
SCREEN_DIAGONAL = 2203

#: ``image_rows(y0, y1)`` -> (y1 - y0, W, 3) float32 RGB in [0, 1] (or uint8).
RowReader = Callable[[int, int], NDArray]


def luv_to_rgb8(luv: NDArray[np.floating], *, compat: str | None = None) -> NDArray[np.uint8]:
    """Convert L*u*v* colours (..., 3) to 8-bit RGB, clipped to the gamut.

    ``compat`` names the conversion the colours came from
    (:func:`segshift._loader.luv_to_rgb`).
    """
    from ._loader import luv_to_rgb

    return to_rgb8(luv_to_rgb(luv, compat=compat))


def to_rgb8(rgb: NDArray[np.floating]) -> NDArray[np.uint8]:
    """Float RGB in [0, 1] to uint8."""
    return np.clip(np.round(np.asarray(rgb) * 255.0), 0, 255).astype(np.uint8)


def paint_modes(labels: NDArray[np.integer], colours: NDArray[np.uint8], *, start_label: int = 0) -> NDArray[np.uint8]:
    """Paint every pixel with its region's colour: ``colours[labels - start_label]``
    (labels below ``start_label``, e.g. 0 for "no region", are black; see :func:`colour_table`)."""
    return colour_table(colours, start_label)[labels]


def colour_table(colours: NDArray[np.uint8], start_label: int = 0) -> NDArray[np.uint8]:
    """``colours`` (n, 3) indexed by label: ``start_label`` rows of black (the
    nodata label 0 of label maps numbered from 1) and then ``colours``, so
    that ``colour_table(c, s)[labels]`` is ``c[labels - s]`` where labels are
    regions and black where they are nodata."""
    colours = np.asarray(colours, dtype=np.uint8)
    if start_label < 0:
        raise ParameterError(f"start_label must be >= 0, got {start_label}")
    if start_label == 0:
        return colours
    return np.concatenate([np.zeros((start_label, colours.shape[1]), dtype=np.uint8), colours])


def mode_rows(labels: NDArray[np.integer], table: NDArray[np.uint8], y0: int, y1: int) -> NDArray[np.uint8]:
    """Rows ``y0..y1-1`` of a picture painted by label: ``table[labels[y0:y1]]``
    (``table`` from :func:`colour_table`). ``labels`` may be a memory map."""
    strip = np.asarray(labels[y0:y1])
    try:
        return table[strip]
    except IndexError:
        raise ParameterError(
            f"labels must be between 0 and {len(table) - 1} (regions and nodata), got {strip.min()} to {strip.max()}"
        ) from None


def boundary_thickness(height: int, width: int) -> int:
    """How many pixels thick :func:`draw_boundaries` draws a region's outline by default.

    ``max(1, ceil(diagonal / SCREEN_DIAGONAL))``: one pixel up to about
    2 megapixels (a 1920 x 1080 picture, or 1700 x 1275), and as many pixels
    as the picture's diagonal is times a 1920 x 1080 screen's beyond, so that
    an outline stays about one screen pixel wide when the picture is shown
    whole on such a screen: 3 pixels for a 12-megapixel photo (4000 x 3000),
    7 for 100 megapixels (12000 x 8000).

    Examples
    --------
    >>> boundary_thickness(1080, 1920), boundary_thickness(3000, 4000), boundary_thickness(8000, 12000)
    (1, 3, 7)
    """
    return max(1, math.ceil(math.hypot(height, width) / SCREEN_DIAGONAL))


def draw_boundaries(
    rgb: NDArray[np.floating],
    labels: NDArray[np.integer],
    colour: tuple[int, int, int] = (255, 0, 0),
    *,
    thickness: int | None = None,
) -> NDArray[np.uint8]:
    """Draw the region boundaries over an image.

    With ``thickness`` 1, a pixel is a boundary pixel when a 4-neighbour
    belongs to another region (what :func:`skimage.segmentation.find_boundaries`
    gives in mode ``"inner"``, in four comparisons of shifted views), so every
    region keeps a closed outline of its own. A thickness ``t`` > 1 also marks
    every pixel within ``t - 1`` pixels (in x and in y) of such a pixel: each
    region's outline is ``t`` pixels wide on its side of a border.

    Parameters
    ----------
    rgb : (H, W, 3) ndarray of float in [0, 1], or of uint8
    labels : (H, W) ndarray of int
    colour : (int, int, int)
    thickness : int, optional
        Default :func:`boundary_thickness` of the image's size (1 up to about
        2 megapixels).

    Returns
    -------
    (H, W, 3) ndarray of uint8
    """
    out = to_rgb8(rgb) if np.asarray(rgb).dtype != np.uint8 else np.array(rgb)
    labels = np.asarray(labels)
    t = boundary_thickness(*labels.shape) if thickness is None else check_thickness(thickness)
    out[boundary_mask_rows(labels, 0, labels.shape[0], t)] = colour
    return out


def check_thickness(thickness) -> int:
    """Validate a boundary thickness: an integer >= 1."""
    if isinstance(thickness, bool) or not isinstance(thickness, (int, np.integer)) or thickness < 1:
        raise ParameterError(f"thickness must be an integer >= 1, got {thickness!r}")
    return int(thickness)


def inner_boundaries(labels: NDArray[np.integer]) -> NDArray[np.bool_]:
    """(H, W) bool: pixels with a 4-neighbour in another region."""
    labels = np.asarray(labels)
    edge = np.zeros(labels.shape, dtype=bool)
    across = labels[:, 1:] != labels[:, :-1]
    edge[:, 1:] |= across
    edge[:, :-1] |= across
    down = labels[1:] != labels[:-1]
    edge[1:] |= down
    edge[:-1] |= down
    return edge


def boundary_mask_rows(labels: NDArray[np.integer], y0: int, y1: int, thickness: int = 1) -> NDArray[np.bool_]:
    """(y1 - y0, W) bool: rows ``y0..y1-1`` of the boundary mask of
    :func:`draw_boundaries` at ``thickness``.

    Reads ``labels`` rows ``y0 - thickness .. y1 + thickness - 1`` only (an
    overlap of ``thickness`` rows, clipped to the image), so a memory map is
    read a strip at a time, and the rows equal those of the whole-image mask.
    """
    height = labels.shape[0]
    reach = thickness - 1
    a, b = max(0, y0 - reach - 1), min(height, y1 + reach + 1)
    # rows a and b - 1 may lack a neighbour outside the block; they only
    # reach rows within ``reach`` of themselves, which lie outside y0..y1-1
    edge = inner_boundaries(np.asarray(labels[a:b]))
    if reach > 0:
        from scipy.ndimage import maximum_filter1d

        grown = edge.view(np.uint8)
        for axis in (0, 1):  # a square is a row of a column
            grown = maximum_filter1d(grown, 2 * reach + 1, axis=axis, mode="constant", cval=0)
        edge = grown.view(bool)
    return edge[y0 - a:y1 - a]


def boundary_rows(
    labels: NDArray[np.integer],
    image_rows: RowReader,
    y0: int,
    y1: int,
    colour: tuple[int, int, int] = (255, 0, 0),
    thickness: int = 1,
) -> NDArray[np.uint8]:
    """Rows ``y0..y1-1`` of :func:`draw_boundaries`, from a label map that may
    be a memory map and an image read through ``image_rows(y0, y1)``."""
    rows = np.asarray(image_rows(y0, y1))
    out = rows.copy() if rows.dtype == np.uint8 else to_rgb8(rows)
    out[boundary_mask_rows(labels, y0, y1, thickness)] = colour
    return out


def random_colours(n: int, seed: int = 0) -> NDArray[np.uint8]:
    """``n`` distinct-looking random colours, the same for the same ``n`` and seed."""
    rng = np.random.default_rng(seed)
    return rng.integers(40, 256, size=(n, 3), dtype=np.uint8)
