"""Sweep segmentation parameters on BSDS500 and score them with the BSDS benchmarks.

Usage:
  python scripts/tune_bsds.py BSDS500_DIR --split train --limit 60 --out train.json   # chooses the defaults
  python scripts/tune_bsds.py BSDS500_DIR --split val --only 'SETTING' --out val.json  # scores a setting
  python scripts/tune_bsds.py BSDS500_DIR --split val --scale 2 --only 'SETTING' ...   # at another resolution
  python scripts/tune_bsds.py ... --grid '{"spatial_radius": [7, 13]}'                # another grid
  python scripts/tune_bsds.py BSDS500_DIR --split val --hierarchy --out h.json         # the hierarchy
  python scripts/tune_bsds.py BSDS500_DIR --split train --hierarchy --choose-auto --out h.json  # AUTO's cut and floor

With ``--hierarchy`` every photo is segmented once with segshift's defaults
(the region hierarchy); its levels are scored at each threshold of
``THRESHOLDS`` (Covering, PRI, VI), giving the ODS (best threshold for the
split) and OIS (best threshold per photo) of the hierarchy, and the level of
the automatic scale (the default) and of the other scale pickers of
``PICKERS`` are scored too, with the fraction of the ODS -> OIS gap each
closes. The default's row has the boundary F as well. With ``--choose-auto``
every cut of ``AUTO_CUTS`` with every floor of ``AUTO_FLOORS`` (the level
``segshift._hierarchy.auto_scale`` takes for them) is scored too, and the
script prints the pair that ``segshift._hierarchy.AUTO`` should hold: the best
Covering / 0.01 + PRI / 0.01 - VI / 0.05, averaged over the neighbouring cuts
and floors (choose it on train).

For every photo the expensive mean-shift filter runs once per (compat, kernel,
spatial radius, range radius); every minimum region size then reuses its
modes. ``min_size`` is swept as a fraction of the image's area. The script
prints the data-set scores of every setting (covering, PRI, VI, boundary F,
as BSDS computes them: covering and the boundary counts pooled over images,
PRI and VI averaged), the ODS and OIS summaries, and writes everything as
JSON. ``--scale`` resizes the photos (and the ground truth, with nearest
neighbour) to check that scores hold at other resolutions.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402

# The grid that chose segshift's defaults (README, "Quality"). Two earlier,
# wider sweeps on the first 30 train photos settled the colour conversion and
# the numerics (EDISON's won on Covering and VI); see the README for them.
GRID = {
    "luv": ["edison"],
    "compat": ["edison"],
    "kernel": ["uniform"],
    "spatial_radius": [7.0, 10.0, 13.0],
    "range_radius": [8.0, 10.0, 12.0, 14.0],
    "min_fraction": [0.004, 0.0065, 0.013],
}


# The automatic scale's candidates (--choose-auto): cuts of the hierarchy and
# floors on the number of regions.
AUTO_CUTS = [round(3.0 + 0.2 * i, 1) for i in range(31)]  # 3.0 to 9.0
AUTO_FLOORS = list(range(1, 21))


def setting_key(luv, compat, kernel, hs, hr, frac) -> str:
    hs = "auto" if hs is None else f"{hs:g}"
    return f"luv={luv} compat={compat or 'none'} kernel={kernel} hs={hs} hr={hr:g} min={frac:g}"


def parse_key(key: str) -> dict:
    out = dict(item.split("=") for item in key.split())
    return dict(
        luv=out["luv"],
        compat=None if out["compat"] == "none" else out["compat"],
        kernel=out["kernel"],
        spatial_radius=None if out["hs"] == "auto" else float(out["hs"]),
        range_radius=float(out["hr"]),
        min_fraction=float(out["min"]),
    )


def _resize(array: np.ndarray, scale: float, nearest: bool) -> np.ndarray:
    import cv2

    h, w = array.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(array, size, interpolation=interp)


def score_photo(task) -> dict:
    """All settings of the grid for one photo: {setting key: Scores as dict}."""
    photo, gt_path, grid, scale = task
    import numba

    numba.set_num_threads(1)
    from segshift import load_image
    from segshift.evaluate import evaluate_segmentation, load_ground_truth
    from segshift._loader import rgb_to_luv
    from segshift._meanshift import filter_image
    from segshift import _resolution as resolution
    from segshift._segment import WORKING_RADIUS, regions_from_modes

    rgb = load_image(photo)
    gts = load_ground_truth(gt_path)
    if scale != 1:
        rgb = np.clip(_resize(rgb, scale, nearest=False), 0, 1).astype(np.float32)
        gts = [_resize(g.astype(np.uint16), scale, nearest=True) for g in gts]
    area = rgb.shape[0] * rgb.shape[1]
    results = {}
    for luv_mode, compat, kernel, hs, hr in itertools.product(
        grid["luv"], grid["compat"], grid["kernel"], grid["spatial_radius"], grid["range_radius"]
    ):
        if compat == "edison" and luv_mode != "edison":
            continue  # EDISON's numerics include its colour conversion
        # hs "auto" (None): segment()'s default, at the working resolution
        work = resolution.plan(rgb.shape[:2], WORKING_RADIUS) if hs is None else resolution.Plan(None, hs)
        grid_rgb = rgb if work.shape is None else resolution.resample(rgb, work.shape)
        luv = rgb_to_luv(grid_rgb, compat="edison" if luv_mode == "edison" else None)
        modes = filter_image(luv, work.spatial_radius, hr, kernel=kernel, compat=compat)
        for frac in grid["min_fraction"]:
            min_pixels = resolution.working_min_size(max(1, round(frac * area)), area, luv.shape[0] * luv.shape[1])
            seg = regions_from_modes(grid_rgb, modes, hr, min_pixels, compat=compat)  # fixed scale
            if work.shape is not None:
                seg = resolution.to_full_resolution(seg, rgb, modes, work.spatial_radius, hr, compat=compat)
            scores = evaluate_segmentation(seg.labels, gts)
            row = scores.as_dict()
            row["n_regions"] = seg.n_regions
            results[setting_key(luv_mode, compat, kernel, hs, hr, frac)] = row
    return {"photo": Path(photo).stem, "scores": results}


# Thresholds of the merge heights scored with --hierarchy (their ODS/OIS).
THRESHOLDS = [round(float(t), 4) for t in np.geomspace(0.5, 16.0, 31)]


def _plateau(hierarchy, t0: float, width: float) -> int:
    """The level with the longest life (log-height range) near log t0 (a Gaussian prior of sd ``width``)."""
    h = np.maximum(hierarchy.heights, 1e-9)
    lo = np.concatenate([[h[0] * 0.5], h])
    hi = np.concatenate([h, [h[-1] * 2]])
    centre = 0.5 * (np.log(hi) + np.log(lo))
    score = (np.log(hi) - np.log(lo)) * np.exp(-0.5 * ((centre - np.log(t0)) / width) ** 2)
    score[-1] = -1  # never the single region
    return int(np.argmax(score))


def _effective_floor(hierarchy, fewest: float) -> int:
    """The default's level, or a finer one where it leaves fewer than ``fewest`` effective regions.

    The effective number of regions, (sum of areas)^2 / sum of squared areas,
    is one over the chance that two random pixels share a region (what the
    Rand index counts); it stays low when one region covers most of the photo.
    """
    from segshift._hierarchy import auto_scale

    n = hierarchy.n_finest
    size = np.concatenate([hierarchy.areas.astype(np.float64), np.zeros(max(n - 1, 0))])
    squares = np.empty(len(hierarchy.merges) + 1)
    squares[0] = (size[:n] ** 2).sum()
    for i, (a, b) in enumerate(hierarchy.merges):
        squares[i + 1] = squares[i] + 2 * size[a] * size[b]
        size[n + i] = size[a] + size[b]
    effective = size[:n].sum() ** 2 / squares
    merges = auto_scale(hierarchy)
    if effective[merges] >= fewest:
        return merges
    return int(np.flatnonzero(effective >= fewest)[-1]) if effective[0] >= fewest else 0


def pickers():
    """Scale pickers scored with --hierarchy: name -> f(hierarchy) -> number of merges."""
    from segshift._hierarchy import AUTO, auto_scale

    t0 = AUTO["threshold"]
    out = {"auto (default)": auto_scale}
    for width in (0.25, 0.5, 1.0):
        out[f"plateau width {width:g}"] = lambda h, w=width: _plateau(h, t0, w)
    for alpha in (0.3, 0.45, 0.6):
        out[f"fraction {alpha:g} of the top height"] = (
            lambda h, a=alpha: h.merges_for(threshold=a * float(h.heights[-1])) if len(h.heights) else 0
        )
    for fewest in (2.0, 3.0):
        out[f"default, >= {fewest:g} effective regions"] = lambda h, k=fewest: _effective_floor(h, k)
    return out


def score_photo_hierarchy(task) -> dict:
    """The defaults' hierarchy of one photo: region scores at each threshold and at each picker's level."""
    photo, gt_path, options, scale, choose_auto = task
    import numba

    numba.set_num_threads(1)
    from segshift import load_image
    from segshift.evaluate import evaluate_segmentation, load_ground_truth
    from segshift.evaluate.regions import (
        _covering_counts,
        _mean_rand_index,
        _mean_variation_of_information,
        _relabel,
        _table,
    )
    from segshift._segment import segment

    rgb = load_image(photo)
    gts = load_ground_truth(gt_path)
    if scale != 1:
        rgb = np.clip(_resize(rgb, scale, nearest=False), 0, 1).astype(np.float32)
        gts = [_resize(g.astype(np.uint16), scale, nearest=True) for g in gts]
    seg = segment(rgb, **(options or {}))
    hierarchy = seg.hierarchy
    gts64 = [np.asarray(g, dtype=np.int64) for g in gts]

    def regions_only(labels):
        seg_idx, n_seg = _relabel(labels.reshape(-1).astype(np.int64))
        tables = [_table(seg_idx, n_seg, g) for g in gts64]
        overlap = pixels = 0.0
        for t in tables:
            o, p = _covering_counts(t)
            overlap += o
            pixels += p
        return dict(covering_overlap=overlap, covering_pixels=pixels, pri=_mean_rand_index(tables),
                    vi=_mean_variation_of_information(tables), n_regions=int(labels.max()) + 1)

    thresholds = [regions_only(seg.at(threshold=t).labels) for t in THRESHOLDS]
    picks = {}
    for name, pick in pickers().items():
        n_merges = pick(hierarchy)
        labels = hierarchy.level_labels(hierarchy.cut(n_merges))[0]
        picks[name] = regions_only(labels)
    default = evaluate_segmentation(seg.labels, gts).as_dict()
    default["n_regions"] = seg.n_regions
    out = {"photo": Path(photo).stem, "thresholds": thresholds, "picks": picks, "default": default,
           "finest": hierarchy.n_finest}
    if choose_auto:
        from segshift._hierarchy import auto_scale

        # the level auto_scale takes for every cut and floor, and the scores of each such level
        merges = [[auto_scale(hierarchy, threshold=t, min_regions=f) for f in AUTO_FLOORS] for t in AUTO_CUTS]
        out["auto_grid"] = {"merges": merges, "levels": {
            str(m): regions_only(hierarchy.level_labels(hierarchy.cut(m))[0]) for m in sorted({m for row in merges for m in row})}}
    return out


def pooled(rows: list[dict]) -> dict:
    """One level per photo, scored as BSDS pools them: Covering over all pixels, PRI and VI averaged."""
    overlap = np.array([r["covering_overlap"] for r in rows])
    pixels = np.array([r["covering_pixels"] for r in rows])
    return {"covering": float(overlap.sum() / pixels.sum()), "pri": float(np.mean([r["pri"] for r in rows])),
            "vi": float(np.mean([r["vi"] for r in rows]))}


def summarise_hierarchy(per_photo: list[dict]) -> dict:
    """ODS/OIS over THRESHOLDS and each picker's scores with the share of the ODS -> OIS gap it closes."""
    def table(rows):  # rows: photos x levels of dicts
        ov = np.array([[r["covering_overlap"] for r in row] for row in rows])
        px = np.array([[r["covering_pixels"] for r in row] for row in rows])
        pri = np.array([[r["pri"] for r in row] for row in rows])
        vi = np.array([[r["vi"] for r in row] for row in rows])
        return ov, px, pri, vi

    ov, px, pri, vi = table([e["thresholds"] for e in per_photo])
    cov_t = ov.sum(0) / px.sum(0)
    best_cov = (ov / px).argmax(1)
    rows = np.arange(len(per_photo))
    out = {
        "thresholds": THRESHOLDS,
        "covering_by_threshold": cov_t.tolist(), "pri_by_threshold": pri.mean(0).tolist(),
        "vi_by_threshold": vi.mean(0).tolist(),
        "ods": {"covering": float(cov_t.max()), "covering_threshold": THRESHOLDS[int(cov_t.argmax())],
                "pri": float(pri.mean(0).max()), "pri_threshold": THRESHOLDS[int(pri.mean(0).argmax())],
                "vi": float(vi.mean(0).min()), "vi_threshold": THRESHOLDS[int(vi.mean(0).argmin())]},
        "ois": {"covering": float(ov[rows, best_cov].sum() / px[:, 0].sum()), "pri": float(pri.max(1).mean()),
                "vi": float(vi.min(1).mean())},
        "pickers": {},
    }
    ods, ois = out["ods"], out["ois"]
    for name in per_photo[0]["picks"]:
        scores = pooled([e["picks"][name] for e in per_photo])
        scores["regions"] = float(np.mean([e["picks"][name]["n_regions"] for e in per_photo]))
        scores["gap_closed"] = {
            "covering": (scores["covering"] - ods["covering"]) / (ois["covering"] - ods["covering"]),
            "pri": (scores["pri"] - ods["pri"]) / (ois["pri"] - ods["pri"]),
            "vi": (ods["vi"] - scores["vi"]) / (ods["vi"] - ois["vi"]),
        }
        out["pickers"][name] = scores
    from segshift.evaluate import Scores, aggregate

    fields = set(Scores.__dataclass_fields__)
    d = aggregate({"default": [Scores(**{k: v for k, v in e["default"].items() if k in fields}) for e in per_photo]})
    out["default"] = dict(covering=d.covering_ods, pri=d.pri_ods, vi=d.vi_ods, boundary_f=d.boundary_ods.f,
                          regions=float(np.mean([e["default"]["n_regions"] for e in per_photo])),
                          finest=float(np.mean([e["finest"] for e in per_photo])))
    return out


