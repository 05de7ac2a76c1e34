"""Streamed segmentation (segshift.tiled.segment_streamed) against in memory: time, peak memory, same labels.

Two parts, each writing its section of docs/benchmarks/streamed.json:

``run``: a 12-megapixel photo (images/astronaut.jpg upscaled to 4243 x 2832
with a little noise, written as a tiled TIFF) segmented at the defaults in
memory (``segshift.segment``) and streamed under a memory limit, each in a
fresh process that first segments a small image (kernels loaded from the
cache), then times one run and reports its wall time, resident memory after
the warm-up and its peak (VmHWM). The streamed labels, areas and modes are
compared with the in-memory ones pixel for pixel. ``--huge`` adds a
196-megapixel mosaic of the same photo streamed under 2 GB (no in-memory
run: it would not fit).

``resample``: the compiled pixel-area resize (``segshift._resolution.area_resize``,
which decomposes into strips) against OpenCV's ``INTER_AREA``, which it
replaced, on BSDS500 train photos: the adjusted Rand index between the
labels of the two, and the region scores (Covering, PRI, VI) of each, in
the fast mode at the photos' size (resized to half) and at the defaults on
the photos upscaled 2x and 1.6x (resized to the working resolution: by an
integer and a fractional factor).

    python scripts/bench_streamed.py run --memory-limit 200MB
    python scripts/bench_streamed.py run --memory-limit 200MB --huge
    python scripts/bench_streamed.py resample --photos 10
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "benchmarks" / "streamed.json"
BSDS = Path("/work/shared/data/bsds500")


def rss(field: str = "VmHWM") -> int:
    """A memory figure of this process from /proc (VmHWM: peak resident, VmRSS: now), in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def big_photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """images/astronaut.jpg upscaled (bicubic) to (height, width), with noise of 2 levels, made in bands."""
    import cv2

    from segshift._loader import load_image

    src = np.round(load_image(ROOT / "images" / "astronaut.jpg") * 255).astype(np.uint8)
    out = np.empty((height, width, 3), dtype=np.uint8)
    rng = np.random.default_rng(seed)
    if height * width <= 20_000_000:
        up = cv2.resize(src, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        out[...] = np.clip(np.round(up + rng.normal(0, 2, up.shape)), 0, 255)
        return out
    # a mosaic of upscaled copies (mirrored in turn) for images too large for one resize
    tile = big_photo(min(height, 2832), min(width, 4243), seed)
    for y in range(0, height, tile.shape[0]):
        for x in range(0, width, tile.shape[1]):
            part = tile[:, ::-1] if (x // tile.shape[1]) % 2 else tile
            part = part[::-1] if (y // tile.shape[0]) % 2 else part
            h, w = min(part.shape[0], height - y), min(part.shape[1], width - x)
            out[y:y + h, x:x + w] = part[:h, :w]
    return out


def child(args) -> None:
    """One timed run in this process; prints a JSON line."""
    import segshift
    from segshift import tiled

    warm = np.zeros((200, 300, 3), dtype=np.uint8)
    warm[:, 150:] = (200, 40, 40)
    segshift.segment(warm)
    baseline = rss("VmRSS")
    start = time.perf_counter()
    if args.mode == "memory":
        seg = segshift.segment(args.path, max_pixels=None, start_label=0)  # labels from 0, as streamed
        labels, areas, modes = seg.labels, seg.areas, seg.modes_luv
    else:
        res = tiled.segment_streamed(args.path, memory_limit=args.memory_limit, scratch_dir=args.scratch)
        labels, areas, modes = res.labels, res.areas, res.modes_luv
    seconds = time.perf_counter() - start
    if args.save:
        np.save(args.save, np.asarray(labels))
        np.savez(args.save + ".table.npz", areas=areas, modes=modes)
    print(json.dumps(dict(mode=args.mode, seconds=round(seconds, 2), n_regions=len(areas),
                          rss_after_warmup_mb=round(baseline / 1e6, 1), peak_rss_mb=round(rss() / 1e6, 1))))


def run_child(path, mode, memory_limit, scratch, save) -> dict:
    cmd = [sys.executable, __file__, "child", str(path), mode, "--memory-limit", memory_limit, "--scratch",
           str(scratch)] + (["--save", str(save)] if save else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(args) -> dict:
    import tifffile

    results = {}
    with tempfile.TemporaryDirectory(dir=args.scratch) as tmp:
        tmp = Path(tmp)
        path = tmp / "photo12.tif"
        tifffile.imwrite(path, big_photo(2832, 4243), tile=(256, 256))
        memory = run_child(path, "memory", args.memory_limit, tmp, tmp / "memory.npy")
        streamed = run_child(path, "streamed", args.memory_limit, tmp, tmp / "streamed.npy")
        a, b = np.load(tmp / "memory.npy", mmap_mode="r"), np.load(tmp / "streamed.npy", mmap_mode="r")
        ta, tb = np.load(str(tmp / "memory.npy") + ".table.npz"), np.load(str(tmp / "streamed.npy") + ".table.npz")
        same = bool(np.array_equal(a, b) and np.array_equal(ta["areas"], tb["areas"])
                    and np.array_equal(ta["modes"], tb["modes"]))
        results["photo_12mp"] = dict(shape=[2832, 4243], input="tiled TIFF, 256 x 256 tiles", memory_limit=args.memory_limit,
                                     in_memory=memory, streamed=streamed, identical_labels_areas_modes=same,
                                     time_ratio_streamed_over_memory=round(streamed["seconds"] / memory["seconds"], 2))
        print(json.dumps(results["photo_12mp"]), flush=True)
        for f in tmp.glob("*.npy"):
            f.unlink()
        if args.huge:
            path.unlink()
            side = 14000
            huge = tmp / "photo196.tif"
            image = big_photo(side, side)
            tifffile.imwrite(huge, image, tile=(512, 512), bigtiff=True)
            del image
            streamed = run_child(huge, "streamed", "2GB", tmp, None)
            results["photo_196mp"] = dict(shape=[side, side], input="tiled BigTIFF, 512 x 512 tiles",
                                          memory_limit="2GB", streamed=streamed)
            print(json.dumps(results["photo_196mp"]), flush=True)
    return results


def adjusted_rand(a, b) -> float:
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(np.ravel(a), np.ravel(b)))


def resample_check(args) -> dict:
    import cv2

    import segshift
    from segshift import _resolution as resolution
    from segshift.evaluate import ground_truth
    from segshift.evaluate.regions import (
        mean_variation_of_information,
        probabilistic_rand_index,
        segmentation_covering,
    )
    from segshift._loader import load_image

    compiled = resolution.area_resize

    def opencv(rgb, shape):
        h, w = shape
        return np.ascontiguousarray(cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA), dtype=np.float32)

    def upscale(rgb, factor):
        size = (round(rgb.shape[1] * factor), round(rgb.shape[0] * factor))
        return np.clip(cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC), 0, 1)

    def on_grid(labels, shape):  # each photo pixel takes the label at its centre
        rows = np.minimum(((np.arange(shape[0]) + 0.5) * labels.shape[0] / shape[0]).astype(int), labels.shape[0] - 1)
        cols = np.minimum(((np.arange(shape[1]) + 0.5) * labels.shape[1] / shape[1]).astype(int), labels.shape[1] - 1)
        return labels[np.ix_(rows, cols)]

    photos = sorted((BSDS / "images" / "train").glob("*.jpg"))[: args.photos]
    rows = []
    for photo in photos:
        gts = ground_truth.load_ground_truth(BSDS / "groundTruth" / "train" / (photo.stem + ".mat"))
        rgb = load_image(photo)
        for case, image, options in (
            ("fast, photo size", rgb, dict(speedup="fast")),
            ("defaults, photo upscaled 2x", upscale(rgb, 2.0), {}),
            ("defaults, photo upscaled 1.6x", upscale(rgb, 1.6), {}),
        ):
            labels = {}
            for name, fn in (("opencv", opencv), ("compiled", compiled)):
                resolution.area_resize = fn
                try:
                    seg = segshift.segment(image, **options)
                finally:
                    resolution.area_resize = compiled
                labels[name] = seg.labels
            scores = {}
            for name, lab in labels.items():
                small = on_grid(lab, gts[0].shape)  # the photo's grid
                scores[name] = dict(n_regions=int(lab.max()) + 1, covering=segmentation_covering(small, gts),
                                    pri=probabilistic_rand_index(small, gts), vi=mean_variation_of_information(small, gts))
            rows.append(dict(photo=photo.stem, case=case, ari=adjusted_rand(labels["opencv"], labels["compiled"]),
                             identical=bool(np.array_equal(labels["opencv"], labels["compiled"])), **scores))
            print(json.dumps(rows[-1]), flush=True)
    summary = {}
    for case in sorted({r["case"] for r in rows}):
        part = [r for r in rows if r["case"] == case]
        summary[case] = dict(
            photos=len(part), identical=sum(r["identical"] for r in part),
            ari_mean=round(float(np.mean([r["ari"] for r in part])), 4),
            ari_min=round(float(np.min([r["ari"] for r in part])), 4),
            **{f"{k}_{name}": round(float(np.mean([r[name][k] for r in part])), 4)
               for name in ("opencv", "compiled") for k in ("covering", "pri", "vi", "n_regions")},
        )
    return dict(photos=f"BSDS500 train, the first {len(photos)} by name", summary=summary, per_photo=rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("--memory-limit", default="200MB")
    p.add_argument("--huge", action="store_true")
    p.add_argument("--scratch", default=None)
    c = sub.add_parser("child")
    c.add_argument("path")
    c.add_argument("mode", choices=["memory", "streamed"])
    c.add_argument("--memory-limit", default="200MB")
    c.add_argument("--scratch", default=None)
    c.add_argument("--save", default=None)
    r = sub.add_parser("resample")
    r.add_argument("--photos", type=int, default=10)
    args = parser.parse_args()
    if args.command == "child":
        child(args)
        return
    import segshift

    section = run(args) if args.command == "run" else resample_check(args)
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data[args.command] = dict(
        command="python scripts/bench_streamed.py " + " ".join(sys.argv[1:]),
        machine=dict(platform=platform.platform(), cpus=os.cpu_count(), python=platform.python_version(),
                     numba_threads=int(os.environ.get("NUMBA_NUM_THREADS", "0")) or None),
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        segshift_version=getattr(segshift, "__version__", None), **section)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
