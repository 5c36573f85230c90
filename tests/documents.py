"""PDFs and TIFFs for the document tests, made the way scanners and OCRmyPDF's users make them:
pages as images placed at their resolution (img2pdf), plus pikepdf's edits."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import img2pdf
import numpy as np
import pikepdf
from PIL import Image

from tests.conftest import encode, page_array


def scan_png(width: int, height: int, dpi: int, seed: int = 0) -> bytes:
    return encode(Image.fromarray(page_array(width, height, seed=seed)), "PNG", dpi=(dpi, dpi))


def scanned_pdf(path: Path, pages: Sequence[bytes]) -> Path:
    """One page per image, each page the image's size at its own dpi."""
    path.write_bytes(img2pdf.convert(list(pages)))
    return path


def add_vector_page(pdf: pikepdf.Pdf, text: str = "Typed, not scanned") -> None:
    """A page of vector text only: a born-digital cover, say."""
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font,
                                                Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    pdf.pages.append(pikepdf.Page(pikepdf.Dictionary(
        Type=pikepdf.Name.Page, MediaBox=[0, 0, 200, 100],
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
        Contents=pdf.make_stream(f"BT /F1 12 Tf 10 50 Td ({text}) Tj ET".encode()))))


def page_image(page: pikepdf.Page) -> np.ndarray:
    """The one image a page draws, decoded (OCRmyPDF's pages also draw a text layer)."""
    (image,) = (x for x in page.obj.Resources.XObject.values() if x.Subtype == "/Image")
    return np.array(pikepdf.PdfImage(image).as_pil_image())


def tiff(path: Path, frames: Sequence[Image.Image], dpi: int) -> Path:
    first, *rest = frames
    first.save(path, "TIFF", save_all=True, append_images=rest, dpi=(dpi, dpi),
               compression="tiff_lzw")
    return path
