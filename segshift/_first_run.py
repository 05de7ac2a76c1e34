"""The first run after an install compiles every kernel the command line can use.

Each setting runs its own specialisations of the kernels, so a run compiles
only what its settings use; left at that, the first run with other settings,
a tiled image or ``evaluate`` would compile again (and say so again).
:func:`compile_once` lets the command line say why a run is slow
(:func:`segshift._compile.compile_notice`) and, once that run's work is done,
compiles every kernel the command line can use (:func:`warm_up_all`), so that
it is the only run that compiles.
"""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._compile import compile_notice
from ._config import NUMBA_CACHE

class Ahead:
    """What :func:`compile_once` yields: set ``wanted = False`` in the block to
    skip the warm-up after it (a run the user interrupted stops at once)."""

    wanted: bool = True


@contextlib.contextmanager
def compile_once(say: Callable[[], None], *, failed: Callable[[Exception], None] | None = None) -> Iterator[Ahead]:
    """Run the block under :func:`compile_notice`; if it compiled anything,
    compile every other kernel the command line can use when it returns
    (:func:`warm_up_all`).

    ``say()`` is called at most once, when numba first starts compiling in
    the block. A run that compiles nothing does nothing more (it costs later
    runs nothing): a run whose kernels were all in the cache while others
    were not (a warm-up that was interrupted, kernels compiled by library
    calls) leaves the warm-up to the first run that compiles. The warm-up
    runs after the block, so that
    the block's own results are complete first, and only when the block
    returns (and ``wanted`` of the :class:`Ahead` it yields is still
    True): an error or an interrupt stops at once. With the disk cache
    off (``SEGSHIFT_NUMBA_CACHE=0``) nothing would last: there is no
    warm-up. An error of the warm-up itself goes to ``failed`` (default:
    raised): the block's work is done by then.
    """
    said: list[bool] = []

    def notice() -> None:
        if not said:
            said.append(True)
            say()

    ahead = Ahead()
    with compile_notice(notice):
        yield ahead
        # at most once a process: after a complete warm-up here, a compilation is
        # of something the warm-up does not reach, which running it again would not
        if said and ahead.wanted and NUMBA_CACHE and not _state["warmed"]:
            try:
                warm_up_all()
            except Exception as exc:
                if failed is None:
                    raise
                failed(exc)


