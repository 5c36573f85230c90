"""Per-patch variation: scanner jitter on the input, bolder or thinner strokes on the target."""

from __future__ import annotations

import numpy as np

from training.imageops import gaussian_blur, jpeg, to_uint8


def jitter_input(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """Scanner variation: brightness/contrast/gamma, mild blur, noise, JPEG, 8-bit rounding."""
    if rng.random() < 0.4:  # mild and rare: the ink level in the input tells how dark ink is
        x = np.clip(x * rng.uniform(0.85, 1.08) + rng.uniform(-0.06, 0.04), 0.0, 1.0)
        x = x ** np.exp(rng.uniform(-0.2, 0.2))
    if rng.random() < 0.2:
        x = gaussian_blur(x, rng.uniform(0.3, 0.9))
    if rng.random() < 0.3:
        x = x + rng.normal(0, rng.uniform(0.0, 0.02), x.shape)
    if rng.random() < 0.25:
        return jpeg(x, rng.integers(30, 95))
    return to_uint8(x).astype(np.float32) / 255.0


def stroke_weight(rng: np.random.Generator, clean: np.ndarray) -> np.ndarray:
    """Bolder or thinner strokes (a partial 3x3 min/max filter): new typefaces from the dozen in
    the data, for the synthetic composites only (a real dirty page cannot follow)."""
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(clean, 1, mode="edge"), (3, 3))
    bolder = rng.random() < 0.6
    filtered = windows.min(axis=(-2, -1)) if bolder else windows.max(axis=(-2, -1))
    w = rng.uniform(0.2, 0.7 if bolder else 0.5)
    return ((1 - w) * clean + w * filtered).astype(np.float32)
