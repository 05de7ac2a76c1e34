"""segshift's point-set clustering against scikit-learn's: signatures, return order,
dtypes, parameter validation, the quantile bandwidth, and one algorithm behind
both ``mean_shift`` and ``MeanShift``."""

from __future__ import annotations

import ast
import inspect
import warnings
from pathlib import Path

import numpy as np
import pytest
import sklearn.cluster as skc
from sklearn.datasets import load_iris, make_blobs

from segshift import MeanShift, estimate_bandwidth, mean_shift
from segshift._pointsets import InvalidParameterError

PACKAGE = Path(__file__).resolve().parent.parent / "segshift"


def blobs(seed, n=300, d=2, centers=4, std=0.7):
    X, _ = make_blobs(n, n_features=d, centers=centers, cluster_std=std, center_box=(-6, 6), random_state=seed)
    return X


# Data sets and options for the functional and estimator forms: small (exact),
# large (grid), high-dimensional (tree), float32, integers, a single column.
FORMS = [
    (blobs(0), dict(bandwidth=1.5)),
    (blobs(1), dict()),  # estimated bandwidth
    (blobs(2).astype(np.float32), dict(bandwidth=1.2, cluster_all=False)),
    (np.round(blobs(3) * 3).astype(np.int64), dict(bandwidth=4.0, bin_seeding=True)),
    (blobs(4, d=3), dict(bandwidth=1.5, kernel="gaussian", assign="mode")),
    (blobs(5, n=12_000), dict(bandwidth=1.0)),
    (blobs(6, n=12_000, d=8, centers=3), dict(bandwidth=3.0, min_cluster_size=0.05)),
    (blobs(7)[:, :1], dict(bandwidth=0.8, seeds=[[-3.0], [0.0], [3.0]])),
]


@pytest.mark.parametrize("X, options", FORMS)
def test_mean_shift_is_the_estimator(X, options):
    centers, labels = mean_shift(X, **options)
    model = MeanShift(**options).fit(X)
    assert centers.dtype == model.cluster_centers_.dtype
    np.testing.assert_array_equal(centers, model.cluster_centers_)
    np.testing.assert_array_equal(labels, model.labels_)
    assert labels.dtype == np.int64 and labels.shape == (len(X),)


# Data sets with a given bandwidth, where scikit-learn's exact mean shift and
# segshift's must agree (float64: to rounding; float32: scikit-learn computes
# in float32, segshift in float64 rounded once, hence the looser tolerance).
AGAINST_SKLEARN = [
    (blobs(10), dict(bandwidth=1.5)),
    (blobs(11, d=3), dict(bandwidth=2.0, cluster_all=False)),
    (blobs(12), dict(bandwidth=1.5, bin_seeding=True)),
    (blobs(13), dict(bandwidth=1.5, bin_seeding=True, min_bin_freq=5)),
    (blobs(17), dict(bandwidth=np.float64(1.3), bin_seeding=True)),  # float64 grid points, as there
    (blobs(18), dict(bandwidth=1.3, bin_seeding=True)),  # float32 grid points, as there
    (blobs(14), dict(bandwidth=1.0, seeds=blobs(14)[::40] + 0.3)),
    (blobs(15, d=5, centers=3), dict(bandwidth=3.0, max_iter=2)),
    (blobs(16).astype(np.float32), dict(bandwidth=1.5)),
]


@pytest.mark.parametrize("X, options", AGAINST_SKLEARN)
def test_mean_shift_returns_what_sklearn_returns(X, options):
    ours = mean_shift(X, **options)
    theirs = skc.mean_shift(X, **options)
    assert type(ours) is type(theirs) is tuple and len(ours) == 2
    (centers, labels), (sk_centers, sk_labels) = ours, theirs
    assert centers.dtype == sk_centers.dtype and centers.shape == sk_centers.shape
    assert labels.dtype == sk_labels.dtype
    tol = 1e-12 if X.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(centers, sk_centers, rtol=0, atol=tol)
    np.testing.assert_array_equal(labels, sk_labels)
    estimator = MeanShift(**options).fit(X)
    assert estimator.n_iter_ == skc.MeanShift(**options).fit(X).n_iter_


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int64, np.int32])
def test_centres_keep_the_dtype_sklearn_keeps(dtype):
    X = (blobs(20) * 4).astype(dtype)
    ours = MeanShift(bandwidth=5.0).fit(X)
    theirs = skc.MeanShift(bandwidth=5.0).fit(X)
    assert ours.cluster_centers_.dtype == theirs.cluster_centers_.dtype
    assert ours.labels_.dtype == theirs.labels_.dtype
    np.testing.assert_array_equal(ours.predict(X), ours.labels_)


def test_float32_centres_are_the_float64_fit_rounded_once():
    X = blobs(21)
    wide = MeanShift(bandwidth=1.5).fit(X)
    narrow = MeanShift(bandwidth=1.5).fit(X.astype(np.float32))
    assert narrow.cluster_centers_.dtype == np.float32
    np.testing.assert_allclose(narrow.cluster_centers_, wide.cluster_centers_, rtol=1e-6)
    np.testing.assert_array_equal(narrow.predict(X.astype(np.float32)), narrow.labels_)


