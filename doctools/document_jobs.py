"""Cleaning a PDF or a multi-page TIFF page by page: at most `workers` pages are in memory at
once, and each cleaned page waits on disk until the document is written back, in order, with
every page it had (a page that failed, or holds no scan, stays as it was)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from doctools.cleaners import Cleaner, DocumentError, PageFailed
from doctools.pdf_pages import ScannedPdf
from doctools.tiff_pages import MultiPageTiff
from tfmodel.modes import DEFAULT


class Document(Protocol):
    pages: int

    def __enter__(self) -> Document: ...

    def __exit__(self, *exc: object) -> None: ...

    def page_png(self, index: int, max_pixels: int, colour: bool = False) -> bytes | None: ...

    def write(self, target: Path, cleaned: Mapping[int, Path], scratch: Path) -> None: ...


@dataclass
class Outcome:
    pages: int
    cleaned: int = 0
    kept: list[int] = field(default_factory=list)  # pages without a scan, as they were
    failed: list[tuple[int, PageFailed]] = field(default_factory=list)


def _open(path: Path) -> Document:
    if path.suffix.lower() == ".pdf":
        return ScannedPdf(path)
    try:
        return MultiPageTiff(path)
    except OSError as err:
        raise DocumentError(f"not a readable TIFF ({err})") from None


def clean_document(cleaner: Cleaner, source: Path, target: Path, *, max_pixels: int,
                   workers: int, on_start: Callable[[int], object] = lambda pages: None,
                   on_page: Callable[[bool], object] = lambda ok: None) -> Outcome:
    """Raises DocumentError when the document as a whole can't be read or written; a page's
    failure is in the Outcome and the other pages go on. `on_start(pages)` once the document is
    open, `on_page(ok)` after each page."""
    with _open(source) as document, tempfile.TemporaryDirectory(prefix="ddd-pages-") as tmp:
        on_start(document.pages)
        scratch = Path(tmp)
        outcome = Outcome(document.pages)
        cleaned: dict[int, Path] = {}

        colour = cleaner.mode != DEFAULT  # cor and binaria read the page's colours

        def clean_page(index: int) -> Path | None:
            png = document.page_png(index, max_pixels, colour)
            if png is None:
                return None
            cleaned_png = cleaner.clean(png)
            path = scratch / f"page-{index:06d}.png"
            try:
                path.write_bytes(cleaned_png)
            except OSError as err:  # a full disk: this page fails, the message says why
                raise PageFailed(None, "cannot keep the cleaned page on disk",
                                 err.strerror or str(err)) from None
            return path

        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(clean_page, index): index for index in range(document.pages)}
            for future in as_completed(futures):
                index = futures[future]
                try:
                    path = future.result()
                except PageFailed as err:
                    outcome.failed.append((index, err))
                    on_page(False)
                    continue
                if path is None:
                    outcome.kept.append(index)
                else:
                    cleaned[index] = path
                on_page(True)
        outcome.cleaned = len(cleaned)
        outcome.failed.sort(key=lambda failure: failure[0])
        outcome.kept.sort()
        if cleaned:  # no page cleaned: no output that would only copy the input
            target.parent.mkdir(parents=True, exist_ok=True)
            document.write(target, cleaned, scratch)
    return outcome
