"""segshift: mean-shift image segmentation (Comaniciu & Meer, IEEE TPAMI 2002).

>>> import segshift
>>> seg = segshift.segment("images/chelsea.jpg")  # doctest: +SKIP
>>> seg.labels.shape, seg.n_regions  # doctest: +SKIP
"""

from ._version import __version__
from ._hierarchy import Hierarchy
from .errors import ImageReadError, OutputError, ParameterError, SegshiftError
from ._loader import load_image
from .params import Params
from ._segment import Segmentation, segment
from .tiled import RegionTable, segment_large

# The point-set estimator needs scikit-learn, which takes a second to import:
# loaded on first use, so that the command line and segment() start quickly.
_POINTSETS = ("MeanShift", "estimate_bandwidth", "mean_shift")


def __getattr__(name: str):
    if name in _POINTSETS:
        from . import _pointsets as pointsets

        return getattr(pointsets, name)
    raise AttributeError(f"module 'segshift' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_POINTSETS))

__all__ = [
    "segment",
    "Segmentation",
    "Params",
    "Hierarchy",
    "segment_large",
    "RegionTable",
    "mean_shift",
    "MeanShift",
    "estimate_bandwidth",
    "load_image",
    "SegshiftError",
    "ParameterError",
    "ImageReadError",
    "OutputError",
    "__version__",
]
