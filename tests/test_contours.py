"""Tests of segshift.evaluate.contours: the BSDS contour benchmark of a UCM."""

from __future__ import annotations

import doctest

import naive
import numpy as np
import pytest
from scipy import sparse
from scipy.sparse.csgraph import maximum_bipartite_matching
from skimage.morphology import thin as skimage_thin

from segshift.errors import ParameterError
from segshift.evaluate import (
    ContourCounts,
    aggregate_contours,
    boundary_map,
    boundary_precision_recall,
    contours,
    evaluate_ucm,
    match_boundaries,
    ucm_thresholds,
)
from segshift.evaluate.boundaries import _thin


def hierarchy_case(seed, shape=(36, 44), n_regions=14):
    labels, merges = naive.random_hierarchy(shape, n_regions, seed)
    return labels, merges, naive.ucm_from_merges(labels, merges)


# ----------------------------------------------------------------------------
# Thinning kernel
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_thin_kernel_equals_skimage_thin(seed):
    rng = np.random.default_rng(seed)
    b = rng.random((40, 50)) < (0.3 + 0.1 * seed)
    b[:, 20:24] = True  # thick bars and blobs, borders included
    b[-3:, :] = True
    assert np.array_equal(_thin(b), skimage_thin(b))


# ----------------------------------------------------------------------------
# Known answers
# ----------------------------------------------------------------------------


