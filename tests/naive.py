"""Slow, obviously-correct references for the compiled kernels (tests only)."""

from __future__ import annotations

import numpy as np


def _weights(kernel: str, t: np.ndarray) -> np.ndarray:
    if kernel == "gaussian":
        return np.exp(-2.0 * t)
    if kernel == "epanechnikov":
        return 1.0 - t
    return np.ones_like(t)


def filter_image(luv, spatial_radius, range_radius, kernel="uniform", tol=0.01, max_iter=100, raw_units=False):
    """Mean-shift filtering by brute force over all pixels, one pixel at a time.

    Follows the method as written: a pixel counts when it lies strictly inside
    the spatial disk AND the range ball around the current centre (the L
    difference weighed four times when the centre's L exceeds 80); the centre
    moves to the weighted mean until the squared shift in bandwidth units is
    below ``tol`` or ``max_iter`` shifts were made. With ``raw_units`` every
    shift after the first is measured in pixels and L*u*v* units (EDISON).
    """
    return _filter(luv, spatial_radius, range_radius, kernel, tol, max_iter, raw_units, bright=True)


def _filter(image, spatial_radius, range_radius, kernel, tol, max_iter, raw_units, bright):
    """The brute-force climbs of filter_image and filter_bands; ``bright``:
    EDISON's bright-centre rule on the first range channel (L*)."""
    data = np.asarray(image, dtype=np.float64)
    height, width, channels = data.shape
    ys, xs = np.mgrid[0:height, 0:width]
    feats = np.column_stack([xs.ravel(), ys.ravel(), data.reshape(-1, channels)])
    out = np.empty((height, width, channels))
    for i, start in enumerate(feats):
        centre = start.copy()
        for step in range(max_iter):
            d = feats - centre
            ds = (d[:, 0] ** 2 + d[:, 1] ** 2) / spatial_radius**2
            lw = 4.0 if bright and centre[2] > 80 else 1.0
            dr = (lw * d[:, 2] ** 2 + (d[:, 3:] ** 2).sum(axis=1)) / range_radius**2
            inside = (ds < 1) & (dr < 1)
            if not inside.any():
                break
            w = _weights(kernel, ds[inside]) * _weights(kernel, dr[inside])
            new = (w[:, None] * feats[inside]).sum(axis=0) / w.sum()
            shift = new - centre
            centre = new
            if raw_units and step > 0:
                size = (shift**2).sum()
            else:
                size = (shift[:2] ** 2).sum() / spatial_radius**2 + (shift[2:] ** 2).sum() / range_radius**2
            if size < tol:
                break
        out[i // width, i % width] = centre[2:]
    return out


# ----------------------------------------------------------------------------
# Contour benchmark (segshift.evaluate.contours)
# ----------------------------------------------------------------------------


def random_hierarchy(shape, n_regions, seed, *, stripes=False):
    """A random nested hierarchy: regions merged pairwise, one at a time.

    The finest regions are Voronoi cells of random seeds, or with
    ``stripes`` the bands between random vertical cuts (straight boundaries
    that thinning leaves alone). Returns (labels, merges): the finest labels
    0..n-1 and a list of (height, a, b), merging the regions holding finest
    regions a and b at increasing heights, adjacent regions only, down to a
    single region.
    """
    rng = np.random.default_rng(seed)
    height, width = shape
    if stripes:
        cuts = np.sort(rng.choice(np.arange(2, width - 2, 3), n_regions - 1, replace=False))
        labels = np.broadcast_to(np.searchsorted(cuts, np.arange(width), side="right"), shape).copy()
    else:
        seeds = rng.random((n_regions, 2)) * (height, width)
        ys, xs = np.mgrid[0:height, 0:width]
        d = (ys[..., None] - seeds[:, 0]) ** 2 + (xs[..., None] - seeds[:, 1]) ** 2
        labels = np.argmin(d, axis=2)
    _, labels = np.unique(labels, return_inverse=True)
    labels = labels.reshape(shape)
    n = int(labels.max()) + 1
    adjacent = set()
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        for p, q in zip(a.ravel(), b.ravel()):
            if p != q:
                adjacent.add((min(p, q), max(p, q)))
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    merges = []
    heights = np.sort(rng.choice(np.arange(1, 10 * n), size=n - 1, replace=False)) / 10.0
    for h in heights:
        pairs = sorted({(find(a), find(b)) for a, b in adjacent if find(a) != find(b)})
        a, b = pairs[rng.integers(len(pairs))]
        parent[b] = a
        merges.append((float(h), a, b))
    return labels, merges


def level_labels(labels, merges, t):
    """The partition after every merge of height <= t."""
    parent = list(range(int(labels.max()) + 1))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for h, a, b in merges:
        if h <= t:
            parent[find(b)] = find(a)
    return np.vectorize(find)(labels)


def ucm_from_merges(labels, merges):
    """UCM in the BSDS seg2bmap convention, pixel by pixel.

    Each pixel holds the largest merge height between its region and that of
    its east, south and south-east neighbours (the pixels seg2bmap compares),
    so ``ucm > t`` is the seg2bmap of ``level_labels(labels, merges, t)``.
    """
    n = int(labels.max()) + 1
    joined = np.zeros((n, n))
    groups = {k: {k} for k in range(n)}
    owner = list(range(n))
    for h, a, b in merges:
        ga, gb = groups[owner[a]], groups[owner[b]]
        if ga is gb:
            continue
        for p in ga:
            for q in gb:
                joined[p, q] = joined[q, p] = h
        ga |= gb
        for q in gb:
            owner[q] = owner[a]
    height, width = labels.shape
    ucm = np.zeros(labels.shape)
    for i in range(height):
        for j in range(width):
            for di, dj in ((0, 1), (1, 0), (1, 1)):
                ii, jj = i + di, j + dj
                if ii < height and jj < width and (di == 0 or i < height - 1) and (dj == 0 or j < width - 1):
                    ucm[i, j] = max(ucm[i, j], joined[labels[i, j], labels[ii, jj]])
    return ucm


def _f(p, r):
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def bsds_collect(per_image):
    """BSDS500 collect_eval_bdry.m, loop for loop.

    per_image: list of (thresholds, cntR, sumR, cntP, sumP) lists. Returns
    dict(ods=(t, r, p, f), ois=(r, p, f), ap=area).
    """

    def ratio(a, b):
        return a / b if b else 0.0

    def max_f(thresh, rec, prec):
        best = (thresh[0], rec[0], prec[0], _f(prec[0], rec[0]))
        for i in range(1, len(thresh)):
            for k in range(100):
                d = k / 99
                t = thresh[i] * d + thresh[i - 1] * (1 - d)
                r = rec[i] * d + rec[i - 1] * (1 - d)
                p = prec[i] * d + prec[i - 1] * (1 - d)
                f = _f(p, r)
                if f > best[3]:
                    best = (t, r, p, f)
        return best

    thresh = per_image[0][0]
    n = len(thresh)
    tot = [[0] * n for _ in range(4)]
    at_best = [0, 0, 0, 0]
    for _, cnt_r, sum_r, cnt_p, sum_p in per_image:
        rec = [ratio(a, b) for a, b in zip(cnt_r, sum_r)]
        prec = [ratio(a, b) for a, b in zip(cnt_p, sum_p)]
        fs = [_f(p, r) for p, r in zip(prec, rec)]
        last = max(k for k in range(n) if fs[k] == max(fs))
        for q, arr in enumerate((cnt_r, sum_r, cnt_p, sum_p)):
            tot[q] = [x + y for x, y in zip(tot[q], arr)]
            at_best[q] += arr[last]
    rec = [ratio(a, b) for a, b in zip(tot[0], tot[1])]
    prec = [ratio(a, b) for a, b in zip(tot[2], tot[3])]
    ods = max_f(thresh, rec, prec)
    r_max, p_max = ratio(at_best[0], at_best[1]), ratio(at_best[2], at_best[3])
    # AP: [Ru, indR] = unique(R) (last occurrence), interp1 at 0:0.01:1, NaN -> 0.
    last_of = {}
    for k, r in enumerate(rec):
        last_of[r] = k
    ru = sorted(last_of)
    pu = [prec[last_of[r]] for r in ru]
    area = 0.0
    if len(ru) > 1:
        for k in range(101):
            x = k / 100
            for i in range(len(ru) - 1):
                if ru[i] <= x <= ru[i + 1]:
                    w = (x - ru[i]) / (ru[i + 1] - ru[i])
                    area += pu[i] * (1 - w) + pu[i + 1] * w
                    break
        area *= 0.01
    return {"ods": ods, "ois": (r_max, p_max, _f(p_max, r_max)), "ap": area}


def filter_bands(image, spatial_radius, range_radius, kernel="uniform", tol=0.01, max_iter=100, raw_units=False):
    """Mean-shift filtering of a multiband (H, W, n) image by brute force:
    as filter_image, with the bands' values as the range space (Euclidean,
    no bright-centre rule). Returns (H, W, n) float64 modes."""
    return _filter(image, spatial_radius, range_radius, kernel, tol, max_iter, raw_units, bright=False)


def mean_shift_climbs(points, weights, seeds, bandwidth, kernel="flat", max_iter=300):
    """Point-set mean shift by brute force, one seed at a time (scikit-learn's conventions).

    A point counts when its distance to the window centre is at most the
    bandwidth; the centre moves to the weighted mean until it moves at most
    ``1e-3 * bandwidth`` or ``max_iter`` shifts beyond the first were made.
    Returns the modes and the weight of each seed's last window.
    """
    points = np.asarray(points, dtype=np.float64)
    modes, weights_in = [], []
    for seed in np.asarray(seeds, dtype=np.float64):
        centre = seed.copy()
        for step in range(max_iter + 1):
            t = ((points - centre) ** 2).sum(axis=1) / bandwidth**2
            inside = t <= 1
            w = weights[inside] * _weights("uniform" if kernel == "flat" else kernel, t[inside])
            if w.sum() <= 0:
                break
            new = (w[:, None] * points[inside]).sum(axis=0) / w.sum()
            moved = np.sqrt(((new - centre) ** 2).sum())
            centre = new
            if moved <= 1e-3 * bandwidth:
                break
        modes.append(centre)
        weights_in.append(w.sum())
    return np.array(modes), np.array(weights_in)

def merge_regions(n, edges, bsum, bcnt, areas, sums, params):
    """Greedy pairwise merging by brute force: every step recomputes every
    adjacent pair's dissimilarity from the original edges and the member
    lists, and merges the cheapest pair (see segshift.hierarchy).

    Returns (merges, heights) as segshift's kernel: scipy linkage ids, heights
    made non-decreasing.
    """
    colour_weight, size_power, enclosure, total = params[:4]
    hist_weight = params[4] if len(params) > 4 else 0.0
    texture_weight = params[5] if len(params) > 6 else 0.0
    split = 3 + int(params[6]) if len(params) > 6 else None  # colour histogram columns end here
    members = {i: [i] for i in range(n)}  # cluster id -> finest regions
    owner = list(range(n))  # finest region -> cluster id
    merges, heights = [], []
    last = 0.0
    while len(members) > 1:
        border = {}
        perim = {c: 0.0 for c in members}
        for (a, b), s, c in zip(edges, bsum, bcnt):
            ca, cb = owner[a], owner[b]
            if ca == cb:
                continue
            perim[ca] += c
            perim[cb] += c
            key = (min(ca, cb), max(ca, cb))
            old = border.get(key, (0.0, 0.0))
            border[key] = (old[0] + s, old[1] + c)
        best = None
        for (ca, cb), (s, c) in border.items():
            area_a = sum(areas[i] for i in members[ca])
            area_b = sum(areas[i] for i in members[cb])
            mean_a = sum(sums[i] for i in members[ca]) / area_a
            mean_b = sum(sums[i] for i in members[cb]) / area_b
            mode_a, mode_b = mean_a[:3], mean_b[:3]
            cost = s / c + colour_weight * float(np.sqrt(((mode_a - mode_b) ** 2).sum()))
            for weight, lo, hi in ((hist_weight, 3, split), (texture_weight, split or len(mean_a), None)):
                pa, pb = mean_a[lo:hi], mean_b[lo:hi]
                both = pa + pb
                ok = both > 0
                if weight and len(pa):
                    cost += weight * 0.5 * float(((pa[ok] - pb[ok]) ** 2 / both[ok]).sum())
            cost *= (min(area_a, area_b) / total) ** size_power
            cost *= 1.0 - enclosure * min(1.0, c / max(1.0, min(perim[ca], perim[cb])))
            if best is None or cost < best[0]:
                best = (cost, ca, cb)
        if best is None:  # not connected: join the rest at the last height
            ids = sorted(members)
            best = (last, ids[0], ids[1])
        cost, ca, cb = best
        last = max(last, cost)
        new = n + len(merges)
        merges.append((min(ca, cb), max(ca, cb)))
        heights.append(last)
        members[new] = members.pop(ca) + members.pop(cb)
        for i in members[new]:
            owner[i] = new
    return np.array(merges, dtype=np.int64).reshape(-1, 2), np.array(heights)
