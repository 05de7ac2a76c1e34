"""Write the outputs of a huge memory-mapped segmentation within a memory limit.

Makes a label map of HEIGHT x WIDTH pixels (default 10000 x 10000, 100
megapixels) as a ``.npy`` memory map of blocky regions, and an image read
row by row from a function (no image is held), then writes the label map
(.png, .tif, .npy), the mode picture (.png, .tif), the boundary overlay
(.png) and the statistics with ``segshift.writers`` under ``--memory-limit``.
For each output it records the seconds, the file's size and the peak of the
allocations Python and NumPy make (tracemalloc; the label map's pages in the
operating system's cache are not the writer's memory), checks a sample of
rows of the file against the label map, and writes the figures to
docs/benchmarks/writers_large.json.

    python scripts/writers_large.py [--size 10000x10000] [--memory-limit 256MB] [--folder /tmp/x]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from segshift import writers
from segshift._segment import Segmentation
from segshift.tiled import parse_memory


def make_labels(path: Path, height: int, width: int, cell: int = 97) -> np.memmap:
    """Regions: cells of ``cell`` pixels, numbered from 0 in raster order."""
    labels = np.lib.format.open_memmap(path, mode="w+", dtype=np.int32, shape=(height, width))
    across = -(-width // cell)
    cols = np.arange(width) // cell
    for y0 in range(0, height, 1000):
        rows = np.arange(y0, min(height, y0 + 1000)) // cell
        labels[y0:y0 + len(rows)] = rows[:, None] * across + cols[None, :]
    labels.flush()
    del labels
    return np.load(path, mmap_mode="r")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="10000x10000", help="HEIGHTxWIDTH")
    parser.add_argument("--memory-limit", default="256MB")
    parser.add_argument("--folder", default=None, help="where the files go (default a temporary folder, removed)")
    parser.add_argument("--json", default=str(Path(__file__).resolve().parent.parent / "docs/benchmarks/writers_large.json"))
    args = parser.parse_args()
    height, width = (int(v) for v in args.size.lower().split("x"))
    limit = parse_memory(args.memory_limit)
    folder = Path(args.folder or tempfile.mkdtemp(prefix="segshift-writers-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        labels = make_labels(folder / "labels_in.npy", height, width)
        n = int(labels[-1, -1]) + 1
        rng = np.random.default_rng(0)
        ramp = np.linspace(0, 1, width, dtype=np.float32)

        def image_rows(y0: int, y1: int) -> np.ndarray:
            rows = np.empty((y1 - y0, width, 3), dtype=np.float32)
            rows[..., 0] = ramp
            rows[..., 1] = (np.arange(y0, y1, dtype=np.float32) / height)[:, None]
            rows[..., 2] = 0.5
            return rows

        seg = Segmentation(labels=labels, modes_luv=np.zeros((n, 3), np.float32),
                           modes_rgb=rng.integers(0, 256, (n, 3), dtype=np.uint8),
                           areas=np.bincount(np.asarray(labels[::1000, ::1000]).ravel(), minlength=n).astype(np.int64),
                           image=np.zeros((0, 0, 3), np.float32))
        runs = []
        plan = [("labels", ".png"), ("labels", ".tif"), ("labels", ".npy"), ("modes", ".png"), ("modes", ".tif"),
                ("boundaries", ".png"), ("stats", ".json")]
        for kind, ext in plan:
            target = folder / f"{kind}{ext}"
            tracemalloc.start()
            start = time.perf_counter()
            if kind == "boundaries":
                writers.write_boundaries(target, labels, image_rows, memory_limit=limit)
            else:
                writers.write_output(kind, target, seg, memory_limit=limit)
            seconds = time.perf_counter() - start
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            check = None
            if kind == "labels":
                sample = slice(0, height, max(1, height // 7))
                if ext == ".npy":
                    got = np.load(target, mmap_mode="r")[sample]
                elif ext == ".tif":
                    import tifffile

                    with tifffile.TiffFile(target) as tif:
                        got = tif.pages[0].asarray()[sample]
                else:
                    got = None
                check = None if got is None else bool(np.array_equal(got, labels[sample]))
            runs.append({"output": f"{kind}{ext}", "seconds": round(seconds, 2), "bytes": target.stat().st_size,
                         "peak_traced_bytes": int(peak), "rows_checked_equal": check})
            print(json.dumps(runs[-1]), flush=True)
            target.unlink()
        report = {
            "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
            "machine": f"{platform.machine()}, {platform.processor() or platform.system()}, "
                       f"{__import__('os').cpu_count()} cores",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "height": height, "width": width, "regions": n, "memory_limit_bytes": limit, "runs": runs,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    finally:
        if args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
