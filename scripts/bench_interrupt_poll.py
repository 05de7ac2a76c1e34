"""What polling the Ctrl-C flag costs the mean-shift filter: a same-process ratio.

Compiles a copy of ``_filter_kernels.filter_tiles`` without its poll of
:func:`segshift._interrupt.interrupted` (same source otherwise, same numba
flags) and times both on one image, alternating, REPEATS times each; the
figure is the ratio of the medians (with poll / without). Also times
:func:`segshift._meanshift.filter_image` with a progress callback (its tiles
in about a hundred calls) against without (one call). Writes
docs/benchmarks/interrupt_poll.json with the command, machine and date.

Usage::

    python scripts/bench_interrupt_poll.py [--repeats 5] [--size 360x480]
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import json
import os
import platform
import statistics
import sys
import textwrap
import time
from pathlib import Path

import numba
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from segshift import _filter_kernels as fk
from segshift._config import JIT_PARALLEL
from segshift._loader import load_image, rgb_to_luv
from segshift._meanshift import filter_image


def without_poll():
    """filter_tiles compiled from its own source with the two poll lines taken out."""
    source = textwrap.dedent(inspect.getsource(fk.filter_tiles.py_func))
    lines = source.splitlines()
    kept = []
    skip = 0
    for line in lines:
        if skip:
            skip -= 1
            continue
        if "interrupted()" in line:
            skip = 1  # and the "break" under it
            continue
        if line.strip().startswith("# Ctrl-C"):
            continue
        kept.append(line)
    body = "\n".join(line for line in kept if not line.startswith("@"))
    assert "interrupted" not in body
    namespace = dict(vars(fk))
    # the kernel's own source, less its two poll lines
    exec(compile(body, "<filter_tiles without poll>", "exec"), namespace)  # noqa: S102
    return numba.njit(**dict(JIT_PARALLEL, cache=False))(namespace["filter_tiles"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", default="360x480", help="HxW crop of the bundled astronaut photo, scaled")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "interrupt_poll.json")
    options = parser.parse_args()
    height, width = (int(v) for v in options.size.split("x"))
    with Image.open(ROOT / "images" / "astronaut.jpg") as im:
        rgb = np.asarray(im.convert("RGB").resize((width, height), Image.BICUBIC))
    luv = np.ascontiguousarray(rgb_to_luv(load_image(rgb)), dtype=np.float32)
    plain = without_poll()
    settings = {"exact": (7.0, 6.5, fk.UNIFORM, 0.01, 100, False), "edison": (7.0, 6.5, fk.UNIFORM, 0.01, 100, True)}
    results = {}
    for name, (hs, hr, kernel, eps, max_iter, raw) in settings.items():
        planes, stride, pad = fk.pad_for_filter(luv, hs)
        modes = {"poll": np.empty_like(luv), "no_poll": np.empty_like(luv)}
        tiles = int(fk.filter_tile_count(luv))
        functions = {"poll": fk.filter_tiles, "no_poll": plain}
        times: dict[str, list[float]] = {"poll": [], "no_poll": []}
        with numba.parallel_chunksize(1):
            for key, function in functions.items():  # compile / load, untimed
                function(planes, stride, pad, height, width, hs, hr, kernel, eps, max_iter, raw, 1, 0, 1, modes[key])
            for _ in range(options.repeats):
                for key, function in functions.items():
                    start = time.perf_counter()
                    function(planes, stride, pad, height, width, hs, hr, kernel, eps, max_iter, raw, 1, 0, tiles,
                             modes[key])
                    times[key].append(time.perf_counter() - start)
        assert np.array_equal(modes["poll"], modes["no_poll"])
        results[name] = {
            "seconds_poll": [round(t, 4) for t in times["poll"]],
            "seconds_no_poll": [round(t, 4) for t in times["no_poll"]],
            "ratio_of_medians": round(statistics.median(times["poll"]) / statistics.median(times["no_poll"]), 4),
        }
        print(name, results[name], flush=True)
    # The filter with a progress callback runs its tiles in about a hundred
    # calls (meanshift.PROGRESS_CALLS): what that costs against one call.
    times = {"one_call": [], "progress": []}
    for _ in range(options.repeats):
        for key in times:
            start = time.perf_counter()
            progress = (lambda done, total: None) if key == "progress" else None
            filter_image(luv, 7.0, 6.5, compat="edison", progress=progress)
            times[key].append(time.perf_counter() - start)
    results["progress_calls_vs_one_call"] = {
        "seconds_progress": [round(t, 4) for t in times["progress"]],
        "seconds_one_call": [round(t, 4) for t in times["one_call"]],
        "ratio_of_medians": round(statistics.median(times["progress"]) / statistics.median(times["one_call"]), 4),
    }
    print("progress", results["progress_calls_vs_one_call"], flush=True)
    document = {
        "command": "python scripts/bench_interrupt_poll.py " + " ".join(sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "node": platform.node(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "numba_threads": numba.get_num_threads(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "image": f"astronaut.jpg scaled to {width}x{height}",
        "what": "filter_tiles over the whole image with its per-tile-row poll of the Ctrl-C flag, "
                "and a copy compiled without it (ratio > 1: the poll costs); and filter_image "
                "(EDISON convergence) with a progress callback (about 100 calls) against without (one call)",
        "results": results,
    }
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
