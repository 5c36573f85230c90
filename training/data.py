"""Dirty/clean page pairs, the fixed block split, and the training patch sampler.

Everything works at native resolution (no page is resized). The sampler mixes real pairs with
clean pages composited onto synthetic backgrounds (stains, rings, folds, wrinkles, shadows,
tints), because the data reuses about eight scanned backgrounds and a model that only knows those
fails on a user's page.
"""

from __future__ import annotations

import argparse
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

BLOCK_SIZE = 12
# Validation blocks, fixed so that every run is measured on the same unseen pages: one block of
# 540x258 pages (ids 50-60) and two of 540x420 pages (ids 122-132, 194-204), 24 pages in all.
# Whole blocks, because a block shares its typography and the exact clean page across backgrounds.
VAL_BLOCKS = (4, 10, 16)


def add_data_argument(parser: argparse.ArgumentParser, help: str = "dataset folder") -> None:
    """--data for every tool: the data set lives outside the project, so its path is always
    given (or `DDD_DATA` set), never assumed."""
    default = os.environ.get("DDD_DATA")
    parser.add_argument("--data", type=Path, default=default, required=default is None,
                        help=f"{help} (default: $DDD_DATA)")


@dataclass(frozen=True)
class Page:
    """One training page: float32 [H, W] arrays in [0, 1]; `clean` is None for unlabelled pages."""

    id: int
    dirty: np.ndarray
    clean: np.ndarray | None = None


def block_of(page_id: int) -> int:
    return (page_id - 1) // BLOCK_SIZE


def list_ids(data_dir: str | Path, subset: str = "train") -> list[int]:
    """Page ids present in a subset folder (`train`, `train_cleaned` or `test`), sorted."""
    return sorted(int(p.stem) for p in Path(data_dir, subset).glob("*.png") if p.stem.isdigit())


def read_gray(path: str | Path) -> np.ndarray:
    """8-bit grayscale image as float32 in [0, 1]."""
    with Image.open(path) as image:
        return np.asarray(image.convert("L"), np.float32) / 255.0


def load_pages(data_dir: str | Path, ids: Iterable[int] | None = None) -> list[Page]:
    """Loads dirty/clean pairs from `train/` and `train_cleaned/` (all labelled ids by default)."""
    data_dir = Path(data_dir)
    ids = list_ids(data_dir, "train_cleaned") if ids is None else list(ids)
    pages = []
    for page_id in ids:
        dirty = read_gray(data_dir / "train" / f"{page_id}.png")
        clean = read_gray(data_dir / "train_cleaned" / f"{page_id}.png")
        if dirty.shape != clean.shape:
            raise ValueError(f"page {page_id}: dirty {dirty.shape} != clean {clean.shape}")
        pages.append(Page(page_id, dirty, clean))
    return pages


def split_by_blocks(
    ids: Iterable[int], val_blocks: Sequence[int] = VAL_BLOCKS
) -> tuple[list[int], list[int]]:
    """(train ids, validation ids): whole blocks go to one side, so no block is on both."""
    ids = sorted(ids)
    val = [i for i in ids if block_of(i) in set(val_blocks)]
    train = [i for i in ids if block_of(i) not in set(val_blocks)]
    return train, val


# --- synthetic backgrounds -------------------------------------------------------------------
# A background is a multiplicative transmission field in (0, 1]: dirty = field * ink.


