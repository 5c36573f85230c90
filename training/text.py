"""Clean pages of text rendered in typefaces the data does not have.

The data has about a dozen typefaces, and a model that learns them by heart hedges on a new
one (grey ink cores). Text rendered in other faces, composited like the real pages, teaches
what ink looks like in general. The faces ship with matplotlib (the `train` extra).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from training.pages import Page

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
