"""Shared fixtures: small synthetic images with known answers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

IMAGES = Path(__file__).resolve().parent.parent / "images"


def block_image(rng: np.random.Generator, sigma: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """A 48x64 image of four flat colour blocks plus Gaussian noise (8-bit units).

    Returns the uint8 image and the true (H, W) block labels.
    """
    truth = np.zeros((48, 64), dtype=np.int32)
    truth[:, 32:] = 1
    truth[24:, :20] = 2
    truth[30:44, 40:58] = 3
    colours = np.array([[200, 60, 50], [40, 110, 190], [60, 160, 70], [235, 210, 80]], dtype=float)
    image = colours[truth] + rng.normal(0.0, sigma, truth.shape + (3,))
    return np.clip(np.round(image), 0, 255).astype(np.uint8), truth


@pytest.fixture
def blocks():
    return block_image(np.random.default_rng(7))


@pytest.fixture
def photo_path():
    return IMAGES / "chelsea.jpg"


PHOTOS = sorted(IMAGES.glob("*.jpg"))


def make_photos(folder: Path, n: int, rng: np.random.Generator, size: tuple[int, int] = (80, 60)) -> list[str]:
    """Write ``n`` crops of the bundled photos under ``folder``; return their relative paths.

    Every fourth goes to ``sub/``, every third is a PNG.
    """
    names = []
    width, height = size
    for i in range(n):
        with Image.open(PHOTOS[i % len(PHOTOS)]) as im:
            x = int(rng.integers(0, im.width - width))
            y = int(rng.integers(0, im.height - height))
            crop = im.convert("RGB").crop((x, y, x + width, y + height))
        rel = f"{'sub/' if i % 4 == 3 else ''}img{i:02d}.{'png' if i % 3 == 0 else 'jpg'}"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        crop.save(folder / rel)
        names.append(rel)
    return names


def cli_taking_ctrl_c(*args: str) -> list[str]:
    """The command line of ``python -m segshift.cli ARGS`` in a process where
    SIGINT raises KeyboardInterrupt, as in a terminal, even when this test
    process inherited SIGINT ignored (a shell starts background jobs so)."""
    import sys

    start = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
             "sys.argv[0] = 'segshift'; runpy.run_module('segshift.cli', run_name='__main__')")
    return [sys.executable, "-c", start, *args]


# --------------------------------------------------------------------------- #
# Headless Chromium (the report and documentation tests)
# --------------------------------------------------------------------------- #

CHROMIUM = os.environ.get("SEGSHIFT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def missing_tool(reason: str) -> None:
    """Skip, or fail where the tools are required (CI sets SEGSHIFT_REQUIRE_BROWSER=1)."""
    if os.environ.get("SEGSHIFT_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium through Playwright, one for the whole session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_tool("the browser tests need Playwright: pip install '.[test]'")
    if not Path(CHROMIUM).is_file():
        missing_tool(f"the browser tests need Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
