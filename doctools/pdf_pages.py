"""A scanned PDF, page by page: each page rendered at the resolution of the scan it holds, and the
cleaned pages put back into the same document, whose page sizes, rotation, links, bookmarks and
metadata stay as they were.

Why these libraries: pypdfium2 (PDFium, Chromium's PDF engine) opens and repairs the PDFs scanners
and copiers write, and reports each image's effective resolution; img2pdf puts a PNG into a PDF
as it is, so the cleaned page goes in without another lossy step; pikepdf (qpdf) edits the
original in place and copies each cleaned image from its file at save time, so memory holds one
chunk of pages, never the whole document.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import img2pdf
import pikepdf
import pypdfium2
import pypdfium2.raw as pdfium_c
from PIL import Image

from doctools.cleaners import DocumentError, PageFailed
from pagework.codec import encode_png
from pagework.codes import Code

POINTS_PER_INCH = 72
# A page is a scan when one image covers at least this share of it; a logo on a typed page is not.
SCAN_SHARE = 0.25
CHUNK_PAGES = 16  # cleaned pages per img2pdf chunk
STAGE_PAGES = 256  # cleaned pages copied in before the document is saved and reopened
# PDFium keeps what it has read of a document until the document is closed: reopening it after
# this many pages keeps a long scan's images from piling up in memory.
PAGES_PER_OPEN = 64
IMAGE_NAME = "/DDDClean"
STREAM = pikepdf.AccessMode.stream


@dataclass(frozen=True)
class PagePlan:
    """How one page is cleaned. A scanner's page (one image, nothing visible besides, at most an
    invisible OCR layer) is cleaned as that image, pixel for pixel, and the cleaned image is
    drawn where the scan was; any other page that holds a scan is rendered whole at the scan's
    resolution and drawn over the crop box."""

    index: int
    dpi: float | None  # the scan's resolution; None when the page holds no scan (vector only)
    width: int = 0
    height: int = 0
    native: bool = False  # the scan image itself, not a render of the page
    placement: tuple[float, ...] = ()  # the cleaned image's matrix on the page (a b c d e f)


def _invisible_text(obj: pypdfium2.PdfObject) -> bool:
    return (obj.type == pdfium_c.FPDF_PAGEOBJ_TEXT and pdfium_c.FPDFTextObj_GetTextRenderMode(
        obj.raw) == pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE)


def _page_plan(index: int, page: pypdfium2.PdfPage) -> PagePlan:
    left, bottom, right, top = page.get_cropbox()
    page_area = max((right - left) * (top - bottom), 1e-6)
    scan, covered = None, 0.0
    for image in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=8):
        x0, y0, x1, y1 = image.get_bounds()
        if (x1 - x0) * (y1 - y0) > covered:
            scan, covered = image, (x1 - x0) * (y1 - y0)
    meta = scan.get_metadata() if scan is not None else None
    dpi = max(meta.horizontal_dpi, meta.vertical_dpi) if meta else 0
    if covered < SCAN_SHARE * page_area or dpi <= 0:
        return PagePlan(index, None)
    dpi = round(dpi, 1)
    visible = [obj for obj in page.get_objects(max_depth=0) if not _invisible_text(obj)]
    if len(visible) == 1 and visible[0].type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
        matrix = visible[0].get_matrix()
        return PagePlan(index, dpi, meta.width, meta.height, native=True,
                        placement=(matrix.a, matrix.b, matrix.c, matrix.d, matrix.e, matrix.f))
    width = round((right - left) * dpi / POINTS_PER_INCH)
    height = round((top - bottom) * width / (right - left))
    return PagePlan(index, dpi, width, height,
                    placement=(right - left, 0, 0, top - bottom, left, bottom))


class ScannedPdf:
    """One PDF open for reading. PDFium is not thread-safe: rendering takes a lock, the cleaning
    that follows does not."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._doc = pypdfium2.PdfDocument(path)
        except pypdfium2.PdfiumError as err:
            raise DocumentError(_open_problem(path, err)) from None
        self._lock = threading.Lock()
        self._loaded = 0
        self.plans = []
        for index in range(len(self._doc)):
            try:
                page = self._page(index)
            except pypdfium2.PdfiumError:
                self.close()
                raise DocumentError(f"page {index + 1} cannot be read (damaged PDF)") from None
            self.plans.append(_page_plan(index, page))
            page.close()
        if not self.plans:
            self.close()
            raise DocumentError("the PDF holds no pages")
        if all(plan.dpi is None for plan in self.plans):
            self.close()
            raise DocumentError("no page holds a scanned image (vector text and drawings only): "
                                "nothing to clean")

    def __enter__(self) -> ScannedPdf:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._doc.close()

    @property
    def pages(self) -> int:
        return len(self.plans)

    def page_png(self, index: int, max_pixels: int, colour: bool = False) -> bytes | None:
        """The page as a grayscale (or with `colour`, RGB) PNG at the scan's resolution, in the
        page's unrotated frame (the writer keeps /Rotate); None when it holds no scan.
        Annotations and form fields stay objects, not pixels."""
        plan = self.plans[index]
        if plan.dpi is None:
            return None
        pixels = plan.width * plan.height
        if pixels > max_pixels:
            raise PageFailed(int(Code.TOO_LARGE), "page too large to clean",
                             f"{plan.width}x{plan.height} px at {plan.dpi:g} dpi is "
                             f"{pixels / 1e6:.1f} MP, over MAX_PIXELS ({max_pixels / 1e6:.1f} MP)")
        # PDFium is not thread-safe, and that includes freeing: every page and bitmap is closed
        # here, under the lock, never by the garbage collector in whichever thread it runs.
        with self._lock:
            try:
                image = self._render(plan, colour)
            except pypdfium2.PdfiumError as err:
                raise PageFailed(None, "page cannot be rendered (damaged)", str(err)) from None
        return encode_png(image)

    def _page(self, index: int) -> pypdfium2.PdfPage:
        self._loaded += 1
        if self._loaded % PAGES_PER_OPEN == 0:
            self._doc.close()
            self._doc = pypdfium2.PdfDocument(self.path)
        return self._doc[index]

    def _render(self, plan: PagePlan, colour: bool) -> Image.Image:
        page = self._page(plan.index)
        try:
            if plan.native:
                (scan,) = (obj for obj in page.get_objects(max_depth=0)
                           if obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE)
                bitmap = scan.get_bitmap(render=False)  # the scan decoded, not resampled
                image = bitmap.to_pil()
                image = image.copy() if image.mode in ("L", "RGB") else image.convert("RGB")
            else:
                left, _, right, _ = page.get_cropbox()
                bitmap = page.render(scale=plan.width / (right - left), grayscale=not colour,
                                     rotation=(360 - page.get_rotation()) % 360,
                                     may_draw_forms=False, draw_annots=False)
                # PDFium rounds the bitmap up; the sliver past the page's edge goes.
                image = bitmap.to_pil().convert("RGB" if colour else "L").crop(
                    (0, 0, plan.width, plan.height))
            bitmap.warn_on_close = False  # safe: the image above is a copy, not a view of it
            bitmap.close()
        finally:
            page.close()
        return image

    def write(self, target: Path, cleaned: Mapping[int, Path], scratch: Path) -> None:
        placements = {index: self.plans[index].placement for index in cleaned}
        write_pdf(self.path, target, cleaned, placements, scratch)


