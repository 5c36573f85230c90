"""Page scores: RMSE (the data set's metric), PSNR, SSIM, false ink, and the worst windows.

False ink is what a reader notices first and RMSE averages away: a dark speck left where the
clean page has no ink (the edge of a removed stain, a fold). Definition, on 8-bit outputs:
a *dark* output pixel is below `DARK` (0.5, i.e. 128/255: clearly visible on white paper);
dark pixels form 8-connected components; a component is false ink when none of its pixels is
within `REACH` pixels (Chebyshev) of *ink* in the clean target, target pixels below `INK`
(0.75: antialiased stroke edges and faint printing count as ink, so a stroke drawn a pixel
too thick is not false ink). Every such component counts once, whatever its size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from training.pages import Page

DARK = 0.5
INK = 0.75
REACH = 1


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - b) ** 2)))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(20 * np.log10(1.0 / max(rmse(a, b), 1e-8)))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM with the standard 11x11 Gaussian window (tf.image.ssim), pixel range [0, 1];
    the window shrinks for images smaller than that."""
    import tensorflow as tf  # only here: the rest of the module serves the quick tier

    pair = [tf.constant(np.asarray(x, np.float32)[..., None]) for x in (a, b)]
    return float(tf.image.ssim(*pair, max_val=1.0, filter_size=min(11, *np.shape(a))))


def false_ink_mask(
    output: np.ndarray, clean: np.ndarray, dark: float = DARK, ink: float = INK,
    reach: int = REACH,
) -> tuple[np.ndarray, int]:
    """(labels of the false-ink components, their number): 0 where there is none."""
    near_ink = ndimage.binary_dilation(clean < ink, np.ones((3, 3), bool), iterations=reach) \
        if reach else clean < ink
    labels, count = ndimage.label(output < dark, np.ones((3, 3), int))
    if count == 0:
        return labels, 0
    touching = np.unique(labels[near_ink & (labels > 0)])
    false = np.ones(count + 1, bool)
    false[0] = False
    false[touching] = False
    renumber = np.cumsum(false) * false  # false components -> 1..n, the rest -> 0
    return renumber[labels], int(false.sum())


def false_ink(output: np.ndarray, clean: np.ndarray, **thresholds: float) -> int:
    """Number of dark components in `output` that touch no ink of `clean` (see module doc)."""
    return false_ink_mask(output, clean, **thresholds)[1]


def score_pages(
    outputs: Sequence[np.ndarray], pages: Sequence[Page], with_ssim: bool = True
) -> dict:
    """Per-page RMSE/PSNR/SSIM/false ink and overall figures; overall RMSE pools every pixel of
    every page (the Kaggle metric), so large pages weigh more."""
    per_page = {
        str(p.id): {"rmse": rmse(y, p.clean), "psnr": psnr(y, p.clean),
                    "ssim": ssim(y, p.clean) if with_ssim else float("nan"),
                    "false_ink": false_ink(y, p.clean)}
        for y, p in zip(outputs, pages, strict=True)
    }
    squared = sum(float(np.sum((np.asarray(y, np.float64) - p.clean) ** 2))
                  for y, p in zip(outputs, pages, strict=True))
    pixels = sum(p.clean.size for p in pages)
    overall = float(np.sqrt(squared / pixels))
    return {
        "rmse": overall,
        "psnr": float(20 * np.log10(1.0 / max(overall, 1e-8))),
        "ssim": float(np.mean([m["ssim"] for m in per_page.values()])),
        "mean_page_rmse": float(np.mean([m["rmse"] for m in per_page.values()])),
        "false_ink": int(sum(m["false_ink"] for m in per_page.values())),
        "false_ink_per_page": float(np.mean([m["false_ink"] for m in per_page.values()])),
        "pages": per_page,
    }


@dataclass(frozen=True)
class Window:
    """A `size` x `size` window of page number `page` (index into the pages) at (y, x)."""

    page: int
    y: int
    x: int
    size: int
    rmse: float


def worst_windows(
    outputs: Sequence[np.ndarray], pages: Sequence[Page], size: int = 64, count: int = 8
) -> list[Window]:
    """The `count` windows with the highest RMSE, none overlapping another, from a grid of
    windows per page (the last row and column shifted inwards to cover the whole page)."""
    found = []
    for index, (y, page) in enumerate(zip(outputs, pages, strict=True)):
        h, w = page.clean.shape
        for top in _starts(h, size):
            for left in _starts(w, size):
                crop = (slice(top, top + size), slice(left, left + size))
                found.append(Window(index, top, left, size, rmse(y[crop], page.clean[crop])))
    chosen: list[Window] = []
    for win in sorted(found, key=lambda win: -win.rmse):
        if len(chosen) == count:
            break
        if not any(_overlap(win, other) for other in chosen):
            chosen.append(win)
    return chosen


def _overlap(a: Window, b: Window) -> bool:
    return a.page == b.page and abs(a.y - b.y) < a.size and abs(a.x - b.x) < a.size


def _starts(n: int, size: int) -> list[int]:
    if n <= size:
        return [0]
    return sorted({*range(0, n - size, size), n - size})
