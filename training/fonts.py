"""Typefaces for synthetic pages: the machine's Latin text and handwriting faces, by style.

Debian's font packages (`make fonts`) give dozens of families; without them the faces that ship
with matplotlib are used, so the page engine always has something to draw with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
# Families drawn by hand (Debian: fonts-dkg-handwriting, -breip, -bwht, -femkeklaver,
# -dancingscript); matched on the file path.
HANDWRITING = re.compile(r"dkg|breip|because ?we|bwht|femke|dancing", re.IGNORECASE)
# Faces with no Latin text (symbols, maths, other scripts) or too odd to be body text.
NOT_TEXT = re.compile(
    r"symbol|dingbat|d050000l|math|emoji|music|fallback|ornament|nushu|"
    r"noto(sans|serif)(?!-|mono-)|noto.*(display|ui-)|condensed|extra|semi|thin|light|black",
    re.IGNORECASE,
)
BOLD = re.compile(r"bold|-bd|bd\b|-b\.|demi|heavy|(?<=[a-z])b(i)?\.(t|o)tf$", re.IGNORECASE)
ITALIC = re.compile(r"italic|oblique|-i\.|(?<=[a-z])(b)?i\.(t|o)tf$|bi\.", re.IGNORECASE)


@dataclass(frozen=True)
class Faces:
    """Font files by style; every list is non-empty (styles fall back to regular)."""

    regular: tuple[Path, ...]
    bold: tuple[Path, ...]
    italic: tuple[Path, ...]
    handwriting: tuple[Path, ...]

    @property
    def count(self) -> int:
        return len({*self.regular, *self.bold, *self.italic, *self.handwriting})


def _renders_latin(path: Path) -> bool:
    """True if the face draws distinct Latin letters (not boxes for missing glyphs)."""
    try:
        font = ImageFont.truetype(str(path), 24)
        a, b = font.getmask("a"), font.getmask("g")
    except OSError:
        return False
    return a.getbbox() is not None and bytes(a) != bytes(b) and a.size != (0, 0)


def _matplotlib_faces() -> list[Path]:
    import matplotlib  # heavy; only when the machine has no font packages

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return sorted(p for p in folder.glob("*.ttf") if not NOT_TEXT.search(p.name)
                  and not p.name.startswith(("cmex", "cmsy", "STIXSiz", "STIXNonUni")))


@lru_cache(maxsize=1)
def available_faces() -> Faces:
    """The faces found on this machine, sorted for reproducibility."""
    files = sorted({p for folder in FONT_DIRS if folder.is_dir()
                    for p in folder.rglob("*") if p.suffix.lower() in (".ttf", ".otf")})
    files = [p for p in files if not NOT_TEXT.search(p.name) or HANDWRITING.search(str(p))]
    files = [p for p in files if _renders_latin(p)] or _matplotlib_faces()
    hand = [p for p in files if HANDWRITING.search(str(p))]
    printed = [p for p in files if p not in hand]
    bold = [p for p in printed if BOLD.search(p.name)]
    italic = [p for p in printed if ITALIC.search(p.name) and p not in bold]
    regular = [p for p in printed if p not in bold and p not in italic] or printed
    return Faces(tuple(regular), tuple(bold or regular), tuple(italic or regular),
                 tuple(hand or italic or regular))


@lru_cache(maxsize=512)
def font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """A loaded face at a pixel size (cached: loading costs more than drawing a line)."""
    return ImageFont.truetype(str(path), size)