BANDWIDTH_DATA = {
    "iris": load_iris().data,
    "repeats": np.array([1, 1, 1, 2, 2, 2, 3, 3], dtype=float).reshape(-1, 1),
    "blobs": blobs(30, n=500),
    "blobs float32": blobs(31, n=400, d=3).astype(np.float32),
    "ten dimensions": blobs(32, n=300, d=10, centers=5),
    "integers": np.round(blobs(33) * 2).astype(np.int64),
}


@pytest.mark.parametrize("name", BANDWIDTH_DATA)
def test_quantile_bandwidth_is_sklearns(name):
    X = BANDWIDTH_DATA[name]
    for quantile in (0.0, 0.3, 0.5, 1.0):
        for n_samples in (None, 1, 37, 10_000):
            for seed in (0, 7):
                kwargs = dict(quantile=quantile, n_samples=n_samples, random_state=seed)
                ours = estimate_bandwidth(X, **kwargs)
                theirs = skc.estimate_bandwidth(X, **kwargs)
                assert ours == theirs and type(ours) is type(theirs), (kwargs, ours, theirs)
    # A RandomState instance, and the defaults.
    rs = estimate_bandwidth(X, n_samples=50, random_state=np.random.RandomState(5))
    assert rs == skc.estimate_bandwidth(X, n_samples=50, random_state=np.random.RandomState(5))
    assert estimate_bandwidth(X) == skc.estimate_bandwidth(X)


def test_quantile_bandwidth_of_the_issue():
    iris = load_iris().data
    assert estimate_bandwidth(iris) == skc.estimate_bandwidth(iris)
    assert estimate_bandwidth(BANDWIDTH_DATA["repeats"]) == 0.0


def test_other_bandwidth_rules_stay():
    X = blobs(34, n=1500, centers=[[0, 0], [7, 0], [0, 7]], std=1.0)
    stability = estimate_bandwidth(X, method="stability")
    assert len(MeanShift(bandwidth=stability, min_cluster_size=0.01).fit(X).cluster_centers_) == 3
    assert MeanShift().fit(X).bandwidth_ == stability
    assert estimate_bandwidth(X, method="scott") > 0
    # A few points: the scan starts below the scale of their smallest clusters.
    repeats = BANDWIDTH_DATA["repeats"]
    assert len(MeanShift(bandwidth=estimate_bandwidth(repeats, method="stability")).fit(repeats).cluster_centers_) == 3
    with pytest.raises(ValueError, match="sample_weight is used by method='stability' only"):
        estimate_bandwidth(X, sample_weight=np.ones(len(X)))


# Bad values: segshift's error, and (for scikit-learn's parameters) scikit-learn's.
BAD_PARAMETERS = [
    (dict(bandwidth=0), r"'bandwidth' parameter of MeanShift must be a float in the range \(0.0, inf\) or None", True),
    (dict(bandwidth="wide"), "'bandwidth' parameter of MeanShift must be", True),
    (dict(bandwidth=float("nan")), "'bandwidth' parameter of MeanShift must be", True),
    (dict(n_jobs=0), "'n_jobs' parameter of MeanShift must be an int other than 0 or None. Got 0 instead", True),
    (dict(n_jobs=1.5), "'n_jobs' parameter of MeanShift must be", True),
    (dict(max_iter=-1), r"'max_iter' parameter of MeanShift must be an int in the range \[0, inf\)", True),
    (dict(max_iter=2.5), "'max_iter' parameter of MeanShift must be an int", True),
    (dict(cluster_all=1), "'cluster_all' parameter of MeanShift must be an instance of 'bool'", True),
    (dict(bin_seeding="yes"), "'bin_seeding' parameter of MeanShift must be an instance of 'bool'", True),
    (dict(seeds="abc"), "'seeds' parameter of MeanShift must be an array-like or None", True),
    (dict(min_bin_freq=-1), "'min_bin_freq' parameter of MeanShift must be a float in the range", True),
    (dict(kernel="box"), "'kernel' parameter of MeanShift must be a str among", False),
    (dict(algorithm="fast"), "'algorithm' parameter of MeanShift must be a str among", False),
    (dict(assign="closest"), "'assign' parameter of MeanShift must be a str among", False),
    (dict(min_cluster_size=-0.5), "'min_cluster_size' parameter of MeanShift must be", False),
    (dict(random_state="seed"), "'random_state' parameter of MeanShift must be", False),
]


