"""Georeferenced segmentation of a large 4-band scene: segmentation, outputs, polygons, peak memory.

Writes a synthetic 4-band uint16 scene (parcels of unequal band ranges with
sensor noise, textured parcels, small objects, a tilted footprint with a
nodata border) as a tiled, compressed UTM GeoTIFF, then in fresh processes:

1. ``segshift.geo.segment_raster`` with a memory limit: the label raster,
   the polygons (GeoPackage) with their band statistics; its seconds split
   into segmentation (mean shift and regions), the other outputs (label
   raster, statistics) and the polygons, the process's peak resident
   memory (VmHWM), and the peak size of its scratch data on disk (polled
   every 0.2 s) beside the size of the outputs;
2. the baseline for polygonising: ``rasterio.features.shapes`` over the
   whole label array (read whole), each polygon made a shapely geometry, in
   a process of its own (its seconds and peak memory).

Each process first runs on a tiny scene so that the compiled kernels are
loaded from the cache. The figures go to docs/benchmarks/geo.json with the
command, the machine and the date.

    python scripts/bench_geo.py --height 3000 --width 3000 --memory-limit 2GB
    # the issue's scene: 196 megapixels in 2 GB (about 5 minutes of segmentation on two quiet cores)
    python scripts/bench_geo.py --height 14000 --width 14000 --memory-limit 2GB
    # the default numerics (compat=None) against EDISON's, 2 runs each on a 1-megapixel scene
    python scripts/bench_geo.py --height 1000 --width 1000 --numerics 2
"""

from __future__ import annotations

import argparse
import contextlib
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


