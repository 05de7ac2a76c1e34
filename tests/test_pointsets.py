import numba
import numpy as np
import pytest
from sklearn.cluster import MeanShift as SklearnMeanShift
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks

import naive
from segshift import MeanShift, estimate_bandwidth, mean_shift
from segshift._pointsets import KERNELS, InvalidParameterError, _build_grid, _climb

# The defaults (exact, estimated bandwidth), and the grid with its basin
# assignment and a smooth kernel. No check is expected to fail.
CHECKED = [MeanShift(), MeanShift(bandwidth=1.0, algorithm="grid", assign="mode", kernel="gaussian")]


@parametrize_with_checks(CHECKED)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def blobs(seed, n=150, d=2, centers=3, std=1.0):
    rng = np.random.default_rng(seed)
    means = rng.uniform(-8, 8, (centers, d))
    X = means[rng.integers(0, centers, n)] + rng.normal(0, std, (n, d))
    return X


@pytest.mark.parametrize(
    "seed, d, bandwidth, cluster_all",
    [(0, 2, 1.5, True), (1, 2, 2.5, True), (2, 3, 2.0, True), (3, 2, 1.0, False), (4, 8, 4.0, True)],
)
def test_exact_equals_sklearn(seed, d, bandwidth, cluster_all):
    X = blobs(seed, d=d)
    ours = MeanShift(bandwidth=bandwidth, cluster_all=cluster_all).fit(X)
    theirs = SklearnMeanShift(bandwidth=bandwidth, cluster_all=cluster_all).fit(X)
    assert ours.algorithm_ == "exact"
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=0, atol=1e-12)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_array_equal(ours.predict(X[:20]), theirs.predict(X[:20]) if cluster_all else ours.labels_[:20])


@pytest.mark.parametrize("kernel", ["flat", "gaussian", "epanechnikov"])
@pytest.mark.parametrize("search", ["grid", "tree"])
def test_climbs_equal_naive(kernel, search):
    rng = np.random.default_rng(11)
    X = blobs(5, n=120)
    w = rng.integers(0, 3, len(X)).astype(float)
    seeds = X[::7] + rng.normal(0, 0.3, X[::7].shape)
    grid = _build_grid(X, w, 2.0) if search == "grid" else None
    ours = _climb(X, w, seeds, 2.0, KERNELS[kernel], max_iter=50, grid=grid)
    modes, weight = naive.mean_shift_climbs(X, w, seeds, 2.0, kernel, max_iter=50)
    np.testing.assert_allclose(ours.modes, modes, atol=1e-9)
    np.testing.assert_allclose(ours.intensity, weight, rtol=1e-12)


@pytest.mark.parametrize("d, algorithm", [(2, "grid"), (3, "grid"), (3, "tree")])
def test_fast_algorithms_agree_with_exact(d, algorithm):
    centers = np.array([[0, 0, 0], [6, 0, 0], [0, 6, 0], [6, 6, 6]])[:, :d]
    X, _ = make_blobs(3000, centers=centers, cluster_std=0.8, random_state=6)
    exact = MeanShift(bandwidth=1.5, algorithm="exact").fit(X)
    fast = MeanShift(bandwidth=1.5, algorithm=algorithm).fit(X)
    assert fast.algorithm_ == algorithm
    assert len(fast.cluster_centers_) == len(exact.cluster_centers_)
    assert adjusted_rand_score(exact.labels_, fast.labels_) > 0.99


def test_grid_falls_back_to_tree_in_high_dimensions():
    X = blobs(7, n=400, d=9)
    ms = MeanShift(bandwidth=4.0, algorithm="grid").fit(X)
    assert ms.algorithm_ == "tree"
    assert adjusted_rand_score(MeanShift(bandwidth=4.0).fit(X).labels_, ms.labels_) > 0.99


@pytest.mark.parametrize("algorithm", ["exact", "grid", "tree"])
@pytest.mark.parametrize("assign", ["nearest", "mode"])
def test_predict_on_training_points_equals_labels(algorithm, assign):
    X = blobs(8, n=800, centers=4)
    ms = MeanShift(bandwidth=1.5, algorithm=algorithm, assign=assign).fit(X)
    np.testing.assert_array_equal(ms.predict(X), ms.labels_)
    assert np.array_equal(ms.fit_predict(X), ms.labels_)


def test_predict_climbs_to_the_mode():
    # A narrow cluster at 0 and a wide one at 6: the point 2.2 is nearer the
    # narrow cluster's centre but climbs the wide cluster's slope.
    rng = np.random.default_rng(9)
    narrow = rng.normal(0, 0.2, (300, 1))
    wide = rng.normal(6, 1.5, (3000, 1))
    X = np.vstack([narrow, wide[wide[:, 0] > 1.8]])
    ms = MeanShift(bandwidth=1.0, assign="mode", min_cluster_size=0.05).fit(X)
    near = MeanShift(bandwidth=1.0, assign="nearest", min_cluster_size=0.05).fit(X)
    np.testing.assert_allclose(ms.cluster_centers_, near.cluster_centers_)
    assert len(ms.cluster_centers_) == 2
    narrow_label, wide_label = ms.predict([[0.0], [6.0]])
    assert ms.predict([[2.2]])[0] == wide_label
    assert near.predict([[2.2]])[0] == narrow_label
    # Training points between the clusters are labelled by their climbs too.
    between = (X[:, 0] > 1.8) & (X[:, 0] < 2.5)
    assert between.any() and (ms.labels_[between] == wide_label).all()


