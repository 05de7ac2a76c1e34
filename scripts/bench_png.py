"""Speed of segshift's streaming PNG encoder against Pillow's, in one process.

Encodes two 12-megapixel (4000 x 3000) pictures made from a bundled photo:
its mode-colour picture (flat regions, what ``segshift segment -o x.png``
writes) and the photo itself (what a boundary overlay mostly is), with
:func:`segshift.writers.encode_image` and with Pillow at the same zlib level
(6), three times each, and records the best seconds, the sizes and the
ratio segshift / Pillow in docs/benchmarks/bench_png.json.

    python scripts/bench_png.py
"""

from __future__ import annotations

import io
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from segshift import writers


def best(fn, repeat: int = 3) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        size = len(fn())
        times.append(time.perf_counter() - start)
    return min(times), size


def pillow_png(picture: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def main() -> int:
    with Image.open(ROOT / "images" / "chelsea.jpg") as im:
        photo = np.asarray(im.convert("RGB").resize((4000, 3000), Image.BICUBIC))
    # flat regions: the photo quantised to blocks of 50 pixels and 8 levels a channel
    modes = (photo[::50, ::50] // 32 * 32 + 16).repeat(50, 0).repeat(50, 1)[:3000, :4000]
    runs = []
    for name, picture in (("modes", np.ascontiguousarray(modes)), ("photo", photo)):
        ours, our_size = best(lambda p=picture: writers.encode_image(p, ".png"))
        theirs, their_size = best(lambda p=picture: pillow_png(p))
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(writers.encode_image(picture, ".png")))), picture)
        runs.append({"picture": name, "segshift_seconds": round(ours, 3), "pillow_seconds": round(theirs, 3),
                     "ratio": round(ours / theirs, 3), "segshift_bytes": our_size, "pillow_bytes": their_size})
        print(json.dumps(runs[-1]), flush=True)
    report = {
        "command": "python scripts/bench_png.py",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "size": "4000x3000", "runs": runs,
    }
    out = ROOT / "docs" / "benchmarks" / "bench_png.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
