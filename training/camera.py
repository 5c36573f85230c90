"""How a phone or camera captures a page, beyond a flatbed scan: cast shadows with hard and soft
edges, light falling off across the page, book gutters and page edges, small type, defocus and
motion blur; and ink that fades unevenly along a stroke, down to a tenth of the paper's contrast.

Every field here is a multiplicative light field in (0, 1] over the paper, or a transform of the
printed ink; none of it touches the clean target, which says the page is white and its ink dark.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from training.backgrounds import smooth_noise
from training.imageops import gaussian_blur


def cast_shadow(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A hand, a phone or a page curl between the light and the page: a polygon entering from
    an edge, its edge anywhere from hard (1 px) to very soft, its depth 25-75 %."""
    mask = Image.new("F", (w, h), 0.0)
    side = rng.integers(4)
    span = max(h, w)
    start = rng.uniform(-0.2, 1.2, 2) * (w, h)
    points = [tuple(start)]
    for _ in range(int(rng.integers(3, 7))):
        x, y = points[-1]
        points.append((x + rng.normal(0, span / 2), y + rng.normal(0, span / 2)))
    corners = [(-span, -span), (2 * span, -span), (2 * span, 2 * span), (-span, 2 * span)]
    points.append(corners[int(side)])
    ImageDraw.Draw(mask).polygon(points, fill=1.0)
    shade = np.asarray(mask, np.float32)
    soft = rng.choice([rng.uniform(0.3, 1.5), rng.uniform(2, 8), rng.uniform(8, 30)])
    shade = gaussian_blur(shade, soft)
    return 1.0 - rng.uniform(0.25, 0.75) * shade


def light_falloff(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Light falling off across the page from a lamp or window off to one side."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = rng.uniform(-h, 2 * h), rng.uniform(-w, 2 * w)
    d = np.hypot(yy - cy, xx - cx)
    d = (d - d.min()) / max(1.0, d.max() - d.min())
    return 1.0 - rng.uniform(0.1, 0.55) * d ** rng.uniform(0.7, 2.0)


def gutter(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A book's gutter: the page bends into shade along a line near a side."""
    across = rng.random() < 0.7  # a vertical gutter, or a horizontal one
    n = w if across else h
    t = np.arange(n, dtype=np.float32)
    band = np.exp(-np.abs(t - rng.uniform(-0.2, 1.2) * n) / rng.uniform(8, 80))
    band = band[None, :] if across else band[:, None]
    return np.broadcast_to(1.0 - rng.uniform(0.2, 0.65) * band, (h, w)).astype(np.float32)


def beyond_page(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """The desk or scanner lid past the page's edge: a darker, textured surface."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    d = (yy - rng.uniform(0, h)) * np.cos(theta) + (xx - rng.uniform(0, w)) * np.sin(theta)
    outside = gaussian_blur((d > 0).astype(np.float32), rng.uniform(0.5, 2.0))
    surface = rng.uniform(0.05, 0.45) * (1 + 0.2 * smooth_noise(rng, h, w, rng.uniform(3, 30)))
    return (1.0 - outside) + outside * np.clip(surface, 0.02, 1.0)


def camera_light(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """The light field of a photographed page: falloff, then shadows, gutters and edges."""
    field = light_falloff(rng, h, w) * rng.uniform(0.6, 1.0)
    for _ in range(int(rng.integers(0, 3))):
        field *= cast_shadow(rng, h, w)
    if rng.random() < 0.2:
        field *= gutter(rng, h, w)
    if rng.random() < 0.1:
        field *= beyond_page(rng, h, w)
    return np.clip(field, 0.04, 1.0).astype(np.float32)


def fade(rng: np.random.Generator, printed: np.ndarray) -> np.ndarray:
    """Ink faded unevenly along its strokes: darkness times a smooth field that reaches down to
    a tenth of the ink's own darkness in places."""
    h, w = printed.shape
    low = rng.uniform(0.1, 0.6)
    field = 0.5 + 0.5 * np.tanh(smooth_noise(rng, h, w, rng.uniform(6, 60)) * rng.uniform(0.5, 2))
    return printed * (low + (1.0 - low) * field)


def camera_blur(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """Defocus or hand shake: a Gaussian, or a short straight streak."""
    if rng.random() < 0.6:
        return gaussian_blur(x, rng.uniform(0.5, 1.8))
    length = int(rng.integers(2, 7))
    angle = rng.uniform(0, np.pi)
    out = np.zeros_like(x)
    for t in np.linspace(-length / 2, length / 2, length + 1):
        out += np.roll(x, (int(round(t * np.sin(angle))), int(round(t * np.cos(angle)))), (0, 1))
    return out / (length + 1)
