"""Screenshots of the two HTML reports for the documentation (docs/report-*.png).

Runs ``segshift batch --report`` on the bundled photos (plus a truncated
copy of one, to show a failure) and ``segshift evaluate --report`` on the
first photos of BSDS500 val over a small sweep, then photographs both pages
in headless Chromium.

    python scripts/make_report_screenshots.py BSDS500_DIR --limit 12
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def shoot(browser, page_file: Path, target: Path, *, width: int, height: int, scroll_to: str | None = None,
          clip_height: int | None = None, scheme: str = "light") -> None:
    page = browser.new_page(viewport={"width": width, "height": height}, color_scheme=scheme)
    page.goto(page_file.as_uri(), wait_until="load")
    page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
    for _ in range(200):
        if page.evaluate("Array.from(document.images).every(i => i.complete)"):
            break
        time.sleep(0.05)
    if scroll_to:
        page.evaluate(f"document.querySelector({scroll_to!r}).scrollIntoView()")
        page.evaluate("window.scrollBy(0, -12)")
    png = page.screenshot(full_page=False, clip=None if clip_height is None else
                          {"x": 0, "y": page.evaluate("window.scrollY"), "width": width, "height": clip_height})
    page.close()
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    image.save(target, optimize=True)
    print(f"{target.relative_to(ROOT)}: {target.stat().st_size / 1e3:.0f} kB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bsds", help="BSDS500 folder (images/val, groundTruth/val)")
    parser.add_argument("--limit", type=int, default=12, help="BSDS500 val photos to evaluate")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="folder of the screenshots")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    from segshift.cli import main as segshift

    out = Path(args.out)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        photos = work / "photos"
        photos.mkdir()
        for photo in sorted((ROOT / "images").glob("*.jpg")):
            shutil.copy(photo, photos / photo.name)
        data = (ROOT / "images" / "coffee.jpg").read_bytes()
        (photos / "coffee-truncated.jpg").write_bytes(data[: len(data) // 3])
        segshift(["batch", str(photos), str(work / "segments"), "--labels", "--jobs", "1", "--report", "-q"])

        bsds = Path(args.bsds)
        segshift(["evaluate", str(bsds / "images" / "val"), str(bsds / "groundTruth" / "val"),
                  "--limit", str(args.limit), "-r", "8,12", "-m", "0.002,0.0065,0.013", "--jobs", "2",
                  "--report", str(work / "evaluation"), "-q"])

        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            batch_page = work / "segments" / "report.html"
            shoot(browser, batch_page, out / "report-batch.png", width=1280, height=1060)
            shoot(browser, batch_page, out / "report-batch-phone.png", width=390, height=844, scheme="dark")
            evaluation = work / "evaluation" / "index.html"
            shoot(browser, evaluation, out / "report-evaluate.png", width=1280, height=1500, scroll_to="#scores")
            shoot(browser, evaluation, out / "report-evaluate-photos.png", width=1280, height=900,
                  scroll_to="#photos")
            browser.close()


if __name__ == "__main__":
    main()
