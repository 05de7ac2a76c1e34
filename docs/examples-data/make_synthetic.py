"""Make the gallery's small ground-truth set: synthetic photos with known regions.

Run from the repository root to write them again (the result is the same on
every run: the random draws are seeded)::

    python docs/examples-data/make_synthetic.py

Each scene ``scene_K.png`` (192 x 128 RGB) is a shaded background with
shapes of different colours, one of them striped, blurred and with noise,
as a camera would see them. ``scene_K_gt.npy`` holds two "annotators"
(a ``(2, 128, 192)`` uint8 stack, the layout :func:`segshift.evaluate.load_ground_truth`
reads): the first marks every shape, the second merges the two shapes of
closest colour, as a coarser human would. The regions are known exactly,
so no human data set needs to be bundled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

HERE = Path(__file__).resolve().parent
HEIGHT, WIDTH = 128, 192


def scene(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """An (H, W, 3) uint8 photo and its (2, H, W) uint8 ground truth."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    labels = np.zeros((HEIGHT, WIDTH), np.uint8)
    colours = [rng.uniform(60, 200, 3)]
    shapes = []
    for k in range(1, 5):
        cy, cx = rng.uniform(20, HEIGHT - 20), rng.uniform(25, WIDTH - 25)
        ry, rx = rng.uniform(12, 30), rng.uniform(15, 40)
        if k % 2:
            mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        else:
            mask = (abs(yy - cy) <= ry) & (abs(xx - cx) <= rx)
        labels[mask] = k
        colours.append(rng.uniform(0, 255, 3))
        shapes.append(k)
    # The second annotator sees the two shapes of closest colour as one.
    pairs = [(np.linalg.norm(colours[a] - colours[b]), a, b) for a in shapes for b in shapes if a < b]
    _, a, b = min(pairs)
    coarse = np.where(labels == b, a, labels).astype(np.uint8)
    photo = np.zeros((HEIGHT, WIDTH, 3))
    for k, colour in enumerate(colours):
        photo[labels == k] = colour
    shade = 1.0 + 0.25 * (xx / WIDTH - 0.5)  # light falling across the scene
    photo *= shade[..., None]
    stripes = labels == shapes[-1]
    photo[stripes & ((xx // 3) % 2 == 0)] *= 0.8  # a textured shape
    photo = ndimage.gaussian_filter(photo, sigma=(0.8, 0.8, 0))
    photo += rng.normal(0, 4, photo.shape)
    gt = np.stack([labels, coarse])
    return np.clip(photo, 0, 255).astype(np.uint8), gt.astype(np.uint8)


def main() -> None:
    for seed in range(3):
        photo, gt = scene(seed)
        Image.fromarray(photo).save(HERE / f"scene_{seed}.png")
        np.save(HERE / f"scene_{seed}_gt.npy", gt)


if __name__ == "__main__":
    main()