def _open_problem(path: Path, err: pypdfium2.PdfiumError) -> str:
    """Why PDFium refused the file, in the user's terms; qpdf tells a PDF of no pages (which
    PDFium calls a format error) from a damaged one."""
    if "password" in str(err).lower():
        return ("the PDF is encrypted with a password: decrypt it first "
                "(qpdf --decrypt --password=PASSWORD in.pdf out.pdf)")
    try:
        with pikepdf.open(path) as pdf:
            if not pdf.pages:
                return "the PDF holds no pages"
    except pikepdf.PdfError:
        return "not a readable PDF (damaged, or not a PDF)"
    return f"the PDF cannot be opened ({err})"


def write_pdf(source: Path, target: Path, cleaned: Mapping[int, Path],
              placements: Mapping[int, tuple[float, ...]], scratch: Path) -> None:
    """`source` with each page in `cleaned` (page index -> cleaned PNG) drawing only that image,
    at its placement, instead of its old content; other pages as they were. Written to a partial
    file first, so `target` is never half a document."""
    indexes = sorted(cleaned)
    partial = target.with_name(target.name + ".part")
    current = source
    try:
        for first in range(0, len(indexes), STAGE_PAGES):
            stage = indexes[first:first + STAGE_PAGES]
            out = partial if first + STAGE_PAGES >= len(indexes) else \
                scratch / f"stage-{first:06d}.pdf"
            _graft(current, out, stage, cleaned, placements, scratch)
            if current != source:
                current.unlink()
            current = out
    except pikepdf.PdfError as err:
        raise DocumentError(f"the cleaned PDF cannot be written ({err})") from None
    partial.replace(target)


def _graft(source: Path, out: Path, indexes: list[int], cleaned: Mapping[int, Path],
           placements: Mapping[int, tuple[float, ...]], scratch: Path) -> None:
    """One stage: qpdf copies each cleaned image's data into memory until it saves, so a long
    document is saved and reopened every STAGE_PAGES pages, its images then read from the file."""
    # Streamed reads, not memory maps: a mapped file's pages count as this process's memory.
    with ExitStack() as chunks, pikepdf.open(source, access_mode=STREAM) as pdf:
        for start in range(0, len(indexes), CHUNK_PAGES):
            part = indexes[start:start + CHUNK_PAGES]
            chunk_path = scratch / f"chunk-{part[0]:06d}.pdf"
            chunk_path.write_bytes(img2pdf.convert([str(_embeddable(cleaned[i])) for i in part]))
            chunk = chunks.enter_context(pikepdf.open(chunk_path, access_mode=STREAM))
            for index, image_page in zip(part, chunk.pages, strict=True):
                image = next(iter(image_page.obj.Resources.XObject.values()))
                _draw_only(pdf, pdf.pages[index], pdf.copy_foreign(image), placements[index])
        pdf.save(out)


def _embeddable(png: Path) -> Path:
    """What img2pdf puts in the PDF as it is: the PNG, or for a 1-bit page (saida binaria) a
    CCITT Group 4 TIFF beside it, the bitonal codec every PDF reader decodes (a fraction of the
    PNG's Flate bits on text pages)."""
    with Image.open(png) as page:
        if page.mode != "1":
            return png
        g4 = png.with_suffix(".tif")
        page.save(g4, "TIFF", compression="group4")
    return g4


def _draw_only(pdf: pikepdf.Pdf, page: pikepdf.Page, image: pikepdf.Object,
               placement: tuple[float, ...]) -> None:
    page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary({IMAGE_NAME: image}))
    matrix = " ".join(f"{value:.5f}" for value in placement)
    drawing = f"q {matrix} cm {IMAGE_NAME} Do Q"
    page.obj.Contents = pikepdf.Stream(pdf, drawing.encode("ascii"))