@pytest.mark.parametrize("params, message, sklearn_has_it", BAD_PARAMETERS)
def test_parameters_are_validated_at_fit_as_sklearn_does(params, message, sklearn_has_it):
    X = blobs(40, n=30)
    model = MeanShift(**params)  # constructing never validates (scikit-learn's convention)
    with pytest.raises(InvalidParameterError, match=message) as raised:
        model.fit(X)
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, TypeError)
    with pytest.raises(InvalidParameterError, match=message):
        mean_shift(X, **params)
    if sklearn_has_it:
        with pytest.raises(ValueError):
            skc.MeanShift(**params).fit(X)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(quantile=1.5), r"'quantile' parameter of estimate_bandwidth must be a float in the range \[0.0, 1.0\]"),
        (dict(n_samples=0), r"'n_samples' parameter of estimate_bandwidth must be an int in the range \[1, inf\)"),
        (dict(random_state="x"), "'random_state' parameter of estimate_bandwidth must be"),
        (dict(n_jobs=0), "'n_jobs' parameter of estimate_bandwidth must be"),
        (dict(method="silverman"), "'method' parameter of estimate_bandwidth must be a str among"),
    ],
)
def test_estimate_bandwidth_parameters_are_validated(params, message):
    with pytest.raises(InvalidParameterError, match=message):
        estimate_bandwidth(blobs(41, n=30), **params)


def test_signatures_are_sklearns_keyword_only():
    def parameters(func):
        return list(inspect.signature(func).parameters.values())

    ours = parameters(MeanShift.__init__)[1:]
    theirs = parameters(skc.MeanShift.__init__)[1:]
    assert all(p.kind is p.KEYWORD_ONLY for p in ours)
    assert {p.name: p.default for p in theirs}.items() <= {p.name: p.default for p in ours}.items()

    ours, theirs = parameters(mean_shift), parameters(skc.mean_shift)
    assert [(p.name, p.kind, p.default) for p in ours[: len(theirs)]] == [
        (p.name, p.kind, p.default) for p in theirs
    ]
    assert all(p.kind is p.KEYWORD_ONLY for p in ours[1:])

    ours, theirs = parameters(estimate_bandwidth), parameters(skc.estimate_bandwidth)
    assert [(p.name, p.kind, p.default) for p in ours[: len(theirs)]] == [
        (p.name, p.kind, p.default) for p in theirs
    ]


def test_no_private_sklearn_import():
    for path in (PACKAGE / "_pointsets.py", PACKAGE / "_pointset_kernels.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sklearn"):
                modules, names = [node.module], [alias.name for alias in node.names]
            elif isinstance(node, ast.Import):
                modules, names = [a.name for a in node.names if a.name.startswith("sklearn")], []
            else:
                continue
            private = [m for m in modules if any(part.startswith("_") for part in m.split("."))]
            private += [n for n in names if n.startswith("_")]
            assert not private, f"{path.name}:{node.lineno} imports scikit-learn's private {private}"


def test_old_positional_spellings_warn_and_still_work():
    X = blobs(50)
    with pytest.warns(FutureWarning, match="pass bandwidth=1.5 by keyword") as record:
        old = MeanShift(1.5)
    assert record[0].filename == __file__
    assert old.get_params() == MeanShift(bandwidth=1.5).get_params()
    with pytest.warns(FutureWarning, match="pass bandwidth=1.5, kernel='gaussian' by keyword"):
        assert MeanShift(1.5, "gaussian").get_params() == MeanShift(bandwidth=1.5, kernel="gaussian").get_params()
    with pytest.raises(TypeError, match="at most 2 positional"):
        MeanShift(1.5, "flat", "auto")
    with pytest.raises(TypeError, match="multiple values for argument 'bandwidth'"):
        MeanShift(1.5, bandwidth=2.0)

    new_centers, new_labels = mean_shift(X, bandwidth=1.5, kernel="gaussian")
    with pytest.warns(FutureWarning, match="by position is deprecated") as record:
        centers, labels = mean_shift(X, 1.5, "gaussian")
    assert record[0].filename == __file__
    np.testing.assert_array_equal(centers, new_centers)
    np.testing.assert_array_equal(labels, new_labels)
    with pytest.warns(FutureWarning, match=r"mean_shift\(points=...\) is deprecated"):
        centers, labels = mean_shift(points=X, bandwidth=1.5, kernel="gaussian")
    np.testing.assert_array_equal(labels, new_labels)
    with pytest.warns(FutureWarning, match=r"mean_shift\(tol=...\) has no effect"):
        centers, labels = mean_shift(X, bandwidth=1.5, kernel="gaussian", tol=0.01)
    np.testing.assert_array_equal(labels, new_labels)
    with pytest.warns(FutureWarning, match="1-D points are deprecated"):
        centers, labels = mean_shift(X[:, 0], bandwidth=1.0)
    np.testing.assert_array_equal(labels, mean_shift(X[:, :1], bandwidth=1.0)[1])


def test_keyword_spellings_do_not_warn():
    X = blobs(51, n=50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MeanShift(bandwidth=1.5, kernel="flat").fit(X)
        mean_shift(X, bandwidth=1.5)
        mean_shift(X=X, bandwidth=1.5)
        estimate_bandwidth(X)


def test_seeds_with_no_point_near_raise_sklearns_error():
    X = blobs(52)
    for algorithm in ("exact", "grid", "tree"):
        with pytest.raises(ValueError, match="No point was within bandwidth=0.1"):
            MeanShift(bandwidth=0.1, seeds=[[-90, -90], [90, 90]], algorithm=algorithm).fit(X)
    with pytest.raises(ValueError, match="seeds have 3 features, X has 2"):
        MeanShift(bandwidth=1.0, seeds=[[0, 0, 0]]).fit(X)
