"""The region hierarchy: merge order, levels, the UCM, the API and the command line."""

from __future__ import annotations

import naive
import numpy as np
import pytest
from PIL import Image

from segshift import _hierarchy as H
from segshift import segment
from segshift._hierarchy_kernels import merge_regions
from segshift.cli import main
from segshift.errors import ParameterError
from segshift._regions import connect_modes
from segshift._segment import regions_from_modes


def _blocks(rng, height=24, width=30, n_seeds=12):
    """A label map of random Voronoi cells (contiguous labels, raster order)."""
    ys, xs = np.mgrid[0:height, 0:width]
    seeds = np.column_stack([rng.integers(0, height, n_seeds), rng.integers(0, width, n_seeds)])
    cell = np.argmin((ys[..., None] - seeds[:, 0]) ** 2 + (xs[..., None] - seeds[:, 1]) ** 2 + 0.1 * np.arange(n_seeds), axis=-1)
    modes = np.repeat(cell[..., None], 3, axis=2).astype(np.float32) * 10.0  # one "mode" per cell
    regions = connect_modes(modes)  # 8-connected cells, numbered in raster order
    return regions.pixel_region.astype(np.int32)


def _painted(rng, n_blocks=(3, 4), size=12, noise=2.0):
    """A small photo-like image: blocks of random colours with a little noise."""
    rows, cols = n_blocks
    colours = rng.integers(0, 256, size=(rows, cols, 3))
    image = np.kron(colours, np.ones((size, size, 1))).astype(float)
    image += rng.normal(0, noise, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "params",
    [(0.0, 0.2, 0.5), (0.05, 0.0, 0.0), (0.02, 0.5, 0.9), (0.02, 0.2, 0.5, 3.0), (0.02, 0.2, 0.5, 3.0, 2.0, 5)],
)
def test_merge_order_matches_reference(seed, params):
    rng = np.random.default_rng(seed)
    labels = _blocks(rng)
    n = int(labels.max()) + 1
    strength = rng.random(labels.shape).astype(np.float32)
    edges, sums, counts = H.border_statistics(labels, strength, n)
    areas = np.bincount(labels.ravel(), minlength=n).astype(float)
    mode_sums = rng.random((n, 3)) * 50 * areas[:, None]
    prm = np.array([*params[:3], float(labels.size), *params[3:]])
    # colour histograms: each region's pixels spread over 5 colours; then
    # texture histograms: over 4 textures
    for bins in (5, 4)[: len(params) - 3 - (len(params) > 4)]:
        counts_hist = rng.multinomial(1, np.ones(bins) / bins, size=labels.size)
        hist = np.zeros((n, bins))
        np.add.at(hist, labels.ravel(), counts_hist)
        mode_sums = np.concatenate([mode_sums, hist], axis=1)
    merges, heights, _ = merge_regions(n, edges, sums, counts, areas, mode_sums, prm)
    ref_merges, ref_heights = naive.merge_regions(n, edges, sums, counts, areas, mode_sums, prm)
    np.testing.assert_array_equal(merges, ref_merges)
    np.testing.assert_allclose(heights, ref_heights, rtol=1e-9)


def test_colour_histograms_count_each_region_s_pixels():
    rng = np.random.default_rng(0)
    luv = np.zeros((20, 40, 3))
    luv[:, :20] = [50.0, 10.0, 10.0]  # a flat region
    luv[:, 20:] = rng.choice([20.0, 80.0], size=(20, 20))[..., None] * [1.0, 0.0, 0.0]  # a two-colour texture
    labels = np.zeros((20, 40), dtype=np.int32)
    labels[:, 20:] = 1
    hist = H.colour_histograms(luv, labels, 2, bins=4)
    np.testing.assert_array_equal(hist.sum(axis=1), [400, 400])
    assert np.count_nonzero(hist[0]) == 1 and np.count_nonzero(hist[1]) == 2
    flat = H.colour_histograms(np.full((5, 5, 3), 7.0), np.zeros((5, 5), dtype=np.int32), 1)
    np.testing.assert_array_equal(flat, [[25]])


