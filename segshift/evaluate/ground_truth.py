"""Reading human segmentations: BSDS ``.mat`` files, ``.npy`` arrays, label images."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io
from numpy.typing import NDArray

from ..errors import ImageReadError, ParameterError
from ._validate import PathLike


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _checked_labels(a: Any, path: Path, what: str) -> NDArray[np.integer]:
    arr = np.asarray(a)
    if arr.ndim != 2 or arr.size == 0:
        raise ImageReadError(f"{path}: {what} is not a 2-D label image (shape {arr.shape})")
    if arr.dtype == bool:
        return arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        return arr
    if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    raise ImageReadError(f"{path}: {what} does not hold integer labels (dtype {arr.dtype})")


def _read_mat(path: Path) -> list[NDArray[np.integer]]:
    try:
        content = scipy.io.loadmat(str(path))
    except NotImplementedError:
        raise ImageReadError(f"cannot read ground truth {path}: MATLAB v7.3 (HDF5) files are not supported") from None
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError, MatReadError, ...
        reason = _one_line(exc)
        raise ImageReadError(f"cannot read ground truth {path}: not a readable MATLAB file ({reason})") from None
    if "groundTruth" not in content:
        names = ", ".join(k for k in content if not k.startswith("__")) or "none"
        raise ImageReadError(f"{path} has no 'groundTruth' variable (variables: {names})")
    cell = np.asarray(content["groundTruth"])
    segs = []
    try:
        entries = cell.ravel(order="F") if cell.dtype == object else cell.reshape(-1)
        for k, entry in enumerate(entries):
            seg = np.asarray(entry["Segmentation"]).reshape(-1)[0]
            segs.append(_checked_labels(seg, path, f"groundTruth{{{k + 1}}}.Segmentation"))
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise ImageReadError(
            f"{path}: 'groundTruth' is not a BSDS cell array of structs with a Segmentation field ({_one_line(exc)})"
        ) from None
    if not segs:
        raise ImageReadError(f"{path}: 'groundTruth' holds no segmentation")
    return segs


def _read_npy(path: Path) -> list[NDArray[np.integer]]:
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:  # ValueError, OSError, EOFError, UnpicklingError
        raise ImageReadError(f"cannot read ground truth {path}: not a readable .npy file ({_one_line(exc)})") from None
    if arr.ndim == 3:
        return [_checked_labels(a, path, f"segmentation {k}") for k, a in enumerate(arr)]
    return [_checked_labels(arr, path, "the array")]


def _read_label_image(path: Path) -> list[NDArray[np.integer]]:
    from PIL import Image, ImageSequence

    segs = []
    try:
        with Image.open(path) as img:
            for k, frame in enumerate(ImageSequence.Iterator(img)):
                if frame.mode not in ("1", "L", "P", "I", "I;16", "I;16L", "I;16B", "F"):
                    raise ImageReadError(
                        f"{path}: frame {k} has mode {frame.mode}; a label image has one channel"
                        " (8- or 16-bit gray or palette)"
                    )
                segs.append(_checked_labels(np.array(frame), path, f"frame {k}"))
    except ImageReadError:
        raise
    except Exception as exc:  # UnidentifiedImageError, truncated data, decoder errors
        reason = _one_line(exc)
        raise ImageReadError(f"cannot read ground truth {path}: not a readable label image ({reason})") from None
    return segs


def load_ground_truth(path: PathLike) -> list[NDArray[np.integer]]:
    """Read human segmentations from a BSDS ``.mat`` file or a label image.

    Parameters
    ----------
    path : str or path-like
        * ``.mat``: a BSDS500 ground-truth file, a cell array ``groundTruth``
          of structs whose ``Segmentation`` fields are the label maps
          (``loadmat(path)["groundTruth"][0, k]["Segmentation"][0, 0]``,
          uint16, labels from 1, about five per image).
        * ``.npy``: a 2-D label array, or a ``(K, H, W)`` stack of K.
        * any other suffix: a one-channel label image Pillow reads (PNG,
          TIFF, ...; 8- or 16-bit gray, or palette indices); each frame of a
          multi-page TIFF is one segmentation.

    Returns
    -------
    segmentations : list of (H, W) ndarray of int
        One label map per human, in file order, with the file's integer dtype.
        Label 0, if present, means unlabelled.

    Raises
    ------
    ImageReadError
        The file is missing, unreadable, corrupt, or holds no label maps; the
        message names the file.

    References
    ----------
    .. [1] Arbelaez et al., IEEE TPAMI 2011; BSDS500 ``groundTruth`` layout.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "gt.npy"
    >>> np.save(f, np.array([[1, 1, 2]], dtype=np.uint16))
    >>> load_ground_truth(f)
    [array([[1, 1, 2]], dtype=uint16)]
    """
    try:
        p = Path(os.fspath(path))
    except TypeError:
        raise ParameterError(f"path must be a str or path-like, got {type(path).__name__}") from None
    if not p.exists():
        raise ImageReadError(f"ground-truth file not found: {p}")
    if not p.is_file():
        raise ImageReadError(f"ground-truth path is not a file: {p}")
    suffix = p.suffix.lower()
    if suffix == ".mat":
        segs = _read_mat(p)
    elif suffix == ".npy":
        segs = _read_npy(p)
    else:
        segs = _read_label_image(p)
    shapes = {s.shape for s in segs}
    if len(shapes) > 1:
        raise ImageReadError(f"{p}: the segmentations have different shapes {sorted(shapes)}")
    return segs