def test_perfect_ucm_scores_one_at_the_humans_level():
    labels, merges, ucm = hierarchy_case(0)
    heights = [h for h, _, _ in merges]
    level = heights[len(heights) // 2]
    human = naive.level_labels(labels, merges, level) + 1
    c = evaluate_ucm(ucm, [human])
    k = int(np.flatnonzero(c.thresholds == level)[0])
    assert c.precision[k] == 1.0 and c.recall[k] == 1.0
    assert c.result_pixels[k] == c.gt_pixels[k] == boundary_map(human).sum()
    s = aggregate_contours([c])
    assert s.ods_f == 1.0 and s.ois_f == 1.0
    assert s.ods_threshold == level


def test_zero_ucm_has_no_boundaries():
    human = np.ones((30, 30), dtype=int)
    human[:, 15:] = 2
    c = evaluate_ucm(np.zeros((30, 30)), [human])
    assert c.thresholds.tolist() == [0.0]
    assert c.result_pixels.tolist() == [0] and c.matched_result.tolist() == [0]
    assert c.precision.tolist() == [0.0] and c.recall.tolist() == [0.0]
    assert c.gt_pixels.tolist() == [30]
    s = aggregate_contours([c])
    assert (s.ods_f, s.ois_f, s.ap) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("seed", range(4))
def test_recall_falls_and_pixels_fall_as_the_threshold_grows(seed):
    # Straight boundaries, which thinning leaves as they are: the maps of
    # higher thresholds are subsets of those of lower ones. (Thinning can
    # break that nesting by a few pixels at junctions, where it removes a
    # pixel of a T; BSDS thins too.)
    labels, merges = naive.random_hierarchy((30, 60), 12, seed, stripes=True)
    ucm = naive.ucm_from_merges(labels, merges)
    humans = [naive.level_labels(labels, merges, merges[k][0]) + 1 for k in (2, 6, 9)]
    c = evaluate_ucm(ucm, humans)
    for t in c.thresholds:
        assert np.array_equal(skimage_thin(ucm > t), ucm > t)
    assert c.thresholds.size == len(merges)
    assert np.all(np.diff(c.recall) <= 0)
    assert np.all(np.diff(c.result_pixels) < 0)
    assert c.recall[0] == 1.0  # the finest level holds every human boundary
    assert c.precision[-1] == 1.0  # the last boundary to go is in every human


@pytest.mark.parametrize("seed", range(4))
def test_each_threshold_is_the_boundary_benchmark_of_that_level(seed):
    # ucm > t is the seg2bmap of the level at t, so each threshold's counts
    # are exactly those of the flat boundary benchmark of that level.
    labels, merges, ucm = hierarchy_case(seed)
    rng = np.random.default_rng(seed)
    humans = [naive.level_labels(labels, merges, merges[k][0]) + 1 for k in rng.choice(len(merges), 3)]
    humans[0][:4, :6] = 0  # an unlabelled patch
    c = evaluate_ucm(ucm, humans)
    heights = np.unique(ucm[ucm > 0])
    assert c.thresholds.tolist() == [0.0] + heights[:-1].tolist()
    assert set(heights) <= {h for h, _, _ in merges}
    for k, t in enumerate(c.thresholds):
        ref = boundary_precision_recall(naive.level_labels(labels, merges, t), humans)
        got = (c.matched_result[k], c.result_pixels[k], c.matched_gt[k], c.gt_pixels[k])
        assert got == (ref.matched_result, ref.result_pixels, ref.matched_gt, ref.gt_pixels), t


def test_recall_counts_are_maximum_matchings():
    # Against scipy's maximum matching on the brute-force candidate graph.
    labels, merges, ucm = hierarchy_case(7, shape=(30, 30), n_regions=10)
    human = naive.level_labels(labels, merges, merges[4][0]) + 1
    human[12:15, :] = human[12:15, ::-1]  # disagree a little with the hierarchy
    c = evaluate_ucm(ucm, [human], tolerance=0.05)
    g = np.argwhere(boundary_map(human))
    radius = 0.05 * np.hypot(30, 30)
    for k, t in enumerate(c.thresholds):
        r = np.argwhere(skimage_thin(ucm > t))
        if len(r) == 0:
            assert c.matched_gt[k] == 0
            continue
        close = np.hypot(*(r[:, None, :] - g[None, :, :]).transpose(2, 0, 1)) <= radius
        size = (maximum_bipartite_matching(sparse.csr_matrix(close), perm_type="column") >= 0).sum()
        assert c.matched_gt[k] == size


@pytest.mark.parametrize("seed", range(12))
def test_matching_is_maximum_whichever_side_is_larger(seed):
    # Few result pixels against many human ones and the other way round:
    # the augmenting search runs from either side.
    rng = np.random.default_rng(seed)
    dense, scattered = rng.random((24, 30)) < 0.3, rng.random((24, 30)) < 0.05
    result, human = (dense, scattered) if seed % 2 else (scattered, dense)
    s = match_boundaries(result, [human], tolerance=2.2 / np.hypot(24, 30))
    r, g = np.argwhere(result), np.argwhere(human)
    close = np.hypot(*(r[:, None, :] - g[None, :, :]).transpose(2, 0, 1)) <= 2.2 * (1 + 1e-9)
    size = (maximum_bipartite_matching(sparse.csr_matrix(close), perm_type="column") >= 0).sum()
    assert s.matched_gt == size


@pytest.mark.parametrize("seed", range(4))
def test_matching_kernels_as_plain_python_index_in_bounds(seed, monkeypatch):
    # The kernels run as Python functions, where every index is checked.
    from segshift import _match_kernels as kernels
    from segshift.evaluate.boundaries import _pairs

    for name in ("greedy_matching", "_augment"):
        monkeypatch.setattr(kernels, name, getattr(kernels, name).py_func)
    rng = np.random.default_rng(seed)
    if seed == 0:
        # Fewer result pixels than human ones, but more of them left unmatched.
        result, human = np.zeros((20, 60), dtype=bool), np.zeros((20, 60), dtype=bool)
        result[:, :3] = True
        human[:5, 3] = True
        human[:, 20:] = True
    else:
        dense, scattered = rng.random((16, 20)) < 0.35, rng.random((16, 20)) < 0.06
        result, human = (dense, scattered) if seed % 2 else (scattered, dense)
    r, g = np.argwhere(result), np.argwhere(human)
    pairs = _pairs(r, g, result.shape, 2.2)
    for active in (np.ones(len(r), dtype=bool), rng.random(len(r)) < 0.5):
        match_left, match_right = kernels.maximum_matching.py_func(*pairs, active)
        close = (np.hypot(*(r[:, None, :] - g[None, :, :]).transpose(2, 0, 1)) <= 2.2) & active[:, None]
        size = (maximum_bipartite_matching(sparse.csr_matrix(close), perm_type="column") >= 0).sum()
        assert (match_left >= 0).sum() == (match_right >= 0).sum() == size
        assert np.all(match_left[~active] < 0)


def test_thresholds():
    ucm = np.zeros((10, 10))
    ucm[5, :] = 3.0
    ucm[:, 5] = 1.0
    assert ucm_thresholds(ucm).tolist() == [0.0, 1.0]
    assert ucm_thresholds(ucm, 1).tolist() == [0.0]
    many = np.arange(400, dtype=float).reshape(20, 20)
    t = ucm_thresholds(many)
    assert t.size == 99 and t[0] == 0.0 and np.allclose(np.diff(t), 399 / 99)
    assert ucm_thresholds(many, 4).tolist() == [0.0, 99.75, 199.5, 299.25]
    c = evaluate_ucm(ucm, [np.ones((10, 10), int)], thresholds=[0.5, 2.0, 5.0])
    assert c.thresholds.tolist() == [0.5, 2.0, 5.0]
    assert c.result_pixels[-1] == 0 and c.result_pixels[0] > c.result_pixels[1] > 0


# ----------------------------------------------------------------------------
# Data-set summaries against BSDS's collect_eval_bdry, loop for loop
# ----------------------------------------------------------------------------


def _naive_of(items):
    return naive.bsds_collect(
        [
            (c.thresholds.tolist(), c.matched_gt.tolist(), c.gt_pixels.tolist(),
             c.matched_result.tolist(), c.result_pixels.tolist())
            for c in items
        ]
    )


def _check_against_naive(items):
    s = aggregate_contours(items)
    ref = _naive_of(items)
    t, r, p, f = ref["ods"]
    assert s.ods_threshold == pytest.approx(t, abs=1e-12)
    assert (s.ods_recall, s.ods_precision, s.ods_f) == pytest.approx((r, p, f), abs=1e-12)
    assert (s.ois_recall, s.ois_precision, s.ois_f) == pytest.approx(ref["ois"], abs=1e-12)
    assert s.ap == pytest.approx(ref["ap"], abs=1e-12)
    return s


@pytest.mark.parametrize("seed", range(3))
def test_aggregate_against_bsds_on_synthetic_ucms(seed):
    items = []
    for k in range(4):
        labels, merges, ucm = hierarchy_case(10 * seed + k)
        rng = np.random.default_rng(k)
        humans = [naive.level_labels(labels, merges, merges[j][0]) + 1 for j in rng.choice(len(merges), 2)]
        items.append(evaluate_ucm(ucm / ucm.max(), humans, thresholds=np.linspace(0, 1, 12, endpoint=False)))
    s = _check_against_naive(items)
    assert 0 < s.ap <= 1 and s.ois_f >= s.ods_f - 1e-12


@pytest.mark.parametrize("seed", range(20))
def test_aggregate_against_bsds_on_random_counts(seed):
    rng = np.random.default_rng(seed)
    n_thr = int(rng.integers(1, 9))
    thresholds = np.sort(rng.choice(np.arange(100), n_thr, replace=False)) / 100.0
    items = []
    for _ in range(int(rng.integers(1, 5))):
        result = np.sort(rng.integers(0, 60, n_thr))[::-1]
        gt = np.full(n_thr, int(rng.integers(0, 50)))
        items.append(
            ContourCounts(
                thresholds,
                (result * rng.random(n_thr)).astype(np.int64),
                result.astype(np.int64),
                (gt * rng.random(n_thr)).astype(np.int64),
                gt.astype(np.int64),
            )
        )
    _check_against_naive(items)


def test_as_dict_structure():
    labels, merges, ucm = hierarchy_case(3)
    human = naive.level_labels(labels, merges, merges[5][0]) + 1
    d = aggregate_contours([evaluate_ucm(ucm, [human])]).as_dict()
    assert list(d) == ["thresholds", "precision", "recall", "f", "ods", "ois", "ap"]
    assert list(d["ods"]) == ["threshold", "precision", "recall", "f"]
    assert list(d["ois"]) == ["precision", "recall", "f"]
    assert len(d["thresholds"]) == len(d["precision"]) == len(d["recall"]) == len(d["f"]) == len(merges)
    assert all(isinstance(v, float) for v in d["precision"]) and isinstance(d["ap"], float)


# ----------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ucm", "kwargs", "match"),
    [
        (np.full((5, 5), np.nan), {}, "NaN"),
        (-np.ones((5, 5)), {}, ">= 0"),
        (np.zeros(5), {}, "2-D"),
        (np.zeros((5, 6)), {}, "shape"),
        (np.zeros((5, 5)), {"thresholds": 0}, "thresholds must be >= 1"),
        (np.zeros((5, 5)), {"thresholds": [0.5, 0.2]}, "strictly increasing"),
        (np.zeros((5, 5)), {"thresholds": [np.inf]}, "finite"),
        (np.zeros((5, 5)), {"tolerance": -1}, "tolerance"),
    ],
)
def test_bad_arguments(ucm, kwargs, match):
    with pytest.raises(ParameterError, match=match) as info:
        evaluate_ucm(ucm, [np.ones((5, 5), int)], **kwargs)
    assert "\n" not in str(info.value)


def test_aggregate_refuses_mixed_thresholds():
    gt = [np.ones((6, 6), int)]
    a = evaluate_ucm(np.zeros((6, 6)), gt, thresholds=[0.0, 0.5])
    b = evaluate_ucm(np.zeros((6, 6)), gt, thresholds=[0.0, 0.6])
    with pytest.raises(ParameterError, match="other thresholds"):
        aggregate_contours([a, b])
    with pytest.raises(ParameterError, match="at least one"):
        aggregate_contours([])


def test_doctests():
    result = doctest.testmod(contours, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4 and result.failed == 0
