"""The batch report: a gallery of every input of a batch, built from its manifest and output files."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import statistics
import time
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..errors import OutputError
from .._loader import DEFAULT_MAX_PIXELS
from ..writers import read_manifest, write_atomic
from . import _thumbnails as th
from ._html import folder_url, render, text, url

PathLike = Union[str, "os.PathLike[str]"]

#: File name of the batch report inside the output folder.
BATCH_REPORT = "report.html"

#: Hidden folder beside the report holding its thumbnails.
THUMB_FOLDER = ".report"

_STATUSES = ("ok", "skipped", "failed", "interrupted")
_LABELS = {"p": "photo", "m": "mode colours", "b": "boundaries"}
_CACHE = "index.json"


@dataclass
class _Card:
    """What the report shows of one input."""

    name: str
    status: str
    regions: int | None
    seconds: float | None
    error: str | None
    width: int | None = None
    height: int | None = None
    thumbs: list[dict[str, Any]] = field(default_factory=list)
    href: str | None = None  # the full mode-colour picture, else a picture of the boundaries
    problem: str | None = None  # why a thumbnail is missing


def write_batch_report(
    out_dir: PathLike,
    in_dir: PathLike | None = None,
    *,
    manifest: PathLike | Sequence[Mapping[str, Any]] | None = None,
    path: PathLike | None = None,
    run: Mapping[str, Any] | None = None,
    jobs: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> Path:
    """Write the HTML gallery of a batch: one card per input, with thumbnails, sortable and filterable.

    Everything comes from the manifest and the files on disk, so a report
    written after a resumed run covers the inputs of every earlier run too.
    Thumbnails (photo, mode colours, boundaries; at most
    :data:`~segshift.report._thumbnails.THUMB_SIZE` pixels a side) go to
    ``OUT_DIR/.report/``; a thumbnail newer than the file it shows is kept,
    so rebuilding the report costs only the new files.

    Parameters
    ----------
    out_dir : str or path-like
        The batch's output folder (the outputs named in the manifest are
        relative to it).
    in_dir : str or path-like, optional
        The batch's input folder (the inputs named in the manifest are
        relative to it): the photos' thumbnails and sizes come from there.
        Without it the cards show the outputs only.
    manifest : path-like or sequence of mapping, optional
        The manifest file (``.json`` or ``.csv``) or its records. Default:
        ``OUT_DIR/manifest.json``.
    path : str or path-like, optional
        The report file. Default: ``OUT_DIR/report.html``. Links in it are
        relative, so it must stay in ``OUT_DIR`` for them to work.
    run : mapping, optional
        The run that just ended: ``seconds`` (wall time), ``processed``
        (files segmented or failed), ``jobs``, ``interrupted``; shown in the
        summary, with its photos per second.
    jobs : int, optional
        Threads making thumbnails (default: the CPU cores, at most 8).
    max_pixels : int or None
        Pictures larger than this get no thumbnail.

    Returns
    -------
    pathlib.Path
        The report file.

    Raises
    ------
    OutputError
        The report or a thumbnail folder cannot be written.
    """
    start = time.perf_counter()
    out_root = Path(out_dir)
    in_root = None if in_dir is None else Path(in_dir)
    report_path = out_root / BATCH_REPORT if path is None else Path(path)
    if manifest is None or isinstance(manifest, (str, os.PathLike)):
        manifest_path = out_root / "manifest.json" if manifest is None else Path(manifest)
        rows = read_manifest(manifest_path)
    else:
        rows = [dict(r) for r in manifest]
    rows = [r for r in rows if isinstance(r.get("input"), str)]

    thumb_dir = report_path.parent / THUMB_FOLDER
    try:
        thumb_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{thumb_dir}: cannot create folder ({exc.strerror or exc})") from None
    cache = _read_cache(thumb_dir / _CACHE)
    maker = _CardMaker(out_root, in_root, report_path.parent, thumb_dir, cache, max_pixels)
    workers = jobs if jobs is not None else min(8, os.cpu_count() or 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's warnings on odd files: the card shows what failed
        if workers > 1 and len(rows) > 1:
            with ThreadPoolExecutor(workers) as pool:
                cards = list(pool.map(maker.card, rows))
        else:
            cards = [maker.card(row) for row in rows]
    write_atomic(thumb_dir / _CACHE, json.dumps(maker.new_cache, separators=(",", ":")))
    th.remove_unused(thumb_dir, maker.used)

    html = render(
        "batch.html.j2",
        title=f"segshift batch: {text(out_root.name or str(out_root))}",
        cards=cards,
        rows=[_row(c) for c in cards],
        summary=_summary(cards, run),
        failed=[c for c in cards if c.status == "failed"],
        interrupted=[c for c in cards if c.status == "interrupted"],
        in_dir=None if in_root is None else text(str(in_root)),
        out_dir=text(str(out_root)),
        build_seconds=time.perf_counter() - start,
    )
    write_atomic(report_path, html)
    return report_path


def _read_cache(path: Path) -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return data
    return {}


def _key(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8", "surrogateescape")).hexdigest()[:16]


class _CardMaker:
    """Makes (or reuses) the thumbnails of one manifest row and describes its card."""

    def __init__(
        self,
        out_root: Path,
        in_root: Path | None,
        report_root: Path,
        thumb_dir: Path,
        cache: dict[str, Any],
        max_pixels: int | None,
    ) -> None:
        self.out_root = out_root
        self.in_root = in_root
        self.report_root = report_root
        self.thumb_dir = thumb_dir
        self.cache = cache
        self.new_cache: dict[str, Any] = {}
        self.max_pixels = max_pixels
        self.used: set[str] = set()
        self.thumb_url = url(THUMB_FOLDER)
        # Links are the relative URL of a folder plus the file's relative path (relpath per file is slow).
        self.out_url = folder_url(out_root, report_root)
        self.in_url = None if in_root is None else folder_url(in_root, report_root)

    def _link(self, prefix: str | None, rel: str) -> str | None:
        return None if prefix is None else prefix + url(rel)

    def card(self, row: Mapping[str, Any]) -> _Card:
        name = row["input"]
        status = row.get("status") if row.get("status") in _STATUSES else "failed"
        card = _Card(
            name=name,
            status=status,
            regions=_int(row.get("regions")),
            seconds=_float(row.get("seconds")),
            error=None if row.get("error") is None else str(row.get("error")),
        )
        try:
            self._fill(card, row)
        except Exception as exc:  # noqa: BLE001 - one odd file never stops the report
            card.problem = f"no preview ({type(exc).__name__})"
        return card

    def _fill(self, card: _Card, row: Mapping[str, Any]) -> None:
        key = _key(card.name)
        old = self.cache.get(card.name)
        old = old if isinstance(old, dict) and isinstance(old.get("t"), dict) else {"t": {}}
        entry: dict[str, Any] = {"t": {}}
        outputs = [o for o in row.get("outputs") or [] if isinstance(o, str)]
        kinds: dict[str, Path] = {}  # kind -> output file
        links: dict[Path, str | None] = {}  # output file -> its link
        for out in outputs:
            kind = th.picture_kind(out, card.name)
            path = self.out_root / out
            if kind and kind not in kinds and path.is_file():
                kinds[kind] = path
                links[path] = self._link(self.out_url, out)
        first = kinds.get("modes") or kinds.get("boundaries")
        if first is not None:
            card.href = links[first]
        elif outputs and (self.out_root / outputs[0]).exists():
            card.href = self._link(self.out_url, outputs[0])
        try:
            photo_small = None
            source = None if self.in_root is None else self.in_root / card.name
            if source is not None and source.is_file():
                href = self._link(self.in_url, card.name)
                photo_small = self._photo(card, source, href, key, old, entry)
            if "modes" in kinds:
                self._thumb(card, kinds["modes"], links[kinds["modes"]], key, "m", old, entry)
            edges_from = kinds.get("labels") or kinds.get("modes")
            if edges_from is not None:
                # The thumbnail links to a picture a browser shows: the batch's
                # boundaries picture, else one made here at full size (a label
                # map is 16-bit PNG or .npy: black, or not shown at all).
                shown = kinds.get("boundaries")
                full: Path | None = None
                if shown is not None:
                    href = links[shown]
                else:
                    full = self.thumb_dir / (key + "b.png")
                    href = f"{self.thumb_url}/{url(full.name)}"
                self._boundaries(card, edges_from, href, photo_small, key, old, entry,
                                 full=full, photo=source, modes=kinds.get("modes"))
                if first is None:  # not the label map (or stats) the first output may be
                    card.href = href
            elif "boundaries" in kinds:
                self._thumb(card, kinds["boundaries"], links[kinds["boundaries"]], key, "b", old, entry)
        finally:
            self.new_cache[card.name] = entry

    # -- one thumbnail each ---------------------------------------------- #

    def _add(self, card: _Card, kind: str, file_name: str, size: Any, href: str | None,
             entry: dict[str, Any]) -> None:
        self.used.add(file_name)
        entry["t"][kind] = [int(size[0]), int(size[1])]
        card.thumbs.append({"kind": kind, "src": f"{self.thumb_url}/{file_name}", "w": size[0], "h": size[1],
                            "label": _LABELS[kind], "href": href})

    def _photo(self, card: _Card, source: Path, href: str | None, key: str, old: dict[str, Any],
               entry: dict[str, Any]) -> Any:
        """The photo's thumbnail (made or reused); returns it as a Pillow image when made now."""
        target = self.thumb_dir / (key + "p.jpg")
        stat = source.stat()
        stamp = [stat.st_mtime_ns, stat.st_size]
        if old.get("stamp") == stamp and "p" in old["t"] and old.get("size") and th.fresh(target, source):
            entry.update(stamp=stamp, size=old["size"])
            card.width, card.height = old["size"]
            self._add(card, "p", target.name, old["t"]["p"], href, entry)
            return None  # read from disk only if a boundary thumbnail needs it
        try:
            im, size = th.open_picture(source, max_pixels=self.max_pixels, draft=th.THUMB_SIZE)
        except (OSError, ValueError, SyntaxError, MemoryError):
            if card.status != "failed":  # a failed card's error already says why
                card.problem = "the photo cannot be read"
            return None
        small = th.shrink(th.to_rgb(im))
        th.save_thumbnail(small, target)
        card.width, card.height = size
        entry.update(stamp=stamp, size=list(size))
        self._add(card, "p", target.name, small.size, href, entry)
        return small

    def _thumb(self, card: _Card, source: Path, href: str | None, key: str, kind: str, old: dict[str, Any],
               entry: dict[str, Any]) -> None:
        """A shrunk copy of an output picture (mode colours; boundaries when there is nothing to draw them from)."""
        target = self.thumb_dir / (key + kind + ".jpg")
        if th.fresh(target, source):
            size = old["t"].get(kind) or _jpeg_size(target)
        else:
            im, _ = th.open_picture(source, max_pixels=self.max_pixels)
            size = th.save_thumbnail(th.shrink(th.to_rgb(im)), target)
        self._add(card, kind, target.name, size, href, entry)

    def _boundaries(self, card: _Card, edges_from: Path, href: str | None, small: Any, key: str,
                    old: dict[str, Any], entry: dict[str, Any], *, full: Path | None = None,
                    photo: Path | None = None, modes: Path | None = None) -> None:
        """Region boundaries drawn over the photo's thumbnail, from the label map or the mode colours;
        with ``full``, also at full size into that PNG (over the photo, else the mode colours)."""
        from PIL import Image

        target = self.thumb_dir / (key + "b.jpg")
        photo_thumb = self.thumb_dir / (key + "p.jpg")
        has_photo = "p" in entry["t"]
        full_fresh = full is None or (
            th.fresh(full, edges_from) and all(th.fresh(full, f) for f in (photo, modes) if f and f.is_file())
        )
        if full is not None:
            self.used.add(full.name)
        if (small is None and full_fresh and th.fresh(target, edges_from)
                and (not has_photo or th.fresh(target, photo_thumb))):
            self._add(card, "b", target.name, old["t"].get("b") or _jpeg_size(target), href, entry)
            return
        if th.picture_kind(edges_from.name, Path(card.name).name) == "labels":
            edges = th.label_edges(th.read_labels(edges_from))
        else:
            im, _ = th.open_picture(edges_from, max_pixels=self.max_pixels)
            edges = th.colour_edges(np.asarray(th.to_rgb(im)), th.is_lossy(edges_from))
        if full is not None and not full_fresh:
            drawn = th.draw_edges(self._full_base(edges.shape, photo, modes), edges)
            th.write_cache_file(full, th.encode_png(drawn))
        base = small
        if base is None:
            # No photo made now: the cached photo thumbnail, else the mode colours, else gray.
            fallback = photo_thumb if has_photo else self.thumb_dir / (key + "m.jpg")
            if "p" in entry["t"] or "m" in entry["t"]:
                with Image.open(fallback) as opened:
                    base = opened.convert("RGB")
            else:
                h, w = edges.shape
                scale = min(1.0, th.THUMB_SIZE / max(h, w))
                base = Image.new("RGB", (max(1, round(w * scale)), max(1, round(h * scale))), (128, 128, 128))
        size = th.save_thumbnail(th.overlay_edges(base, edges), target)
        self._add(card, "b", target.name, size, href, entry)

    def _full_base(self, shape: tuple[int, ...], photo: Path | None, modes: Path | None) -> Any:
        """The full-size picture to draw boundaries over: the photo, else the mode colours, else white."""
        from PIL import Image

        for source in (photo, modes):
            if source is None or not source.is_file():
                continue
            with contextlib.suppress(OSError, ValueError, SyntaxError, MemoryError):
                im, _ = th.open_picture(source, max_pixels=self.max_pixels)
                if im.size == (shape[1], shape[0]):
                    return th.to_rgb(im)
        return Image.new("RGB", (shape[1], shape[0]), (255, 255, 255))


