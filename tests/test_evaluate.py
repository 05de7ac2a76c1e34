"""Tests of segshift.evaluate: the BSDS500 region and boundary benchmarks."""

from __future__ import annotations

import doctest
import itertools
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image
from scipy import sparse
from scipy.sparse.csgraph import maximum_bipartite_matching
from scipy.spatial import cKDTree

from segshift import evaluate
from segshift.errors import ImageReadError, ParameterError
from segshift.evaluate import (
    BoundaryScores,
    Scores,
    aggregate,
    boundary_map,
    boundary_precision_recall,
    evaluate_segmentation,
    load_ground_truth,
    match_boundaries,
    mean_variation_of_information,
    probabilistic_rand_index,
    rand_index,
    segmentation_covering,
    variation_of_information,
)

BSDS = Path("/work/shared/data/bsds500")


# ----------------------------------------------------------------------------
# Slow, obviously correct references (pairwise loops over pixels / regions)
# ----------------------------------------------------------------------------


def naive_rand_index(seg, gt):
    """Fraction of agreeing pixel pairs over pixels with gt != 0."""
    pix = [(s, g) for s, g in zip(np.ravel(seg), np.ravel(gt)) if g != 0]
    agree = total = 0
    for (s1, g1), (s2, g2) in itertools.combinations(pix, 2):
        agree += (s1 == s2) == (g1 == g2)
        total += 1
    return agree / total if total else 1.0


def naive_vi(seg, gt):
    """H(S|G) + H(G|S) in bits over pixels with gt != 0."""
    pix = [(s, g) for s, g in zip(np.ravel(seg), np.ravel(gt)) if g != 0]
    n = len(pix)
    joint = Counter(pix)
    ps = Counter(s for s, _ in pix)
    pg = Counter(g for _, g in pix)
    vi = 0.0
    for (s, g), c in joint.items():
        p = c / n
        vi -= p * (math.log2(p / (pg[g] / n)) + math.log2(p / (ps[s] / n)))
    return vi


def naive_covering(seg, gts):
    """sum_k sum_{R in gt_k} |R| max_S IoU(R, S) / sum_k |labelled_k|."""
    seg = np.asarray(seg)
    num = den = 0.0
    for gt in gts:
        gt = np.asarray(gt)
        valid = gt != 0
        for r in np.unique(gt[valid]):
            region = gt == r
            best = 0.0
            for s in np.unique(seg[valid]):
                other = (seg == s) & valid
                best = max(best, (region & other).sum() / (region | other).sum())
            num += region.sum() * best
        den += valid.sum()
    return num / den


def naive_max_matching(pairs, n_left):
    """Size of a maximum matching by trying every assignment (tiny graphs only)."""
    adj = [[j for i, j in pairs if i == left] for left in range(n_left)]

    def best(i, used):
        if i == n_left:
            return 0
        out = best(i + 1, used)  # leave i unmatched
        for j in adj[i]:
            if j not in used:
                out = max(out, 1 + best(i + 1, used | {j}))
        return out

    return best(0, frozenset())


def halves(height, width, split, axis=1):
    """Label map with label 1 before ``split`` and 2 from it on (along ``axis``)."""
    idx = np.arange(width if axis == 1 else height)
    line = np.where(idx < split, 1, 2)
    return np.broadcast_to(line[None, :] if axis == 1 else line[:, None], (height, width)).copy()


# ----------------------------------------------------------------------------
# Worked example on paper
# ----------------------------------------------------------------------------

# seg (result)       gt (human)
#   1 1 2 2            1 1 1 1
#   1 1 2 2            1 1 1 1
#   1 1 2 2            2 2 2 2
#   3 3 3 3            2 2 2 2
SEG_4X4 = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 3, 3]])
GT_4X4 = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [2, 2, 2, 2], [2, 2, 2, 2]])


