"""OCRmyPDF plugin: this project's model cleans each page before Tesseract reads it and, with
--ddd-clean-final, in the output PDF too, as unpaper does with --clean and --clean-final.

    ocrmypdf --plugin ddd_ocrmypdf in.pdf out.pdf
    ocrmypdf --plugin ddd_ocrmypdf --ddd-url http://localhost:3030 in.pdf out.pdf

Pages are cleaned by the document tools (doctools.cleaners, over the page work the service
runs), in OCRmyPDF's worker processes (the model loads once per process) or by a running
service, whose route, codes and MySQL row are the usual ones. A page that can't be cleaned stops
OCRmyPDF with the service's code and message: never a page silently left dirty or blank.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from pathlib import Path

from ocrmypdf import hookimpl
from ocrmypdf.exceptions import BadArgsError, ExitCode, ExitCodeException
from PIL import Image
from pydantic import BaseModel

from doctools.cleaners import Cleaner, LocalCleaner, PageFailed, RemoteCleaner
from pagework.codec import encode_png
from pagework.codes import MESSAGES
from tfmodel.modes import DEFAULT, MODES


class DddOptions(BaseModel):
    """options.ddd: what --ddd-* set."""

    url: str | None = None
    api_key: str = ""
    clean_final: bool = False
    model_dir: str | None = None
    timeout: float = 120.0
    saida: str = DEFAULT


class PageNotCleaned(ExitCodeException):
    exit_code = ExitCode.child_process_error


_cleaners: dict[tuple[object, ...], Cleaner] = {}  # per process: the model loads once, not per page
_cleaners_lock = threading.Lock()
# page number -> (digest of the OCR image, its cleaned image): with --force-ocr the visible page is
# the same pixels, and OCRmyPDF asks for it next in the same process, so it is cleaned once.
_ocr_pages: dict[int, tuple[bytes, Image.Image]] = {}


def _cleaner(ddd: DddOptions) -> Cleaner:
    key = (ddd.url, ddd.api_key, ddd.model_dir, ddd.timeout, ddd.saida)
    with _cleaners_lock:
        if key not in _cleaners:
            _cleaners[key] = (RemoteCleaner(ddd.url, ddd.api_key, ddd.timeout, ddd.saida)
                              if ddd.url else LocalCleaner(ddd.model_dir, ddd.saida))
        return _cleaners[key]


def describe(pageno: int, err: PageFailed) -> str:
    """The page, the service's code and message, then what it means and the detail."""
    if err.code is None:
        text = f"page {pageno}: not cleaned: {err.message}"
    else:
        message = MESSAGES.get(err.code, "")  # an int finds its Code: IntEnum hashes as int
        text = f"page {pageno}: not cleaned: code {err.code} '{message}' ({err.message})"
    text += f": {err.detail}" if err.detail else ""
    return text + (f" [request {err.request_id}]" if err.request_id else "")


def clean_image(ddd: DddOptions, pageno: int, image: Image.Image) -> Image.Image:
    """The page cleaned at its own size; its resolution kept, so the text layer lines up."""
    try:
        png = _cleaner(ddd).clean(encode_png(image))
    except PageFailed as err:
        raise PageNotCleaned(describe(pageno, err)) from None
    cleaned = Image.open(io.BytesIO(png))
    cleaned.load()
    cleaned.info["dpi"] = image.info.get("dpi", (72, 72))
    return cleaned


@hookimpl
def register_options() -> dict[str, type[BaseModel]]:
    return {"ddd": DddOptions}


@hookimpl
def add_options(parser) -> None:  # noqa: ANN001 (OCRmyPDF's argparse parser)
    group = parser.add_argument_group(
        "ddd", "Cleaning with the ddd-serving model (plugin ddd_ocrmypdf): every page is cleaned "
               "before OCR; in the output too with --ddd-clean-final")
    group.add_argument("--ddd-url", dest="ddd_url", metavar="URL",
                       help="a running service (e.g. http://localhost:3030) instead of the model "
                            "in OCRmyPDF's own processes")
    group.add_argument("--ddd-api-key", dest="ddd_api_key", metavar="KEY",
                       default=os.environ.get("API_KEY", ""),
                       help="X-API-Key for --ddd-url (default: $API_KEY)")
    group.add_argument("--ddd-clean-final", dest="ddd_clean_final", action="store_true",
                       help="also put the cleaned pages in the output PDF (as --clean-final); "
                            "needs --force-ocr or another option that makes OCRmyPDF rebuild "
                            "pages")
    group.add_argument("--ddd-model-dir", dest="ddd_model_dir", metavar="DIR",
                       help="base path of numbered SavedModel versions (default: $MODEL_DIR or "
                            "the shipped model)")
    group.add_argument("--ddd-saida", dest="ddd_saida", choices=MODES, default=DEFAULT,
                       help="the cleaned pages' mode: cinza (8-bit gray, default), cor (the "
                            "page's colours on white paper) or binaria (black and white); "
                            "Tesseract reads them, and the output shows them with "
                            "--ddd-clean-final")
    group.add_argument("--ddd-timeout", dest="ddd_timeout", type=float, default=120.0,
                       metavar="SECONDS", help="seconds per page with --ddd-url (default: 120)")


@hookimpl
def check_options(options) -> None:  # noqa: ANN001 (OcrOptions)
    if options.ddd.clean_final and options.lossless_reconstruction:
        raise BadArgsError(
            "--ddd-clean-final cleans the page images OCRmyPDF writes into the output, and it "
            "writes them only when it rebuilds pages: add --force-ocr (or --deskew)")


def _digest(image: Image.Image) -> bytes:
    return hashlib.blake2b(image.mode.encode() + repr(image.size).encode() + image.tobytes(),
                           digest_size=16).digest()


@hookimpl
def filter_ocr_image(page, image: Image.Image) -> Image.Image:  # noqa: ANN001 (PageContext)
    cleaned = clean_image(page.options.ddd, page.pageno + 1, image)
    if page.options.ddd.clean_final:
        _ocr_pages[page.pageno] = (_digest(image), cleaned)
    return cleaned


@hookimpl
def filter_page_image(page, image_filename: Path) -> Path:  # noqa: ANN001 (PageContext)
    if not page.options.ddd.clean_final:
        return image_filename
    digest, cleaned = _ocr_pages.pop(page.pageno, (b"", None))
    with Image.open(image_filename) as image:
        if cleaned is None or _digest(image) != digest:
            cleaned = clean_image(page.options.ddd, page.pageno + 1, image)
    target = image_filename.with_name(image_filename.stem + "_ddd.png")
    cleaned.save(target, dpi=cleaned.info["dpi"])  # PNG: the output page stays lossless
    return target
