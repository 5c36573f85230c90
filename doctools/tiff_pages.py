"""A multi-page TIFF, page by page: each frame cleaned at its own size and resolution, the cleaned
frames written, in order, into one TIFF with lossless compression. Pillow reads one frame at a time
and its AppendingTiffWriter writes one at a time, so memory holds a page, not the file."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from PIL import Image, TiffImagePlugin, UnidentifiedImageError

from doctools.cleaners import PageFailed
from pagework.codec import encode_png
from pagework.codes import Code

COMPRESSION = "tiff_adobe_deflate"  # lossless, and read by every TIFF reader that matters
BITONAL_COMPRESSION = "group4"  # CCITT G4, as fax and archives keep 1-bit pages (binaria)


def frame_count(path: Path) -> int:
    """Frames of a TIFF file; 0 when it is not a readable TIFF (the image path then says why)."""
    try:
        with Image.open(path) as image:
            return getattr(image, "n_frames", 1) if image.format == "TIFF" else 0
    except (OSError, UnidentifiedImageError, ValueError):
        return 0


def _dpi(frame: Image.Image) -> tuple[float, float]:
    dpi = frame.info.get("dpi") or (72, 72)
    return (float(dpi[0]), float(dpi[1]))


class MultiPageTiff:
    """One TIFF open for reading; frames are read one at a time, under a lock (a seek moves the
    one shared file position)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._image = Image.open(path)
        self.pages = getattr(self._image, "n_frames", 1)
        self._lock = threading.Lock()

    def __enter__(self) -> MultiPageTiff:
        return self

    def __exit__(self, *exc: object) -> None:
        self._image.close()

    def page_png(self, index: int, max_pixels: int, colour: bool = False) -> bytes | None:
        try:
            with self._lock:
                self._image.seek(index)
                width, height = self._image.size
                if width * height > max_pixels:
                    raise PageFailed(int(Code.TOO_LARGE), "page too large to clean",
                                     f"{width}x{height} px is {width * height / 1e6:.1f} MP, "
                                     f"over MAX_PIXELS ({max_pixels / 1e6:.1f} MP)")
                kept = ("L", "1", "RGB") if colour else ("L", "1")
                frame = self._image if self._image.mode in kept else \
                    self._image.convert("RGB" if colour else "L")
                return encode_png(frame)
        except (OSError, ValueError) as err:
            raise PageFailed(int(Code.BAD_IMAGE), "damaged page", str(err)) from None

    def write(self, target: Path, cleaned: Mapping[int, Path], scratch: Path) -> None:
        write_tiff(self.path, target, cleaned, self.pages)


def write_tiff(source: Path, target: Path, cleaned: Mapping[int, Path], pages: int) -> None:
    """Every page of `source` in order: the cleaned PNG where there is one, else the frame as it
    was. Written to a partial file first, so `target` is never half a document."""
    partial = target.with_name(target.name + ".part")
    with Image.open(source) as original, TiffImagePlugin.AppendingTiffWriter(partial,
                                                                           new=True) as out:
        for index in range(pages):
            original.seek(index)
            dpi = _dpi(original)
            if index in cleaned:
                with Image.open(cleaned[index]) as page:
                    page.save(out, "TIFF", dpi=dpi, compression=BITONAL_COMPRESSION
                              if page.mode == "1" else COMPRESSION)
            else:
                original.save(out, "TIFF", compression=COMPRESSION, dpi=dpi)
            out.newFrame()
    partial.replace(target)