def write_scene(path: Path, height: int, width: int, seed: int = 0) -> int:
    """A 4-band uint16 scene written in strips; returns its valid pixels."""
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(seed)
    base = np.array([600.0, 900.0, 1400.0, 9000.0])  # blue, green, red, NIR: unequal ranges
    cell = 48
    gy, gx = -(-height // cell) + 1, -(-width // cell) + 1
    # parcels: cells of a jittered grid, each with its own cover
    levels = rng.uniform(0.4, 1.8, size=(gy * gx, 4))
    texture = rng.uniform(0.0, 0.08, size=gy * gx)
    jitter_y = rng.integers(-12, 13, size=(gy, gx))
    jitter_x = rng.integers(-12, 13, size=(gy, gx))
    profile = dict(driver="GTiff", width=width, height=height, count=4, dtype="uint16", nodata=0,
                   crs="EPSG:32633", transform=from_origin(400000, 5600000, 10, 10), tiled=True, blockxsize=512,
                   blockysize=512, compress="deflate", BIGTIFF="IF_SAFER")
    valid_total = 0
    rows = 512
    with rasterio.open(path, "w", **profile) as ds:
        for y0 in range(0, height, rows):
            y1 = min(height, y0 + rows)
            yy, xx = np.mgrid[y0:y1, 0:width]
            cy, cx = yy // cell, xx // cell
            shift_y = jitter_y[cy, cx]
            shift_x = jitter_x[cy, cx]
            parcel = ((yy + shift_y) // cell).clip(0, gy - 1) * gx + ((xx + shift_x) // cell).clip(0, gx - 1)
            noise = rng.normal(0.0, 1.0, size=(y1 - y0, width, 4))
            values = levels[parcel] * base * (1.0 + 0.01 * noise + texture[parcel, None] * noise[..., :1])
            values = np.clip(np.round(values), 1, 65535).astype(np.uint16)
            # a tilted footprint: nodata outside
            valid = (xx > 0.08 * width + 0.1 * yy) & (xx < 0.92 * width + 0.1 * (yy - height)) & (yy > 0.02 * height)
            values[~valid] = 0
            valid_total += int(valid.sum())
            ds.write(np.moveaxis(values, -1, 0), window=((y0, y1), (0, width)))
    return valid_total


def count_valid(path: str, height: int, width: int) -> int:
    """The valid pixels of a scene written before (checked to be of the size asked for)."""
    import rasterio

    with rasterio.open(path) as ds:
        if (ds.height, ds.width, ds.count) != (height, width, 4):
            raise SystemExit(f"{path}: a {ds.width}x{ds.height} scene of {ds.count} bands, not {width}x{height} of 4")
        return sum(int(np.count_nonzero(mask)) for _, mask in
                   ((w, ds.dataset_mask(window=w)) for _, w in ds.block_windows(1)))


def peak_rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return -1


def scratch_bytes(folder: str) -> int:
    """Bytes on disk of the scratch folders and temporary files (names starting with a dot) in folder."""
    total = 0
    with os.scandir(folder) as entries:
        hidden = [e.path for e in entries if e.name.startswith(".")]
    for path in hidden:
        for root, _, files in os.walk(path) if os.path.isdir(path) else [(os.path.dirname(path), [],
                                                                            [os.path.basename(path)])]:
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.stat(os.path.join(root, name)).st_blocks * 512
    return total


def child_segment(scene: str, tiny: str, out: str, memory_limit: str) -> dict:
    import threading

    from segshift import geo

    geo.segment_raster(tiny, polygons=os.path.join(out, "tiny.gpkg"), overwrite=True)  # warm-up
    peak = [0]
    done = threading.Event()

    def watch() -> None:  # the scratch's peak on disk, polled
        while not done.wait(0.2):
            peak[0] = max(peak[0], scratch_bytes(out))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.perf_counter()
    result = geo.segment_raster(scene, labels=os.path.join(out, "labels.tif"),
                                polygons=os.path.join(out, "segments.gpkg"), memory_limit=memory_limit,
                                overwrite=True)
    wall = time.perf_counter() - start
    done.set()
    watcher.join()
    outputs = sum(os.path.getsize(os.path.join(out, name)) for name in ("labels.tif", "segments.gpkg"))
    return dict(seconds=result.seconds, wall=round(wall, 3), n_regions=result.n_regions, params=result.params,
                peak_rss=peak_rss(), peak_scratch_bytes=peak[0], output_bytes=outputs)


def child_numerics(scene: str, tiny: str, repeat: int) -> dict:
    """Segmentation seconds (no outputs) with compat=None and EDISON's numerics, alternating, same process."""
    from segshift import geo

    geo.segment_raster(tiny, compat=None)  # warm-up of both kernels' paths
    geo.segment_raster(tiny, compat="edison")
    runs: dict = {"none": [], "edison": []}
    regions = {}
    for _ in range(int(repeat)):
        for name, compat in (("edison", "edison"), ("none", None)):
            result = geo.segment_raster(scene, compat=compat)
            runs[name].append(result.seconds["segment"])
            regions[name] = result.n_regions
    ratios = [e / n for e, n in zip(runs["edison"], runs["none"])]
    return dict(seconds=runs, n_regions=regions, edison_over_none=[round(r, 3) for r in ratios])


def child_baseline(labels_path: str) -> dict:
    import rasterio
    from rasterio.features import shapes
    from shapely.geometry import shape

    start = time.perf_counter()
    with rasterio.open(labels_path) as ds:
        labels = ds.read(1).astype(np.int32)  # shapes takes int32, not uint32
    read = time.perf_counter() - start
    start = time.perf_counter()
    count = 0
    for geom, _ in shapes(labels, mask=labels > 0, connectivity=4, transform=ds.transform):
        shape(geom)
        count += 1
    return dict(read=round(read, 3), shapes=round(time.perf_counter() - start, 3), polygons=count,
                peak_rss=peak_rss())


def run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--width", type=int, default=3000)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "geo.json"))
    parser.add_argument("--numerics", type=int, default=0, metavar="N",
                        help="instead: time the segmentation with compat=None against EDISON's numerics, N runs each "
                        "alternating in one process (figures to docs/benchmarks/geo_numerics.json)")
    parser.add_argument("--scene", metavar="PATH",
                        help="the scene's file: written there when missing, else reused as it is (writing a "
                        "196-megapixel scene takes minutes)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        work = {"segment": child_segment, "baseline": child_baseline, "numerics": child_numerics}[kind]
        print(json.dumps(work(*rest)))
        return
    if args.numerics:
        if args.out == parser.get_default("out"):
            args.out = str(ROOT / "docs" / "benchmarks" / "geo_numerics.json")
        with tempfile.TemporaryDirectory(prefix="bench-geo-") as folder:
            scene, tiny = os.path.join(folder, "scene.tif"), os.path.join(folder, "tiny.tif")
            write_scene(Path(scene), args.height, args.width)
            write_scene(Path(tiny), 96, 128, seed=1)
            figures = {"command": " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
                       "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                       "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
                       "scene": {"height": args.height, "width": args.width, "bands": 4},
                       **run_child("numerics", scene, tiny, str(args.numerics))}
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
        print(json.dumps(figures, indent=2))
        return

    with tempfile.TemporaryDirectory(prefix="bench-geo-") as folder:
        scene = args.scene or os.path.join(folder, "scene.tif")
        tiny = os.path.join(folder, "tiny.tif")
        t0 = time.perf_counter()
        if os.path.exists(scene):
            valid, made = count_valid(scene, args.height, args.width), None
        else:
            valid = write_scene(Path(scene), args.height, args.width)
            made = round(time.perf_counter() - t0, 2)
        write_scene(Path(tiny), 96, 128, seed=1)
        ours = run_child("segment", scene, tiny, folder, args.memory_limit)
        base = run_child("baseline", os.path.join(folder, "labels.tif"))
    seconds = ours["seconds"]
    figures = {
        "command": " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "numba_threads": os.environ.get("NUMBA_NUM_THREADS", "default")},
        "scene": {"height": args.height, "width": args.width, "megapixels": round(args.height * args.width / 1e6, 2),
                  "bands": 4, "dtype": "uint16", "valid_pixels": valid, "seconds_to_write": made},
        "memory_limit": args.memory_limit,
        "segshift": ours,
        "baseline_rasterio_shapes_whole_array": base,
        "ratios": {
            "vectors_over_segmentation": round(seconds["vectors"] / seconds["segment"], 4),
            "vectors_and_outputs_over_segmentation": round((seconds["vectors"] + seconds["outputs"])
                                                           / seconds["segment"], 4),
            "vectors_over_baseline_shapes": round(seconds["vectors"] / max(base["shapes"], 1e-9), 3),
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
