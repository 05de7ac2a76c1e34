"""Shared fixtures: small synthetic images with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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