def _row(card: _Card) -> list[Any]:
    """A card as the compact row the page's script draws (see templates/batch.html.j2)."""
    return [
        text(card.name), card.status, card.regions, None if card.seconds is None else round(card.seconds, 3),
        card.width, card.height, None if card.error is None else text(card.error), card.problem, card.href,
        [[t["kind"], t["src"], t["href"]] for t in card.thumbs],
    ]


def _jpeg_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.size


def _int(value: Any) -> int | None:
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def _summary(cards: list[_Card], run: Mapping[str, Any] | None) -> dict[str, Any]:
    counts = {s: 0 for s in _STATUSES}
    for c in cards:
        counts[c.status] += 1
    timed = [c.seconds for c in cards if c.seconds is not None and c.status in ("ok", "skipped")]
    regions = [c.regions for c in cards if c.regions is not None]
    total = sum(timed)
    out: dict[str, Any] = {
        "files": len(cards),
        "counts": counts,
        "seconds": total,
        "per_file_rate": len(timed) / total if total > 0 else None,
        "median_regions": statistics.median(regions) if regions else None,
        "max_regions": max(regions) if regions else None,
        "max_seconds": max(timed) if timed else None,
        "run": None,
    }
    if run:
        seconds = float(run.get("seconds") or 0.0)
        processed = int(run.get("processed") or 0)
        out["run"] = {
            "seconds": seconds,
            "processed": processed,
            "jobs": run.get("jobs"),
            "interrupted": bool(run.get("interrupted")),
            "rate": processed / seconds if seconds > 0 and processed else None,
        }
    return out
