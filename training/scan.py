"""How a printed page becomes a dirty scan: print defects, paper, bleed-through, the scanner.

The printed ink darkness from `training.page_engine` goes onto a background (a real NoisyOffice
one, a procedural one, or aged paper and phone-photo light), multiplicatively, as in the real
pairs: dark ink stays dark under a stain, faint ink is faint on any paper.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from training.backgrounds import blotch, smooth_noise, synthetic_background
from training.imageops import gaussian_blur
from training.pages import Page


def real_backgrounds(pages: Sequence[Page]) -> list[np.ndarray]:
    """The paper of each real dirty page without its text: the dirty pixels where the clean page
    is white, and a local maximum of the dirty page (the nearby paper) under the ink."""
    out = []
    for page in pages:
        window = np.lib.stride_tricks.sliding_window_view(
            np.pad(page.dirty, 6, mode="edge"), (13, 13))
        paper = gaussian_blur(window.max(axis=(-2, -1)), 2.0)
        out.append(np.where(page.clean >= 0.98, page.dirty, paper).astype(np.float32))
    return out


def _crop(rng: np.random.Generator, field: np.ndarray, h: int, w: int) -> np.ndarray:
    if field.shape[0] < h or field.shape[1] < w:
        field = np.asarray(Image.fromarray(field, "F").resize(
            (max(w, field.shape[1]), max(h, field.shape[0])), Image.BILINEAR))
    y = rng.integers(0, field.shape[0] - h + 1)
    x = rng.integers(0, field.shape[1] - w + 1)
    return field[y : y + h, x : x + w]


def aged_paper(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Old or photographed paper: a yellowed tint, fibres, foxing spots, strong uneven light."""
    field = np.full((h, w), rng.uniform(0.5, 0.92), np.float32)
    field *= 1.0 + rng.uniform(0.01, 0.06) * smooth_noise(rng, h, w, rng.uniform(1.5, 4.0))
    field *= 1.0 + rng.uniform(0.0, 0.12) * smooth_noise(rng, h, w, rng.uniform(40, 150))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(rng.poisson(2.0)):  # foxing: small soft brown spots
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(2, 14)
        field *= 1.0 - rng.uniform(0.05, 0.3) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2)
                                                        / (2 * r * r))
    if rng.random() < 0.5:  # phone photo: light falling off across the page
        cy, cx = rng.uniform(-h, 2 * h), rng.uniform(-w, 2 * w)
        d = np.hypot(yy - cy, xx - cx) / max(h, w)
        field *= 1.0 - rng.uniform(0.1, 0.5) * np.clip(d / d.max(), 0, 1) ** 2
    return np.clip(field, 0.08, 1.0).astype(np.float32)


def background(rng: np.random.Generator, h: int, w: int,
               real: Sequence[np.ndarray] = ()) -> np.ndarray:
    """A paper field in (0, 1]: real NoisyOffice paper, procedural, or aged paper."""
    r = rng.random()
    if real and r < 0.3:
        field = _crop(rng, real[rng.integers(len(real))], h, w).copy()
        if rng.random() < 0.4:
            field *= blotch(rng, h, w)
        return field
    if r < 0.7:
        return synthetic_background(rng, h, w)
    return np.clip(aged_paper(rng, h, w) * (synthetic_background(rng, h, w)
                                            if rng.random() < 0.5 else 1.0), 0.08, 1.0)


def print_defects(rng: np.random.Generator, printed: np.ndarray) -> np.ndarray:
    """Toner speckle in solids, ink spread or optical blur: the scan's ink is never perfect."""
    if rng.random() < 0.3:
        grain = gaussian_blur(rng.standard_normal(printed.shape).astype(np.float32), 0.7)
        printed = printed * np.clip(1.0 - rng.uniform(0.2, 0.9) * np.maximum(grain, 0), 0, 1)
    if rng.random() < 0.5:
        printed = gaussian_blur(printed, rng.uniform(0.3, 1.2))
    return printed


def scan(rng: np.random.Generator, printed: np.ndarray, paper: np.ndarray,
         verso: np.ndarray | None = None) -> np.ndarray:
    """The dirty page: printed ink on `paper`, with the other side's ink `verso` (printed
    darkness, same shape) showing through when given. Ink is lifted by 0-25 % of the paper
    level, as in the real pairs."""
    printed = print_defects(rng, printed)
    if verso is not None:
        ghost = gaussian_blur(verso[:, ::-1], rng.uniform(0.8, 3.0))
        paper = paper * (1.0 - rng.uniform(0.08, 0.45) * ghost)
    floor = rng.uniform(0.0, 0.25)
    dirty = paper * (1.0 - (1.0 - floor) * printed)
    if rng.random() < 0.15:  # a low-resolution scan, upsampled
        h, w = dirty.shape
        f = rng.uniform(0.4, 0.8)
        small = Image.fromarray(dirty.astype(np.float32), "F").resize(
            (max(8, int(w * f)), max(8, int(h * f))), Image.BILINEAR)
        dirty = np.asarray(small.resize((w, h), Image.BILINEAR))
    return np.clip(dirty, 0.0, 1.0).astype(np.float32)
