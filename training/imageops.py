"""Small image helpers shared by the sampler, the synthetic backgrounds and evaluation."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def read_gray(path: str | Path) -> np.ndarray:
    """8-bit grayscale image as float32 in [0, 1]."""
    with Image.open(path) as image:
        return np.asarray(image.convert("L"), np.float32) / 255.0


def gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with edge padding (small sigmas; no SciPy needed)."""
    if sigma <= 0:
        return x
    r = max(1, int(3 * sigma + 0.5))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2).astype(np.float32)
    k /= k.sum()
    for axis in (0, 1):
        p = np.pad(x, [(r, r) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        n = x.shape[axis]
        x = sum(
            k[i] * (p[i : i + n] if axis == 0 else p[:, i : i + n]) for i in range(2 * r + 1)
        )
    return x.astype(np.float32)


def jpeg(x: np.ndarray, quality: int) -> np.ndarray:
    """Round trip through JPEG at `quality` (8-bit grayscale)."""
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(x)).save(buffer, "JPEG", quality=int(quality))
    return read_gray(io.BytesIO(buffer.getvalue()))


def to_uint8(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def resize(x: np.ndarray, size: int) -> np.ndarray:
    """Bicubic resampling of a square float patch to size x size, clipped to [0, 1]."""
    image = Image.fromarray(np.ascontiguousarray(x, np.float32), "F")
    return np.clip(np.asarray(image.resize((size, size), Image.BICUBIC)), 0.0, 1.0)
