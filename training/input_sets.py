"""Held-out input sets whose backgrounds training never produced: unseen synthetic backgrounds
and JPEG compression, next to the real scans."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from training.backgrounds import blotch, composite, synthetic_background
from training.camera import camera_blur, camera_light, fade
from training.imageops import jpeg, resize
from training.page_engine import render_page
from training.pages import Page
from training.scan import aged_paper, background, scan


def robustness_pages(pages: Sequence[Page], seed: int = 2024) -> list[Page]:
    """Validation clean pages on synthetic backgrounds drawn from a seed training never uses,
    plus a JPEG round trip: a check on backgrounds that are not in the data."""
    rng = np.random.default_rng(seed)
    out = []
    for page in pages:
        h, w = page.clean.shape
        background = synthetic_background(rng, h, w)
        for _ in range(2):  # full pages are larger than patches: more than one stain
            background *= blotch(rng, h, w)
        dirty = composite(rng, page.clean, background)
        out.append(Page(page.id, jpeg(dirty, rng.integers(40, 80)), page.clean))
    return out


def jpeg_pages(pages: Sequence[Page], quality: int = 40) -> list[Page]:
    """The real dirty pages after a JPEG round trip at `quality` (phone/scanner compression)."""
    return [Page(p.id, jpeg(p.dirty, quality), p.clean) for p in pages]


def input_sets(pages: Sequence[Page], seed: int) -> dict[str, list[Page]]:
    """The real pages, plus two checks on inputs whose backgrounds are not in the data."""
    return {
        "real": list(pages),
        "synthetic_unseen": robustness_pages(pages, seed=seed),
        "jpeg_q40": jpeg_pages(pages, quality=40),
    }


def document_pages(seed: int, n: int = 24, h: int = 420, w: int = 540) -> list[Page]:
    """`n` synthetic documents from the page engine, scanned onto procedural or aged paper, from
    a seed training never uses (ids -1, -2, ...): type sizes, weights, faint ink and solid marks
    that the real pages do not have."""
    rng = np.random.default_rng([seed, 11])
    pages = []
    for i in range(n):
        clean, printed = render_page(rng, h, w)
        verso = render_page(rng, h, w)[1] if i % 4 == 3 else None
        dirty = scan(rng, printed, background(rng, h, w), verso)
        pages.append(Page(-1 - i, jpeg(dirty, 90) if i % 3 == 2 else dirty, clean))
    return pages


def camera_pages(seed: int, n: int = 24, side: int = 512) -> list[Page]:
    """`n` synthetic photographed pages (ids -101, -102, ...): type drawn large and shrunk to a
    few pixels, faded ink on half of them, aged or stained paper under falloff, cast shadows,
    gutters and page edges, defocus or shake, JPEG; from a seed training never uses."""
    rng = np.random.default_rng([seed, 13])
    pages = []
    for i in range(n):
        big = int(side / rng.uniform(0.35, 0.9))
        clean, printed = render_page(rng, big, big)
        if i % 2:
            printed = fade(rng, printed)
        clean, printed = resize(clean, side), resize(printed, side)
        paper = aged_paper(rng, side, side) if i % 3 else background(rng, side, side)
        dirty = camera_blur(rng, scan(rng, printed, paper * camera_light(rng, side, side)))
        pages.append(Page(-101 - i, jpeg(np.clip(dirty, 0, 1), rng.integers(60, 92)), clean))
    return pages
