"""Property-based tests of segment(): invariants that hold for every image.

Hypothesis draws small images (a few flat blocks plus noise) and parameters;
every result must be a valid partition whatever the input. Settings are
derandomized so that CI runs the same examples every time.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skimage.measure import label as connected_label

from segshift import load_image, segment
from segshift._loader import rgb_to_luv

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def block_images(draw, max_side: int = 24) -> np.ndarray:
    """A uint8 RGB image of up to ``max_side`` pixels a side: flat blocks plus noise."""
    height = draw(st.integers(1, max_side))
    width = draw(st.integers(1, max_side))
    colour = st.tuples(*[st.integers(0, 255)] * 3)
    image = np.empty((height, width, 3), dtype=np.float64)
    image[:] = draw(colour)
    for _ in range(draw(st.integers(0, 4))):
        y0, y1 = sorted(draw(st.tuples(st.integers(0, height), st.integers(0, height))))
        x0, x1 = sorted(draw(st.tuples(st.integers(0, width), st.integers(0, width))))
        image[y0:y1, x0:x1] = draw(colour)
    sigma = draw(st.sampled_from([0.0, 2.0, 8.0, 30.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    image += np.random.default_rng(seed).normal(0.0, sigma, image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


PARAMS = st.fixed_dictionaries(
    {
        "spatial_radius": st.floats(1.0, 6.0),
        "range_radius": st.floats(2.0, 20.0),
        "min_size": st.integers(0, 40),
        "kernel": st.sampled_from(["uniform", "gaussian", "epanechnikov"]),
    }
)


def check_partition(seg, image: np.ndarray, min_size: int) -> None:
    """Assert the invariants every segmentation of ``image`` satisfies."""
    height, width = image.shape[:2]
    labels = seg.labels - seg.start_label  # from 0 whatever the numbering
    assert labels.shape == (height, width)
    assert labels.dtype == np.int32
    n = seg.n_regions
    assert n >= 1
    # labels run contiguously from 0
    np.testing.assert_array_equal(np.unique(labels), np.arange(n))
    # areas sum to the pixel count and are the label counts
    assert seg.areas.sum() == height * width
    np.testing.assert_array_equal(seg.areas, np.bincount(labels.ravel(), minlength=n))
    # every region is one 8-connected set: skimage labels connected sets of
    # equal value, so n connected regions give exactly n components
    components = connected_label(labels + 1, connectivity=2, background=0)
    assert components.max() == n, f"{components.max()} connected pieces for {n} regions"
    # no region below min_size, unless the whole image is smaller
    if height * width >= min_size:
        assert seg.areas.min() >= min_size, (seg.areas.min(), min_size)
    else:
        assert n == 1
    # per-region outputs have one row per region
    assert seg.modes_luv.shape == (n, 3) and seg.modes_rgb.shape == (n, 3)
    assert seg.modes_rgb.dtype == np.uint8
    assert np.isfinite(seg.modes_luv).all()


@SETTINGS
@given(image=block_images(), params=PARAMS)
def test_segment_is_a_valid_partition(image, params):
    seg = segment(image, **params)
    check_partition(seg, image, params["min_size"])


@SETTINGS
@given(image=block_images(), params=PARAMS, compat=st.sampled_from([None, "edison"]))
def test_modes_lie_within_the_colour_range(image, params, compat):
    """Modes are weighted means of pixel colours: inside each channel's range.

    The modes are in the L*u*v* of the segmentation's ``compat`` (CIE, or
    EDISON's conversion), so the pixels are converted the same way.
    """
    seg = segment(image, **params, compat=compat)
    assert seg.params["compat"] == compat
    luv = rgb_to_luv(load_image(image), compat=seg.params["compat"]).reshape(-1, 3)
    lo, hi = luv.min(axis=0), luv.max(axis=0)
    tol = 1e-3 * np.maximum(1.0, np.abs(luv).max(axis=0))
    assert (seg.modes_luv >= lo - tol).all(), (seg.modes_luv.min(axis=0), lo)
    assert (seg.modes_luv <= hi + tol).all(), (seg.modes_luv.max(axis=0), hi)


@settings(SETTINGS, max_examples=20)
@given(image=block_images(), params=PARAMS)
def test_segment_is_deterministic(image, params):
    first = segment(image, **params)
    second = segment(image, **params)
    np.testing.assert_array_equal(first.labels, second.labels)
    np.testing.assert_array_equal(first.modes_luv, second.modes_luv)
    np.testing.assert_array_equal(first.areas, second.areas)


@settings(SETTINGS, max_examples=20)
@given(image=block_images(max_side=12), params=PARAMS)
def test_input_layout_does_not_matter(image, params):
    """A Fortran-order, a flipped-twice (negative-stride) and a read-only view
    segment exactly as a C-contiguous copy does, and are left untouched."""
    expected = segment(np.ascontiguousarray(image), **params)
    flipped = np.ascontiguousarray(image[::-1, ::-1])[::-1, ::-1]
    readonly = image.copy()
    readonly.setflags(write=False)
    for view in (np.asfortranarray(image), flipped, readonly):
        before = view.copy()
        seg = segment(view, **params)
        np.testing.assert_array_equal(seg.labels, expected.labels)
        np.testing.assert_array_equal(view, before)


@settings(SETTINGS, max_examples=25)
@given(image=block_images())
def test_flat_image_is_one_region(image):
    flat = np.broadcast_to(image[:1, :1], image.shape)
    seg = segment(flat, 3, 6.5, 20)
    assert seg.n_regions == 1
    assert seg.areas.tolist() == [image.shape[0] * image.shape[1]]
