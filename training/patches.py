"""The training patch sampler: real pairs mixed with clean pages on synthetic backgrounds."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

# tensorflow and training.export (which loads it) are imported in the functions: the sampler
# runs without TensorFlow, and training.train sets TensorFlow's options before it loads.
from training.augment import jitter_input, stroke_weight
from training.backgrounds import composite, synthetic_background
from training.imageops import resize
from training.page_engine import render_page
from training.pages import Page
from training.scan import background, real_backgrounds, scan
from training.text import rendered_pages


@dataclass
class PatchSampler:
    """Random (dirty, clean) training patches of `size` x `size` from whole pages.

    With probability `synthetic` the clean patch is composited onto a synthetic background
    (with probability `stroke` after making its strokes bolder or thinner); otherwise the real
    dirty patch is used, with probability `overlay` darkened further by a synthetic field (e.g. a
    shadow over a real stain). A share `rendered` of the synthetic composites use pages of text
    rendered in other typefaces (`text_pages` of them) instead of the real clean pages. With
    probability `scale` the crop is resampled by 0.8-1.25x (other type sizes; pages themselves
    are never resized). A share `engine` of all patches are synthetic documents from the page
    engine (`training.page_engine`: any type size, weight, ink, marks and pen) scanned onto real,
    procedural or aged paper (`training.scan`), a quarter of them with another page's ink
    showing through from the back. Flips apply to both sides; scanner jitter to the input only.
    Deterministic for a given seed.
    """

    pages: Sequence[Page]
    size: int
    seed: int = 0
    synthetic: float = 0.5
    overlay: float = 0.3
    scale: float = 0.4
    stroke: float = 0.5
    rendered: float = 0.0
    text_pages: int = 64
    engine: float = 0.0
    jitter: bool = True

    def __post_init__(self) -> None:
        small = [p.id for p in self.pages if min(p.dirty.shape) < self.size]
        if small:
            raise ValueError(f"patch size {self.size} exceeds pages {small}")
        self.rng = np.random.default_rng(self.seed)
        side = max(self.size * 2, 256)
        self.text = rendered_pages(self.seed, self.text_pages, side, side) if self.rendered else []
        self.papers = real_backgrounds(self.pages) if self.engine else []
        self.last_printed: np.ndarray | None = None

    def engine_page(self) -> tuple[np.ndarray, np.ndarray]:
        """(dirty, clean): a synthetic document patch, scanned."""
        rng, s = self.rng, self.size
        clean, printed = render_page(rng, s, s)
        verso = self.last_printed if rng.random() < 0.25 else None  # the previous page's ink
        self.last_printed = printed
        return scan(rng, printed, background(rng, s, s, self.papers), verso), clean

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        rng, s = self.rng, self.size
        if self.engine and rng.random() < self.engine:
            dirty, clean = self.engine_page()
            return self._finish(dirty, clean)
        synthetic = rng.random() < self.synthetic
        if synthetic and self.text and rng.random() < self.rendered:
            page = self.text[rng.integers(len(self.text))]
        else:
            page = self.pages[rng.integers(len(self.pages))]
        factor = np.exp(rng.uniform(-0.223, 0.223)) if rng.random() < self.scale else 1.0
        side = min(int(round(s / factor)), *page.dirty.shape)
        y0 = rng.integers(0, page.dirty.shape[0] - side + 1)
        x0 = rng.integers(0, page.dirty.shape[1] - side + 1)
        clean = page.clean[y0 : y0 + side, x0 : x0 + side]
        dirty = page.dirty[y0 : y0 + side, x0 : x0 + side]
        if side != s:
            clean, dirty = resize(clean, s), resize(dirty, s)
        if synthetic:
            if rng.random() < self.stroke:
                clean = stroke_weight(rng, clean)
            dirty = composite(rng, clean, synthetic_background(rng, s, s))
        else:
            if rng.random() < self.overlay:
                dirty = dirty * synthetic_background(rng, s, s)
        return self._finish(dirty, clean)

    def _finish(self, dirty: np.ndarray, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flips of both sides, scanner jitter of the input."""
        rng = self.rng
        if rng.random() < 0.5:
            dirty, clean = dirty[:, ::-1], clean[:, ::-1]
        if rng.random() < 0.5:
            dirty, clean = dirty[::-1], clean[::-1]
        if self.jitter:
            dirty = jitter_input(rng, dirty)
        return dirty.astype(np.float32), np.ascontiguousarray(clean, np.float32)

    def batches(self, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Endless batches shaped [batch, size, size, 1]."""
        while True:
            pairs = [self.sample() for _ in range(batch)]
            yield (
                np.stack([d for d, _ in pairs])[..., None],
                np.stack([c for _, c in pairs])[..., None],
            )


def patch_dataset(sampler: PatchSampler, batch: int, prefetch: int = 4):
    """tf.data pipeline over the sampler: one generator (deterministic order), prefetched so
    patch synthesis overlaps the training step."""
    import tensorflow as tf

    spec = tf.TensorSpec([batch, sampler.size, sampler.size, 1], tf.float32)
    return tf.data.Dataset.from_generator(
        lambda: sampler.batches(batch), output_signature=(spec, spec)
    ).prefetch(prefetch)


def with_teacher(dataset, teacher, weight: float, margin: int = 32):
    """Distillation: each target becomes (1 - weight) * clean + weight * teacher(dirty), clipped
    to [0, 1]. The teacher sees the patch with `margin` mirrored pixels around it, as the export
    pads pages, so its outputs are not spoilt at the patch edges (its size multiple must divide
    the patch side plus twice the margin)."""
    import tensorflow as tf

    from training.export import pad_mirror

    def blend(x, y):
        padded = pad_mirror(x, margin, margin, margin, margin)
        guess = teacher(padded, training=False)
        guess = guess[:, margin : margin + tf.shape(x)[1], margin : margin + tf.shape(x)[2], :]
        return x, (1.0 - weight) * y + weight * tf.clip_by_value(guess, 0.0, 1.0)

    return dataset.map(blend).prefetch(2)