def test_worked_example_4x4():
    # Contingency n[g, s] (rows = gt regions 1, 2; cols = seg regions 1, 2, 3):
    #   gt1: [4, 4, 0]     gt sizes a = [8, 8], seg sizes b = [6, 6, 4], N = 16
    #   gt2: [2, 2, 4]
    # Rand index: C(16, 2) = 120 pixel pairs.
    #   same in both      = sum C(n_ij, 2) = 6 + 6 + 1 + 1 + 6 = 20
    #   same in gt        = 2 C(8, 2) = 56;  same in seg = 2 C(6, 2) + C(4, 2) = 36
    #   different in both = 120 - 56 - 36 + 20 = 48
    #   RI = (20 + 48) / 120 = 17/30
    # VI (bits) = H(gt | seg) + H(seg | gt):
    #   H(gt | seg): seg1 and seg2 split 4:2 -> h(1/3) = log2(3) - 2/3 each, seg3 pure
    #                = 2 * (6/16) * (log2(3) - 2/3) = (3/4) log2(3) - 1/2
    #   H(seg | gt): gt1 split 4:4 -> 1 bit, gt2 split 2:2:4 -> 1.5 bits
    #                = (1/2)(1) + (1/2)(1.5) = 5/4
    #   VI = (3/4) log2(3) + 3/4 = (3/4) log2(6) ~= 1.93872
    # Covering of gt by seg: IoU(gt1, seg1) = 4 / (8 + 6 - 4) = 0.4 = IoU(gt1, seg2),
    #   IoU(gt2, seg1) = 2 / 12, IoU(gt2, seg3) = 4 / (8 + 4 - 4) = 0.5
    #   covering = (8 * 0.4 + 8 * 0.5) / 16 = 0.45
    # The other direction (seg covered by gt) is (6*0.4 + 6*0.4 + 4*0.5) / 16 = 0.425.
    assert rand_index(SEG_4X4, GT_4X4) == pytest.approx(17 / 30)
    assert variation_of_information(SEG_4X4, GT_4X4) == pytest.approx(0.75 * math.log2(6))
    assert segmentation_covering(SEG_4X4, [GT_4X4]) == pytest.approx(0.45)
    assert segmentation_covering(GT_4X4, [SEG_4X4]) == pytest.approx(0.425)
    # Averaged versions over two humans (the second identical to seg).
    assert probabilistic_rand_index(SEG_4X4, [GT_4X4, SEG_4X4]) == pytest.approx((17 / 30 + 1) / 2)
    assert mean_variation_of_information(SEG_4X4, [GT_4X4, SEG_4X4]) == pytest.approx(0.375 * math.log2(6))
    # Covering pools pixels: (0.45 * 16 + 1.0 * 16) / 32.
    assert segmentation_covering(SEG_4X4, [GT_4X4, SEG_4X4]) == pytest.approx(0.725)


def test_symmetric_metrics_are_symmetric():
    assert rand_index(SEG_4X4, GT_4X4) == pytest.approx(rand_index(GT_4X4, SEG_4X4))
    assert variation_of_information(SEG_4X4, GT_4X4) == pytest.approx(variation_of_information(GT_4X4, SEG_4X4))


# ----------------------------------------------------------------------------
# Identity and invariances
# ----------------------------------------------------------------------------


def test_identity_scores():
    rng = np.random.default_rng(1)
    gt = halves(60, 80, 40) + 2 * halves(60, 80, 25, axis=0)  # four quadrant-like regions
    perm = rng.permutation(100)
    seg = perm[gt]  # same partition, other label values
    s = evaluate_segmentation(seg, [gt, gt])
    assert s.covering == 1.0
    assert s.pri == 1.0
    assert s.vi == 0.0
    assert s.boundary_precision == 1.0 and s.boundary_recall == 1.0 and s.boundary_f == 1.0
    assert s.boundary_matched_gt == s.boundary_gt_pixels > 0
    assert s.covering_pixels == 2 * gt.size


