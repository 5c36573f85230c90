"""Denoisers as functions float32 [B, H, W, 1] -> same shape in 8-bit steps: the simple
baselines, a Keras model with the export's page logic, and an exported SavedModel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

# tensorflow is imported in the functions that run it: training.calibrate's quick-tier tests
# import this module.
from training.imageops import to_uint8
from training.pages import Page

Denoiser = Callable[[np.ndarray], np.ndarray]  # float32 [B, H, W, 1] -> same shape, 8-bit steps


def do_nothing(x: np.ndarray) -> np.ndarray:
    return x


def median_filter(page: np.ndarray, size: int) -> np.ndarray:
    """Median over a size x size window (mirror edges), numpy only."""
    r = size // 2
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(page, r, mode="symmetric"),
                                                       (size, size))
    return np.median(windows.reshape(*page.shape, -1), axis=-1)


def median_subtract(x: np.ndarray, size: int = 21) -> np.ndarray:
    """Median-filter background subtraction: the page minus its local median, on white."""
    out = np.stack([np.clip(p - median_filter(p, size) + 1.0, 0, 1) for p in x[..., 0]])
    return to_uint8(out[..., None]) / np.float32(255.0)


def median_threshold(x: np.ndarray, size: int = 11, threshold: float = 0.1) -> np.ndarray:
    """A stronger variant: a pixel clearly darker than the local median is ink and kept as is,
    everything else becomes white paper."""
    out = np.stack([np.where(p < median_filter(p, size) - threshold, p, 1.0) for p in x[..., 0]])
    return out[..., None].astype(np.float32)


def keras_denoiser(model, *, multiple: int, margin: int) -> Denoiser:
    """The export's page logic in numpy around a Keras model (used for validation while
    training): mirror margin, pad to the multiple, run, crop, clip and round to 8 bit."""
    import tensorflow as tf

    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def run(x: np.ndarray) -> np.ndarray:
        h, w = x.shape[1:3]
        extra_h = -(h + 2 * margin) % multiple
        extra_w = -(w + 2 * margin) % multiple
        padded = np.pad(
            x, [(0, 0), (margin, margin + extra_h), (margin, margin + extra_w), (0, 0)],
            mode="symmetric",
        )
        y = forward(tf.constant(padded, tf.float32)).numpy()
        return to_uint8(y[:, margin : margin + h, margin : margin + w]) / np.float32(255.0)

    return run


def saved_model_denoiser(path: str | Path) -> Denoiser:
    """The exported `denoise` signature of a SavedModel version folder."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures["denoise"]

    def run(x: np.ndarray) -> np.ndarray:
        y = signature(images=tf.constant(x, tf.float32))["clean"].numpy()
        return to_uint8(y) / np.float32(255.0)  # the graph already rounds; keep the dtype exact

    run.loaded = loaded  # keep the restored object alive with its functions
    return run


def denoise_pages(denoiser: Denoiser, pages: Sequence[Page]) -> list[np.ndarray]:
    """Runs pages through a denoiser one at a time (pages differ in size), returns [H, W]."""
    return [denoiser(p.dirty[None, ..., None])[0, ..., 0] for p in pages]
