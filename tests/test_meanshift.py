import numpy as np
import pytest

import naive
from segshift import mean_shift
from segshift._loader import rgb_to_luv
from segshift._meanshift import filter_image


def small_luv(seed: int, shape=(13, 17)) -> np.ndarray:
    """Two noisy colour halves, one of them bright (L > 80) to reach EDISON's L rule."""
    rng = np.random.default_rng(seed)
    luv = np.zeros(shape + (3,))
    luv[:, : shape[1] // 2] = (40, 10, -5)
    luv[:, shape[1] // 2 :] = (84, -20, 30)
    luv += rng.normal(0, 3, luv.shape)
    return luv.astype(np.float32)


# A spatial radius of 4.137 rather than 4: window centres are means of integer
# positions, and with radius 4 some pixels lie exactly on the disk's edge
# (3.2^2 + 2.4^2 = 16), where any rounding decides whether they count.
HS = 4.137


@pytest.mark.parametrize("kernel", ["uniform", "gaussian", "epanechnikov"])
@pytest.mark.parametrize("seed", [0, 1])
def test_filter_matches_naive_reference(kernel, seed):
    luv = small_luv(seed)
    fast = filter_image(luv, HS, 6.5, kernel=kernel)
    slow = naive.filter_image(luv, HS, 6.5, kernel)
    np.testing.assert_allclose(fast, slow, atol=1e-3)


def test_edison_convergence_matches_naive_reference():
    luv = small_luv(4)
    fast = filter_image(luv, HS, 6.5, compat="edison")
    np.testing.assert_allclose(fast, naive.filter_image(luv, HS, 6.5, raw_units=True), atol=1e-3)


def test_filter_matches_naive_on_real_pixels():
    from PIL import Image
    from conftest import IMAGES

    rgb = np.asarray(Image.open(IMAGES / "coffee.jpg"))[100:118, 200:222] / 255.0
    luv = rgb_to_luv(rgb)
    np.testing.assert_allclose(filter_image(luv, 5, 8), naive.filter_image(luv, 5, 8), atol=1e-3)


def test_edison_convergence_on_real_pixels_matches_naive():
    """EDISON's convergence test makes long climbs that run into each other;
    the climbs that meet an earlier one's window take its mode, which must be
    the mode they would have climbed to."""
    from PIL import Image
    from conftest import IMAGES

    rgb = np.asarray(Image.open(IMAGES / "coffee.jpg"))[150:190, 250:306] / 255.0
    luv = rgb_to_luv(rgb, compat="edison")
    fast = filter_image(luv, 5, 6.5, compat="edison")
    slow = naive.filter_image(luv, 5, 6.5, raw_units=True)
    # The reference runs in float64, the kernel sums in float32: over climbs
    # of dozens of shifts, a pixel on the very edge of a window can count in
    # one and not in the other (2 of these 2240 pixels).
    off = np.abs(fast - slow).max(axis=2) > 1e-3
    assert off.mean() < 0.002
    np.testing.assert_allclose(fast[~off], slow[~off], atol=1e-3)
    assert np.abs(fast - slow).max() < 0.1


def test_edison_convergence_with_few_shifts_matches_naive():
    """With max_iter 3 most climbs stop before their mode; a climb that meets
    the window of one that was stopped must still make its own shifts (taking
    the stopped climb's end instead puts 75 of these pixels off)."""
    from PIL import Image
    from conftest import IMAGES

    rgb = np.asarray(Image.open(IMAGES / "coffee.jpg"))[150:190, 250:306] / 255.0
    luv = rgb_to_luv(rgb, compat="edison")
    fast = filter_image(luv, 5, 6.5, compat="edison", max_iter=3)
    slow = naive.filter_image(luv, 5, 6.5, raw_units=True, max_iter=3)
    off = np.abs(fast - slow).max(axis=2) > 1e-3
    assert off.mean() < 0.002
    assert np.abs(fast - slow).max() < 0.1


def test_filter_flat_image_is_fixed_point():
    luv = np.full((9, 9, 3), (50.0, 3.0, -4.0), dtype=np.float32)
    np.testing.assert_allclose(filter_image(luv, 3, 4), luv, atol=1e-5)


def test_filter_does_not_modify_input():
    luv = small_luv(3)
    before = luv.copy()
    filter_image(luv, 4, 6.5)
    np.testing.assert_array_equal(luv, before)


def test_textbook_point_set():
    centers, labels = mean_shift([[1, 1], [2, 2], [3, 3], [10, 10]], bandwidth=3, kernel="flat")
    assert labels.tolist() == [0, 0, 0, 1]
    np.testing.assert_allclose(centers, [[2, 2], [10, 10]])


@pytest.mark.parametrize("kernel", ["flat", "gaussian", "epanechnikov"])
def test_point_set_two_blobs(kernel):
    rng = np.random.default_rng(3)
    points = np.concatenate([rng.normal(0, 0.5, (200, 3)), rng.normal(6, 0.5, (100, 3))])
    centers, labels = mean_shift(points, bandwidth=2, kernel=kernel)
    assert np.bincount(labels).tolist() == [200, 100]
    np.testing.assert_allclose(centers, [[0, 0, 0], [6, 6, 6]], atol=0.3)


def test_point_set_one_dimensional_and_single_point():
    centers, labels = mean_shift([[0.0], [0.5], [1.0], [20.0]], bandwidth=2)
    assert labels.tolist() == [0, 0, 0, 1]
    centers, labels = mean_shift([[4.0, 5.0]], bandwidth=1)
    assert labels.tolist() == [0] and centers.tolist() == [[4.0, 5.0]]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(bandwidth=0), r"'bandwidth' parameter of MeanShift must be a float in the range \(0.0, inf\)"),
        (dict(bandwidth=-1), "'bandwidth' parameter of MeanShift must be"),
        (dict(bandwidth=float("nan")), "'bandwidth' parameter of MeanShift must be"),
        (dict(bandwidth=1, kernel="box"), "'kernel' parameter of MeanShift must be a str among"),
        (dict(bandwidth=1, max_iter=2.5), "'max_iter' parameter of MeanShift must be an int"),
    ],
)
def test_point_set_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mean_shift([[0.0, 1.0], [2.0, 3.0]], **kwargs)


@pytest.mark.parametrize(
    "points, message",
    [
        (np.zeros((0, 2)), "0 sample"),
        ([[0.0, np.nan]], "Input X contains NaN"),
        (np.zeros((2, 2, 2)), "Found array with dim 3"),
    ],
)
def test_point_set_bad_points(points, message):
    with pytest.raises(ValueError, match=message):
        mean_shift(points, bandwidth=1)


def test_filter_same_with_one_and_two_threads():
    import numba

    luv = small_luv(5, (40, 50))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = filter_image(luv, 5, 6.5)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = filter_image(luv, 5, 6.5)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


def test_gaussian_weight_is_within_2e_6_of_exp():
    """The Gaussian kernel's weights come from a polynomial (so that the
    column loop stays SIMD code); they must match exp(-2 t) on all of [0, 2)."""
    import numba

    from segshift._filter_kernels import _exp_neg2

    @numba.njit(cache=False)
    def weights(t):
        out = np.empty_like(t)
        for i in range(t.size):
            out[i] = _exp_neg2(t[i])
        return out

    t = np.linspace(0, 2, 200_001, dtype=np.float32)[:-1]
    exact = np.exp(-2.0 * t.astype(np.float64))
    np.testing.assert_allclose(weights(t), exact, rtol=2e-6)