def test_result_label_zero_and_negative_labels_are_ordinary_regions():
    gt = halves(4, 6, 3)
    seg = np.where(gt == 1, 0, -5)  # result labels 0 and -5
    assert rand_index(seg, gt) == 1.0
    assert variation_of_information(seg, gt) == 0.0
    assert segmentation_covering(seg, [gt]) == 1.0


def test_label_values_do_not_matter_and_large_labels_work():
    rng = np.random.default_rng(2)
    seg = rng.integers(0, 30, size=(20, 30))
    gt = rng.integers(1, 6, size=(20, 30))
    big = seg.astype(np.int64) * 10**12 - 7  # forces the sorting relabel path
    for f in (rand_index, variation_of_information):
        assert f(big, gt) == pytest.approx(f(seg, gt))
    assert segmentation_covering(big, [gt]) == pytest.approx(segmentation_covering(seg, [gt]))


def test_inputs_are_not_modified():
    rng = np.random.default_rng(3)
    seg = rng.integers(0, 5, size=(30, 40))
    gt = rng.integers(0, 4, size=(30, 40))
    seg0, gt0 = seg.copy(), gt.copy()
    evaluate_segmentation(seg, [gt])
    boundary_map(seg)
    np.testing.assert_array_equal(seg, seg0)
    np.testing.assert_array_equal(gt, gt0)


# ----------------------------------------------------------------------------
# Ground-truth label 0
# ----------------------------------------------------------------------------


def test_ground_truth_label_zero_is_ignored():
    rng = np.random.default_rng(4)
    # Pad the worked example with an unlabelled column and row whose result
    # labels are arbitrary: nothing may change.
    seg = np.full((5, 5), 9)
    seg[:4, :4] = SEG_4X4
    seg[4, :] = rng.integers(0, 4, size=5)
    seg[:, 4] = rng.integers(0, 4, size=5)
    gt = np.zeros((5, 5), dtype=np.uint16)
    gt[:4, :4] = GT_4X4
    assert rand_index(seg, gt) == pytest.approx(17 / 30)
    assert variation_of_information(seg, gt) == pytest.approx(0.75 * math.log2(6))
    assert segmentation_covering(seg, [gt]) == pytest.approx(0.45)
    s = evaluate_segmentation(seg, [gt])
    assert s.covering_pixels == 16


def test_ground_truth_label_zero_in_boundaries():
    # Human: label 1 on cols 0-29, label 2 on cols 30-59, unlabelled from col 60.
    gt = np.zeros((100, 100), dtype=np.int64)
    gt[:, :30] = 1
    gt[:, 30:60] = 2
    # Result: the true edge at col 30 plus many edges in and at the unlabelled area.
    seg = np.where(np.arange(100) < 30, 0, 1)[None, :].repeat(100, axis=0)
    seg[:, 60:] = 10 + np.arange(40)[None, :] // 5
    seg[50:, 60:] += 100
    b = boundary_precision_recall(seg, [gt])
    # Only the col-29 edge is a human boundary (the rim at col 59 is not), and
    # result pixels whose 2x2 block touches the unlabelled area are dropped.
    assert b.gt_pixels == 100
    assert b.result_pixels == 100
    assert (b.precision, b.recall) == (1.0, 1.0)


# ----------------------------------------------------------------------------
# Against the slow references
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_region_metrics_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(3, 8, size=2))
    seg = rng.integers(0, rng.integers(1, 6), size=shape)
    gts = [rng.integers(0, rng.integers(2, 6), size=shape) for _ in range(rng.integers(1, 4))]
    for gt in gts:
        gt.flat[0] = 1  # at least one labelled pixel
    for gt in gts:
        assert rand_index(seg, gt) == pytest.approx(naive_rand_index(seg, gt), abs=1e-12)
        assert variation_of_information(seg, gt) == pytest.approx(naive_vi(seg, gt), abs=1e-12)
    assert probabilistic_rand_index(seg, gts) == pytest.approx(np.mean([naive_rand_index(seg, g) for g in gts]))
    assert mean_variation_of_information(seg, gts) == pytest.approx(np.mean([naive_vi(seg, g) for g in gts]))
    assert segmentation_covering(seg, gts) == pytest.approx(naive_covering(seg, gts), abs=1e-12)
    s = evaluate_segmentation(seg, gts)
    assert s.covering == pytest.approx(naive_covering(seg, gts), abs=1e-12)
    assert s.pri == pytest.approx(probabilistic_rand_index(seg, gts))
    assert s.vi == pytest.approx(mean_variation_of_information(seg, gts))


