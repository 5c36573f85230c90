"""`python -m bench.pdf --out docs/bench/pdf.json`: scanned PDFs through OCRmyPDF and the CLI.

Two documents, made of the data set's held-out pages (the validation blocks, training/pages.py:
the only real pages with clean targets that version 5 did not train on; the test pages have no
targets, so no reference text):
  pages     the 24 held-out pages, one per PDF page at 150 dpi
  mosaics   A4 pages at 300 dpi (2480x3508), each tiled with 32 held-out pages
The reference text of a page is what Tesseract reads, through OCRmyPDF, on the same document made
of the clean targets. For each document: OCRmyPDF alone, with --clean (unpaper, OCRmyPDF's own
cleaner) and with the plugin ddd_ocrmypdf (and --ddd-clean-final); the character error rate
(Levenshtein distance over the reference's length, whitespace folded), pages per minute and the
output's size. Then the CLI's PDF path (in this process, and through the API under gunicorn)
against what a user did before it: render each page, POST it, rebuild the PDF with img2pdf.
Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import base64
import io
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

import img2pdf
import numpy as np
import pypdfium2
import requests
from PIL import Image
from rapidfuzz.distance import Levenshtein

from bench.processes import running_api
from bench.report import add_load_args, start_run, write_report
from bench.rows import create_database, drop_database
from training.pages import add_data_argument, list_ids, split_by_blocks

A4_300 = (2480, 3508)
OCRMYPDF = [sys.executable, "-m", "ocrmypdf", "--output-type", "pdf", "--quiet"]
VARIANTS = {
    "OCRmyPDF alone": [],
    "OCRmyPDF --clean (unpaper)": ["--clean"],
    "OCRmyPDF --plugin ddd_ocrmypdf": ["--plugin", "ddd_ocrmypdf"],
    "OCRmyPDF --plugin ddd_ocrmypdf --ddd-clean-final --force-ocr":
        ["--plugin", "ddd_ocrmypdf", "--ddd-clean-final", "--force-ocr"],
}


def png(pixels: np.ndarray, dpi: int) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG", dpi=(dpi, dpi))
    return out.getvalue()


def gray(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L"))


def mosaics(pairs: list[tuple[np.ndarray, np.ndarray]], count: int
            ) -> list[tuple[np.ndarray, np.ndarray]]:
    """A4 300 dpi pages, dirty and clean, each tiled with whole pages at the same places."""
    pages = []
    for start in range(count):
        dirty = np.full(A4_300[::-1], 255, np.uint8)
        clean = dirty.copy()
        index, top = start * 32, 74
        while True:
            tiles = [pairs[(index + k) % len(pairs)] for k in range(4)]
            height = max(tile[0].shape[0] for tile in tiles)
            if top + height > A4_300[1] - 74:
                break
            for column, (tile_dirty, tile_clean) in enumerate(tiles):
                left = 160 + column * 540
                h = tile_dirty.shape[0]
                dirty[top:top + h, left:left + 540] = tile_dirty
                clean[top:top + h, left:left + 540] = tile_clean
            index, top = index + 4, top + height
        pages.append((dirty, clean))
    return pages


def words(text: str) -> str:
    return " ".join(text.split())


def cer(pages: list[str], references: list[str]) -> float:
    distance = sum(Levenshtein.distance(words(p), words(r)) for p, r in zip(pages, references,
                                                                             strict=True))
    return 100 * distance / max(1, sum(len(words(r)) for r in references))


def ocr(source: Path, target: Path, options: list[str], jobs: int) -> tuple[list[str], float]:
    """(text of each page, seconds) of one OCRmyPDF run."""
    sidecar = target.with_suffix(".txt")
    started = time.perf_counter()
    subprocess.run([*OCRMYPDF, "--jobs", str(jobs), "--sidecar", str(sidecar), *options,
                    str(source), str(target)], check=True)
    seconds = time.perf_counter() - started
    return sidecar.read_text().split("\f")[:-1] or [""], seconds


def post_each_page(source: Path, target: Path, url: str, dpi: int) -> None:
    """What a user did before the CLI took PDFs: pages out as images, one POST each, a PDF
    again from the answers."""
    document = pypdfium2.PdfDocument(source)
    cleaned = []
    with requests.Session() as session:
        for page in document:
            image = page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
            body = {"imgb64_dirty": base64.b64encode(png(np.asarray(image), dpi)).decode()}
            answer = session.post(url + "/remove_background", json=body, timeout=600).json()
            if answer["codigo_retorno"] != 0:
                raise RuntimeError(f"page refused: {answer}")
            cleaned.append(base64.b64decode(answer["imgb64_clean"].split(",", 1)[1]))
            page.close()
    document.close()
    target.write_bytes(img2pdf.convert(cleaned, layout_fun=img2pdf.get_fixed_dpi_layout_fun(
        (dpi, dpi))))


def timed(run: Callable[[], object], pages: int) -> dict[str, float]:
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 1), "pages_per_minute": round(60 * pages / seconds, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_argument(parser, "data folder (its held-out train/ and train_cleaned/ pages)")
    parser.add_argument("--mosaics", type=int, default=2, help="A4 300 dpi pages (default: 2)")
    parser.add_argument("--jobs", type=int, default=2, help="OCRmyPDF --jobs (default: 2)")
    parser.add_argument("--out", type=Path, help="JSON report (bench/report.py)")
    add_load_args(parser)
    args = parser.parse_args(argv)
    started = start_run(args, argv)
    _, held_out = split_by_blocks(list_ids(args.data, "train_cleaned"))
    pairs = [(gray(args.data / "train" / f"{i}.png"),
              gray(args.data / "train_cleaned" / f"{i}.png")) for i in held_out]
    documents = {"pages": (150, pairs), "mosaics": (300, mosaics(pairs, args.mosaics))}
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-pdf-") as tmp:
        work = Path(tmp)
        for name, (dpi, pages) in documents.items():
            dirty, clean = work / f"{name}.pdf", work / f"{name}-clean.pdf"
            dirty.write_bytes(img2pdf.convert([png(d, dpi) for d, _ in pages]))
            clean.write_bytes(img2pdf.convert([png(c, dpi) for _, c in pages]))
            references, _ = ocr(clean, work / f"{name}-reference.pdf", [], args.jobs)
            size_in = dirty.stat().st_size
            for variant, options in VARIANTS.items():
                target = work / f"{name}-{len(results)}.pdf"
                texts, seconds = ocr(dirty, target, options, args.jobs)
                results.append({"document": name, "pages": len(pages), "dpi": dpi,
                                "run": variant, "cer_percent": round(cer(texts, references), 2),
                                "pages_per_minute": round(60 * len(pages) / seconds, 1),
                                "input_mb": round(size_in / 1e6, 2),
                                "output_mb": round(target.stat().st_size / 1e6, 2)})
                print(results[-1], flush=True)
        results += cli_runs(work, documents, work / "api.log")
    notes = ["Reference text: Tesseract through OCRmyPDF on the same document made of the clean "
             "targets. The mosaics repeat the 24 pages; version 5 was warm-started from version "
             "3, which saw these pages in training (docs/model.md).",
             f"OCRmyPDF --jobs {args.jobs}; with the plugin each job process loads the model once."]
    if args.out:
        write_report(args.out, "Scanned PDFs: OCRmyPDF and the CLI", results, started, notes)


def cli_runs(work: Path, documents: dict, log: Path) -> list[dict]:
    """The CLI's PDF path, in this process and through the API, against posting page by page."""
    database = create_database(f"bench_pdf_{uuid.uuid4().hex[:8]}")
    results = []
    cli = [sys.executable, "-m", "doctools.cli", "clean", "-q"]
    try:
        with running_api({"MYSQL_DATABASE": database}, log) as api:
            for name, (dpi, pages) in documents.items():
                source = work / f"{name}.pdf"
                runs = [  # (run, its call, the PDF it writes)
                    ("remove-background clean (in process)",
                     partial(subprocess.run, [*cli, str(source), "-o", str(work / "cli")],
                             check=True), work / "cli" / source.name),
                    ("remove-background clean --url (API, gunicorn)",
                     partial(subprocess.run, [*cli, str(source), "-o", str(work / "url"),
                                              "--url", api.url], check=True),
                     work / "url" / source.name),
                    ("render, POST each page, img2pdf (before)",
                     partial(post_each_page, source, work / f"each-{name}.pdf", api.url, dpi),
                     work / f"each-{name}.pdf"),
                ]
                for run, call, output in runs:
                    results.append({"document": name, "pages": len(pages), "dpi": dpi,
                                    "run": run, **timed(call, len(pages)),
                                    "output_mb": round(output.stat().st_size / 1e6, 2)})
                    print(results[-1], flush=True)
    finally:
        drop_database(database)
    return results


if __name__ == "__main__":
    main()
