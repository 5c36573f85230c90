"""The training patch sampler: real pairs mixed with clean pages on synthetic backgrounds."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

# tensorflow and training.export (which loads it) are imported in the functions: the sampler
# runs without TensorFlow, and training.train sets TensorFlow's options before it loads.
from training.augment import jitter_input, stroke_weight
from training.backgrounds import composite, synthetic_background
from training.camera import camera_blur, camera_light, fade
from training.imageops import resize
from training.ink_pages import MappedPage
from training.page_engine import render_page
from training.pages import Page
from training.scan import aged_paper, background, real_backgrounds, scan
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
    procedural or aged paper (`training.scan`), a share `verso` of them with another page's ink
    showing through from the back; a share `camera` of those are photographed instead (small
    type, shadows, falloff, blur: `training.camera`), and a share `faded` have ink fading
    unevenly along its strokes. A share `mapped` of all patches are crops of real degraded pages
    whose targets are ink maps (`ink_pages`; each collection drawn as often, so the many
    pages of one do not decide what faint means), at other scales and exposures, some under a cast
    shadow. Flips apply to both sides; scanner jitter to the input only. Deterministic for a
    given seed.

    `sample` gives (dirty, target, is_map): `is_map` says the target is an ink map (0 ink,
    1 paper; only "dark" and "white" are meant), not a clean gray page.
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
    camera: float = 0.0
    faded: float = 0.0
    ink_pages: Sequence[MappedPage] = ()
    mapped: float = 0.0
    verso: float = 0.25
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
        """(dirty, clean): a synthetic document patch, scanned or photographed."""
        rng, s = self.rng, self.size
        if rng.random() < self.camera:
            return self.camera_page()
        clean, printed = render_page(rng, s, s)
        verso = self.last_printed if rng.random() < self.verso else None  # the last page's ink
        self.last_printed = printed
        if rng.random() < self.faded:
            printed = fade(rng, printed)
        return scan(rng, printed, background(rng, s, s, self.papers), verso), clean

    def camera_page(self) -> tuple[np.ndarray, np.ndarray]:
        """A page photographed from further away: drawn larger, then shrunk, so type is a few
        pixels tall and soft; paper lit unevenly and shadowed, then defocus or shake."""
        rng, s = self.rng, self.size
        shrink = rng.uniform(0.35, 0.9)
        side = int(round(s / shrink))
        clean, printed = render_page(rng, side, side)
        if rng.random() < self.faded * 2:
            printed = fade(rng, printed)
        clean, printed = resize(clean, s), resize(printed, s)
        paper = aged_paper(rng, s, s) if rng.random() < 0.5 else background(rng, s, s, self.papers)
        dirty = scan(rng, printed, paper * camera_light(rng, s, s))
        return np.clip(camera_blur(rng, dirty), 0.0, 1.0), clean

    def mapped_page(self) -> tuple[np.ndarray, np.ndarray]:
        """(dirty, ink map as 0 ink / 1 paper): a crop of a real page at 0.5-1.3x, its exposure
        changed, a third of them under a cast shadow or light falloff."""
        rng, s = self.rng, self.size
        collections = sorted({p.collection for p in self.ink_pages})
        chosen = collections[rng.integers(len(collections))]  # each collection as often
        members = [p for p in self.ink_pages if p.collection == chosen]
        page = members[rng.integers(len(members))]
        factor = np.exp(rng.uniform(np.log(0.5), np.log(1.3))) if rng.random() < 0.6 else 1.0
        side = int(round(s / factor))
        dirty, ink = _pad_to(page.dirty, side), _pad_to(page.ink.astype(np.float32), side)
        y0 = rng.integers(0, dirty.shape[0] - side + 1)
        x0 = rng.integers(0, dirty.shape[1] - side + 1)
        dirty = dirty[y0 : y0 + side, x0 : x0 + side]
        ink = ink[y0 : y0 + side, x0 : x0 + side]
        if side != s:
            dirty, ink = resize(dirty, s), resize(ink, s)
        if rng.random() < 0.5:  # exposure: a darker or brighter capture of the same page
            dirty = np.clip(dirty * rng.uniform(0.55, 1.1), 0, 1) ** np.exp(rng.uniform(-0.3, 0.3))
        if rng.random() < 0.33:
            dirty = dirty * camera_light(rng, s, s)
        return dirty, np.where(ink >= 0.5, 0.0, 1.0).astype(np.float32)

    def sample(self) -> tuple[np.ndarray, np.ndarray, bool]:
        rng, s = self.rng, self.size
        if self.ink_pages and rng.random() < self.mapped:
            return (*self._finish(*self.mapped_page()), True)
        if self.engine and rng.random() < self.engine:
            return (*self._finish(*self.engine_page()), False)
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
        return (*self._finish(dirty, clean), False)

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
        """Endless batches: inputs [batch, size, size, 1], targets [batch, size, size, 2] (the
        target, and 1 where it is an ink map: `ink_map_loss` reads both)."""
        while True:
            samples = [self.sample() for _ in range(batch)]
            targets = np.stack([t for _, t, _ in samples])
            kinds = np.stack([np.full_like(t, float(m)) for _, t, m in samples])
            yield np.stack([d for d, _, _ in samples])[..., None], np.stack([targets, kinds], -1)


def _pad_to(x: np.ndarray, side: int) -> np.ndarray:
    """Mirror-pads a page shorter than `side` (a few real pages are a line or two tall)."""
    extra = [(0, max(0, side - n)) for n in x.shape]
    return np.pad(x, extra, mode="symmetric") if any(e for _, e in extra) else x


def patch_dataset(sampler: PatchSampler, batch: int, prefetch: int = 4):
    """tf.data pipeline over the sampler: one generator (deterministic order), prefetched so
    patch synthesis overlaps the training step."""
    import tensorflow as tf

    spec = tf.TensorSpec([batch, sampler.size, sampler.size, 1], tf.float32)
    target = tf.TensorSpec([batch, sampler.size, sampler.size, 2], tf.float32)
    return tf.data.Dataset.from_generator(
        lambda: sampler.batches(batch), output_signature=(spec, target)
    ).prefetch(prefetch)


def with_teacher(dataset, teacher, weight: float, margin: int = 32):
    """Distillation: each gray target (ink maps stay as they are) becomes
    (1 - weight) * clean + weight * teacher(dirty), clipped to [0, 1]. The teacher sees the
    patch with `margin` mirrored pixels around it, as the export pads pages, so its outputs are
    not spoilt at the patch edges (its size multiple must divide the patch side plus twice the
    margin)."""
    import tensorflow as tf

    from training.export import pad_mirror

    def blend(x, y):
        padded = pad_mirror(x, margin, margin, margin, margin)
        guess = teacher(padded, training=False)
        guess = guess[:, margin : margin + tf.shape(x)[1], margin : margin + tf.shape(x)[2], :]
        target, is_map = y[..., :1], y[..., 1:]
        blended = (1.0 - weight) * target + weight * tf.clip_by_value(guess, 0.0, 1.0)
        return x, tf.concat([tf.where(is_map > 0, target, blended), is_map], -1)

    return dataset.map(blend).prefetch(2)
