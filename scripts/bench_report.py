"""Time the batch report of a large batch: building it, and opening it in Chromium.

Makes a synthetic batch of N inputs in a scratch folder: the photos and
outputs are hard links to a few real segmentations of the bundled photos
(so every card has real thumbnails to make), with one input in 50 failed.
Then it times

- the first build (every thumbnail made) and a second build (all cached);
- the page in headless Chromium: time to DOMContentLoaded and to the load
  event, a re-sort of the whole gallery, and a filter;

and prints the size of the HTML. With ``--bsds``, it times instead what the
evaluation report adds to an evaluation of the first ``--limit`` BSDS500
val photos (it segments the photos it shows again), for one setting and for
six, in the same process.

    python scripts/bench_report.py --n 10000 --scratch /tmp/segshift-report-bench
    python scripts/bench_report.py --bsds ../shared/data/bsds500 --limit 20
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _record import record  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def make_batch(scratch: Path, n: int) -> tuple[Path, Path]:
    from segshift.batch import run_batch

    seeds = scratch / "seeds"
    seed_out = scratch / "seeds-out"
    if not (seed_out / "manifest.json").exists():
        seeds.mkdir(parents=True, exist_ok=True)
        for photo in sorted((ROOT / "images").glob("*.jpg")):
            shutil.copy(photo, seeds / photo.name)
        run_batch(seeds, seed_out, outputs=("modes", "labels"), jobs=1)
    rows = {r["input"]: r for r in json.loads((seed_out / "manifest.json").read_text())}
    names = sorted(rows)
    in_dir, out_dir = scratch / "in", scratch / "out"
    shutil.rmtree(in_dir, ignore_errors=True)
    shutil.rmtree(out_dir, ignore_errors=True)
    in_dir.mkdir()
    out_dir.mkdir()
    manifest = []
    for i in range(n):
        seed = names[i % len(names)]
        name = f"photo{i:05d}.jpg"
        os.link(seeds / seed, in_dir / name)
        if i % 50 == 49:
            manifest.append({"input": name, "outputs": [], "regions": None, "seconds": 0.01, "status": "failed",
                             "error": f"{in_dir / name}: cannot decode image (synthetic failure)"})
            continue
        outputs = []
        for kind, suffix in (("modes", ".png"), ("labels", ".labels.png")):
            src = seed_out / (Path(seed).stem + suffix)
            dst = f"photo{i:05d}{suffix}"
            os.link(src, out_dir / dst)
            outputs.append(dst)
        manifest.append({"input": name, "outputs": outputs, "regions": rows[seed]["regions"],
                         "seconds": round(0.2 + (i * 7919 % 1000) / 1000, 4), "status": "ok", "error": None})
    (out_dir / "manifest.json").write_text(json.dumps(manifest))
    return in_dir, out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10000, help="inputs in the synthetic batch")
    parser.add_argument("--scratch", default="/tmp/segshift-report-bench", help="scratch folder (reused)")
    parser.add_argument("--jobs", type=int, default=None, help="thumbnail threads")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the scratch batch and its thumbnails from an earlier run (times cached builds)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--bsds", help="BSDS500 folder: time the evaluation report instead")
    parser.add_argument("--limit", type=int, default=20, help="BSDS500 val photos (with --bsds)")
    args = parser.parse_args()
    if args.bsds:
        bench_evaluation(Path(args.bsds), args.limit, Path(args.scratch))
        return

    from segshift.report import write_batch_report

    scratch = Path(args.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    if args.reuse and (scratch / "out" / "manifest.json").exists():
        in_dir, out_dir = scratch / "in", scratch / "out"
    else:
        in_dir, out_dir = make_batch(scratch, args.n)
    t0 = time.perf_counter()
    path = write_batch_report(out_dir, in_dir, jobs=args.jobs)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    write_batch_report(out_dir, in_dir, jobs=args.jobs)
    second = time.perf_counter() - t0
    size = path.stat().st_size
    thumbs = sum(1 for _ in (out_dir / ".report").glob("*.jpg"))
    print(f"{args.n} inputs: first build {first:.1f} s ({thumbs} thumbnails{' kept' if args.reuse else ' made'}), "
          f"second build {second:.2f} s (cached); report.html {size / 1e6:.2f} MB "
          f"({size / args.n:.0f} bytes an input)")

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        t0 = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load")
        wall = time.perf_counter() - t0
        timing = page.evaluate(
            "(() => { const t = performance.getEntriesByType('navigation')[0];"
            " return [t.domContentLoadedEventEnd, t.loadEventEnd]; })()"
        )
        images = page.evaluate("document.querySelectorAll('img').length")
        loaded = page.evaluate("Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length")
        # Sorting and filtering all the cards, timed inside the page (events as the controls send them).
        sort = page.evaluate("""() => { const f = document.getElementById('controls'); const t0 = performance.now();
            f.elements.sort.value = 'time-desc'; f.dispatchEvent(new Event('change'));
            document.body.offsetHeight; return performance.now() - t0; }""")
        filt = page.evaluate("""() => { const f = document.getElementById('controls'); const t0 = performance.now();
            f.elements.rmin.value = '10'; f.dispatchEvent(new Event('input'));
            document.body.offsetHeight; return performance.now() - t0; }""")
        shown = page.inner_text("#shown")
        browser.close()
    print(f"Chromium: DOMContentLoaded {timing[0] / 1000:.2f} s, load event {timing[1] / 1000:.2f} s "
          f"(goto {wall:.2f} s); {images} <img> drawn (the first page of cards), {loaded} decoded at load "
          f"(lazy); sort by time {sort:.0f} ms, filter regions >= 10 {filt:.0f} ms ({shown})")
    record("bench_report", f"The batch report of {args.n} inputs",
           tables=[{"caption": "building the report (thumbnails made by the first build unless --reuse) and opening "
                               "it in headless Chromium",
                    "columns": ["inputs", "thumbnails", "first build s", "second build s (cached)", "report.html MB",
                                "bytes an input", "DOMContentLoaded s", "load event s", "sort all by time ms",
                                "filter ms"],
                    "rows": [[args.n, thumbs, round(first, 1), round(second, 2), round(size / 1e6, 2),
                              round(size / args.n), round(timing[0] / 1000, 2), round(timing[1] / 1000, 2),
                              round(sort), round(filt)]]}],
           notes=["The inputs are hard links to the bundled photos with their label maps; one in 50 failed."])


def bench_evaluation(bsds: Path, limit: int, scratch: Path) -> None:
    from segshift._benchmark import evaluate_folder
    from segshift.report import write_evaluation_report

    sweeps = [
        ("1 setting (the defaults)", [{}]),
        ("6 settings", [{"range_radius": r, "min_size": m} for r in (8, 12) for m in (0.002, 0.0065, 0.013)]),
    ]
    rows = []
    for label, settings in sweeps:
        t0 = time.perf_counter()
        result = evaluate_folder(bsds / "images" / "val", bsds / "groundTruth" / "val", settings, limit=limit, jobs=1)
        evaluation = time.perf_counter() - t0
        folder = scratch / "evaluation"
        shutil.rmtree(folder, ignore_errors=True)
        t0 = time.perf_counter()
        write_evaluation_report(result, folder)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_evaluation_report(result, folder)
        again = time.perf_counter() - t0
        print(f"{label}: evaluate {limit} photos {evaluation:.1f} s; report {first:.1f} s "
              f"({first / evaluation:.2f}x the evaluation); again, pictures kept, {again:.1f} s", flush=True)
        rows.append([label, limit, round(evaluation, 1), round(first, 1), f"{first / evaluation:.2f}x", round(again, 1)])
    record("bench_report_evaluation", f"The evaluation report of {limit} BSDS500 val photos",
           tables=[{"caption": "the report segments each photo it shows once more, whatever the number of settings",
                    "columns": ["evaluation", "photos", "evaluation s", "report s", "report / evaluation",
                                "report again, pictures kept, s"], "rows": rows}])


if __name__ == "__main__":
    main()