def _photo(height: int, width: int, seed: int) -> NDArray[np.uint8]:
    """A small synthetic photo: four flat quadrants, one bright (EDISON's L > 80
    branch), with a little noise, so that climbs converge in a few steps and
    every stage (fusing, pruning, merging, placement) has something to do."""
    rng = np.random.default_rng(seed)
    image = np.empty((height, width, 3), dtype=np.float64)
    h, w = height // 2, width // 2
    image[:h, :w] = (30, 90, 160)
    image[:h, w:] = (200, 60, 40)
    image[h:, :w] = (245, 245, 235)
    image[h:, w:] = (60, 140, 50)
    image += rng.normal(0.0, 6.0, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _warm_segment() -> None:
    """segment() (and what the CLI and batch write from its result) on every
    path: both scales, every kernel, both numerics, both speedups, both
    resolutions, a relative and an absolute spatial radius, an image above the
    working resolution (resampled, labels placed back) and a thumbnail (as it
    is; with the fast speedup a quarter of the pixels climb)."""
    from . import writers
    from ._segment import segment
    from .params import COMPATS, KERNELS, REGION_COLOURS, RESOLUTIONS, SCALES, SPEEDUPS

    thumbnail = _photo(48, 64, 1)
    photo = _photo(380, 500, 2)  # above 1.1 times the working resolution a side: resampled
    for scale, kernel, compat, speedup, resolution in itertools.product(
        SCALES, KERNELS, COMPATS, SPEEDUPS, RESOLUTIONS
    ):
        setting = {"scale": scale, "kernel": kernel, "compat": compat, "speedup": speedup, "resolution": resolution}
        # with a progress callback (the command line's bar) the filter runs in
        # calls from Python: other specialisations
        for progress in (None, _ignore):
            segment(thumbnail, **setting, progress=progress)
        # the kernel is a run-time value of the same compiled code, and at full
        # resolution a photo runs as the thumbnail does (every pixel of the image)
        if kernel == "uniform" and resolution == "auto":
            segment(photo, **setting, progress=_ignore)
    for scale, colour in itertools.product(SCALES, REGION_COLOURS):
        for radius in ("auto", 5.0):
            seg = segment(thumbnail, scale=scale, spatial_radius=radius, region_colour=colour, min_size=0)
            _encode_all(writers, seg)
    seg = segment(photo, n_regions=3)
    _encode_all(writers, seg)
    _encode_all(writers, seg.at(2))
    # gray and 16-bit inputs are converted to the same float RGB; a gray photo
    # still goes through the loader's own branch
    segment(thumbnail[..., 0])
    segment(thumbnail.astype(np.uint16) * 257)
    # one colour: one region and no borders, where empty arrays take other
    # types (numpy's bincount of nothing is int64) and so other specialisations
    for scale, compat in itertools.product(SCALES, COMPATS):
        _encode_all(writers, segment(np.zeros((10, 12, 3), dtype=np.uint8), scale=scale, compat=compat))
        segment(np.full((1, 1, 3), 255, dtype=np.uint8), scale=scale, compat=compat)


def _ignore(done: int, total: int) -> None:
    """A progress callback that shows nothing."""


def _encode_all(writers: Any, seg: Any) -> None:
    """Every output the CLI and batch write of ``seg``, encoded in memory."""
    for kind, exts in (("modes", (".png", ".jpg")), ("boundaries", (".png",)), ("labels", (".png", ".npy")),
                       ("stats", (".json",)), ("ucm", (".png", ".npy"))):
        if kind == "ucm" and seg.ucm is None:
            continue
        for ext in exts:
            writers.encode_output(kind, seg, ext)


def _library_compats(compats: Iterable[str]) -> list[str | None]:
    """The ``compat`` values as the library's functions take them ("none" is None)."""
    return [None if c == "none" else c for c in compats]


def _warm_tiled(folder: Path) -> None:
    """The paths of files too large for memory: segment() streaming an RGB
    TIFF (both scales), segment_blocks on RGB and multiband TIFFs in several
    blocks and in one, and georeferenced rasters (segshift[geo], when
    installed), with both numerics and every kernel."""
    import tifffile

    from .params import COMPATS, KERNELS
    from .tiled import segment_blocks

    rgb = folder / "rgb.tif"
    tifffile.imwrite(rgb, _photo(100, 150, 3), tile=(64, 64))
    narrow = folder / "narrow.tif"  # one column of blocks: each block spans the image's width
    tifffile.imwrite(narrow, _photo(100, 60, 4))
    flat = folder / "flat.tif"  # one region: no seams, no borders
    tifffile.imwrite(flat, np.zeros((70, 130, 3), dtype=np.uint8), tile=(64, 64))
    bands = folder / "bands.tif"
    values = np.random.default_rng(5).normal(0.0, 0.1, (5, 80, 150)).astype(np.float32)
    values[:, :, 75:] += 1.0
    tifffile.imwrite(bands, values, photometric="minisblack", planarconfig="separate", tile=(64, 64))
    out = folder / "out"
    out.mkdir()
    for k, (kernel, compat) in enumerate(itertools.product(KERNELS, _library_compats(COMPATS))):
        for source in (rgb, narrow, flat, bands):
            for tile_size in (64, None):  # tiled, and whole (a multiband raster that fits in memory)
                labels = out / f"{source.stem}-{k}-{tile_size}.labels.tif"
                modes = out / f"{source.stem}-{k}-{tile_size}.modes.tif"
                table = segment_blocks(source, 5.0, 8.0, 10, kernel=kernel, compat=compat, tile_size=tile_size,
                                       labels_path=labels, modes_path=modes, overwrite=True, progress=_ignore)
                table.as_stats(source=str(source))
    segment_blocks(rgb, 5.0, 8.0, 0.01, labels_path=out / "labels.npy", tile_size=64, overwrite=True)
    from . import writers
    from ._segment import segment
    from .params import SCALES

    for scale, kernel, compat in itertools.product(SCALES, KERNELS, COMPATS):
        for source in (rgb, narrow, flat):
            seg = segment(source, tile_size=64, scale=scale, kernel=kernel, compat=compat, progress=_ignore)
            if kernel == "uniform":
                _encode_all(writers, seg)
    _warm_geo(folder, values)


def _warm_geo(folder: Path, values: NDArray[np.float32]) -> None:
    """A small georeferenced raster through segshift.geo: labels, modes and polygons."""
    from . import geo
    from .params import COMPATS, KERNELS

    if not geo.geo_available():
        return
    import rasterio
    from rasterio.transform import from_origin

    path = folder / "geo.tif"
    with rasterio.open(path, "w", driver="GTiff", width=values.shape[2], height=values.shape[1],
                      count=values.shape[0], dtype="float32", crs="EPSG:32633",
                      transform=from_origin(500000.0, 4500000.0, 10.0, 10.0), nodata=-9999.0) as dst:
        masked = values.copy()
        masked[:, :4, :4] = -9999.0  # nodata pixels are left out
        dst.write(masked)
    for k, (kernel, compat) in enumerate(itertools.product(KERNELS, _library_compats(COMPATS))):
        for tile_size in (64, None):
            stem = folder / f"geo-{k}-{tile_size}"
            geo.segment_raster(path, spatial_radius="30m", range_radius=0.5, min_size="900m2", kernel=kernel,
                               compat=compat, tile_size=tile_size, labels=f"{stem}.labels.tif",
                               modes=f"{stem}.modes.tif", polygons=f"{stem}.gpkg", overwrite=True, progress=_ignore)


def _warm_evaluate(folder: Path) -> None:
    """evaluate (region and boundary scores, UCM contours) and batch, on a
    folder of a photo and an image of one colour, with settings of both
    scales and both numerics."""
    from ._benchmark import evaluate_folder
    from .batch import run_batch
    from .params import COMPATS, SCALES
    from .writers import encode_image

    images, truth = folder / "images", folder / "truth"
    images.mkdir()
    truth.mkdir()
    photo = _photo(60, 80, 6)
    gt = np.ones(photo.shape[:2], dtype=np.uint16)  # 0 would be unlabelled
    gt[30:, :] += 1
    gt[:, 40:] += 2
    for name, image in (("a", photo), ("b", np.zeros_like(photo))):  # b: one colour, one region
        (images / f"{name}.png").write_bytes(encode_image(image, ".png"))
        np.save(truth / f"{name}.npy", gt[None])
    settings = [
        {"spatial_radius": s, "range_radius": r, "min_size": m, "scale": scale, "compat": compat}
        for scale, compat in itertools.product(SCALES, _library_compats(COMPATS))
        for s, r, m in ((None, None, None), (5.0, 6.0, 20))
    ]
    evaluate_folder(images, truth, settings, jobs=1)
    for k, setting in enumerate(settings[::2]):  # the relative radius, with each scale and numerics
        run_batch(images, folder / f"batch{k}", **setting, jobs=1,
                  outputs=("modes", "boundaries", "labels", "ucm", "stats") if setting["scale"] == "auto"
                  else ("modes", "boundaries", "labels", "stats"), labels_format=".npy" if k % 2 else ".png")


#: Whether :func:`warm_up_all` completed in this process.
_state = {"warmed": False}


def warm_up_all() -> bool:
    """Compile (or load) every kernel the command line can use, once.

    Runs tiny inputs through every path ``segshift segment``, ``batch`` and
    ``evaluate`` can take, so that after it the disk cache holds every
    specialisation and no later run compiles anything: :func:`segment` with
    both scales, every kernel, both ``compat`` values, both speedups, both
    resolutions, and the outputs written from its result; the tiled path of
    :func:`segment` streaming a TIFF, :func:`segshift.tiled.segment_blocks` on
    RGB and multiband TIFFs and :func:`segshift.geo.segment_raster` (when
    the geo extra is installed); the
    evaluation's scores and contours; the batch runner. The point-set
    estimator (:mod:`segshift.pointsets`) is not part of the command line
    and is left out.

    Returns
    -------
    bool
        True when numba compiled anything (False: everything came from the
        disk cache, or was loaded already).
    """
    compiled: list[bool] = []
    with compile_notice(lambda: compiled.append(True)), tempfile.TemporaryDirectory(prefix="segshift-warm-") as tmp, \
            _quiet():
        _warm_segment()
        for name, warm in (("tiled", _warm_tiled), ("evaluate", _warm_evaluate)):
            (Path(tmp) / name).mkdir()
            warm(Path(tmp) / name)
    _state["warmed"] = True
    return bool(compiled)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The warm-up's own runs say nothing (their "tiled: ..." lines are not the user's)."""
    import logging

    logger = logging.getLogger("segshift")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
