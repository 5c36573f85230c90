"""`ocrmypdf --plugin ddd_ocrmypdf`, run for real: OCRmyPDF 17.13 (the version pyproject pins),
Debian's Tesseract and Ghostscript. Tesseract reads the cleaned page; with --ddd-clean-final the
output holds it too; a page the model can't clean stops OCRmyPDF with the service's code."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from pagework.codes import MESSAGES, Code
from tests.conftest import ROOT
from tests.documents import page_image, scan_png, scanned_pdf
from tests.test_cli_documents import api_clean

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None,
                                reason="Tesseract missing: `make setup` installs it")
SHIPPED = ROOT / "serving" / "models" / "autoencoder"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
WORDS = "Invoice 4471 paid in full by Maria Souza"


def ocrmypdf(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ocrmypdf", "--plugin", "ddd_ocrmypdf",
                           "--output-type", "pdf", "--jobs", "1", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})


def stained_page() -> bytes:
    """Typed words under a dark coffee-like stain, at 300 dpi."""
    page = Image.new("L", (1500, 260), 235)
    ImageDraw.Draw(page).text((40, 90), WORDS, fill=20, font=ImageFont.truetype(str(FONT), 56))
    y, x = np.mgrid[0:260, 0:1500]
    stain = 90 * np.exp(-(((x - 600) / 260) ** 2 + ((y - 130) / 90) ** 2))
    noise = np.random.default_rng(7).normal(0, 14, page.size[::-1])
    pixels = np.clip(np.asarray(page, float) - stain + noise, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG", dpi=(300, 300))
    return out.getvalue()


def test_tesseract_reads_the_page_the_shipped_model_cleaned(tmp_path):
    source = scanned_pdf(tmp_path / "in.pdf", [stained_page()])
    sidecar = tmp_path / "text.txt"
    result = ocrmypdf("--sidecar", str(sidecar), "--ddd-model-dir", str(SHIPPED), str(source),
                      str(tmp_path / "out.pdf"))
    assert result.returncode == 0, result.stderr
    assert sidecar.read_text().split() == WORDS.split()
    with pikepdf.open(source) as before, pikepdf.open(tmp_path / "out.pdf") as after:
        # without --ddd-clean-final the visible page is the scan as it was (as with --clean)
        assert np.array_equal(page_image(after.pages[0]), page_image(before.pages[0]))


def test_each_page_is_a_request_to_the_service_and_clean_final_keeps_it(tmp_path, live,
                                                                       tiny_model_base):
    server, database = live
    scans = [scan_png(120, 80, 150, seed=1), scan_png(90, 120, 200, seed=2)]
    source = scanned_pdf(tmp_path / "in.pdf", scans)
    before = database.count()
    result = ocrmypdf("--ddd-url", server.url, str(source), str(tmp_path / "ocr.pdf"))
    assert result.returncode == 0, result.stderr
    assert database.count() == before + 2  # the OCR image of each page, each with its row
    result = ocrmypdf("--ddd-url", server.url, "--ddd-clean-final", "--force-ocr", str(source),
                      str(tmp_path / "final.pdf"))
    assert result.returncode == 0, result.stderr
    assert database.count() == before + 2 + 2  # once per page: the OCR image is the output image
    with pikepdf.open(tmp_path / "final.pdf") as after:
        for page, scan in zip(after.pages, scans, strict=True):
            # OCRmyPDF rasterizes the page again (a resampling of the scan) before the hook,
            # so the page is the cleaned scan up to that resampling, far from the scan itself.
            shown = page_image(page).astype(float)
            cleaned = api_clean(tiny_model_base, scan)
            raw = np.asarray(Image.open(io.BytesIO(scan)), float)
            assert shown.shape == cleaned.shape
            assert np.abs(shown - cleaned).mean() < np.abs(shown - raw).mean() / 3


def test_a_page_the_model_cannot_clean_stops_ocrmypdf_with_the_code(tmp_path, tiny_model_base):
    source = scanned_pdf(tmp_path / "in.pdf", [scan_png(120, 80, 150)])
    result = ocrmypdf("--ddd-model-dir", str(tiny_model_base), str(source),
                      str(tmp_path / "out.pdf"), MAX_PIXELS="5000")
    assert result.returncode == 7  # OCRmyPDF's child_process_error
    assert (f"page 1: not cleaned: code 4 '{MESSAGES[Code.TOO_LARGE]}' (too large (over "
            "MAX_IMAGE_BYTES or MAX_PIXELS)): 120x80 excede 5000 pixels") in result.stderr
    assert not (tmp_path / "out.pdf").exists()


def test_clean_final_without_rebuilt_pages_is_refused(tmp_path):
    source = scanned_pdf(tmp_path / "in.pdf", [scan_png(40, 30, 150)])
    result = ocrmypdf("--ddd-clean-final", str(source), str(tmp_path / "out.pdf"))
    assert result.returncode == 1  # OCRmyPDF's bad_args
    assert "--ddd-clean-final cleans the page images OCRmyPDF writes" in result.stderr
    assert "add --force-ocr" in result.stderr


def test_ddd_saida_binaria_is_what_tesseract_reads_and_what_the_output_shows(tmp_path):
    """The shipped model's bitonal page: Tesseract reads every word, and with --ddd-clean-final
    the output page is black and white only."""
    source = scanned_pdf(tmp_path / "in.pdf", [stained_page()])
    sidecar = tmp_path / "text.txt"
    result = ocrmypdf("--sidecar", str(sidecar), "--ddd-model-dir", str(SHIPPED),
                      "--ddd-saida", "binaria", "--ddd-clean-final", "--force-ocr", str(source),
                      str(tmp_path / "out.pdf"))
    assert result.returncode == 0, result.stderr
    assert sidecar.read_text().split() == WORDS.split()
    with pikepdf.open(tmp_path / "out.pdf") as after:
        assert set(np.unique(page_image(after.pages[0]).astype(np.uint8) * 1)) <= {0, 1, 255}


def test_ddd_saida_goes_to_the_service_and_its_rows(tmp_path, live):
    server, database = live
    source = scanned_pdf(tmp_path / "in.pdf", [scan_png(120, 80, 150, seed=1)])
    result = ocrmypdf("--ddd-url", server.url, "--ddd-saida", "cor", str(source),
                      str(tmp_path / "ocr.pdf"))
    assert result.returncode == 0, result.stderr
    (row,) = database.query("SELECT saida FROM Imagens ORDER BY ID DESC LIMIT 1")
    assert row["saida"] == "cor"