def test_many_regions_match_scikit_learn():
    # Thousands of result regions (the sparse-table path) against
    # scikit-learn's exact Rand index and mutual information.
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(5)
    gt = rng.integers(1, 40, size=(60, 70))
    seg = np.arange(gt.size).reshape(gt.shape) // 2  # 2100 regions
    seg[rng.random(gt.shape) < 0.3] = 7
    a, b = gt.ravel(), seg.ravel()
    assert rand_index(seg, gt) == pytest.approx(metrics.rand_score(a, b), rel=1e-12)

    def entropy_bits(x):
        p = np.bincount(np.unique(x, return_inverse=True)[1]) / x.size
        return -np.sum(p * np.log2(p))

    vi = entropy_bits(a) + entropy_bits(b) - 2 * metrics.mutual_info_score(a, b) / math.log(2)
    assert variation_of_information(seg, gt) == pytest.approx(vi, rel=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_boundary_matching_is_a_maximum_one_to_one_matching(seed):
    rng = np.random.default_rng(seed)
    result = rng.random((4, 5)) < 0.35
    gt = rng.random((4, 5)) < 0.35
    tol = 1.5 / math.hypot(4, 5)  # 8-neighbours match
    r_pix, g_pix = np.argwhere(result), np.argwhere(gt)
    pairs = [(i, j) for i, p in enumerate(r_pix) for j, q in enumerate(g_pix) if np.hypot(*(p - q)) <= 1.5]
    expected = naive_max_matching(pairs, len(r_pix))
    s = match_boundaries(result, [gt], tolerance=tol)
    assert s.matched_gt == s.matched_result == expected
    assert (s.result_pixels, s.gt_pixels) == (len(r_pix), len(g_pix))


@pytest.mark.parametrize("seed", range(4))
def test_boundary_matching_size_matches_scipy(seed):
    # Larger random maps: the matching size equals scipy's Hopcroft-Karp on
    # the same candidate pairs (found here by brute force).
    rng = np.random.default_rng(seed)
    result = rng.random((30, 40)) < 0.2
    gt = rng.random((30, 40)) < 0.2
    radius = 2.0
    r_pix, g_pix = np.argwhere(result), np.argwhere(gt)
    dist = np.hypot(*(r_pix[:, None, :] - g_pix[None, :, :]).transpose(2, 0, 1))
    graph = sparse.csr_matrix(dist <= radius)
    expected = int((maximum_bipartite_matching(graph, perm_type="column") >= 0).sum())
    s = match_boundaries(result, [gt], tolerance=radius / math.hypot(30, 40))
    assert s.matched_gt == s.matched_result == expected


# ----------------------------------------------------------------------------
# Boundaries
# ----------------------------------------------------------------------------


def test_boundary_map_follows_seg2bmap():
    labels = np.array([[1, 1, 2], [1, 1, 2], [3, 3, 3]])
    # seg2bmap: differs from the east, south or south-east neighbour; only east
    # on the last row, only south on the last column, corner never.
    raw = np.array([[0, 1, 0], [1, 1, 1], [0, 0, 0]], dtype=bool)
    np.testing.assert_array_equal(boundary_map(labels, thin=False), raw)
    # Diagonal-only difference counts, too.
    np.testing.assert_array_equal(
        boundary_map([[1, 1], [1, 2]], thin=False), np.array([[1, 1], [1, 0]], dtype=bool)
    )
    # A vertical edge between columns 2 and 3 marks column 2, one pixel wide.
    b = boundary_map(halves(6, 6, 3))
    assert b.dtype == bool
    np.testing.assert_array_equal(np.flatnonzero(b.any(axis=0)), [2])
    assert b[:, 2].all()


def test_boundary_shift_within_tolerance_matches():
    # 100 x 100: the default tolerance is 0.0075 * 141.4 = 1.06 pixels.
    gt = halves(100, 100, 50)
    s = boundary_precision_recall(halves(100, 100, 51), [gt])
    assert (s.matched_result, s.result_pixels, s.matched_gt, s.gt_pixels) == (100, 100, 100, 100)
    assert s.f == 1.0


def test_boundary_shift_beyond_tolerance_does_not_match():
    gt = halves(100, 100, 50)
    s = boundary_precision_recall(halves(100, 100, 53), [gt])
    assert (s.matched_result, s.matched_gt) == (0, 0)
    assert (s.precision, s.recall, s.f) == (0.0, 0.0, 0.0)
    # ... but does with a larger tolerance (0.03 * 141.4 = 4.2 pixels).
    assert boundary_precision_recall(halves(100, 100, 53), [gt], tolerance=0.03).f == 1.0


def test_one_result_pixel_never_matches_two_ground_truth_pixels():
    # One result boundary pixel next to two human boundary pixels.
    result = np.zeros((1, 5), dtype=bool)
    result[0, 2] = True
    gt = np.zeros((1, 5), dtype=bool)
    gt[0, 1] = gt[0, 3] = True
    s = match_boundaries(result, [gt], tolerance=1.0 / math.hypot(1, 5))
    assert (s.matched_result, s.result_pixels, s.matched_gt, s.gt_pixels) == (1, 1, 1, 2)
    assert s.recall == 0.5 and s.precision == 1.0
    # The same with label maps: the human draws a 2-pixel-wide strip, whose
    # two edges (cols 49 and 51) both lie within 2.8 px of the result's one edge.
    gt_labels = np.ones((100, 100), dtype=np.int64)
    gt_labels[:, 50:52] = 2
    gt_labels[:, 52:] = 3
    s = boundary_precision_recall(halves(100, 100, 50), [gt_labels], tolerance=0.02)
    assert (s.matched_gt, s.gt_pixels) == (100, 200)
    assert s.recall == 0.5 and s.precision == 1.0


def test_matching_is_maximum_not_greedy():
    # g . r . g . r on one row, max distance 1: a greedy match of the first
    # result pixel to its right neighbour would strand the second one.
    result = np.array([[0, 1, 0, 1]], dtype=bool)
    gt = np.array([[1, 0, 1, 0]], dtype=bool)
    s = match_boundaries(result, [gt], tolerance=1.0 / math.hypot(1, 4))
    assert (s.matched_result, s.matched_gt) == (2, 2)


def test_precision_ors_matches_over_humans_and_recall_sums():
    # Human 1 draws the edge at col 49, human 2 the edge at col 69; the
    # result has both. Each result pixel matches in one human only.
    gt1 = halves(100, 100, 50)
    gt2 = halves(100, 100, 70)
    seg = 1 + (np.arange(100) >= 50) + (np.arange(100) >= 70)
    seg = np.broadcast_to(seg, (100, 100))
    s = boundary_precision_recall(seg, [gt1, gt2])
    assert (s.matched_result, s.result_pixels) == (200, 200)  # OR over humans
    assert (s.matched_gt, s.gt_pixels) == (200, 200)  # summed over humans
    s1 = boundary_precision_recall(halves(100, 100, 50), [gt1, gt2])
    assert (s1.matched_result, s1.result_pixels, s1.matched_gt, s1.gt_pixels) == (100, 100, 100, 200)


def test_no_boundaries_give_zero_scores():
    flat = np.ones((10, 10), dtype=int)
    s = boundary_precision_recall(flat, [flat])
    assert (s.result_pixels, s.gt_pixels) == (0, 0)
    assert (s.precision, s.recall, s.f) == (0.0, 0.0, 0.0)


def test_boundary_scores_add_up():
    a = BoundaryScores(1, 2, 3, 4)
    b = BoundaryScores(10, 20, 30, 40)
    assert a + b == BoundaryScores(11, 22, 33, 44)
    assert (a + b).precision == pytest.approx(0.5)
    assert (a + b).recall == pytest.approx(0.75)
    assert (a + b).f == pytest.approx(0.6)


# ----------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------


def test_validation_messages():
    gt = halves(4, 4, 2)
    with pytest.raises(ParameterError, match=r"gt has shape \(4, 5\), the segmentation has shape \(4, 4\)"):
        rand_index(gt, np.ones((4, 5), dtype=int))
    with pytest.raises(ParameterError, match=r"gts\[1\] has shape"):
        probabilistic_rand_index(gt, [gt, np.ones((3, 4), dtype=int)])
    with pytest.raises(ParameterError, match="seg must hold integer labels"):
        rand_index(gt + 0.5, gt)
    with pytest.raises(ParameterError, match="seg must be a non-empty 2-D array"):
        rand_index(np.ones(4), gt)
    with pytest.raises(ParameterError, match=r"gt has negative labels \(min -1\)"):
        variation_of_information(gt, gt - 2)
    with pytest.raises(ParameterError, match=r"gts\[0\] has no labelled pixels"):
        segmentation_covering(gt, [np.zeros_like(gt)])
    with pytest.raises(ParameterError, match="at least one ground-truth"):
        segmentation_covering(gt, [])
    with pytest.raises(ParameterError, match="tolerance must be a finite number >= 0, got -1"):
        boundary_precision_recall(gt, [gt], tolerance=-1)
    with pytest.raises(ParameterError, match=r"gt_boundaries\[0\] must be a boolean"):
        match_boundaries(gt > 1, [gt * 3])
    # Integral floats (MATLAB doubles) are fine; so is a (K, H, W) stack.
    assert rand_index(gt.astype(float), gt) == 1.0
    assert segmentation_covering(gt, np.stack([gt, gt])) == 1.0


# ----------------------------------------------------------------------------
# Reading ground truth
# ----------------------------------------------------------------------------


def _write_bsds_mat(path, segs):
    cell = np.empty((1, len(segs)), dtype=object)
    for k, seg in enumerate(segs):
        cell[0, k] = {"Segmentation": seg, "Boundaries": boundary_map(seg).astype(np.uint8)}
    scipy.io.savemat(path, {"groundTruth": cell})


def test_load_ground_truth_bsds_mat(tmp_path):
    rng = np.random.default_rng(6)
    segs = [rng.integers(1, 9, size=(7, 5)).astype(np.uint16) for _ in range(3)]
    path = tmp_path / "12345.mat"
    _write_bsds_mat(path, segs)
    out = load_ground_truth(path)
    assert len(out) == 3
    for got, want in zip(out, segs):
        assert got.dtype == np.uint16
        np.testing.assert_array_equal(got, want)
    assert load_ground_truth(str(path))[2].shape == (7, 5)


def test_load_ground_truth_16bit_png_and_npy(tmp_path):
    labels = (np.arange(30).reshape(5, 6) * 2000 + 1).astype(np.uint16)  # values up to 58001
    Image.fromarray(labels).save(tmp_path / "gt.png")
    out = load_ground_truth(tmp_path / "gt.png")
    assert len(out) == 1
    np.testing.assert_array_equal(out[0], labels)
    small = (labels % 200).astype(np.uint8)
    Image.fromarray(small).save(tmp_path / "gt8.png")
    np.testing.assert_array_equal(load_ground_truth(tmp_path / "gt8.png")[0], small)
    Image.fromarray(labels).save(tmp_path / "gt.tif")
    np.testing.assert_array_equal(load_ground_truth(tmp_path / "gt.tif")[0], labels)
    np.save(tmp_path / "stack.npy", np.stack([labels, labels + 1]))
    assert [a[0, 0] for a in load_ground_truth(tmp_path / "stack.npy")] == [1, 2]


def test_load_ground_truth_errors(tmp_path):
    missing = tmp_path / "nope.mat"
    with pytest.raises(ImageReadError, match="ground-truth file not found: .*nope.mat"):
        load_ground_truth(missing)
    for name, data in [("bad.mat", b"MATLAB 5.0 MAT-file" + b"\x00" * 7), ("bad.png", b"\x89PNG\r\n\x1a\njunk")]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ImageReadError, match=f"cannot read ground truth .*{name}") as info:
            load_ground_truth(path)
        assert "\n" not in str(info.value)
        assert isinstance(info.value, OSError)
    scipy.io.savemat(tmp_path / "other.mat", {"foo": np.eye(2)})
    with pytest.raises(ImageReadError, match=r"other.mat has no 'groundTruth' variable \(variables: foo\)"):
        load_ground_truth(tmp_path / "other.mat")
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(ImageReadError, match="rgb.png: frame 0 has mode RGB"):
        load_ground_truth(tmp_path / "rgb.png")


