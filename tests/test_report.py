"""HTML reports: built from real batches and evaluations, opened in a real browser (headless Chromium).

The browser tests need Playwright (the ``test`` extra) and Chromium at
``/usr/bin/chromium`` (Debian's ``chromium`` package; another binary can be
named with ``SEGSHIFT_CHROMIUM``); without them they skip and say why.
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import re
import shutil
import threading
import time

import numpy as np
import pytest
from conftest import IMAGES, block_image
from PIL import Image

from segshift.batch import run_batch
from segshift._benchmark import evaluate_folder
from segshift.cli import main
from segshift.report import write_batch_report, write_evaluation_report
from segshift.report._html import url


# Names that would run script if a report put them into its HTML unescaped.
# ("/" cannot be in a file name, so no closing </script>; an opening one would still run.)
HOSTILE = ["<img src=x onerror=window.__pwned=1>.png", "<svg onload=window.__pwned=2>.png",
           "<script>window.__pwned=3;<!--.png"]
# Characters that break links unless percent-encoded.
ODD = "a&b #1?%20 é.png"


# --------------------------------------------------------------------------- #
# Fixtures: one batch, one evaluation, one browser for the module
# --------------------------------------------------------------------------- #


def _photo(rng: np.random.Generator) -> np.ndarray:
    image, _ = block_image(rng, sigma=3.0)
    return image


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """A batch done in two runs: the first without a report, the second (resumed) with ``--report``."""
    root = tmp_path_factory.mktemp("batch")
    in_dir, out_dir = root / "in", root / "out"
    in_dir.mkdir()
    rng = np.random.default_rng(3)
    Image.fromarray(_photo(rng)).save(in_dir / "early.png")
    run_batch(in_dir, out_dir, outputs=("modes", "labels"), jobs=1)  # an earlier run, no report
    shutil.copy(IMAGES / "chelsea.jpg", in_dir / "chelsea.jpg")
    tiles = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)  # many regions
    Image.fromarray(np.repeat(np.repeat(tiles, 8, axis=0), 8, axis=1)).save(in_dir / "tiles.png")
    for name in [*HOSTILE, ODD]:
        Image.fromarray(_photo(rng)).save(in_dir / name)
    (in_dir / "broken.jpg").write_bytes(b"this is not a JPEG")
    code = main(["batch", str(in_dir), str(out_dir), "--labels", "--jobs", "1", "--report", "-q"])
    assert code == 1  # one file failed
    return in_dir, out_dir


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    """An evaluation of four small photos over two settings, one photo with ground truth of the wrong size."""
    root = tmp_path_factory.mktemp("evaluation")
    images, truth = root / "images", root / "truth"
    images.mkdir()
    truth.mkdir()
    rng = np.random.default_rng(11)
    stems = ["p1", "p2", HOSTILE[0][:-4], "wrong"]
    for k, stem in enumerate(stems):
        image, labels = block_image(rng, sigma=4.0 + 6.0 * k)
        Image.fromarray(image).save(images / f"{stem}.png")
        np.save(truth / f"{stem}.npy", labels[:-4] if stem == "wrong" else labels)
    result = evaluate_folder(images, truth, [{"min_size": 20, "range_radius": r} for r in (4.0, 8.0)], jobs=1)
    report = write_evaluation_report(result, root / "report")
    return result, report




class Visit:
    """A page opened in a fresh browser context, with everything it logged and requested."""

    def __init__(self, browser, address: str, *, width: int = 1280, height: int = 900, allowed=("file:", "data:")):
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.context.on("request", lambda r: self.requests.append(r.url))
        self.allowed = allowed
        self.page.goto(address, wait_until="load")

    def load_all_images(self) -> None:
        """Turn off lazy loading and wait until every picture has loaded (or failed)."""
        self.page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
        for _ in range(200):
            if self.page.evaluate("Array.from(document.images).every(i => i.complete)"):
                return
            time.sleep(0.05)
        raise AssertionError("pictures still loading after 10 s")

    def undecoded(self) -> list[str]:
        return self.page.evaluate(
            "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
        )

    def outside(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(self.allowed)]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser):
    opened: list[Visit] = []

    def open_(address: str, **kwargs) -> Visit:
        opened.append(Visit(browser, address, **kwargs))
        return opened[-1]

    yield open_
    for v in opened:
        v.close()


def _rows(html: str) -> list[list]:
    """The cards of a batch report, as the JSON its script draws them from."""
    start = html.index('<script type="application/json" id="cards">') + len('<script type="application/json" id="cards">')
    return json.loads(html[start:html.index("</script>", start)])


def _clean(v: Visit) -> None:
    """No console error, no request leaving the allowed schemes, every picture decoded, no script run."""
    v.load_all_images()
    assert v.errors == []
    assert v.outside() == []
    assert v.undecoded() == []
    assert v.page.evaluate("document.images.length") > 0
    assert v.page.evaluate("window.__pwned === undefined")


# --------------------------------------------------------------------------- #
# The batch report
# --------------------------------------------------------------------------- #


def test_batch_report_covers_every_input_of_a_resumed_run(batch):
    _, out_dir = batch
    manifest = json.loads((out_dir / "manifest.json").read_text())
    statuses = {r["input"]: r["status"] for r in manifest}
    assert statuses["early.png"] == "skipped" and statuses["broken.jpg"] == "failed"
    html = (out_dir / "report.html").read_text(encoding="utf-8")
    assert [r[0] for r in _rows(html)] == [r["input"] for r in manifest] and len(manifest) == 8
    # The file done by the earlier run (without --report) has its three thumbnails too.
    thumbs = sorted(p.name for p in (out_dir / ".report").glob("*.jpg"))
    assert len(thumbs) == 3 * 7  # seven segmented inputs; the broken one has no picture to show
    for name in HOSTILE:
        assert name not in html  # only ever escaped
    assert "\\u003cimg src=x onerror=window.__pwned=1\\u003e.png" in html  # in the cards' JSON
    assert not re.search(r'(src|href)="(?!data:,")([a-z]+:|/)', html)  # relative links only


def test_batch_report_opens_cleanly(batch, visit):
    _, out_dir = batch
    v = visit((out_dir / "report.html").as_uri())
    _clean(v)
    text = v.page.inner_text("body")
    for name in [*HOSTILE, ODD]:
        assert name in text  # shown as text
    failed = v.page.inner_text("#failed")
    assert "broken.jpg" in failed and "not a recognised image file" in failed
    assert v.page.locator("#gallery > li").count() == 8
    assert "8 of 8 shown" in v.page.inner_text("#shown")


def _order(v: Visit, attribute: str) -> list[float]:
    return v.page.evaluate(
        f"Array.from(document.querySelectorAll('#gallery > li')).filter(e => !e.hidden)"
        f".map(e => e.dataset.{attribute} === undefined ? null : +e.dataset.{attribute})"
    )


def test_batch_report_sorts_and_filters(batch, visit):
    _, out_dir = batch
    v = visit((out_dir / "report.html").as_uri())
    v.page.select_option("#f-sort", "regions-desc")
    regions = _order(v, "r")
    known = [r for r in regions if r is not None]
    assert known == sorted(known, reverse=True) and len(set(known)) > 1
    assert regions[len(known):] == [None] * (len(regions) - len(known))  # unknown counts last
    v.page.select_option("#f-sort", "time-asc")
    seconds = [t for t in _order(v, "t") if t is not None]
    assert seconds == sorted(seconds)
    v.page.select_option("#f-sort", "status")
    assert v.page.locator("#gallery > li").first.get_attribute("data-s") == "failed"

    v.page.uncheck("input[name=status][value=ok]")
    v.page.uncheck("input[name=status][value=skipped]")
    assert v.page.evaluate("Array.from(document.querySelectorAll('#gallery > li')).filter(e => !e.hidden)"
                           ".map(e => e.dataset.s)") == ["failed"]
    assert "1 of 8 shown" in v.page.inner_text("#shown")
    v.page.check("input[name=status][value=ok]")
    v.page.check("input[name=status][value=skipped]")
    top = max(r for r in regions if r is not None)
    v.page.fill("input[name=rmin]", str(int(top)))
    assert all(r is not None and r >= top for r in _order(v, "r"))
    v.page.fill("input[name=rmin]", "")
    v.page.fill("input[name=name]", "chelsea")
    assert v.page.evaluate("Array.from(document.querySelectorAll('#gallery > li')).filter(e => !e.hidden).length") == 1


def _variance(png: bytes) -> float:
    return float(np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float).var())


def test_batch_report_screenshot_is_not_blank(batch, visit):
    _, out_dir = batch
    v = visit((out_dir / "report.html").as_uri())
    v.load_all_images()
    assert _variance(v.page.screenshot()) > 200


def test_reports_fit_a_phone_screen(batch, evaluation, visit):
    _, out_dir = batch
    for address in ((out_dir / "report.html").as_uri(), evaluation[1].as_uri()):
        v = visit(address, width=390, height=844)
        v.load_all_images()
        width = v.page.evaluate("document.documentElement.clientWidth")
        assert v.page.evaluate("document.documentElement.scrollWidth") <= width
        # No element sticks out to the right, except inside a box that scrolls (wide tables).
        sticking = v.page.evaluate(
            """w => Array.from(document.querySelectorAll('body *')).filter(e => {
                 if (e.closest('.table-wrap')) return false;
                 const r = e.getBoundingClientRect();
                 return r.width > 0 && r.right > w + 0.5;
               }).map(e => e.tagName + '.' + e.className)""",
            width,
        )
        assert sticking == []


def test_batch_report_from_a_static_web_server(batch, visit):
    _, out_dir = batch
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out_dir.parent))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        origin = f"http://127.0.0.1:{server.server_address[1]}/"
        v = visit(origin + "out/report.html", allowed=(origin, "data:"))
        _clean(v)
        # The photo links reach the input folder through a relative path.
        link = v.page.locator("#gallery a.p").first.get_attribute("href")
        assert link.startswith("../in/")
    finally:
        server.shutdown()
        server.server_close()


def test_thumbnails_are_cached_and_remade_when_older_than_their_source(batch):
    in_dir, out_dir = batch
    thumbs = {p: p.stat().st_mtime_ns for p in (out_dir / ".report").glob("*.jpg")}
    write_batch_report(out_dir, in_dir)
    assert {p: p.stat().st_mtime_ns for p in thumbs} == thumbs
    photo = in_dir / "chelsea.jpg"
    later = time.time() + 5
    os.utime(photo, (later, later))
    write_batch_report(out_dir, in_dir)
    remade = [p.name[-5:] for p in thumbs if p.stat().st_mtime_ns != thumbs[p]]
    assert sorted(remade) == ["b.jpg", "p.jpg"]  # the photo and the boundaries drawn over it


def test_boundaries_from_the_mode_colours_without_label_maps(tmp_path):
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    image, truth = block_image(np.random.default_rng(5), sigma=2.0)
    Image.fromarray(image).save(in_dir / "blocks.png")
    run_batch(in_dir, out_dir, outputs=("modes",), jobs=1)
    write_batch_report(out_dir, in_dir)
    (drawn,) = (out_dir / ".report").glob("*b.jpg")
    (photo,) = (out_dir / ".report").glob("*p.jpg")
    diff = np.abs(np.asarray(Image.open(drawn), dtype=int) - np.asarray(Image.open(photo), dtype=int)).sum(axis=2)
    lines = diff > 50  # where boundaries were drawn over the photo (in red: 55 above the red block)
    assert lines.shape == truth.shape  # a 64x48 photo is its own thumbnail
    # On the edge between the left and right blocks (columns 31|32), and nowhere inside a block.
    assert lines[:, 31:33].any(axis=1).mean() > 0.9
    assert lines[2:22, 2:29].mean() < 0.02 and lines[2:28, 35:62].mean() < 0.02


def _shown(v: Visit, href: str) -> np.ndarray:
    """What Chromium shows of the picture at ``href`` (opened as a page of its own), as RGB pixels."""
    v.page.goto(href, wait_until="load")
    picture = v.page.locator("img")
    assert v.page.evaluate("document.images.length === 1 && document.images[0].naturalWidth > 0"), href
    return np.asarray(Image.open(io.BytesIO(picture.screenshot())).convert("RGB"), dtype=int)


@pytest.mark.parametrize("outputs", [("labels",), ("modes", "labels"), ("modes", "labels", "boundaries")])
def test_the_boundaries_link_opens_a_picture_a_browser_shows(tmp_path, visit, outputs):
    """Clicking the boundaries thumbnail (or, with only label maps, the name) opens a picture that shows
    the boundaries, never the 16-bit label map (black in a browser)."""
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    image, truth = block_image(np.random.default_rng(5), sigma=2.0)
    Image.fromarray(image).save(in_dir / "blocks.png")
    run_batch(in_dir, out_dir, outputs=outputs, jobs=1)
    write_batch_report(out_dir, in_dir)
    v = visit((out_dir / "report.html").as_uri())
    v.load_all_images()
    link = v.page.locator("#gallery a.b").first
    href = v.page.evaluate("a => a.href", link.element_handle())
    name_href = v.page.evaluate("document.querySelector('#gallery .name a').href")
    assert not href.endswith((".labels.png", ".npy")) and not name_href.endswith((".labels.png", ".npy"))
    if "boundaries" in outputs:  # the batch's own picture of the boundaries
        assert href.endswith("/out/blocks.boundaries.png")
    if outputs == ("labels",):  # nothing else to open: the name leads there too
        assert name_href == href

    shown = _shown(v, href)
    assert shown.shape == truth.shape + (3,)  # full size
    # Boundary red (the report's 255, 32, 32; the batch's 255, 0, 0), not the top-left block's 200, 60, 50.
    red = (shown[..., 0] > 235) & (shown[..., 1] < 50) & (shown[..., 2] < 50)
    # Lines on the edge between the left and right blocks (columns 31|32), none inside a block,
    # and the photo (its blocks' colours) around them.
    assert red[:, 31:33].any(axis=1).mean() > 0.9
    assert red[2:22, 2:29].mean() < 0.02 and red[2:28, 35:62].mean() < 0.02
    assert np.abs(shown[32:42, 42:56] - image[32:42, 42:56]).mean() < 12  # inside the yellow block

    # What the label map itself looks like in the same browser: black (why it is not linked).
    assert _shown(v, (out_dir / "blocks.labels.png").as_uri()).max() < 8


def test_batch_report_without_a_manifest_file(tmp_path):
    rows = [{"input": "gone.jpg", "outputs": [], "regions": None, "seconds": 0.1, "status": "failed",
             "error": "gone.jpg: no such file"}]
    path = write_batch_report(tmp_path, None, manifest=rows)
    html = path.read_text(encoding="utf-8")
    assert "gone.jpg: no such file" in html and path.name == "report.html"


def test_url_encodes_every_unsafe_byte():
    assert url("a&b #1?%20 é.png") == "a%26b%20%231%3F%2520%20%C3%A9.png"
    assert url("sub/<x>.png") == "sub/%3Cx%3E.png"
    assert url("bad\udcff.png") == "bad%FF.png"  # a name that is not UTF-8 keeps its bytes


# --------------------------------------------------------------------------- #
# The evaluation report
# --------------------------------------------------------------------------- #


def test_evaluation_report_opens_cleanly(evaluation, visit):
    _, report = evaluation
    v = visit(report.as_uri())
    _clean(v)
    plots = v.page.evaluate("Array.from(document.querySelectorAll('#plots img')).map(i => i.getAttribute('src'))")
    assert plots == ["plots/precision-recall.svg", "plots/per-photo.svg", "plots/sweep.svg"]
    text = v.page.inner_text("body")
    assert HOSTILE[0] in text
    failed = v.page.inner_text("#failed")
    assert "wrong.png" in failed and "ground truth is 64x44" in failed
    # Worst first: the scores of the ranking metric never fall.
    ranks = v.page.evaluate("Array.from(document.querySelectorAll('#ranked > li.card')).map(e => +e.dataset.rank)")
    assert ranks == [1, 2, 3]
    covering = [float(s.split()[1]) for s in v.page.locator("#ranked .scores span:first-child").all_inner_texts()]
    assert covering == sorted(covering)
    # Three pictures a photo: the photo, its segmentation, a human segmentation.
    assert v.page.locator("#ranked .thumbs img").count() == 9
    assert _variance(v.page.screenshot(full_page=True)) > 200


def test_evaluation_report_shows_the_segmentation_that_was_scored(evaluation):
    from segshift import segment
    from segshift.evaluate import evaluate_segmentation, load_ground_truth

    result, _ = evaluation
    best = result.summary.covering_ods_setting
    k = result.names.index(best)
    record = result.scored[0]
    labels = segment(str(result.image_dir / record.image), **result.settings[k]).labels
    again = evaluate_segmentation(labels, load_ground_truth(record.ground_truth))
    assert again == record.scores[k]


def test_evaluation_report_draws_the_contour_curve_when_there_is_one(evaluation, tmp_path):
    result, _ = evaluation
    data = result.as_dict()
    thresholds = np.linspace(0, 1, 11)
    data["contours"] = {
        "thresholds": thresholds.tolist(), "precision": (0.4 + 0.5 * thresholds).tolist(),
        "recall": (0.95 - 0.8 * thresholds).tolist(), "f": [0.6] * 11,
        "ods": {"threshold": 0.5, "precision": 0.65, "recall": 0.55, "f": 0.596},
        "ois": {"precision": 0.7, "recall": 0.6, "f": 0.646}, "ap": 0.61,
    }
    path = write_evaluation_report(data, tmp_path, segment_photos=False)
    html = path.read_text(encoding="utf-8")
    assert "Contours F (UCM)" in html and "AP 0.610" in html and "threshold 0.5" in html
    assert b"contour ODS F=0.596" in (tmp_path / "plots" / "precision-recall.svg").read_bytes()  # the legend
    assert not list((tmp_path / "img").glob("*-seg-*.jpg"))


def test_evaluate_command_writes_a_report_and_keeps_it(evaluation, tmp_path):
    result, _ = evaluation
    out = tmp_path / "rep"
    args = ["evaluate", str(result.image_dir), str(result.gt_dir), "--limit", "2", "--jobs", "1", "-q"]
    assert main([*args, "--report", str(out)]) == 0
    assert (out / "index.html").is_file() and (out / "plots" / "per-photo.svg").is_file()
    assert main([*args, "--report", str(out)]) == 1  # exists: not replaced without --overwrite
    assert main([*args, "--report", str(out), "--overwrite"]) == 0


def test_batch_report_after_ctrl_c(tmp_path, monkeypatch):
    """An interrupted run still rebuilds the report, listing the files it did not reach."""
    from segshift.cli import _batch as cli  # the command whose progress callback stops the run

    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    rng = np.random.default_rng(9)
    for k in range(3):
        Image.fromarray(_photo(rng)).save(in_dir / f"p{k}.png")
    real = cli._Progress.__call__

    def stop_after_first(self, event):
        real(self, event)
        if event.kind == "file":
            raise KeyboardInterrupt

    monkeypatch.setattr(cli._Progress, "__call__", stop_after_first)
    assert main(["batch", str(in_dir), str(out_dir), "--jobs", "1", "--report", "-q"]) == 130
    html = (out_dir / "report.html").read_text(encoding="utf-8")
    assert [r[1] for r in _rows(html)] == ["ok", "interrupted", "interrupted"]
    assert "The last run was interrupted" in html


def test_a_large_gallery_is_drawn_page_by_page(tmp_path, visit):
    rng = np.random.default_rng(4)
    seconds = rng.uniform(0.1, 9.0, size=300).round(3)
    rows = [{"input": f"p{k:03d}.jpg", "outputs": [], "regions": int(k % 17), "seconds": float(t),
             "status": "ok", "error": None} for k, t in enumerate(seconds)]
    path = write_batch_report(tmp_path, None, manifest=rows)
    v = visit(path.as_uri())
    assert v.errors == [] and v.outside() == []
    count = "document.querySelectorAll('#gallery > li').length"
    assert v.page.evaluate(count) == 120  # the first page only
    v.page.evaluate("document.getElementById('more').click()")
    assert v.page.evaluate(count) == 240
    v.page.select_option("#f-sort", "time-desc")  # sorts all 300, then draws the first page again
    assert v.page.evaluate(count) == 120
    assert _order(v, "t")[:3] == sorted(seconds.tolist(), reverse=True)[:3]
    assert "300 of 300 shown" in v.page.inner_text("#shown")