def test_cluster_all_false_labels_orphans():
    X = np.vstack([blobs(10, n=200, centers=1, std=0.3), [[100.0, 100.0]]])
    ms = MeanShift(bandwidth=1.0, cluster_all=False, min_cluster_size=5).fit(X)
    assert ms.labels_[-1] == -1 and (ms.labels_[:-1] >= 0).all()
    assert ms.predict([[100.0, 100.0]])[0] == -1


@pytest.mark.parametrize("algorithm", ["exact", "grid", "tree"])
def test_integer_weights_equal_repeated_points(algorithm):
    rng = np.random.default_rng(12)
    X = blobs(12, n=300, centers=3)
    w = rng.integers(0, 4, len(X))
    weighted = MeanShift(bandwidth=1.5, algorithm=algorithm).fit(X, sample_weight=w)
    repeated = MeanShift(bandwidth=1.5, algorithm=algorithm).fit(np.repeat(X, w, axis=0))
    np.testing.assert_allclose(weighted.cluster_centers_, repeated.cluster_centers_, atol=1e-9)
    np.testing.assert_array_equal(np.repeat(weighted.labels_, w), repeated.labels_)


def test_readme_example():
    centers, labels = mean_shift([[1, 1], [2, 2], [3, 3], [10, 10]], bandwidth=3, kernel="flat")
    assert labels.tolist() == [0, 0, 0, 1]
    np.testing.assert_allclose(centers, [[2, 2], [10, 10]])
    ms = MeanShift(bandwidth=3).fit([[1, 1], [2, 2], [3, 3], [10, 10]])
    assert ms.labels_.tolist() == [0, 0, 0, 1]
    np.testing.assert_allclose(ms.cluster_centers_, [[2, 2], [10, 10]])


def test_mean_shift_twenty_thousand_points_is_compiled():
    X, y = make_blobs(20000, centers=[[0, 0], [8, 0], [0, 8], [8, 8], [16, 4]], random_state=0)
    centers, labels = mean_shift(X, bandwidth=2)
    assert len(centers) == 5
    assert adjusted_rand_score(y, labels) > 0.99


@pytest.mark.parametrize(
    "centers, d",
    [([[0, 0], [7, 0], [0, 7], [7, 7]], 2), ([[0, 0, 0], [7, 0, 0], [0, 7, 0], [0, 0, 7], [7, 7, 7]], 3)],
)
def test_estimated_bandwidth_recovers_cluster_count(centers, d):
    X, y = make_blobs(2000, centers=centers, random_state=3)
    ms = MeanShift().fit(X)
    assert len(ms.cluster_centers_) == len(centers)
    assert adjusted_rand_score(y, ms.labels_) > 0.98
    assert ms.bandwidth_ == estimate_bandwidth(X, method="stability")


def test_estimate_bandwidth_methods():
    X, _ = make_blobs(1000, centers=3, random_state=0)
    for method in ("stability", "scott", "quantile"):
        assert estimate_bandwidth(X, method=method) > 0
    with pytest.raises(InvalidParameterError, match="'method' parameter of estimate_bandwidth must be"):
        estimate_bandwidth(X, method="silverman")
    assert estimate_bandwidth(np.ones((5, 2)), method="stability") == 1.0
    assert estimate_bandwidth(np.ones((5, 2)), method="scott") == 1.0
    assert estimate_bandwidth(np.ones((5, 2))) == 0.0  # scikit-learn's rule


def test_same_result_with_one_and_two_threads():
    X = blobs(13, n=4000, centers=5)
    before = numba.get_num_threads()
    try:
        one = MeanShift(bandwidth=1.2, algorithm="grid", n_jobs=1).fit(X)
        two = MeanShift(bandwidth=1.2, algorithm="grid", n_jobs=2).fit(X)
    finally:
        assert numba.get_num_threads() == before
    np.testing.assert_array_equal(one.cluster_centers_, two.cluster_centers_)
    np.testing.assert_array_equal(one.labels_, two.labels_)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(bandwidth=0), "'bandwidth' parameter of MeanShift must be"),
        (dict(bandwidth=-1.0), "'bandwidth' parameter of MeanShift must be"),
        (dict(kernel="box"), "'kernel' parameter of MeanShift must be"),
        (dict(algorithm="fast"), "'algorithm' parameter of MeanShift must be"),
        (dict(assign="closest"), "'assign' parameter of MeanShift must be"),
        (dict(max_iter=-1), "'max_iter' parameter of MeanShift must be"),
    ],
)
def test_bad_parameters(params, message):
    with pytest.raises(InvalidParameterError, match=message):
        MeanShift(**params).fit([[0.0, 1.0], [2.0, 3.0]])


@pytest.mark.parametrize(
    "X, kwargs, message",
    [
        ([[0.0, np.nan]], {}, "Input X contains NaN"),
        ([[0.0, np.inf]], {}, "Input X contains infinity"),
        (np.zeros((0, 2)), {}, "0 sample"),
        ([1.0, 2.0], {}, "Expected 2D array"),
        (np.array([["a", "b"]], dtype=object), {}, "could not convert"),
        ([[0.0], [1.0]], dict(sample_weight=[1.0]), "sample_weight.shape"),
        ([[0.0], [1.0]], dict(sample_weight=[1.0, -1.0]), "Negative values in data passed to `sample_weight`"),
    ],
)
def test_bad_input(X, kwargs, message):
    with pytest.raises(ValueError, match=message):
        MeanShift(bandwidth=1.0).fit(X, **kwargs)