# ----------------------------------------------------------------------------
# Data-set aggregation
# ----------------------------------------------------------------------------


def make_scores(overlap, pixels, pri, vi, counts):
    return Scores.from_parts(overlap, pixels, pri=pri, vi=vi, boundary=BoundaryScores(*counts))


def test_aggregate_ods_ois_hand_table():
    #            image 0 (100 gt px, 50 bdry px)     image 1 (300 gt px, 100 bdry px)
    # setting    cov      PRI  VI   bdry counts      cov       PRI  VI   bdry counts
    #   "a"     90/100   0.8  1.0  (8,10,40,50)     150/300   0.7  3.0  (10,50,20,100)
    #   "b"     50/100   0.9  2.0  (5,10,25,50)     210/300   0.5  1.5  (30,50,60,100)
    table = {
        "a": [make_scores(90, 100, 0.8, 1.0, (8, 10, 40, 50)), make_scores(150, 300, 0.7, 3.0, (10, 50, 20, 100))],
        "b": [make_scores(50, 100, 0.9, 2.0, (5, 10, 25, 50)), make_scores(210, 300, 0.5, 1.5, (30, 50, 60, 100))],
    }
    d = aggregate(table)
    assert d.n_images == 2
    # Covering ODS is pixel-weighted: a = 240/400 = 0.60, b = 260/400 = 0.65 -> b
    # (a mean of per-image coverings would pick a: 0.70 vs 0.60).
    assert d.covering_ods_setting == "b"
    assert d.covering_ods == pytest.approx(0.65)
    # Covering OIS: image 0 at a (90), image 1 at b (210): 300/400.
    assert d.covering_ois == pytest.approx(0.75)
    # PRI: means a = 0.75, b = 0.70 -> a; OIS = mean(0.9, 0.7) = 0.8.
    assert (d.pri_ods_setting, d.pri_ods, d.pri_ois) == ("a", pytest.approx(0.75), pytest.approx(0.8))
    # VI (lower is better): means a = 2.0, b = 1.75 -> b; OIS = mean(1.0, 1.5) = 1.25.
    assert (d.vi_ods_setting, d.vi_ods, d.vi_ois) == ("b", pytest.approx(1.75), pytest.approx(1.25))
    # Boundary ODS from summed counts: a = (18,60,60,150) F = 0.343, b = (35,60,85,150) F = 0.575 -> b.
    assert d.boundary_ods_setting == "b"
    assert d.boundary_ods == BoundaryScores(35, 60, 85, 150)
    assert d.boundary_ods.f == pytest.approx(2 * (35 / 60) * (85 / 150) / (35 / 60 + 85 / 150))
    # Boundary OIS: image 0 best at a (F 0.8), image 1 at b (F 0.6): (38, 60, 100, 150).
    assert d.boundary_ois == BoundaryScores(38, 60, 100, 150)
    assert d.boundary_ois.f == pytest.approx(2 * (38 / 60) * (100 / 150) / (38 / 60 + 100 / 150))
    out = d.as_dict()
    assert out["boundary_ois"]["f"] == pytest.approx(d.boundary_ois.f)
    assert out["covering_ods_setting"] == "b"