@pytest.mark.parametrize("dims, bins, step", [(3, 32, 23), (10, 32, 47)])
def test_histograms_quantise_as_scipy_kmeans2_does(dims, bins, step):
    # the compiled k-means makes scipy's kmeans2(minit="++") draws and rounds:
    # the same centres, so the same histograms as quantising with scipy
    # (colours: 3 values a pixel; texture filter responses: 10)
    from scipy.cluster.vq import kmeans2, vq

    rng = np.random.default_rng(3)
    height, width = (60, 80) if dims == 3 else (100, 140)  # samples enough that the step is the one asked for
    features = (rng.normal(50.0, 20.0, (height, width, dims)) + np.linspace(0, 30, width)[None, :, None]).astype(
        np.float32
    )
    labels = (np.arange(height * width).reshape(height, width) // 7 % 9).astype(np.int32)
    pixels = features.reshape(-1, dims).astype(np.float64)
    sample = pixels[::step]
    centres, _ = kmeans2(sample, bins, iter=10, minit="++", seed=np.random.default_rng(0))
    codes, _ = vq(pixels, centres, check_finite=False)
    expected = np.bincount(labels.ravel() * bins + codes, minlength=9 * bins).reshape(9, bins)
    np.testing.assert_array_equal(H.quantised_histograms(features, labels, 9, bins, step=step), expected)
    if dims == 3:
        np.testing.assert_array_equal(H.colour_histograms(features, labels, 9), expected)


def test_texture_histograms_tell_a_texture_from_a_flat_region_of_its_mean():
    """Stripes and a flat area of the stripes' mean luminance: each region's
    counts add up to its area, the two halves of the stripes have nearly the
    same histogram, and the flat area a different one."""
    luv = np.zeros((40, 90, 3), dtype=np.float32)
    luv[..., 0] = 50.0
    luv[:, :60, 0] += np.where(np.arange(60) // 2 % 2 == 0, 20.0, -20.0)  # vertical stripes, 2 px wide
    labels = np.zeros((40, 90), dtype=np.int32)
    labels[:, 30:60] = 1
    labels[:, 60:] = 2

    def chi2(p, q):
        p, q = p / p.sum(), q / q.sum()
        both = p + q
        return 0.5 * float(((p - q)[both > 0] ** 2 / both[both > 0]).sum())

    hist = H.texture_histograms(luv, labels, 3)
    np.testing.assert_array_equal(hist.sum(axis=1), [1200, 1200, 1200])
    assert chi2(hist[0], hist[1]) < 0.1
    assert chi2(hist[1], hist[2]) > 0.5


def _affinity_reference(codes, bins, radius, rho, smoothing):
    """colour_affinity spelled out: count each offset's code pairs, both orders."""
    counts = np.zeros((bins, bins))
    height, width = codes.shape
    for d in range(1, radius + 1):
        for dy, dx in ((0, d), (d, 0), (d, d), (d, -d)):
            for y in range(height):
                for x in range(width):
                    if 0 <= y + dy < height and 0 <= x + dx < width:
                        counts[codes[y, x], codes[y + dy, x + dx]] += 1
                        counts[codes[y + dy, x + dx], codes[y, x]] += 1
    counts += smoothing * counts.sum() / bins**2
    joint = counts / counts.sum()
    p = joint.sum(axis=1)
    return rho * np.log(joint) - np.log(p)[:, None] - np.log(p)[None, :]


def test_colour_affinity_matches_reference_and_tells_texture_from_border():
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 6, size=(13, 17)).astype(np.int32)
    np.testing.assert_allclose(H.colour_affinity(codes, 6, radius=3, rho=1.25, smoothing=0.01),
                               _affinity_reference(codes, 6, 3, 1.25, 0.01), rtol=1e-12)
    # stripes of colours 0 and 1 (one texture) beside a flat area of colour 2
    stripes = np.zeros((30, 60), dtype=np.int32)
    stripes[:, :30] = np.arange(30) % 2
    stripes[:, 30:] = 2
    pmi = H.colour_affinity(stripes, 3)
    np.testing.assert_allclose(pmi, pmi.T)
    assert pmi[0, 1] > 0 > pmi[0, 2] and pmi[1, 1] > 0 > pmi[1, 2]


def test_border_statistics_add_the_affinity_of_the_colours_across_the_border():
    rng = np.random.default_rng(2)
    labels = _blocks(rng, height=16, width=19, n_seeds=7)
    n = int(labels.max()) + 1
    strength = rng.random(labels.shape).astype(np.float32)
    codes = rng.integers(0, 5, size=labels.shape).astype(np.int32)
    pmi = rng.normal(0.0, 2.0, (5, 5))
    edges, sums, counts = H.border_statistics(labels, strength, n, codes=codes, affinity=pmi, affinity_weight=0.7,
                                              offset=2)
    height, width = labels.shape
    expected = {}
    for y in range(height):
        for x in range(width):
            for dy, dx in ((0, 1), (1, 0)):
                ny, nx = y + dy, x + dx
                if ny >= height or nx >= width or labels[y, x] == labels[ny, nx]:
                    continue
                c0 = codes[max(y - 2 * dy, 0), max(x - 2 * dx, 0)]
                c1 = codes[min(ny + 2 * dy, height - 1), min(nx + 2 * dx, width - 1)]
                value = 0.5 * (strength[y, x] + strength[ny, nx]) + 0.7 * max(0.0, -pmi[c0, c1])
                key = (min(labels[y, x], labels[ny, nx]), max(labels[y, x], labels[ny, nx]))
                total, count = expected.get(key, (0.0, 0))
                expected[key] = (total + value, count + 1)
    assert [tuple(e) for e in edges] == sorted(expected)
    np.testing.assert_allclose(sums, [expected[k][0] for k in sorted(expected)], rtol=1e-6)
    np.testing.assert_array_equal(counts, [expected[k][1] for k in sorted(expected)])
    # without the affinity, the plain strength
    _, plain, _ = H.border_statistics(labels, strength, n)
    assert np.all(sums >= plain - 1e-6) and np.any(sums > plain + 1e-3)


def test_affinity_term_keeps_a_texture_together_and_apart_from_its_neighbour():
    """Stripes of two colours, 1 pixel wide, cut into five finest regions of
    6 stripes, beside a flat area of a third colour: with no other cue, the
    striped regions join near height 0 (their colours co-occur: PMI about 0,
    against about -4 for a stripe's colour and the flat one's) and the last
    merge, far above the others, joins the striped area to the flat one;
    without the affinity term every merge is at 0."""
    height, width = 24, 48
    x = np.arange(width)
    labels = np.broadcast_to(np.where(x < 30, x // 6, 5), (height, width)).astype(np.int32)
    codes = np.broadcast_to(np.where(x < 30, x % 2, 2), (height, width)).astype(np.int32)
    n = 6
    areas = np.bincount(labels.ravel())
    modes = np.zeros((n, 3))
    strength = np.zeros(labels.shape, dtype=np.float32)
    affinity = H.colour_affinity(codes, 3)
    tree = H.build_hierarchy(labels, modes, areas, strength, colour_weight=0.0, codes=codes, affinity=affinity)
    assert tree.heights[-1] > 0.5 and tree.heights[:-1].max() < 0.05 * tree.heights[-1]
    two = tree.cut(tree.merges_for(n_regions=2))
    assert len(set(two[:5])) == 1 and two[5] != two[0]
    plain = H.build_hierarchy(labels, modes, areas, strength, colour_weight=0.0)
    assert np.all(plain.heights == 0.0)


@pytest.mark.parametrize("band_pixels", [700, 2000])
def test_texture_histograms_in_bands_of_rows_are_those_of_one_pass(monkeypatch, band_pixels):
    """A large image's filter responses are computed in bands of rows (a
    photo's 40 bytes a pixel held a band at a time): the same k-means sample,
    the same codes, the same histograms as one pass over the whole image."""
    rng = np.random.default_rng(4)
    luv = np.zeros((70, 50, 3), dtype=np.float32)
    luv[..., 0] = 50.0 + 20.0 * np.sin(np.arange(50) / 2.0)[None, :] * (np.arange(70)[:, None] > 30)
    luv[..., 0] += rng.normal(0.0, 3.0, (70, 50)).astype(np.float32)
    labels = ((np.arange(70)[:, None] // 10) * 5 + np.arange(50)[None, :] // 10).astype(np.int32)
    one_pass = H.texture_histograms(luv, labels, 35, sigma=1.5)
    monkeypatch.setattr(H, "BAND_PIXELS", band_pixels)  # bands of 14 and 40 rows
    np.testing.assert_array_equal(H.texture_histograms(luv, labels, 35, sigma=1.5), one_pass)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0])
def test_boundary_strength_in_bands_of_rows_is_that_of_one_pass(monkeypatch, sigma):
    rng = np.random.default_rng(6)
    luv = (rng.normal(50.0, 10.0, (60, 40, 3)) + np.arange(40)[None, :, None]).astype(np.float32)
    one_pass = H.boundary_strength(luv, sigma)
    monkeypatch.setattr(H, "BAND_PIXELS", 400)  # bands of 10 rows
    np.testing.assert_array_equal(H.boundary_strength(luv, sigma), one_pass)
    # one channel too
    monkeypatch.setattr(H, "BAND_PIXELS", 1 << 20)
    plane = H.boundary_strength(luv[..., 0], sigma)
    monkeypatch.setattr(H, "BAND_PIXELS", 400)
    np.testing.assert_array_equal(H.boundary_strength(luv[..., 0], sigma), plane)


def test_texture_features_are_gaussian_derivatives():
    """On a quadratic surface the filter bank's responses are its
    derivatives (up to the sign of correlation): d/dx, d/dy, d2/dx2,
    d2/dxdy, d2/dy2 at both scales, away from the borders."""
    y, x = np.mgrid[0:40, 0:50].astype(np.float64)
    surface = 0.5 * 0.02 * x**2 + 0.01 * x * y - 0.5 * 0.03 * y**2 + 0.3 * x - 0.2 * y
    features = H.texture_features(surface.astype(np.float32), 1.0)
    inner = features[15:25, 15:35]
    gx = 0.02 * x + 0.01 * y + 0.3
    gy = 0.01 * x - 0.03 * y - 0.2
    for scale in range(2):
        got = inner[..., 5 * scale: 5 * scale + 5]
        np.testing.assert_allclose(-got[..., 0], gx[15:25, 15:35], atol=0.01)
        np.testing.assert_allclose(-got[..., 1], gy[15:25, 15:35], atol=0.01)
        np.testing.assert_allclose(got[..., 2], 0.02, atol=0.002)
        np.testing.assert_allclose(got[..., 3], 0.01, atol=0.002)
        np.testing.assert_allclose(got[..., 4], -0.03, atol=0.002)


def test_auto_scale_cuts_at_the_threshold_but_keeps_a_floor_of_regions():
    rng = np.random.default_rng(5)
    labels = _blocks(rng)
    n = int(labels.max()) + 1
    modes = rng.random((n, 3)) * 50
    areas = np.bincount(labels.ravel(), minlength=n)
    h = H.build_hierarchy(labels, modes, areas, rng.random(labels.shape).astype(np.float32))
    for t in [0.0, *h.heights, float(h.heights[-1]) + 1.0]:
        cut = h.n_finest - h.merges_for(threshold=t)  # regions of the plain cut
        for floor in (1, 3, 5, n, n + 4):
            merges = H.auto_scale(h, threshold=t, min_regions=floor)
            assert h.n_finest - merges == max(cut, min(floor, n))
    assert H.auto_scale(h, threshold=float(h.heights[-1]) + 1.0, min_regions=1) == n - 1  # one region


def test_disconnected_graph_is_joined_at_the_last_height():
    # two pairs of regions with no edge between the pairs
    edges = np.array([[0, 1], [2, 3]], dtype=np.int64)
    ones = np.ones(2)
    areas = np.ones(4) * 10
    merges, heights, _ = merge_regions(4, edges, ones, ones, areas, np.zeros((4, 3)), np.array([0.0, 0.0, 0.0, 40.0]))
    assert merges.shape == (3, 2) and sorted(merges[:2].ravel().tolist()) == [0, 1, 2, 3]
    assert heights[2] == heights[1] and np.all(np.diff(heights) >= 0)
    _, ref_heights = naive.merge_regions(4, edges, ones, ones, areas, np.zeros((4, 3)), [0.0, 0.0, 0.0, 40.0])
    np.testing.assert_allclose(heights, ref_heights)


@pytest.fixture(scope="module")
def seg():
    image = _painted(np.random.default_rng(3))
    return segment(image, min_size=5, start_label=0)  # the tree's own numbering, from 0


def test_default_is_a_level_of_a_hierarchy(seg):
    h = seg.hierarchy
    assert h is not None and h.n_finest > 4
    assert seg.params["scale"] == "auto"
    assert np.all(np.diff(h.heights) >= 0)
    assert h.merges.shape == (h.n_finest - 1, 2)
    # the scipy linkage is valid and agrees on the clusters
    from scipy.cluster.hierarchy import fcluster, is_valid_linkage

    assert is_valid_linkage(h.linkage)
    k = 3
    ours = h.cut(h.merges_for(n_regions=k))
    theirs = fcluster(h.linkage, k, criterion="maxclust")
    # same partition of the finest regions (names differ)
    assert len(set(zip(ours, theirs))) == k


def test_every_level_from_one_region_to_the_finest(seg):
    h = seg.hierarchy
    n = h.n_finest
    previous = None
    for k in range(n + 3, 0, -1):
        level = seg.at(n_regions=k)
        assert level.n_regions == min(k, n)
        labels = level.labels
        # contiguous labels in raster order of their first pixel
        flat = labels.ravel()
        _, first = np.unique(flat, return_index=True)
        assert np.array_equal(np.sort(first), first) and flat.max() + 1 == level.n_regions
        # areas and area-weighted modes
        assert np.array_equal(level.areas, np.bincount(flat))
        np.testing.assert_allclose(level.areas.sum(), labels.size)
        finest_mode = h.modes_luv[h.labels].reshape(-1, 3)
        for r in range(level.n_regions):
            np.testing.assert_allclose(level.modes_luv[r], finest_mode[flat == r].mean(axis=0), rtol=1e-5, atol=1e-4)
        # nested: every region of the finer level lies inside one region of this one
        if previous is not None:
            pairs = set(zip(previous.ravel().tolist(), flat.tolist()))
            assert len({a for a, _ in pairs}) == len(pairs)
        previous = labels
        assert level.hierarchy is h
    assert np.array_equal(seg.at(n_regions=n).labels, h.labels)
    assert seg.at(n_regions=1).n_regions == 1


def test_ucm_thresholds_reproduce_the_cuts(seg):
    h = seg.hierarchy
    ucm = seg.ucm
    assert ucm.shape == seg.shape and ucm.dtype == np.float64
    assert np.all(ucm[~H.boundary_pixels(h.labels)] == 0)
    heights = np.unique(h.heights)
    tests = np.concatenate([[0.0], heights, heights * 0.999, heights * 1.001])
    for t in tests:
        level = seg.at(threshold=t)
        assert np.array_equal(H.boundary_pixels(level.labels), ucm > t)
        assert level.n_regions == h.n_finest - np.searchsorted(h.heights, t, side="right")
    # the cut at a level's own threshold is that level
    for k in range(1, h.n_finest + 1):
        level = seg.at(n_regions=k)
        again = seg.at(threshold=level.threshold)
        assert again.n_regions <= level.n_regions
        assert np.array_equal(H.boundary_pixels(again.labels) & ~H.boundary_pixels(level.labels), np.zeros(seg.shape, bool))


def test_two_blocks_give_two_regions():
    image = np.zeros((20, 30, 3), dtype=np.uint8)
    image[:, 15:] = (200, 40, 40)
    seg = segment(image)
    assert seg.n_regions == 2 and seg.areas.tolist() == [300, 300]
    assert seg.at(n_regions=1).areas.tolist() == [600]
    ucm = seg.ucm
    assert np.count_nonzero(ucm) == 20 and np.all(ucm[:, 14] > 0)


def test_fixed_scale_is_mean_shift_as_published():
    image = _painted(np.random.default_rng(5), noise=6.0)
    fixed = segment(image, spatial_radius=10.0, scale="fixed", start_label=0)
    assert fixed.hierarchy is None and fixed.ucm is None
    from segshift._loader import load_image
    from segshift._segment import DEFAULTS, image_modes, min_size_pixels

    rgb = load_image(image)
    modes = image_modes(rgb, 10.0, DEFAULTS["range_radius"], compat="edison")
    ref = regions_from_modes(rgb, modes, DEFAULTS["range_radius"], min_size_pixels(0.013, rgb.shape[0] * rgb.shape[1]), compat="edison")
    assert np.array_equal(fixed.labels, ref.labels)
    with pytest.raises(ParameterError, match="no hierarchy"):
        fixed.at(n_regions=2)


def test_n_regions_in_segment(seg):
    image = _painted(np.random.default_rng(3))
    three = segment(image, min_size=5, n_regions=3, start_label=0)
    assert three.n_regions == 3
    assert np.array_equal(three.labels, seg.at(n_regions=3).labels)
    assert three.params["n_regions"] == 3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_regions": 0}, "n_regions must be a positive integer"),
        ({"n_regions": -2}, "n_regions must be a positive integer"),
        ({"n_regions": 2.5}, "n_regions must be a positive integer"),
        ({"n_regions": True}, "n_regions must be a positive integer"),
        ({}, "exactly one of n_regions and threshold"),
        ({"n_regions": 2, "threshold": 1.0}, "exactly one of n_regions and threshold"),
        ({"threshold": float("nan")}, "threshold must be a number >= 0"),
        ({"threshold": -1.0}, "threshold must be a number >= 0"),
        ({"threshold": "high"}, "threshold must be a number >= 0"),
    ],
)
def test_bad_levels(seg, kwargs, message):
    with pytest.raises(ParameterError, match=message) as info:
        seg.at(**kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"scale": "bogus"}, "scale must be one of auto, fixed"),
        ({"scale": "fixed", "n_regions": 3}, "n_regions needs the hierarchy"),
        ({"n_regions": 0}, "n_regions must be a positive integer"),
    ],
)
def test_bad_segment_arguments(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        segment(np.zeros((8, 8, 3), dtype=np.uint8), **kwargs)


def test_cli_regions_and_ucm(tmp_path):
    image = _painted(np.random.default_rng(3))
    photo = tmp_path / "photo.png"
    Image.fromarray(image).save(photo)
    labels, ucm_png, ucm_npy = tmp_path / "l.npy", tmp_path / "u.png", tmp_path / "u.npy"
    code = main(["segment", str(photo), "-m", "5", "--regions", "3", "--labels", str(labels),
                 "--ucm", str(ucm_png), "-o", str(tmp_path / "m.png"), "-q"])
    assert code == 0
    assert len(np.unique(np.load(labels))) == 3
    assert main(["segment", str(photo), "-m", "5", "--ucm", str(ucm_npy), "-q"]) == 0
    raw = np.load(ucm_npy)
    expected = segment(image, min_size=5).ucm
    np.testing.assert_allclose(raw, expected)
    png = np.array(Image.open(ucm_png))
    assert png.dtype == np.uint16 and png.shape == raw.shape
    # 16 bits: the largest height is 65535, zero stays zero, the order is kept
    assert png.max() == 65535 and np.array_equal(png == 0, raw == 0)
    assert np.all(np.diff(png.ravel()[np.argsort(raw.ravel(), kind="stable")].astype(int)) >= 0)


def test_cli_bad_regions(tmp_path, capsys):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(photo)
    assert main(["segment", str(photo), "--regions", "0"]) == 2
    assert "regions" in capsys.readouterr().err
    assert main(["segment", str(photo), "--scale", "fixed", "--ucm", str(tmp_path / "u.png")]) == 2
    assert not (tmp_path / "u.png").exists()


def test_batch_regions_and_ucm(tmp_path):
    rng = np.random.default_rng(4)
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a", "b"):
        Image.fromarray(_painted(rng)).save(src / f"{name}.png")
    out = tmp_path / "out"
    assert main(["batch", str(src), str(out), "-m", "5", "--regions", "2", "--labels", "--ucm", "-q", "--jobs", "1"]) == 0
    for name in ("a", "b"):
        assert len(np.unique(np.array(Image.open(out / f"{name}.labels.png")))) == 2
        ucm = np.array(Image.open(out / f"{name}.ucm.png"))
        assert ucm.dtype == np.uint16 and ucm.max() == 65535


def test_ucm_matches_the_reference_drawing(seg):
    """The UCM pixel by pixel against a brute-force drawing of the same tree (seg2bmap convention)."""
    h = seg.hierarchy
    merges = []
    n = h.n_finest
    first = list(range(n))  # a finest region inside each cluster
    for i, (a, b) in enumerate(h.merges):
        merges.append((h.heights[i], first[a], first[b]))
        first.append(first[a])
    np.testing.assert_array_equal(seg.ucm, naive.ucm_from_merges(h.labels, merges))
    from segshift.evaluate import boundary_map

    for t in np.unique(h.heights):
        assert np.array_equal(seg.ucm > t, boundary_map(seg.at(threshold=t).labels, thin=False))
