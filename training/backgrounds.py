"""Synthetic paper backgrounds: stains, rings, folds, wrinkles, crumples, shadows, lighting.

A background is a multiplicative transmission field in (0, 1]: dirty = field * ink. The data
reuses about eight scanned backgrounds, so these fields are what keeps a model from learning
them by heart.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from training.imageops import gaussian_blur


def smooth_noise(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Zero-mean, unit-ish noise varying over about `scale` pixels (bicubic-upsampled grid)."""
    gh, gw = int(h / scale) + 4, int(w / scale) + 4
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    big = Image.fromarray(grid, "F").resize((int(gw * scale), int(gh * scale)), Image.BICUBIC)
    y0 = rng.integers(0, max(1, big.height - h - int(scale)) + 1)
    x0 = rng.integers(0, max(1, big.width - w - int(scale)) + 1)
    return np.asarray(big, np.float32)[y0 : y0 + h, x0 : x0 + w]


def _grid(rng: np.random.Generator, h: int, w: int, reach: float):
    """Pixel coordinates of a patch placed at a random spot of a larger virtual page."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return yy, xx, rng.uniform(-reach, h + reach), rng.uniform(-reach, w + reach)


def blotch(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Irregular stain with a soft edge and a darker rim (dried coffee, water marks)."""
    yy, xx, cy, cx = _grid(rng, h, w, 150)
    radius = rng.uniform(15, 160)
    wobble = smooth_noise(rng, h, w, rng.uniform(15, 60)) * radius * rng.uniform(0.1, 0.35)
    d = np.hypot(yy - cy, xx - cx) + wobble - radius  # < 0 inside
    edge = rng.uniform(1.0, 8.0)
    inside = 1.0 / (1.0 + np.exp(np.clip(d / edge, -30, 30)))
    rim = np.exp(-0.5 * (d / rng.uniform(1.5, 6.0)) ** 2) * rng.uniform(0.0, 1.0)
    depth = rng.uniform(0.05, 0.45)
    texture = 1.0 + 0.15 * smooth_noise(rng, h, w, rng.uniform(4, 20))
    return 1.0 - depth * np.clip((inside * rng.uniform(0.2, 1.0) + rim) * texture, 0, 1.5)


def _ring(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Cup ring: a thin partial annulus."""
    yy, xx, cy, cx = _grid(rng, h, w, 120)
    radius = rng.uniform(30, 150)
    d = np.hypot(yy - cy, xx - cx) - radius
    width = rng.uniform(1.5, 8.0)
    angle = np.arctan2(yy - cy, xx - cx)
    arc = 0.5 + 0.5 * np.cos(angle - rng.uniform(-np.pi, np.pi))
    strength = np.clip(arc * rng.uniform(0.6, 2.0), 0, 1)
    return 1.0 - rng.uniform(0.1, 0.5) * strength * np.exp(-0.5 * (d / width) ** 2)


def _fold(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Straight fold or crease: a dark line with light/dark shading on its two sides."""
    yy, xx, cy, cx = _grid(rng, h, w, 0)
    theta = rng.uniform(0, np.pi)
    d = (yy - cy) * np.cos(theta) - (xx - cx) * np.sin(theta)
    line = np.exp(-0.5 * (d / rng.uniform(0.6, 3.0)) ** 2) * rng.uniform(0.05, 0.5)
    side = rng.uniform(3, 40)
    shading = np.tanh(d / side) * np.exp(-np.abs(d) / (3 * side)) * rng.uniform(0.0, 0.15)
    return 1.0 - line + shading


def _wrinkles(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Crumpled paper: embossed shading of a random height field plus its ridge lines."""
    height = smooth_noise(rng, h, w, rng.uniform(8, 40))
    gy, gx = np.gradient(height)
    theta = rng.uniform(0, 2 * np.pi)
    relief = gy * np.cos(theta) + gx * np.sin(theta)
    ridges = np.exp(-0.5 * (smooth_noise(rng, h, w, rng.uniform(10, 40)) / 0.08) ** 2)
    return 1.0 + rng.uniform(0.5, 3.0) * relief - rng.uniform(0.0, 0.2) * ridges


def _crumples(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Crumpled paper with sharp creases: lit facets of a sum of random tent-shaped folds."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = rng.uniform(0, 2 * np.pi)
    shade = np.zeros((h, w), np.float32)
    for _ in range(rng.integers(4, 16)):
        theta = rng.uniform(0, 2 * np.pi)
        nx, ny = np.cos(theta), np.sin(theta)
        d = (xx - rng.uniform(0, w)) * nx + (yy - rng.uniform(0, h)) * ny
        slope = rng.uniform(0.01, 0.08) * np.sign(d)  # slope of a tent: flips at the crease
        shade += slope * (nx * np.cos(light) + ny * np.sin(light))
    return 1.0 + gaussian_blur(shade, rng.uniform(0.3, 1.2))


def _shadow(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Soft shadow over part of the page (a hand, a book edge, a page curl)."""
    yy, xx, cy, cx = _grid(rng, h, w, 60)
    theta = rng.uniform(0, 2 * np.pi)
    d = (yy - cy) * np.cos(theta) + (xx - cx) * np.sin(theta)
    d = d + smooth_noise(rng, h, w, rng.uniform(30, 100)) * rng.uniform(0, 15)
    soft = 1.0 / (1.0 + np.exp(np.clip(-d / rng.uniform(2.0, 40.0), -30, 30)))
    return 1.0 - rng.uniform(0.1, 0.65) * soft


def _gradient(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Uneven lighting: a linear ramp across the patch."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = (yy * np.cos(theta) + xx * np.sin(theta)) / max(h, w)
    return 1.0 - rng.uniform(0, 0.25) * (ramp - ramp.min())


COMPONENTS = {
    "blotch": (blotch, 0.7),
    "ring": (_ring, 0.25),
    "fold": (_fold, 0.35),
    "wrinkles": (_wrinkles, 0.3),
    "crumples": (_crumples, 0.3),
    "shadow": (_shadow, 0.3),
    "gradient": (_gradient, 0.5),
}


def synthetic_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random paper tint times a random subset of stains, folds, wrinkles, shadows, lighting."""
    field = np.full((h, w), rng.uniform(0.6, 1.0), np.float32)
    for make, prob in COMPONENTS.values():
        for _ in range(rng.poisson(prob * 1.5) if make is blotch else int(rng.random() < prob)):
            field *= make(rng, h, w)
    grain = rng.uniform(0, 0.03)
    field *= 1.0 + grain * gaussian_blur(rng.standard_normal((h, w)).astype(np.float32), 0.7)
    return np.clip(field, 0.08, 1.0).astype(np.float32)


def composite(rng: np.random.Generator, clean: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Prints `clean` onto `background` the way the real pairs look: ink slightly lifted and
    softened, then multiplied by the paper (dark ink stays dark under a stain)."""
    ink = gaussian_blur(clean, rng.uniform(0.0, 0.7)) if rng.random() < 0.5 else clean
    floor = rng.uniform(0.0, 0.3)  # the real pairs lift black ink by 0-0.2 of the paper level
    return background * (floor + (1.0 - floor) * ink)