def test_aggregate_ties_go_to_first_setting_and_end_to_end():
    gt = halves(40, 40, 20)
    one = evaluate_segmentation(gt, [gt])
    d = aggregate({(1, 2): [one, one], (3, 4): [one, one]})
    assert d.covering_ods_setting == d.pri_ods_setting == d.vi_ods_setting == d.boundary_ods_setting == (1, 2)
    assert (d.covering_ods, d.pri_ods, d.vi_ods, d.boundary_ods.f) == (1.0, 1.0, 0.0, 1.0)


def test_aggregate_validation():
    gt = halves(20, 20, 10)
    s = evaluate_segmentation(gt, [gt])
    other = evaluate_segmentation(gt, [gt, gt])  # other ground truth
    with pytest.raises(ParameterError, match="non-empty mapping"):
        aggregate({})
    with pytest.raises(ParameterError, match="setting 'b' has 1 per-image scores, setting 'a' has 2"):
        aggregate({"a": [s, s], "b": [s]})
    with pytest.raises(ParameterError, match="setting 'b', image 1 was scored against other ground truth"):
        aggregate({"a": [s, s], "b": [s, other]})
    with pytest.raises(ParameterError, match="expected Scores, got dict"):
        aggregate({"a": [s.as_dict()]})


# ----------------------------------------------------------------------------
# Docstring examples
# ----------------------------------------------------------------------------


