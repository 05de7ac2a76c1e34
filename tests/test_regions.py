import numpy as np

from segshift import _regions as regions


def modes_from_blocks(*blocks, shape=(6, 8)) -> np.ndarray:
    """An (H, W, 3) mode image; each block is (rows, columns, L), painted in order."""
    modes = np.zeros(shape + (3,), dtype=np.float32)
    for ys, xs, value in blocks:
        modes[ys, xs, 0] = value
    return modes


def test_connect_chains_modes_within_one_unit_and_uses_8_connectivity():
    modes = np.zeros((4, 4, 3), dtype=np.float32)
    modes[0, :, 0] = [0.0, 0.9, 1.8, 2.7]  # a chain of steps < 1: one region
    modes[1:, :, 0] = 50.0
    modes[3, 3, 0] = 10.0  # touches nothing similar
    modes[2, 0, 0] = 20.0
    modes[3, 1, 0] = 20.3  # diagonal neighbour of (2, 0): same region
    r = regions.connect_modes(modes)
    labels = regions.final_labels(r)
    assert len(set(labels[0])) == 1
    assert labels[2, 0] == labels[3, 1]
    assert len(r.areas) == 4  # row 0, the 50s, the two 20s, the single 10
    # numbered in raster order of the first pixel
    _, first = np.unique(labels.ravel(), return_index=True)
    assert np.all(np.diff(first) > 0)