def smooth_noise(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Zero-mean, unit-ish noise varying over about `scale` pixels (bicubic-upsampled grid)."""
    gh, gw = int(h / scale) + 4, int(w / scale) + 4
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    big = Image.fromarray(grid, "F").resize((int(gw * scale), int(gh * scale)), Image.BICUBIC)
    y0 = rng.integers(0, max(1, big.height - h - int(scale)) + 1)
    x0 = rng.integers(0, max(1, big.width - w - int(scale)) + 1)
    return np.asarray(big, np.float32)[y0 : y0 + h, x0 : x0 + w]


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


def _grid(rng: np.random.Generator, h: int, w: int, reach: float):
    """Pixel coordinates of a patch placed at a random spot of a larger virtual page."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return yy, xx, rng.uniform(-reach, h + reach), rng.uniform(-reach, w + reach)


def _blotch(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
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
    "blotch": (_blotch, 0.7),
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
        for _ in range(rng.poisson(prob * 1.5) if make is _blotch else int(rng.random() < prob)):
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


# --- input jitter (applied to the dirty side only: the target stays the clean page) ----------


def jpeg(x: np.ndarray, quality: int) -> np.ndarray:
    """Round trip through JPEG at `quality` (8-bit grayscale)."""
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(x)).save(buffer, "JPEG", quality=int(quality))
    return read_gray(io.BytesIO(buffer.getvalue()))


def to_uint8(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


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


def resize(x: np.ndarray, size: int) -> np.ndarray:
    """Bicubic resampling of a square float patch to size x size, clipped to [0, 1]."""
    image = Image.fromarray(np.ascontiguousarray(x, np.float32), "F")
    return np.clip(np.asarray(image.resize((size, size), Image.BICUBIC)), 0.0, 1.0)


def stroke_weight(rng: np.random.Generator, clean: np.ndarray) -> np.ndarray:
    """Bolder or thinner strokes (a partial 3x3 min/max filter): new typefaces from the dozen in
    the data, for the synthetic composites only (a real dirty page cannot follow)."""
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(clean, 1, mode="edge"), (3, 3))
    bolder = rng.random() < 0.6
    filtered = windows.min(axis=(-2, -1)) if bolder else windows.max(axis=(-2, -1))
    w = rng.uniform(0.2, 0.7 if bolder else 0.5)
    return ((1 - w) * clean + w * filtered).astype(np.float32)


# --- rendered text: typefaces the data does not have ------------------------------------------
# The data has about a dozen typefaces, and a model that learns them by heart hedges on a new
# one (grey ink cores). Text rendered in other faces, composited like the real pages, teaches
# what ink looks like in general. The faces ship with matplotlib (the `train` extra).

TEXT_FACES = (
    "cmr10", "cmb10", "cmmi10", "cmss10", "cmtt10", "DejaVuSans", "DejaVuSans-Bold",
    "DejaVuSans-Oblique", "DejaVuSerif", "DejaVuSerif-Bold", "DejaVuSerif-Italic",
    "DejaVuSansMono", "STIXGeneral", "STIXGeneralBol", "STIXGeneralItalic", "STIXGeneralBolIta",
)
_VOCABULARY = (
    "the of and to in is that for it as with was on be by this are from or at an which not "
    "have has but all were when we there can been one more will would their if so some what "
    "paper page scanned document office noise filter method image clean printed text form "
    "guides rulers boxes fields written below separate sheet quality network trained neural "
    "background stains coffee folded wrinkled shadow contrast pixel values median mean result "
    "experiments obtained proposed several different approach useful simple large small better"
)
WORDS = tuple(_VOCABULARY.split())


def text_faces() -> list[Path]:
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return [folder / f"{name}.ttf" for name in TEXT_FACES if (folder / f"{name}.ttf").exists()]


def _sentence(rng: np.random.Generator, n: int) -> str:
    words = [WORDS[i] for i in rng.integers(len(WORDS), size=n)]
    words[0] = words[0].capitalize()
    for i in range(1, n):
        r = rng.random()
        if r < 0.06:
            words[i - 1] += "."
            words[i] = words[i].capitalize()
        elif r < 0.1:
            words[i - 1] += ","
        elif r < 0.12:
            words[i] = str(rng.integers(1, 2000))
    return " ".join(words)


def render_text_page(rng: np.random.Generator, h: int, w: int, face: Path) -> np.ndarray:
    """A clean page of black anti-aliased text in `face` at a random size and line spacing."""
    size = int(rng.integers(12, 30))
    font = ImageFont.truetype(str(face), size)
    image = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(image)
    step = int(size * rng.uniform(1.15, 1.8))
    left = int(rng.integers(0, 40))
    ink = 0 if rng.random() < 0.8 else int(rng.integers(0, 50))
    for y in range(int(rng.integers(-size // 2, step)), h, step):
        indent = left + (int(rng.integers(0, 4 * size)) if rng.random() < 0.1 else 0)
        draw.text((indent, y), _sentence(rng, w // size + 2), font=font, fill=ink)
    if rng.random() < 0.3:  # slight skew, as scanned
        image = image.rotate(rng.uniform(-1.5, 1.5), Image.BICUBIC, fillcolor=255)
    return np.asarray(image, np.float32) / 255.0


def rendered_pages(seed: int, n: int, h: int = 420, w: int = 540) -> list[Page]:
    """`n` clean pages of rendered text (ids -1, -2, ...), cycling through the faces."""
    rng = np.random.default_rng([seed, 7])
    faces = text_faces()
    pages = []
    for i in range(n):
        clean = render_text_page(rng, h, w, faces[i % len(faces)])
        pages.append(Page(-1 - i, clean, clean))
    return pages


@dataclass
class PatchSampler:
    """Random (dirty, clean) training patches of `size` x `size` from whole pages.

    With probability `synthetic` the clean patch is composited onto a synthetic background
    (with probability `stroke` after making its strokes bolder or thinner); otherwise the real
    dirty patch is used, with probability `overlay` darkened further by a synthetic field (e.g. a
    shadow over a real stain). A share `rendered` of the synthetic composites use pages of text
    rendered in other typefaces (`text_pages` of them) instead of the real clean pages. With
    probability `scale` the crop is resampled by 0.8-1.25x (other type sizes; pages themselves
    are never resized). Flips apply to both sides; scanner jitter to the input only.
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
    jitter: bool = True

    def __post_init__(self) -> None:
        small = [p.id for p in self.pages if min(p.dirty.shape) < self.size]
        if small:
            raise ValueError(f"patch size {self.size} exceeds pages {small}")
        self.rng = np.random.default_rng(self.seed)
        side = max(self.size * 2, 256)
        self.text = rendered_pages(self.seed, self.text_pages, side, side) if self.rendered else []

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        rng, s = self.rng, self.size
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


def robustness_pages(pages: Sequence[Page], seed: int = 2024) -> list[Page]:
    """Validation clean pages on synthetic backgrounds drawn from a seed training never uses,
    plus a JPEG round trip: a check on backgrounds that are not in the data."""
    rng = np.random.default_rng(seed)
    out = []
    for page in pages:
        h, w = page.clean.shape
        background = synthetic_background(rng, h, w)
        for _ in range(2):  # full pages are larger than patches: more than one stain
            background *= _blotch(rng, h, w)
        dirty = composite(rng, page.clean, background)
        out.append(Page(page.id, jpeg(dirty, rng.integers(40, 80)), page.clean))
    return out


def jpeg_pages(pages: Sequence[Page], quality: int = 40) -> list[Page]:
    """The real dirty pages after a JPEG round trip at `quality` (phone/scanner compression)."""
    return [Page(p.id, jpeg(p.dirty, quality), p.clean) for p in pages]