def test_docstring_examples_run():
    result = doctest.testmod(evaluate, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10
    assert result.failed == 0


# ----------------------------------------------------------------------------
# Real BSDS500 data (skipped where the data set is absent)
# ----------------------------------------------------------------------------


@pytest.mark.skipif(not (BSDS / "groundTruth" / "val").is_dir(), reason="BSDS500 not available")
def test_real_bsds_val_file():
    path = sorted((BSDS / "groundTruth" / "val").glob("*.mat"))[0]
    gts = load_ground_truth(path)
    assert len(gts) >= 3
    assert all(g.dtype == np.uint16 and g.shape in ((321, 481), (481, 321)) and g.min() >= 1 for g in gts)
    # Our boundary map is exactly the Boundaries stored by BSDS.
    cell = scipy.io.loadmat(path)["groundTruth"]
    for k, gt in enumerate(gts):
        np.testing.assert_array_equal(boundary_map(gt), cell[0, k]["Boundaries"][0, 0].astype(bool))
    # Each human against itself is perfect.
    for gt in gts:
        s = evaluate_segmentation(gt, [gt])
        assert (s.covering, s.pri, s.vi, s.boundary_f) == (1.0, 1.0, 0.0, 1.0)
    # Each human against the others: good but imperfect agreement.
    for k, gt in enumerate(gts):
        s = evaluate_segmentation(gt, gts[:k] + gts[k + 1 :])
        assert 0.4 < s.covering < 1.0
        assert 0.7 < s.pri < 1.0
        assert 0.1 < s.vi < 3.0
        assert 0.5 < s.boundary_f < 1.0
    # A 300-region over-segmentation (Voronoi cells) scores low covering and
    # high boundary recall (its speed is measured by scripts, not asserted here).
    rng = np.random.default_rng(7)
    h, w = gts[0].shape
    seeds = rng.uniform((0, 0), (h, w), size=(300, 2))
    seg = cKDTree(seeds).query(np.argwhere(np.ones((h, w), dtype=bool)))[1].reshape(h, w)
    s = evaluate_segmentation(seg, gts)
    assert s.covering < 0.5 and s.boundary_recall > s.boundary_precision
