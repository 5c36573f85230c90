"""Colour pages with inks of known colour, and how well an answer kept them: the pages the `cor`
and `binaria` modes are tested and benchmarked on.

A page is black type, a blue ballpoint signature, a red "PAGO" stamp, green and purple type and
an orange logo on yellowed paper under uneven light, with a brown coffee ring across the type.
Inks are laid either as transparent ink (paper colour times ink) or as opaque ink over the paper
(`over`): real scans sit between the two, and the colour answer must hold for both. Optional
extras are what people also scan: a yellow highlighter band over black type and a pale blue
form box with type in it (not inks: the measures say what becomes of them).

    python -m bench.colour_pages OUT --size 2480x3508    # writes OUT/colour.png
    python -m bench.colour_pages OUT --size 1240x900 --seed 5 --measure serving/models/autoencoder/5
"""

from __future__ import annotations

import argparse
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from training.backgrounds import smooth_noise

# Printed colour of each ink on white paper (sRGB).
INKS: dict[str, tuple[int, int, int]] = {
    "black": (22, 22, 24),
    "ballpoint": (25, 45, 150),
    "stamp": (200, 30, 40),
    "green": (20, 120, 50),
    "purple": (110, 40, 140),
    "logo": (240, 130, 20),
}
PAPER = (0.94, 0.89, 0.72)  # yellowed paper
RING = (0.55, 0.35, 0.15)  # coffee: what the ring lets through
HIGHLIGHTER = (1.0, 0.95, 0.3)
FORM_TINT = (0.85, 0.92, 1.0)
FONTS = "/usr/share/fonts/truetype/dejavu/"
HAND = "/usr/share/fonts/opentype/dancingscript/DancingScript-Regular.otf"


@dataclass
class ColourPage:
    rgb: np.ndarray  # [H,W,3] uint8, the scan
    inks: dict[str, np.ndarray]  # ink name -> coverage [H,W] in [0, 1]
    ring: np.ndarray  # [H,W] bool: the coffee ring's line
    extras: dict[str, np.ndarray]  # "highlighter", "form": [H,W] bool regions

    def png(self) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(self.rgb).save(buffer, "PNG")
        return buffer.getvalue()

    def ink(self) -> np.ndarray:
        """Drawn ink of every colour, [H,W] bool (the truth for `binaria`)."""
        return np.maximum.reduce(list(self.inks.values())) >= 0.5

    def clear(self) -> np.ndarray:
        """Pixels at least 3 px from any ink."""
        return ~_dilate(np.maximum.reduce(list(self.inks.values())) > 0.02, 3)

    def paper(self) -> np.ndarray:
        """Clear pixels outside the extras."""
        return self.clear() & ~np.logical_or.reduce([*self.extras.values(),
                                                     np.zeros(self.rgb.shape[:2], bool)])


@cache
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _draw(h: int, w: int, paint) -> np.ndarray:
    image = Image.new("L", (w, h), 0)
    paint(ImageDraw.Draw(image))
    return np.asarray(image, np.float32) / 255.0


def ink_masks(h: int, w: int) -> dict[str, np.ndarray]:
    """Coverage of each ink, laid out on any page size (type scales with the width)."""
    s = w / 540
    serif, bold = FONTS + "DejaVuSerif.ttf", FONTS + "DejaVuSans-Bold.ttf"

    def text(font: str, size: float, lines: list[tuple[float, float, str]]):
        return lambda d: [d.text((x * w, y * h), t, font=_font(font, round(size * s)), fill=255)
                          for x, y, t in lines]

    def stamp(d: ImageDraw.ImageDraw) -> None:
        x0, y0 = 0.62 * w, 0.6 * h
        d.rectangle((x0, y0, x0 + 150 * s, y0 + 60 * s), outline=255, width=round(5 * s))
        d.text((x0 + 22 * s, y0 + 10 * s), "PAGO", font=_font(bold, round(34 * s)), fill=255)

    def logo(d: ImageDraw.ImageDraw) -> None:
        d.ellipse((w - 110 * s, 0.05 * h, w - 30 * s, 0.05 * h + 80 * s), fill=255)
        d.rectangle((w - 140 * s, 0.05 * h + 90 * s, w - 20 * s, 0.05 * h + 105 * s), fill=255)

    lines = [(0.04, 0.05 + 0.057 * i, "The quick brown fox jumps over the lazy dog 0123")
             for i in range(8)]
    masks = {
        "black": _draw(h, w, text(serif, 16, lines)),
        "ballpoint": _draw(h, w, text(HAND, 30, [(0.07, 0.52, "Signed: Maria da Silva")])),
        "stamp": np.asarray(Image.fromarray(_draw(h, w, stamp)).rotate(8, Image.BICUBIC)),
        "green": _draw(h, w, text(bold, 20, [(0.04, 0.78, "Green coloured type")])),
        "purple": _draw(h, w, text(bold, 20, [(0.04, 0.88, "Purple type here")])),
        "logo": _draw(h, w, logo),
    }
    return masks