def test_connect_matches_a_graph_reference():
    """Regions that wind across many rows (diagonal links included) come out
    exactly as the connected components of the neighbour graph, numbered in
    raster order."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(7)
    height, width = 197, 37
    # few levels, so that agreeing neighbours form long winding regions
    modes = (rng.integers(0, 3, size=(height, width, 3)) * 0.6).astype(np.float32)
    index = np.arange(height * width).reshape(height, width)
    rows, cols = [], []
    for dy, dx in [(0, 1), (1, -1), (1, 0), (1, 1)]:
        a = modes[max(0, -dy):height - max(0, dy), max(0, -dx):width - max(0, dx)]
        b = modes[max(0, dy):, max(0, dx):][:a.shape[0], :a.shape[1]]
        agree = np.all(np.abs(a - b) < regions.AGREE, axis=2)
        ia = index[max(0, -dy):height - max(0, dy), max(0, -dx):width - max(0, dx)]
        ib = index[max(0, dy):, max(0, dx):][:a.shape[0], :a.shape[1]]
        rows.append(ia[agree])
        cols.append(ib[agree])
    graph = coo_matrix((np.ones(sum(len(r) for r in rows)), (np.concatenate(rows), np.concatenate(cols))),
                       shape=(height * width,) * 2)
    _, expected = connected_components(graph, directed=False)
    # number the reference components in raster order of their first pixel
    _, first = np.unique(expected, return_index=True)
    order = np.empty_like(first)
    order[np.argsort(first)] = np.arange(len(first))
    expected = order[expected].reshape(height, width)

    labels = regions.final_labels(regions.connect_modes(modes))
    assert len(np.unique(labels)) > 10  # not one region by accident
    np.testing.assert_array_equal(labels, expected)


def test_fuse_joins_within_half_range_radius_transitively():
    # L steps of 3 between adjacent stripes: each step < 0.5 * 6.5 = 3.25
    modes = modes_from_blocks((slice(None), slice(0, 2), 10), (slice(None), slice(2, 4), 13),
                               (slice(None), slice(4, 6), 16), (slice(None), slice(6, 8), 40))
    r = regions.fuse_regions(regions.connect_modes(modes), 6.5)
    labels = regions.final_labels(r)
    assert len(r.areas) == 2
    assert (labels[:, :6] == 0).all() and (labels[:, 6:] == 1).all()
    np.testing.assert_allclose(r.modes[0, 0], 13.0)  # area-weighted mean
    assert r.areas.tolist() == [36, 12]


def test_fuse_weighs_l_four_times_between_bright_modes():
    bright = modes_from_blocks((slice(None), slice(0, 4), 85), (slice(None), slice(4, 8), 87))
    dark = modes_from_blocks((slice(None), slice(0, 4), 45), (slice(None), slice(4, 8), 47))
    # distance 2 < 3.25, but 4 * 2^2 = 16 > 3.25^2 for two bright modes
    assert len(regions.fuse_regions(regions.connect_modes(bright), 6.5).areas) == 2
    assert len(regions.fuse_regions(regions.connect_modes(dark), 6.5).areas) == 1


def test_prune_merges_into_closest_neighbour():
    modes = modes_from_blocks((slice(None), slice(0, 4), 10), (slice(None), slice(4, 8), 60),
                               (slice(2, 4), slice(3, 5), 50))
    r = regions.connect_modes(modes)
    assert len(r.areas) == 3
    pruned = regions.prune_regions(r, 5)
    labels = regions.final_labels(pruned)
    assert len(pruned.areas) == 2
    assert labels[2, 3] == labels[0, 7]  # the small square joined the L=60 side
    assert pruned.areas.min() >= 5


def test_prune_thin_joins_a_strip_along_an_edge_and_keeps_a_compact_region_of_its_area():
    # left L=10 | a one-pixel column of L=40 (a blended edge) | right L=60,
    # and a 3 x 4 block of L=90 (12 pixels, as many as the strip) in the right half
    shape = (12, 16)
    modes = modes_from_blocks((slice(None), slice(0, 8), 10), (slice(None), slice(8, 9), 40),
                              (slice(None), slice(9, 16), 60), (slice(4, 7), slice(11, 15), 90), shape=shape)
    r = regions.connect_modes(modes)
    assert sorted(r.areas) == [12, 12, 72, 96]
    thin = regions.prune_thin(r, 1.5, 100)
    labels = regions.final_labels(thin)
    assert len(thin.areas) == 3
    assert labels[0, 8] == labels[0, 15]  # the strip joined the side with the closer mode (L 60)
    assert labels[5, 12] != labels[0, 15]  # the compact block stays
    # above max_area nothing is thin
    assert len(regions.prune_thin(r, 1.5, 12).areas) == 4


def test_prune_is_linear_in_the_graph_not_quadratic():
    # a checkerboard of 1-pixel regions, all below min_size: must end in few regions
    modes = np.zeros((60, 60, 3), dtype=np.float32)
    modes[..., 0] = (np.indices((60, 60)).sum(axis=0) % 2) * 50
    r = regions.connect_modes(modes)
    assert len(r.areas) == 2  # the two colours connect diagonally (8-connectivity)
    modes[..., 0] += np.arange(3600).reshape(60, 60) * 3.0  # now every pixel differs
    r = regions.prune_regions(regions.connect_modes(modes), 30)
    assert r.areas.min() >= 30


def test_join_matches_a_graph_reference():
    """Joining along random pairs gives the connected components of the pair
    graph, numbered by their smallest member, with area-weighted modes."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(3)
    n = 500
    pairs = rng.integers(0, n, size=(300, 2))
    areas = rng.integers(1, 50, size=n)
    modes = rng.uniform(0, 100, size=(n, 3))
    edges = rng.integers(0, n, size=(2000, 2))
    edges = edges[edges[:, 0] != edges[:, 1]]
    r = regions.Regions(
        pixel_region=np.arange(n, dtype=np.int32).reshape(20, 25),
        region_label=np.arange(n, dtype=np.int64),
        modes=modes,
        areas=areas,
        edges=edges,
    )
    joined = regions._join(r, pairs)

    _, component = connected_components(
        coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)), directed=False
    )
    first = np.array([np.flatnonzero(component == c).min() for c in range(component.max() + 1)])
    rank = np.empty_like(first)
    rank[np.argsort(first)] = np.arange(len(first))
    expected = rank[component]
    np.testing.assert_array_equal(joined.region_label, expected)
    np.testing.assert_array_equal(joined.areas, np.bincount(expected, weights=areas).astype(np.int64))
    for k in range(3):
        mean = np.bincount(expected, weights=areas * modes[:, k]) / np.bincount(expected, weights=areas)
        np.testing.assert_allclose(joined.modes[:, k], mean, rtol=1e-12)
    # edges now join different new regions, and every old edge between two
    # new regions is kept
    assert np.all(joined.edges[:, 0] != joined.edges[:, 1])
    kept = {tuple(e) for e in expected[edges] if e[0] != e[1]}
    assert {tuple(e) for e in joined.edges} == kept
