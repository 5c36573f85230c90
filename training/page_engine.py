"""Synthetic document pages whose clean target is exact by construction.

Every element is drawn twice with the same geometry: once as printed (the ink that reaches the
scan, possibly faint) and once as it should come out (the same ink restored to a readable
darkness). What a clerk scans is here: body text from 6 to 40 pt at 100-600 DPI in many faces,
regular, bold and italic, bold runs and underlines inside lines, headings, handwriting and pen
strokes in ballpoint, marker or pencil, rules, table grids, tick boxes, bullets, and solid marks
(logos, discs, redaction bars, knocked-out labels) that must stay solid. `training.scan` turns the
printed side into a dirty scan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from training.fonts import Faces, available_faces, font
from training.text import WORDS

LETTERS = "etaoinshrdlcumwfgypbvkjxqz"
_LETTER_P = np.array([12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8, 2.4, 2.4,
                      2.2, 2.0, 2.0, 1.9, 1.5, 1.0, 0.8, 0.2, 0.2, 0.1, 0.1])
_LETTER_P /= _LETTER_P.sum()
DPIS = np.array([100, 150, 200, 300, 400, 600])
DPI_P = np.array([0.1, 0.15, 0.2, 0.35, 0.1, 0.1])
MAX_TEXT_PX = 150  # bold strokes stay within about 20 px


def restore(darkness: float) -> float:
    """Target darkness of ink printed at `darkness` (1 = black): every ink comes out darker than
    half of the paper's white, however faint it was printed (0.1 -> 0.70, 0.3 -> 0.79,
    0.55 -> 0.87); black stays black. A cleaned page has dark ink on white paper."""
    d = float(np.clip(darkness, 0.0, 1.0))
    return 0.0 if d <= 0.0 else 0.6 + 0.4 * d ** 0.6


@dataclass(frozen=True)
class Ink:
    printed: float  # darkness on the paper, 0..1


PAPER = Ink(0.0)  # knocked-out text inside a solid mark


def print_ink(rng: np.random.Generator) -> Ink:
    """The page's printed ink: mostly black, sometimes faded toner or a grey print, now and then
    barely darker than the paper."""
    kind = rng.random()
    if kind < 0.55:
        return Ink(rng.uniform(0.82, 1.0))
    return Ink(rng.uniform(0.3, 0.82) if kind < 0.88 else rng.uniform(0.1, 0.3))


def pen_ink(rng: np.random.Generator) -> Ink:
    """Hand ink: ballpoint, marker or pencil."""
    kind = rng.random()
    if kind < 0.45:
        return Ink(rng.uniform(0.45, 0.95))  # ballpoint
    if kind < 0.65:
        return Ink(rng.uniform(0.85, 1.0))  # marker, felt tip
    return Ink(rng.uniform(0.12, 0.6))  # pencil, faded ink


class Sheet:
    """Ink coverage, one layer per ink, drawn once; the printed and the clean page are both made
    from the same layers, so their geometry is identical by construction."""

    def __init__(self, h: int, w: int):
        self.h, self.w = h, w
        self.layers: dict[Ink, Image.Image] = {}
        self.draws: dict[Ink, ImageDraw.ImageDraw] = {}

    def _draws(self, ink: Ink):
        """Where to draw `ink` (fill 255: covered); paper erases every layer (fill 0)."""
        if ink == PAPER:
            return [(draw, 0) for draw in self.draws.values()]
        if ink not in self.layers:
            self.layers[ink] = Image.new("L", (self.w, self.h), 0)
            self.draws[ink] = ImageDraw.Draw(self.layers[ink])
        return [(self.draws[ink], 255)]

    def text(self, xy, text: str, face, ink: Ink) -> None:
        for draw, fill in self._draws(ink):
            draw.text(xy, text, font=face, fill=fill)

    def line(self, points, width: int, ink: Ink) -> None:
        for draw, fill in self._draws(ink):
            draw.line(points, fill=fill, width=max(1, int(width)))

    def rectangle(self, box, ink: Ink, outline: int = 0) -> None:
        self._shape("rectangle", box, ink, outline)

    def ellipse(self, box, ink: Ink, outline: int = 0) -> None:
        self._shape("ellipse", box, ink, outline)

    def _shape(self, kind: str, box, ink: Ink, outline: int) -> None:
        """A filled shape, or its outline `outline` px wide."""
        for draw, fill in self._draws(ink):
            if outline:
                getattr(draw, kind)(box, outline=fill, width=outline)
            else:
                getattr(draw, kind)(box, fill=fill)

    def polygon(self, points, ink: Ink) -> None:
        for draw, fill in self._draws(ink):
            draw.polygon(points, fill=fill)

    def arrays(self, skew: float) -> tuple[np.ndarray, np.ndarray]:
        """(clean page in [0, 1], printed darkness in [0, 1]), both rotated by `skew` degrees:
        inks multiply, as layers of ink on paper do."""
        printed = np.ones((self.h, self.w), np.float32)
        clean = np.ones((self.h, self.w), np.float32)
        for ink, image in self.layers.items():
            if skew:
                image = image.rotate(skew, Image.BICUBIC, fillcolor=0)
            cover = np.asarray(image, np.float32) / 255.0
            printed *= 1.0 - ink.printed * cover
            clean *= 1.0 - restore(ink.printed) * cover
        return clean, 1.0 - printed


def word(rng: np.random.Generator) -> str:
    """A real word, a pseudo-word of English letter frequencies, or a number."""
    r = rng.random()
    if r < 0.45:
        text = WORDS[rng.integers(len(WORDS))]
    elif r < 0.9:
        text = "".join(rng.choice(list(LETTERS), size=rng.integers(1, 11), p=_LETTER_P))
    else:
        text = str(rng.integers(0, 100000)) if rng.random() < 0.7 else f"{rng.uniform(0, 999):.2f}"
    shape = rng.random()
    if shape < 0.15:
        text = text.capitalize()
    elif shape < 0.22:
        text = text.upper()
    if rng.random() < 0.1:
        text += rng.choice(list(".,;:!?)"))
    return text


def words_to_fill(rng: np.random.Generator, face, width: float) -> list[str]:
    """Words whose run (with spaces) is at least `width` pixels long in `face`."""
    out, length, space = [], 0.0, face.getlength(" ")
    while length < width and len(out) < 200:
        out.append(word(rng))
        length += face.getlength(out[-1]) + space
    return out


def _body_px(rng: np.random.Generator, points: tuple[float, float]) -> int:
    dpi = rng.choice(DPIS, p=DPI_P)
    return int(np.clip(rng.uniform(*points) * dpi / 72.0, 7, MAX_TEXT_PX))


class Layout:
    """Fills a sheet top to bottom with blocks, as a page of a real document."""

    def __init__(self, rng: np.random.Generator, sheet: Sheet, faces: Faces):
        self.rng, self.sheet, self.faces = rng, sheet, faces
        self.ink = print_ink(rng)
        self.body = _body_px(rng, (6, 14))
        self.face = self._pick(faces.regular)
        self.bold = self._pick(faces.bold)

    def _pick(self, faces):
        return faces[self.rng.integers(len(faces))]

    def fill(self) -> None:
        rng, sheet = self.rng, self.sheet
        y = int(rng.integers(-self.body * 2, self.body))
        blocks = (self.paragraph, self.heading, self.handwriting, self.marks, self.table,
                  self.rule, self.checkboxes, self.scribble, self.gap)
        weights = np.array([0.34, 0.14, 0.12, 0.12, 0.07, 0.05, 0.05, 0.06, 0.05])
        while y < sheet.h:
            block = blocks[rng.choice(len(blocks), p=weights / weights.sum())]
            y = block(y) + int(rng.integers(0, self.body))

    def _line_of_text(self, x: int, y: int, size: int, regular, bold, ink: Ink,
                      runs: float) -> None:
        """Words in `regular`, with bold runs (share `runs`) and an underline now and then."""
        rng, sheet = self.rng, self.sheet
        face_r, face_b = font(regular, size), font(bold, size)
        in_bold = False
        for text in words_to_fill(rng, face_r, sheet.w - x):
            if rng.random() < runs:
                in_bold = not in_bold
            face = face_b if in_bold else face_r
            sheet.text((x, y), text, face, ink)
            length = face.getlength(text)
            if rng.random() < 0.04:
                under = y + int(size * 1.05)
                sheet.line([(x, under), (x + length, under)], max(1, size // 14), ink)
            x += int(length + face.getlength(" "))
            if x > sheet.w:
                break

    def paragraph(self, y: int) -> int:
        rng = self.rng
        size = self.body if rng.random() < 0.7 else _body_px(rng, (6, 14))
        regular = self.face if rng.random() < 0.85 else self._pick(self.faces.italic)
        bold_face = self.bold if rng.random() < 0.7 else self._pick(self.faces.bold)
        runs = rng.choice([0.0, 0.08, 0.25]) if rng.random() < 0.5 else 0.0
        if rng.random() < 0.2:  # a whole paragraph in bold
            regular = bold_face
        step = int(size * rng.uniform(1.1, 1.7))
        x0 = int(rng.integers(-size, max(1, self.sheet.w // 6)))
        for _ in range(int(rng.integers(1, 7))):
            indent = int(rng.integers(0, 3 * size)) if rng.random() < 0.15 else 0
            self._line_of_text(x0 + indent, y, size, regular, bold_face, self.ink, runs)
            y += step
        return y

    def heading(self, y: int) -> int:
        rng = self.rng
        size = int(np.clip(_body_px(rng, (14, 40)), 14, MAX_TEXT_PX))
        face = self._pick(self.faces.bold if rng.random() < 0.75 else self.faces.regular)
        ink = self.ink if rng.random() < 0.8 else print_ink(rng)
        x = int(rng.integers(-size // 2, max(1, self.sheet.w // 3)))
        words = [word(rng) for _ in range(int(rng.integers(1, 5)))]
        text = " ".join(w.upper() if rng.random() < 0.3 else w.capitalize() for w in words)
        self.sheet.text((x, y), text, font(face, size), ink)
        if rng.random() < 0.2:
            under = y + int(size * 1.1)
            self.sheet.line([(x, under), (x + font(face, size).getlength(text), under)],
                            max(2, size // 12), ink)
        return y + int(size * rng.uniform(1.2, 1.6))

    def handwriting(self, y: int) -> int:
        rng = self.rng
        face = self._pick(self.faces.handwriting)
        size = int(rng.integers(16, 110))
        ink = pen_ink(rng)
        step = int(size * rng.uniform(1.0, 1.5))
        x0 = int(rng.integers(-size, max(1, self.sheet.w // 4)))
        for _ in range(int(rng.integers(1, 4))):
            self._line_of_text(x0, y, size, face, face, ink, 0.0)
            y += step
        return y

    def marks(self, y: int) -> int:
        """Solid marks that must stay solid: bars, discs, logos, labels with knocked-out text."""
        rng, sheet = self.rng, self.sheet
        height = int(rng.integers(8, 140))
        x = int(rng.integers(-20, max(1, sheet.w - 20)))
        ink = self.ink if rng.random() < 0.7 else print_ink(rng)
        kind = rng.random()
        if kind < 0.3:  # redaction bar or filled box
            width = int(rng.integers(height, 5 * height + 40))
            sheet.rectangle([x, y, x + width, y + height], ink)
            if rng.random() < 0.3 and height > 14:  # label with knocked-out text
                size = int(height * 0.6)
                sheet.text((x + size // 3, y + height // 6), word(rng).upper(),
                           font(self.bold, size), PAPER)
        elif kind < 0.55:  # disc or ring (a logo, a stamp)
            box = [x, y, x + height, y + height]
            sheet.ellipse(box, ink, outline=0 if rng.random() < 0.7 else int(rng.integers(3, 20)))
        elif kind < 0.8:  # polygon logo
            n = int(rng.integers(3, 9))
            angles = np.sort(rng.uniform(0, 2 * np.pi, n))
            radii = height / 2 * rng.uniform(0.5, 1.0, n)
            cx, cy = x + height / 2, y + height / 2
            sheet.polygon([(cx + r * np.cos(a), cy + r * np.sin(a))
                           for a, r in zip(angles, radii, strict=True)], ink)
        else:  # bullets beside text
            size = self.body
            for row in range(int(rng.integers(1, 5))):
                top = y + row * int(size * 1.4)
                dot = max(3, size // 3)
                sheet.ellipse([x, top + size // 3, x + dot, top + size // 3 + dot], ink)
                self._line_of_text(x + 2 * dot, top, size, self.face, self.bold, ink, 0.0)
            return y + int(rng.integers(1, 5)) * int(size * 1.4)
        return y + height

    def table(self, y: int) -> int:
        rng, sheet = self.rng, self.sheet
        rows, cols = int(rng.integers(2, 7)), int(rng.integers(2, 6))
        size = max(7, int(self.body * rng.uniform(0.7, 1.0)))
        row_h = int(size * rng.uniform(1.5, 2.5))
        x0 = int(rng.integers(-40, max(1, sheet.w // 4)))
        width = int(rng.integers(sheet.w // 2, sheet.w + 80))
        rule = int(rng.choice([1, 1, 2, 3, 4]))
        edges = np.sort(rng.uniform(x0, x0 + width, cols - 1)).astype(int)
        xs = [x0, *edges, x0 + width]
        for r in range(rows + 1):
            sheet.line([(x0, y + r * row_h), (x0 + width, y + r * row_h)], rule, self.ink)
        for x in xs:
            sheet.line([(x, y), (x, y + rows * row_h)], rule, self.ink)
        header_bold = rng.random() < 0.5
        for r in range(rows):
            for c in range(cols):
                face = font(self.bold if header_bold and r == 0 else self.face, size)
                sheet.text((xs[c] + size // 3, y + r * row_h + (row_h - size) // 3),
                           word(rng), face, self.ink)
        return y + rows * row_h + rule

    def rule(self, y: int) -> int:
        width = int(self.rng.choice([1, 1, 2, 3, 5, 8]))
        x0 = int(self.rng.integers(-20, self.sheet.w // 3))
        self.sheet.line([(x0, y), (int(self.rng.integers(x0 + 40, self.sheet.w + 40)), y)],
                        width, self.ink)
        return y + width

    def checkboxes(self, y: int) -> int:
        rng, sheet = self.rng, self.sheet
        size = max(9, self.body)
        x = int(rng.integers(0, max(1, sheet.w // 3)))
        for _ in range(int(rng.integers(1, 4))):
            box = [x, y, x + size, y + size]
            sheet.rectangle(box, self.ink, outline=max(1, size // 10))
            if rng.random() < 0.4:
                sheet.rectangle([x + size // 4, y + size // 4, x + 3 * size // 4,
                                 y + 3 * size // 4], self.ink)
            elif rng.random() < 0.5:
                pen = pen_ink(rng)
                sheet.line([(x, y + size // 2), (x + size // 2, y + size), (x + size * 1.3, y - 4)],
                           max(2, size // 6), pen)
            self._line_of_text(x + int(size * 1.5), y - size // 8, size, self.face, self.bold,
                               self.ink, 0.0)
            y += int(size * 1.8)
        return y

    def scribble(self, y: int) -> int:
        """Pen strokes of varying width: signatures, circles, underlines, crossings-out."""
        rng, sheet = self.rng, self.sheet
        ink = pen_ink(rng)
        base = rng.uniform(1.0, 12.0)
        span = rng.uniform(min(30.0, sheet.w / 2), sheet.w)
        n = int(span / max(0.7, 0.3 * base)) + 2  # dots close enough to make a line
        steps = rng.normal(0, 1, (n, 2)).cumsum(axis=0) * np.sqrt(40 / n)
        steps = steps - np.linspace(0, 1, n)[:, None] * steps[-1]  # wander, not drift
        path = np.cumsum(np.ones(n)) / n * span
        xs = rng.integers(-20, sheet.w) + path
        ys = y + steps[:, 0] * rng.uniform(1, 6) + np.sin(path / rng.uniform(8, 40)) * rng.uniform(
            0, 30)
        widths = base * np.clip(1 + 0.4 * np.cumsum(rng.normal(0, 0.15 * np.sqrt(40 / n), n)),
                                 0.3, 2.0)
        for x, yy, width in zip(xs, ys, widths, strict=True):
            r = width / 2
            sheet.ellipse([x - r, yy - r, x + r, yy + r], ink)
        return int(ys.max()) + 4

    def gap(self, y: int) -> int:
        return y + int(self.rng.integers(self.body, 6 * self.body))


def render_page(rng: np.random.Generator, h: int, w: int,
                faces: Faces | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic page: (clean target in [0, 1], printed ink darkness in [0, 1]), [h, w] each."""
    sheet = Sheet(h, w)
    Layout(rng, sheet, faces or available_faces()).fill()
    skew = rng.uniform(-2.0, 2.0) if rng.random() < 0.3 else 0.0
    return sheet.arrays(skew)
