"""Pictures of a segmentation: mode colours, boundaries, random label colours.

All functions return new uint8 RGB arrays of shape (H, W, 3).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def luv_to_rgb8(luv: NDArray[np.floating], *, compat: str | None = None) -> NDArray[np.uint8]:
    """Convert L*u*v* colours (..., 3) to 8-bit RGB, clipped to the gamut.

    ``compat`` names the conversion the colours came from
    (:func:`segshift.loader.luv_to_rgb`).
    """
    from .loader import luv_to_rgb

    return to_rgb8(luv_to_rgb(luv, compat=compat))


def to_rgb8(rgb: NDArray[np.floating]) -> NDArray[np.uint8]:
    """Float RGB in [0, 1] to uint8."""
    return np.clip(np.round(np.asarray(rgb) * 255.0), 0, 255).astype(np.uint8)


def paint_modes(labels: NDArray[np.integer], colours: NDArray[np.uint8], *, start_label: int = 0) -> NDArray[np.uint8]:
    """Paint every pixel with its region's colour: ``colours[labels - start_label]``
    (labels below ``start_label``, e.g. 0 for "no region", are black)."""
    if start_label:
        colours = np.concatenate([np.zeros((start_label, 3), dtype=colours.dtype), colours])
    return colours[labels]


def draw_boundaries(
    rgb: NDArray[np.floating], labels: NDArray[np.integer], colour: tuple[int, int, int] = (255, 0, 0)
) -> NDArray[np.uint8]:
    """Draw the one-pixel-wide region boundaries over an image.

    A pixel is a boundary pixel when a 4-neighbour belongs to another region
    (what :func:`skimage.segmentation.find_boundaries` gives in mode
    ``"inner"``, in four comparisons of shifted views), so every region
    keeps a closed outline of its own.
    """
    out = to_rgb8(rgb) if np.asarray(rgb).dtype != np.uint8 else np.array(rgb)
    out[inner_boundaries(labels)] = colour
    return out


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


def random_colours(n: int, seed: int = 0) -> NDArray[np.uint8]:
    """``n`` distinct-looking random colours, the same for the same ``n`` and seed."""
    rng = np.random.default_rng(seed)
    return rng.integers(40, 256, size=(n, 3), dtype=np.uint8)
