"""Time the contour benchmark (segshift.evaluate.evaluate_ucm) on BSDS500 photos.

Usage:
  python scripts/bench_contours.py BSDS500_DIR --split val --limit 20 [--plot pr.png] [--out bench.json]

Every photo needs a UCM; until segmentations carry one, this script makes a
stand-in from segshift itself, a consensus of 16 settings (the
co-association idea): the finest partition is the union of the boundaries of
the 16 segmentations (spatial radius 7, range radius 4 / 6.5 / 10 / 14,
minimum region 0.05 / 0.2 / 0.8 / 3 % of the photo), and each boundary arc
between two of its regions gets the fraction of the settings that draw a
boundary there, averaged along the arc. It is a plausible boundary-strength
map with thousands of distinct heights, so 99 distinct thresholds, not a
hierarchy of nested partitions. UCMs are cached in --cache.

Timing, one numba thread, each photo's matching at 99 thresholds, in CPU
seconds of this process (wall seconds beside them, which grow with the
machine's load): ``evaluate_ucm`` against the same counts made the direct
way (thin the map of each threshold with skimage, then ``match_boundaries``
it), run in the same process on the first --reference photos. The data-set ODS/OIS/AP of the
stand-in UCM are printed too (a sanity check of the benchmark, not a result
of segshift's hierarchy).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _record import record  # noqa: E402

RANGES = (4.0, 6.5, 10.0, 14.0)
MIN_FRACTIONS = (0.0005, 0.002, 0.008, 0.03)


def consensus_ucm(rgb: np.ndarray) -> np.ndarray:
    """The stand-in UCM of the module docstring."""
    from segshift.evaluate.boundaries import _seg2bmap
    from segshift._segment import image_modes, min_size_pixels, regions_from_modes

    area = rgb.shape[0] * rgb.shape[1]
    maps = []
    labelings = []
    for r in RANGES:
        modes = image_modes(rgb, spatial_radius=7.0, range_radius=r)
        for m in MIN_FRACTIONS:
            labels = regions_from_modes(rgb, modes, r, min_size_pixels(m, area)).labels.astype(np.int64)
            labelings.append(labels)
            maps.append(_seg2bmap(labels, ignore_zero=False))
    strength = np.mean(maps, axis=0)
    # The finest partition: pixels that share a region in every setting.
    finest = np.zeros(strength.shape, dtype=np.int64)
    for labels in labelings:
        finest = finest * (int(labels.max()) + 1) + labels
    _, finest = np.unique(finest, return_inverse=True)
    finest = finest.reshape(strength.shape)
    boundary = _seg2bmap(finest, ignore_zero=False)
    # Arc of a boundary pixel: its region and the first differing neighbour's (east, south, south-east).
    other = finest.copy()
    for dy, dx in ((1, 1), (1, 0), (0, 1)):  # the last assignment wins: east first
        shifted = np.full_like(finest, -1)
        shifted[: finest.shape[0] - dy, : finest.shape[1] - dx] = finest[dy:, dx:]
        differ = (shifted >= 0) & (shifted != finest)
        other[differ] = shifted[differ]
    a, b = np.minimum(finest, other)[boundary], np.maximum(finest, other)[boundary]
    _, arc = np.unique(a * (int(finest.max()) + 1) + b, return_inverse=True)
    mean = np.bincount(arc, strength[boundary]) / np.bincount(arc)
    ucm = np.zeros(strength.shape)
    ucm[boundary] = mean[arc]
    return ucm


def direct_counts(ucm, gts, thresholds):
    """The same counts, the obvious way: thin each threshold's map, match it."""
    from skimage.morphology import thin

    from segshift.evaluate import boundary_map, match_boundaries

    gt_maps = [boundary_map(g) for g in gts]
    rows = []
    for t in thresholds:
        s = match_boundaries(thin(ucm > t), gt_maps)
        rows.append((s.matched_result, s.result_pixels, s.matched_gt, s.gt_pixels))
    return np.array(rows).T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bsds", type=Path, help="BSDS500 folder (images/, groundTruth/)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--reference", type=int, default=3, help="photos also timed the direct way")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/segshift-bench-contours"))
    parser.add_argument("--plot", type=Path, help="precision-recall curve of the stand-in UCM (.png/.svg)")
    parser.add_argument("--out", type=Path, help="write the figures as JSON")
    args = parser.parse_args()

    import numba

    from segshift.evaluate import aggregate_contours, evaluate_ucm, load_ground_truth, plot_precision_recall
    from segshift._loader import load_image

    args.cache.mkdir(parents=True, exist_ok=True)
    photos = sorted((args.bsds / "images" / args.split).glob("*.jpg"))[: args.limit]
    for photo in photos:
        cached = args.cache / f"{photo.stem}.npy"
        if not cached.exists():
            np.save(cached, consensus_ucm(load_image(photo)))
    numba.set_num_threads(1)
    warm = np.zeros((12, 12))
    warm[:, 5] = 1.0
    evaluate_ucm(warm, [np.ones((12, 12), dtype=int)])  # compile or load the kernels first

    per_image, seconds, walls, direct, pixels = [], [], [], [], []
    same_counts = []
    for k, photo in enumerate(photos):
        ucm = np.load(args.cache / f"{photo.stem}.npy")
        gts = load_ground_truth(args.bsds / "groundTruth" / args.split / f"{photo.stem}.mat")
        thresholds = np.linspace(0.0, 1.0, 99, endpoint=False)  # common to every photo (heights in [0, 1])
        start, wall = time.process_time(), time.perf_counter()
        counts = evaluate_ucm(ucm, gts, thresholds=thresholds)
        seconds.append(time.process_time() - start)
        walls.append(time.perf_counter() - wall)
        per_image.append(counts)
        pixels.append(int((ucm > 0).sum()))
        line = f"{photo.stem}: {seconds[-1]:.3f} s CPU ({walls[-1]:.3f} s wall), {pixels[-1]} boundary pixels, {len(np.unique(ucm))} heights"
        if k < args.reference:
            start = time.process_time()
            ref = direct_counts(ucm, gts, thresholds)
            direct.append(time.process_time() - start)
            same = np.array_equal(
                ref, np.stack([counts.matched_result, counts.result_pixels, counts.matched_gt, counts.gt_pixels])
            )
            same_counts.append(bool(same))
            line += f"; direct way {direct[-1]:.2f} s ({direct[-1] / seconds[-1]:.0f}x), same counts: {same}"
        print(line, flush=True)

    scores = aggregate_contours(per_image)
    figures = {
        "photos": len(photos),
        "seconds_mean": float(np.mean(seconds)),
        "seconds_median": float(np.median(seconds)),
        "seconds_max": float(np.max(seconds)),
        "wall_seconds_mean": float(np.mean(walls)),
        "boundary_pixels_mean": float(np.mean(pixels)),
        "direct_over_evaluate_ucm": float(np.sum(direct) / np.sum(seconds[: len(direct)])) if direct else None,
        "stand_in_ucm": {"ods_f": scores.ods_f, "ois_f": scores.ois_f, "ap": scores.ap},
    }
    print(
        f"{len(photos)} photos, 99 thresholds, one thread: evaluate_ucm {figures['seconds_mean']:.3f} CPU s per photo"
        f" (median {figures['seconds_median']:.3f}, max {figures['seconds_max']:.3f});"
        + (f" the direct way takes {figures['direct_over_evaluate_ucm']:.0f}x as long" if direct else "")
    )
    print(f"stand-in UCM: ODS F {scores.ods_f:.3f}, OIS F {scores.ois_f:.3f}, AP {scores.ap:.3f}")
    if args.plot:
        plot_precision_recall(scores, args.plot, title=f"BSDS500 {args.split}, consensus of 16 settings")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")
    ratio = figures["direct_over_evaluate_ucm"]
    record("bench_contours", f"The contour benchmark of {len(photos)} BSDS500 {args.split} photos, 99 thresholds, "
                             "one thread",
           tables=[{"caption": "CPU seconds of evaluate_ucm per photo",
                    "columns": ["photos", "mean", "median", "slowest", "mean wall s", "boundary pixels (mean)",
                                f"direct way / evaluate_ucm ({len(direct)} photos)"],
                    "rows": [[len(photos), round(figures["seconds_mean"], 3), round(figures["seconds_median"], 3),
                              round(figures["seconds_max"], 3), round(figures["wall_seconds_mean"], 3),
                              round(figures["boundary_pixels_mean"]), "" if ratio is None else f"{ratio:.1f}x"]]},
                   {"caption": "the stand-in UCM's own scores (a check, not a result of segshift's hierarchy)",
                    "columns": ["ODS F", "OIS F", "AP"],
                    "rows": [[round(scores.ods_f, 3), round(scores.ois_f, 3), round(scores.ap, 3)]]}],
           notes=["The direct way thins and matches each threshold's map on its own; both gave the same counts "
                  "on the photos compared" if direct and all(same_counts) else
                  "The direct way was not run, or its counts differed (see the script's output)."])


if __name__ == "__main__":
    main()