def choose_auto(per_photo: list[dict]) -> dict:
    """Score every (cut, floor) of AUTO_CUTS x AUTO_FLOORS and pick the best smoothed criterion."""
    from scipy.ndimage import uniform_filter

    shape = (len(AUTO_CUTS), len(AUTO_FLOORS))
    cov, pri, vi = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    grid = [e["auto_grid"] for e in per_photo]
    for i, j in np.ndindex(shape):
        s = pooled([g["levels"][str(g["merges"][i][j])] for g in grid])
        cov[i, j], pri[i, j], vi[i, j] = s["covering"], s["pri"], s["vi"]
    criterion = cov / 0.01 + pri / 0.01 - vi / 0.05
    smoothed = uniform_filter(criterion, size=3, mode="nearest")
    i, j = np.unravel_index(int(np.argmax(smoothed)), shape)
    return {"cuts": AUTO_CUTS, "floors": AUTO_FLOORS, "covering": cov.tolist(), "pri": pri.tolist(),
            "vi": vi.tolist(), "criterion": criterion.tolist(), "smoothed": smoothed.tolist(),
            "chosen": {"threshold": AUTO_CUTS[i], "min_regions": AUTO_FLOORS[j], "covering": float(cov[i, j]),
                       "pri": float(pri[i, j]), "vi": float(vi[i, j]), "smoothed": float(smoothed[i, j])}}