def colour_page(width: int = 540, height: int = 420, *, seed: int = 0, over: bool = False,
                extras: bool = False) -> ColourPage:
    """The scan: paper, light and ring, then each ink, then sensor noise."""
    rng = np.random.default_rng(seed)
    h, w = height, width
    light = 1 + 0.04 * smooth_noise(rng, h, w, 80 * w / 540)[..., None]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.hypot(yy - 0.45 * h, xx - 0.55 * w) - 0.2 * w
    width_px = 5 * w / 540
    ring_line = np.exp(-0.5 * (d / width_px) ** 2) * 0.5 + (d < 0) * 0.08
    scan = np.array(PAPER, np.float32) * light * (1 - ring_line[..., None] * (1 - np.array(RING)))
    regions = {}
    if extras:
        band = (yy > 0.05 * h + 0.057 * 2 * h - 2) & (yy < 0.05 * h + 0.057 * 3 * h + 2) & \
               (xx > 0.03 * w) & (xx < 0.5 * w)
        box = (yy > 0.68 * h) & (yy < 0.75 * h) & (xx > 0.03 * w) & (xx < 0.6 * w)
        scan = scan * np.where(band[..., None], HIGHLIGHTER, 1.0)
        scan = scan * np.where(box[..., None], FORM_TINT, 1.0)
        regions = {"highlighter": band, "form": box}
    masks = ink_masks(h, w)
    if extras:  # type in the form box
        masks["black"] = np.maximum(masks["black"], _draw(h, w, lambda dr: dr.text(
            (0.05 * w, 0.69 * h), "Nome:", font=_font(FONTS + "DejaVuSans.ttf",
                                                       round(16 * w / 540)), fill=255)))
    for name, coverage in masks.items():
        ink, a = np.array(INKS[name], np.float32) / 255.0, coverage[..., None]
        scan = scan * (1 - a) + ink * a if over else scan * (1 - a * (1 - ink))
    scan = scan + rng.normal(0, 0.01, scan.shape)
    rgb = np.round(np.clip(scan, 0, 1) * 255).astype(np.uint8)
    return ColourPage(rgb, masks, (ring_line > 0.2) & (d > -width_px * 3), regions)


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    out = mask.copy()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            out |= np.roll(np.roll(mask, dy, 0), dx, 1)
    return out


def lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (0-255, [...,3]) -> CIELAB (D65), L in 0-100."""
    c = np.asarray(rgb, np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                             [0.0193, 0.1192, 0.9505]]).T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]),
                     200 * (f[..., 1] - f[..., 2])], axis=-1)


def lch(rgb) -> tuple[float, float, float]:
    """Lightness (0-1), chroma (0-1, C*/100) and hue (degrees) of one sRGB colour."""
    L, a, b = lab(np.asarray(rgb, np.float64))
    return L / 100, float(np.hypot(a, b)) / 100, float(np.degrees(np.arctan2(b, a)) % 360)


def ink_measures(answer: np.ndarray, page: ColourPage) -> dict[str, dict[str, float]]:
    """Per ink, over its solid pixels: hue change (degrees), chroma kept (ratio), lightness
    change (answer minus printed, 0-1; positive is lighter), and the answer's own chroma."""
    out = {}
    for name, coverage in page.inks.items():
        core = coverage >= 0.9
        got = lch(answer[core].reshape(-1, 3).mean(axis=0))
        want = lch(INKS[name])
        turn = abs(got[2] - want[2]) % 360
        out[name] = {"hue_change": min(turn, 360 - turn), "chroma_kept": got[1] / want[1],
                     "lighter": got[0] - want[0], "chroma": got[1]}
    return out


def area_measures(answer: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Mean whiteness (0-1) and chroma (C*/100) of the answer over a region, and the share of
    its pixels darker than 0.8."""
    pixels = answer[mask].reshape(-1, 3)
    return {"white": float(pixels.mean() / 255), "chroma": lch(pixels.mean(axis=0))[1],
            "dark_share": float((pixels.mean(axis=1) < 0.8 * 255).mean())}


def f_measure(ink: np.ndarray, truth: np.ndarray) -> float:
    """F-measure (0-100) of ink pixels found against drawn ink."""
    hits = float((ink & truth).sum())
    if not hits:
        return 0.0
    precision, recall = hits / ink.sum(), hits / truth.sum()
    return 200 * precision * recall / (precision + recall)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", default="540x420", help="WxH")
    parser.add_argument("--over", action="store_true", help="opaque inks over the paper")
    parser.add_argument("--extras", action="store_true", help="a highlighter band, a form box")
    parser.add_argument("--seed", type=int, default=0, help="the page's light and stains")
    parser.add_argument("--measure", type=Path, metavar="VERSION_DIR",
                        help="also send the page through this version's `cor` signature, as PNG "
                             "and as JPEG at each --jpeg quality, and print each ink's measures")
    parser.add_argument("--jpeg", type=int, nargs="*", default=[92, 80],
                        help="JPEG qualities for --measure")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    page = colour_page(width, height, seed=args.seed, over=args.over, extras=args.extras)
    path = args.out / "colour.png"
    path.write_bytes(page.png())
    print(path)
    if args.measure:
        measure_cor(page, args.measure, args.jpeg)


def measure_cor(page: ColourPage, version: Path, qualities: list[int]) -> None:
    """Each ink's hue change, chroma kept and lightening in `cor`, from PNG and from JPEG: what
    chroma subsampling costs thin coloured strokes."""
    import tensorflow as tf

    cor = tf.saved_model.load(str(version)).signatures["cor"]
    for quality in [None, *qualities]:
        sent = io.BytesIO()
        Image.fromarray(page.rgb).save(sent, "PNG" if quality is None else "JPEG",
                                       **({} if quality is None else {"quality": quality}))
        png = cor(image_bytes=tf.constant([sent.getvalue()]))["clean_png_bytes"].numpy()[0]
        answer = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        for ink, m in ink_measures(answer, page).items():
            print(f"{'PNG' if quality is None else f'JPEG q{quality}':>8} {ink:>9}  hue change "
                  f"{m['hue_change']:5.1f}  chroma kept {m['chroma_kept']:.2f}  lighter "
                  f"{m['lighter']:+.2f}")


if __name__ == "__main__":
    main()
