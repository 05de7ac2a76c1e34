"""The working resolution (segshift/resolution.py): the same scene gives the
same regions at any resolution; pixel radii keep meaning pixels."""

from __future__ import annotations

import numpy as np
import pytest

from segshift import _resolution as resolution, segment
from segshift._hierarchy import boundary_pixels
from segshift._loader import load_image, rgb_to_luv
from segshift._meanshift import filter_image
from segshift._segment import FINEST_WORKING_RADIUS, WORKING_RADIUS, regions_from_modes


def scene(height: int, width: int, seed: int = 3) -> np.ndarray:
    """A synthetic photo rendered at any size: a sky gradient, a ground, a
    disc, a rotated rectangle and a small square, drawn in continuous
    coordinates (unit square) with 3 x 3 supersampling, plus pixel noise."""
    rng = np.random.default_rng(seed)
    sub = 3 if height * width < 400_000 else 1
    ys = (np.arange(height * sub) + 0.5) / (height * sub)
    xs = (np.arange(width * sub) + 0.5) / (width * sub)
    y, x = np.meshgrid(ys, xs, indexing="ij")
    img = np.empty(y.shape + (3,))
    img[:] = np.stack([90 + 60 * y, 140 + 50 * y, 230 - 20 * y], -1)  # sky
    ground = y > 0.62 + 0.05 * np.sin(6 * x)
    img[ground] = (70, 120, 50)
    disc = (x - 0.3) ** 2 + ((y - 0.45) * height / width) ** 2 < 0.12**2
    img[disc] = (210, 60, 40)
    u, v = (x - 0.68) * 0.8 + (y - 0.5) * 0.6, -(x - 0.68) * 0.6 + (y - 0.5) * 0.8
    img[(np.abs(u) < 0.12) & (np.abs(v) < 0.2)] = (240, 220, 90)
    img[(np.abs(x - 0.85) < 0.05) & (np.abs(y - 0.15) < 0.07)] = (30, 30, 40)
    img = img.reshape(height, sub, width, sub, 3).mean(axis=(1, 3))
    img += rng.normal(0.0, 3.0, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def matched_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Smallest IoU over the regions of ``a`` and their best match in ``b``
    (label maps of the same shape)."""
    worst = 1.0
    for region in np.unique(a):
        mask = a == region
        best = max(np.sum(mask & (b == other)) / np.sum(mask | (b == other)) for other in np.unique(b[mask]))
        worst = min(worst, best)
    return worst


@pytest.mark.parametrize("level", ["fixed", "auto"])  # mean shift's fixed scale, and the hierarchy's default cut
def test_same_regions_at_every_resolution(level):
    size = (321, 481)
    reference = segment(scene(*size), scale=level)
    assert 5 <= reference.n_regions <= 8
    for scale in (0.5, 0.7, 2.0, 4.0):
        h, w = round(size[0] * scale), round(size[1] * scale)
        seg = segment(scene(h, w), scale=level)
        assert seg.shape == (h, w) and seg.n_regions == reference.n_regions, scale
        # compare on the reference grid (nearest pixel centres)
        rows = np.minimum(((np.arange(size[0]) + 0.5) * h / size[0]).astype(int), h - 1)
        cols = np.minimum(((np.arange(size[1]) + 0.5) * w / size[1]).astype(int), w - 1)
        small = seg.labels[np.ix_(rows, cols)]
        assert matched_iou(reference.labels, small) > 0.95, scale
        assert matched_iou(small, reference.labels) > 0.95, scale
        # areas as fractions of the image agree too
        np.testing.assert_allclose(np.sort(seg.areas / seg.areas.sum()),
                                   np.sort(reference.areas / reference.areas.sum()), atol=0.01)


def test_pixel_radii_run_at_full_resolution():
    image = scene(400, 600)
    rgb = load_image(image)
    # the full-resolution computation, every pixel climbing, as before the working resolution
    modes = filter_image(rgb_to_luv(rgb, compat="edison"), 10.0, 12.0, compat="edison")
    expected = regions_from_modes(rgb, modes, 12.0, round(0.013 * rgb.shape[0] * rgb.shape[1]), compat="edison")
    for kwargs in ({}, {"resolution": "full"}):
        seg = segment(image, spatial_radius=10, range_radius=12, min_size=0.013, start_label=0, **kwargs)
        np.testing.assert_array_equal(seg.labels, expected.labels)
    # resolution="full" with the relative default: pixels scaled to the diagonal
    full = segment(image, resolution="full")
    hs = FINEST_WORKING_RADIUS * (np.hypot(400, 600) / resolution.WORKING_DIAGONAL)
    np.testing.assert_array_equal(full.labels, segment(image, hs).labels)


def test_bsds_sized_and_thumbnail_images_are_not_resampled():
    image = scene(321, 481)
    np.testing.assert_array_equal(segment(image).labels, segment(image, FINEST_WORKING_RADIUS).labels)
    np.testing.assert_array_equal(segment(image, scale="fixed").labels,
                                  segment(image, WORKING_RADIUS, scale="fixed").labels)
    thumb = scene(60, 90)
    np.testing.assert_array_equal(segment(thumb).labels, segment(thumb, FINEST_WORKING_RADIUS).labels)
    assert resolution.plan((321, 481), 10.0) == (None, 10.0, "none")
    assert resolution.plan((481, 321), 10.0) == (None, 10.0, "none")
    assert resolution.plan((3000, 4000), 10.0).shape == (340, 454)
    # the fast mode: half the working side, every pixel climbing; thumbnails climb from a quarter of their pixels
    fast = resolution.plan((321, 481), 10.0, "auto", "fast")
    assert fast.shape == (160, 240) and fast.speedup == "none"
    assert fast.spatial_radius == pytest.approx(10.0 * np.hypot(160, 240) / np.hypot(321, 481))
    assert resolution.plan((60, 90), 10.0, "auto", "fast") == (None, 10.0, "fast")
    full = resolution.plan((3000, 4000), 10.0, "full", "fast")
    assert full.shape is None and full.speedup == "fast"
    assert full.spatial_radius == pytest.approx(10.0 * np.hypot(3000, 4000) / np.hypot(321, 481))


def place_naive(rgb, labels, modes, hs, hr, compat):
    """Every full-resolution pixel by the rule, without the settled shortcut."""
    height, width = rgb.shape[:2]
    h, w = labels.shape
    luv = rgb_to_luv(rgb, compat=compat).astype(np.float64)
    out = np.empty((height, width), dtype=np.int32)
    for y in range(height):
        for x in range(width):
            wy, wx = (y + 0.5) * h / height - 0.5, (x + 0.5) * w / width - 0.5
            i0, j0 = min(max(int(np.floor(wy + 0.5)), 0), h - 1), min(max(int(np.floor(wx + 0.5)), 0), w - 1)
            best, lab = np.inf, None
            for i in range(max(0, i0 - 1), min(h, i0 + 2)):
                for j in range(max(0, j0 - 1), min(w, j0 + 2)):
                    d = ((i - wy) ** 2 + (j - wx) ** 2) / hs**2 + np.sum((luv[y, x] - modes[i, j]) ** 2) / hr**2
                    if d < best:
                        best, lab = d, labels[i, j]
            out[y, x] = lab
    return out


def test_placement_matches_the_rule_and_keeps_region_ids():
    rgb = load_image(scene(96, 150, seed=5))
    work = resolution.resample(rgb, (40, 62))
    modes = filter_image(rgb_to_luv(work, compat="edison"), 4.0, 12.0, compat="edison")
    seg = regions_from_modes(work, modes, 12.0, 20, compat="edison")
    labels, areas = resolution.place_labels(rgb, seg.labels, modes, seg.n_regions, 4.0, 12.0, compat="edison")
    expected = place_naive(rgb, seg.labels, modes, 4.0, 12.0, "edison")
    # a pixel whose nearest working pixel is settled takes its label; the rule
    # would give the same there, except for colours far from every mode
    assert np.mean(labels == expected) > 0.995
    assert labels.dtype == np.int32 and labels.shape == rgb.shape[:2]
    np.testing.assert_array_equal(areas, np.bincount(labels.ravel(), minlength=seg.n_regions))
    assert areas.min() >= 1 and set(np.unique(labels)) == set(range(seg.n_regions))
    # region ids: the label of the working pixel nearest each full-resolution pixel, away from boundaries
    rows = np.minimum(((np.arange(96) + 0.5) * 40 / 96).astype(int), 39)
    cols = np.minimum(((np.arange(150) + 0.5) * 62 / 150).astype(int), 61)
    assert np.mean(labels == seg.labels[np.ix_(rows, cols)]) > 0.95
    full = resolution.to_full_resolution(seg, rgb, modes, 4.0, 12.0, compat="edison")
    np.testing.assert_array_equal(full.modes_luv, seg.modes_luv)
    np.testing.assert_array_equal(full.labels, labels)


def test_every_region_keeps_a_pixel():
    # a one-pixel-wide working region whose colour no full-resolution pixel has
    labels = np.zeros((10, 10), dtype=np.int32)
    labels[:, 5] = 1
    modes = np.zeros((10, 10, 3), dtype=np.float32)
    modes[:, 5] = (50.0, 80.0, 80.0)
    rgb = np.zeros((40, 40, 3), dtype=np.float32)
    out, areas = resolution.place_labels(rgb, labels, modes, 2, 3.0, 10.0)
    assert areas[1] >= 1 and areas.sum() == 1600


def random_partition(rng, height, width, n_blobs):
    """Working labels: random blobs plus 1-pixel lines (regions without a
    settled pixel, some of which lose every full-resolution pixel), numbered
    0..n-1, with modes near the photo's colours and, for some lines, far from them."""
    seeds = rng.integers(0, [height, width], size=(n_blobs, 2))
    yy, xx = np.mgrid[:height, :width]
    labels = np.argmin((yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2, axis=-1)
    n = n_blobs
    for k in range(6):  # thin lines: rows and columns
        if k % 2:
            labels[:, rng.integers(0, width)] = n
        else:
            labels[rng.integers(0, height), :] = n
        n += 1
    _, labels = np.unique(labels, return_inverse=True)
    labels = labels.reshape(height, width).astype(np.int32)
    n = int(labels.max()) + 1
    colours = rng.uniform([20, -40, -40], [90, 40, 40], size=(n, 3)).astype(np.float32)
    colours[rng.random(n) < 0.3] = (100.0, 150.0, 150.0)  # no pixel comes near these
    return labels, colours[labels], n


def level_case(seed):
    """A working partition with thin regions, a photo 2 to 3 times larger
    (pixel noise on the working colours, blown up), and the finest placement."""
    rng = np.random.default_rng(seed)
    h, w = 24, 31
    H, W = 60 + seed * 7, 71 + seed * 5
    labels, modes, n = random_partition(rng, h, w, 12)
    base = np.repeat(np.repeat(rng.uniform(0, 1, (h, w, 3)), 3, 0), 3, 1)[:H, :W]
    base = np.pad(base, ((0, H - base.shape[0]), (0, W - base.shape[1]), (0, 0)), mode="edge")
    rgb = np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1).astype(np.float32)
    finest, _ = resolution.place_labels(rgb, labels, modes, n, 3.0, 12.0, compat="edison")
    return rng, rgb, labels, modes, n, finest


@pytest.mark.parametrize("seed", range(6))
def test_a_level_placed_alone_is_the_finest_placement_mapped(seed):
    """Placement.level places only the pixels near the level's boundaries
    (and near finest regions that may lose every pixel), and must give
    exactly the finest placement's labels mapped to the level, areas too."""
    rng, rgb, labels, modes, n, finest = level_case(seed)
    place = resolution.Placement(rgb, labels, modes, n, 3.0, 12.0, compat="edison")
    for m in (1, 2, 3, n // 2, n - 1, n):
        region_of = rng.permutation(np.arange(n) % m)  # every region of the level in use
        level, level_areas = place.level(region_of)
        expected = region_of.astype(np.int32)[finest]
        np.testing.assert_array_equal(level, expected)
        np.testing.assert_array_equal(level_areas, np.bincount(expected.ravel(), minlength=m))
        assert level.dtype == np.int32
    # once the finest placement is made, levels are mapped from it
    np.testing.assert_array_equal(place.finest[0], finest)
    np.testing.assert_array_equal(place.level(np.arange(n) % 2)[0], (np.arange(n) % 2).astype(np.int32)[finest])


def test_the_level_cases_include_regions_that_keep_one_forced_pixel():
    # in some of the cases above a far-coloured line loses every pixel and
    # keeps the one at the centre of its first working pixel
    forced = 0
    for seed in range(6):
        _, rgb, labels, modes, n, finest = level_case(seed)
        (H, W), (h, w) = finest.shape, labels.shape
        for region in np.flatnonzero(np.bincount(finest.ravel(), minlength=n) == 1):
            i, j = divmod(int(np.flatnonzero(labels.ravel() == region)[0]), w)
            forced += finest[min(H - 1, int((i + 0.5) * H / h)), min(W - 1, int((j + 0.5) * W / w))] == region
    assert forced >= 2


def test_a_photo_at_working_resolution_gets_its_levels_and_ucm_at_full_resolution():
    rgb = scene(700, 1050)
    seg = segment(rgb)
    h = seg.hierarchy
    assert h.placement is not None and h.labels.shape < seg.labels.shape == (700, 1050)
    finest = h.finest_labels
    assert finest.shape == (700, 1050)
    for level in (seg, seg.at(n_regions=3), seg.at(n_regions=h.n_finest)):
        region_of = h.cut(h.n_finest - level.n_regions)
        np.testing.assert_array_equal(level.labels, region_of.astype(np.int32)[finest] + level.start_label)
        np.testing.assert_array_equal(level.areas, np.bincount(level.labels.ravel() - level.start_label,
                                                               minlength=level.n_regions))
    assert seg.ucm.shape == (700, 1050)
    np.testing.assert_array_equal(seg.ucm > seg.threshold, boundary_pixels(seg.labels))


@pytest.mark.parametrize("bad", ["half", None, 2])
def test_resolution_must_be_auto_or_full(bad):
    with pytest.raises(ValueError, match="resolution must be one of auto, full"):
        segment(scene(20, 30), resolution=bad)