def main_hierarchy(args, photos) -> int:
    options = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.segment or [])}
    tasks = [(str(p), str(args.bsds / "groundTruth" / args.split / f"{p.stem}.mat"), options, args.scale,
              args.choose_auto) for p in photos]
    start = time.perf_counter()
    per_photo = []
    with ProcessPoolExecutor(args.jobs) as pool:
        for i, result in enumerate(pool.map(score_photo_hierarchy, tasks), 1):
            per_photo.append(result)
            print(f"\r{i}/{len(tasks)} photos, {time.perf_counter() - start:.0f} s", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    summary = summarise_hierarchy(per_photo)
    if args.choose_auto:
        summary["auto_grid"] = choose_auto(per_photo)
    args.out.write_text(json.dumps({"split": args.split, "scale": args.scale, "photos": len(per_photo),
                                    "summary": summary, "per_photo": per_photo}, default=str))
    d, ods, ois = summary["default"], summary["ods"], summary["ois"]
    print(f"BSDS500 {args.split}, {len(per_photo)} photos, scale {args.scale:g}, the region hierarchy "
          f"(finest level: {d['finest']:.0f} regions on average)")
    print(f"default (automatic scale): Covering {d['covering']:.3f} PRI {d['pri']:.3f} VI {d['vi']:.2f} "
          f"boundary F {d['boundary_f']:.3f}, {d['regions']:.1f} regions on average")
    print(f"thresholds, ODS: Covering {ods['covering']:.3f} (t={ods['covering_threshold']:g}) "
          f"PRI {ods['pri']:.3f} (t={ods['pri_threshold']:g}) VI {ods['vi']:.2f} (t={ods['vi_threshold']:g})")
    print(f"thresholds, OIS: Covering {ois['covering']:.3f} PRI {ois['pri']:.3f} VI {ois['vi']:.2f}")
    print(f"{'scale picker':<36}{'Cover':>7}{'PRI':>7}{'VI':>7}{'regions':>9}   share of the ODS->OIS gap closed")
    for name, s in summary["pickers"].items():
        g = s["gap_closed"]
        print(f"{name:<36}{s['covering']:>7.3f}{s['pri']:>7.3f}{s['vi']:>7.2f}{s['regions']:>9.1f}   "
              f"Covering {g['covering']:+.2f} PRI {g['pri']:+.2f} VI {g['vi']:+.2f}")
    if args.choose_auto:
        grid = summary["auto_grid"]
        print("Covering / 0.01 + PRI / 0.01 - VI / 0.05 averaged over the neighbours, by cut (rows) and floor:")
        print("cut  " + "".join(f"{f:>7}" for f in grid["floors"]))
        for t, row in zip(grid["cuts"], grid["smoothed"]):
            print(f"{t:<5g}" + "".join(f"{v:>7.2f}" for v in row))
        c = grid["chosen"]
        print(f"chosen for AUTO: threshold={c['threshold']:g}, min_regions={c['min_regions']}: "
              f"Covering {c['covering']:.3f} PRI {c['pri']:.3f} VI {c['vi']:.2f}")
    rows = [["the default (automatic scale)", round(d["covering"], 3), round(d["pri"], 3), round(d["vi"], 2),
             round(d["boundary_f"], 3), round(d["regions"], 1), ""],
            [f"thresholds, ODS (Covering at {ods['covering_threshold']:g}, PRI at {ods['pri_threshold']:g}, "
             f"VI at {ods['vi_threshold']:g})", round(ods["covering"], 3), round(ods["pri"], 3), round(ods["vi"], 2),
             "", "", ""],
            ["thresholds, OIS (best threshold per photo)", round(ois["covering"], 3), round(ois["pri"], 3),
             round(ois["vi"], 2), "", "", ""]]
    for name, p in summary["pickers"].items():
        g = p["gap_closed"]
        rows.append([name, round(p["covering"], 3), round(p["pri"], 3), round(p["vi"], 2), "", round(p["regions"], 1),
                     f"{g['covering']:+.2f} / {g['pri']:+.2f} / {g['vi']:+.2f}"])
    tables = [{"caption": f"BSDS500 {args.split}, {len(per_photo)} photos, photos at {args.scale:g}x; the finest "
                          f"level has {d['finest']:.0f} regions on average",
               "columns": ["", "Covering", "PRI", "VI", "boundary F", "regions", "ODS-to-OIS gap closed: "
                           "Covering / PRI / VI"], "rows": rows}]
    if args.choose_auto:
        c = summary["auto_grid"]["chosen"]
        tables.append({"caption": "the automatic scale's cut and floor chosen by Covering / 0.01 + PRI / 0.01 - "
                                  "VI / 0.05, averaged over the neighbouring cuts and floors",
                       "columns": ["cut", "floor (regions)", "Covering", "PRI", "VI", "criterion"],
                       "rows": [[c["threshold"], c["min_regions"], round(c["covering"], 3), round(c["pri"], 3),
                                 round(c["vi"], 2), round(c["smoothed"], 2)]]})
    record(_record_name(args, "hierarchy"), f"The region hierarchy on BSDS500 {args.split}", tables=tables,
           notes=_target_notes(d) if args.split == "val" else [])
    return 0


# The project's targets for the default on BSDS500 val, and how far a mean over
# 100 photos moves with a small change of method (about its standard error).
TARGETS = {"covering": (">=", 0.58, 0.01), "pri": (">=", 0.81, 0.01), "vi": ("<=", 1.75, 0.05)}


def _target_notes(d: dict) -> list[str]:
    """For each target, whether the default meets it, misses it, or sits within the noise of it."""
    notes = []
    for metric, (sense, goal, noise) in TARGETS.items():
        value = d[metric]
        met = value >= goal if sense == ">=" else value <= goal
        near = abs(value - goal) <= noise
        head = f"{metric}: the default's {value:.3f} against the target {sense} {goal}"
        if near:
            side = "over" if met else "short of"
            notes.append(f"{head} is {side} it by less than the noise of such a figure ({noise}): one run says "
                         "neither that it meets the target nor that it misses it.")
        else:
            notes.append(f"{head}: {'meets' if met else 'misses'} it.")
    return notes


def _record_name(args, kind: str) -> str:
    """docs/benchmarks/ name of a run: the split, the kind, and what differs from the defaults."""
    name = f"tune_bsds_{args.split}_{kind}"
    if args.scale != 1.0:
        name += f"_scale{args.scale:g}"
    if args.limit or args.skip:
        name += f"_photos{args.skip}-{args.skip + (args.limit or 0)}"
    if getattr(args, "choose_auto", False):
        name += "_choose_auto"
    for item in args.segment or []:
        name += "_" + "".join(ch if ch.isalnum() else "-" for ch in item)
    if args.only:
        name += "_only-" + hashlib.sha1("\n".join(args.only).encode()).hexdigest()[:8]
    return name


def summarise(per_photo: list[dict]) -> dict:
    from segshift.evaluate import Scores, aggregate

    fields = set(Scores.__dataclass_fields__)
    by_setting: dict[str, list] = {}
    for entry in per_photo:
        for key, row in entry["scores"].items():
            by_setting.setdefault(key, []).append(Scores(**{k: v for k, v in row.items() if k in fields}))
    table = {}
    for key, rows in by_setting.items():
        single = aggregate({key: rows})
        table[key] = dict(
            covering=single.covering_ods, pri=single.pri_ods, vi=single.vi_ods, boundary_f=single.boundary_ods.f,
            regions=float(np.mean([e["scores"][key]["n_regions"] for e in per_photo])),
        )
    best = aggregate(by_setting)
    summary = best.as_dict()
    for which in ("ods", "ois"):
        counts = getattr(best, f"boundary_{which}")
        summary[f"boundary_{which}"] = dict(precision=counts.precision, recall=counts.recall, f=counts.f)
    return {"settings": table, "ods_ois": summary}


def choose(settings: dict) -> str:
    """The one setting for the defaults: the best mean rank over the three
    region benchmarks (Covering and PRI higher, VI lower), each taken at that
    single setting for the whole split (an ODS choice)."""
    from scipy.stats import rankdata

    keys = list(settings)
    ranks = sum(
        rankdata([sign * settings[k][metric] for k in keys])
        for metric, sign in (("covering", -1), ("pri", -1), ("vi", 1))
    )
    return keys[int(np.argmin(ranks))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bsds", type=Path)
    parser.add_argument("--split", default="train", choices=["train", "val"])
    parser.add_argument("--limit", type=int, default=None, help="first N photos only")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N photos (before --limit)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--only", action="append", default=None,
                        help="score only this setting (as printed, repeatable)")
    parser.add_argument("--grid", default=None, help="JSON object replacing entries of the default grid")
    parser.add_argument("--hierarchy", action="store_true",
                        help="score the defaults' region hierarchy: thresholds (ODS/OIS) and scale pickers")
    parser.add_argument("--choose-auto", action="store_true",
                        help="with --hierarchy: score every cut and floor of the automatic scale and print the best")
    parser.add_argument("--segment", action="append", default=None, metavar="KEY=VALUE",
                        help="with --hierarchy: a segment() argument other than its default (JSON value), "
                             "e.g. range_radius=10; repeatable")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    photos = sorted((args.bsds / "images" / args.split).glob("*.jpg"))[args.skip:]
    photos = photos[: args.limit]
    if args.hierarchy:
        return main_hierarchy(args, photos)
    grids = [dict(GRID, **json.loads(args.grid))] if args.grid else [GRID]
    if args.only:
        grids = []
        for key in args.only:
            s = parse_key(key)
            grids.append({"luv": [s["luv"]], "compat": [s["compat"]], "kernel": [s["kernel"]], "spatial_radius": [s["spatial_radius"]],
                          "range_radius": [s["range_radius"]], "min_fraction": [s["min_fraction"]]})
    tasks = [
        (str(p), str(args.bsds / "groundTruth" / args.split / f"{p.stem}.mat"), grid, args.scale)
        for p in photos for grid in grids
    ]
    start = time.perf_counter()
    merged: dict[str, dict] = {}
    with ProcessPoolExecutor(args.jobs) as pool:
        for i, result in enumerate(pool.map(score_photo, tasks), 1):
            merged.setdefault(result["photo"], {}).update(result["scores"])
            print(f"\r{i}/{len(tasks)} tasks, {time.perf_counter() - start:.0f} s", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    per_photo = [{"photo": k, "scores": v} for k, v in merged.items()]
    summary = summarise(per_photo)
    args.out.write_text(json.dumps({"split": args.split, "scale": args.scale, "photos": len(per_photo),
                                    "summary": summary, "per_photo": per_photo}, default=str))
    print(f"BSDS500 {args.split}, {len(per_photo)} photos, scale {args.scale:g}")
    print(f"{'setting':<66}{'Cover':>7}{'PRI':>7}{'VI':>7}{'BF':>7}{'regions':>9}")
    for key, s in sorted(summary["settings"].items(), key=lambda kv: -kv[1]["covering"]):
        print(f"{key:<66}{s['covering']:>7.3f}{s['pri']:>7.3f}{s['vi']:>7.2f}{s['boundary_f']:>7.3f}{s['regions']:>9.0f}")
    best = choose(summary["settings"])
    b = summary["settings"][best]
    print(f"chosen (best mean rank over Covering, PRI and VI): {best}: Covering {b['covering']:.3f} "
          f"PRI {b['pri']:.3f} VI {b['vi']:.2f} boundary F {b['boundary_f']:.3f}")
    o = summary["ods_ois"]
    for metric in ("covering", "pri", "vi"):
        print(f"{metric:>9} ODS {o[metric + '_ods']:.3f} ({o[metric + '_ods_setting']})  OIS {o[metric + '_ois']:.3f}")
    print(f"boundary F ODS {o['boundary_ods']['f']:.3f} ({o['boundary_ods_setting']})  OIS {o['boundary_ois']['f']:.3f}")
    settings = sorted(summary["settings"].items(), key=lambda kv: -kv[1]["covering"])
    record(_record_name(args, "settings"), f"Mean shift at a fixed scale on BSDS500 {args.split}",
           tables=[{"caption": f"{len(per_photo)} photos at {args.scale:g}x; each setting alone (ODS over one setting)",
                    "columns": ["setting", "Covering", "PRI", "VI", "boundary F", "regions"],
                    "rows": [[k, round(v["covering"], 3), round(v["pri"], 3), round(v["vi"], 2),
                              round(v["boundary_f"], 3), round(v["regions"])] for k, v in settings]},
                   {"caption": "over all the settings: ODS (the best single setting) and OIS (the best per photo)",
                    "columns": ["metric", "ODS", "ODS setting", "OIS"],
                    "rows": [[m, round(o[m + "_ods"], 3), o[m + "_ods_setting"], round(o[m + "_ois"], 3)]
                             for m in ("covering", "pri", "vi")]
                    + [["boundary F", round(o["boundary_ods"]["f"], 3), o["boundary_ods_setting"],
                        round(o["boundary_ois"]["f"], 3)]]}],
           notes=[f"Chosen by the best mean rank over Covering, PRI and VI: {best}."])
    return 0


if __name__ == "__main__":
    sys.exit(main())
