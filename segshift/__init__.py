"""segshift: mean-shift image segmentation (Comaniciu & Meer, IEEE TPAMI 2002).

>>> import segshift
>>> seg = segshift.segment("images/chelsea.jpg")  # doctest: +SKIP
>>> seg.labels.shape, seg.n_regions  # doctest: +SKIP
"""

from .loader import load_image
from .pointsets import MeanShift, estimate_bandwidth, mean_shift
from .segment import Segmentation, segment
from .tiled import RegionTable, segment_large

__version__ = "0.1.0"

__all__ = [
    "segment",
    "Segmentation",
    "segment_large",
    "RegionTable",
    "mean_shift",
    "MeanShift",
    "estimate_bandwidth",
    "load_image",
    "__version__",
]
