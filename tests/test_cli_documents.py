"""remove-background clean on scanned PDFs and multi-page TIFFs: the same pages come back, each
cleaned at its scan's own size exactly as the API cleans that image, and written back losslessly;
bad documents and pages get a clear message and never stop the other pages."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image

from doctools.cleaners import LocalCleaner
from doctools.cli import main
from tests.conftest import ROOT, encode, page_array
from tests.documents import add_vector_page, page_image, scan_png, scanned_pdf, tiff


def run(capsys, *args: str) -> tuple[int, str]:
    status = main(["clean", *args, "-q"])
    return status, capsys.readouterr().err


def api_clean(model_base: Path, data: bytes) -> np.ndarray:
    """What the API's pipeline makes of these image bytes."""
    return np.array(Image.open(io.BytesIO(LocalCleaner(str(model_base)).clean(data))))


def test_a_pdf_comes_back_with_every_page_cleaned_at_its_scans_resolution(
        capsys, tmp_path, tiny_model_base):
    scans = [scan_png(64, 48, 100, seed=1), scan_png(50, 30, 150, seed=2),
             scan_png(70, 40, 300, seed=3)]
    source = scanned_pdf(tmp_path / "scan.pdf", scans)
    with pikepdf.open(source, allow_overwriting_input=True) as pdf:
        pdf.pages[1].Rotate = 90
        add_vector_page(pdf)
        pdf.docinfo["/Title"] = "Contrato"
        pdf.save(source)
    out = tmp_path / "out"
    status, err = run(capsys, str(source), "-o", str(out), "--model-dir", str(tiny_model_base))
    assert status == 0, err
    assert "1 of 1 files cleaned" in err and "page(s) 4 hold no scanned image" in err
    with pikepdf.open(source) as before, pikepdf.open(out / "scan.pdf") as after:
        assert len(after.pages) == 4 and str(after.docinfo["/Title"]) == "Contrato"
        for old, new in zip(before.pages, after.pages, strict=True):
            assert (list(new.mediabox), new.obj.get("/Rotate")) == (list(old.mediabox),
                                                                    old.obj.get("/Rotate"))
        for page, scan in zip(after.pages, scans, strict=False):
            (image,) = page.obj.Resources.XObject.values()
            assert image.Filter == pikepdf.Name.FlateDecode  # lossless, no second JPEG
            assert np.array_equal(page_image(page), api_clean(tiny_model_base, scan))
        assert after.pages[3].Contents.read_bytes() == before.pages[3].Contents.read_bytes()


def test_url_mode_cleans_each_pdf_page_through_the_service(capsys, live, tmp_path,
                                                           tiny_model_base):
    server, database = live
    scans = [scan_png(40, 30, 200, seed=seed) for seed in range(3)]
    source = scanned_pdf(tmp_path / "scan.pdf", scans)
    before = database.count()
    status, err = run(capsys, str(source), "-o", str(tmp_path / "out"), "--url", server.url)
    assert status == 0, err
    assert database.count() == before + 3  # each page is a request with its row
    with pikepdf.open(tmp_path / "out" / "scan.pdf") as pdf:
        for page, scan in zip(pdf.pages, scans, strict=True):
            assert np.array_equal(page_image(page), api_clean(tiny_model_base, scan))


def test_a_multi_page_tiff_gives_a_multi_page_tiff(capsys, tmp_path, tiny_model_base):
    frames = [Image.fromarray(page_array(64, 48, seed=1)),
              Image.fromarray(page_array(40, 56, seed=2)).convert("RGB"),
              Image.fromarray(page_array(30, 20, seed=3) > 128)]
    source = tiff(tmp_path / "fax.tif", frames, dpi=200)
    single = tmp_path / "one.tif"
    frames[0].save(single, "TIFF")
    status, err = run(capsys, str(source), str(single), "-o", str(tmp_path / "out"),
                      "--model-dir", str(tiny_model_base))
    assert status == 0, err
    assert (tmp_path / "out" / "one.png").exists()  # one page: a PNG, as before
    with Image.open(tmp_path / "out" / "fax.tif") as cleaned, Image.open(source) as original:
        assert cleaned.n_frames == 3
        for index in range(3):
            cleaned.seek(index)
            original.seek(index)
            assert cleaned.info["compression"] == "tiff_adobe_deflate"
            assert tuple(round(v) for v in cleaned.info["dpi"]) == (200, 200)
            frame = io.BytesIO()
            original.save(frame, "PNG")
            assert np.array_equal(np.array(cleaned), api_clean(tiny_model_base, frame.getvalue()))


def encrypted(path: Path) -> Path:
    scanned_pdf(path, [scan_png(20, 20, 72)])
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        pdf.save(path, encryption=pikepdf.Encryption(user="secret", owner="secret"))
    return path


def no_pages(path: Path) -> Path:
    with pikepdf.new() as pdf:
        pdf.save(path)
    return path


def vector_only(path: Path) -> Path:
    with pikepdf.new() as pdf:
        add_vector_page(pdf)
        pdf.save(path)
    return path


def damaged(path: Path) -> Path:
    data = scanned_pdf(path, [scan_png(20, 20, 72)]).read_bytes()
    path.write_bytes(b"%PDF-1.7\n" + bytes(len(data)))  # the header, then nothing readable
    return path


def truncated(path: Path) -> Path:
    data = scanned_pdf(path, [scan_png(60, 40, 72, seed=i) for i in range(4)]).read_bytes()
    path.write_bytes(data[:len(data) * 6 // 10])  # a download cut short
    return path


@pytest.mark.parametrize(("make", "message"), [
    (encrypted, "the PDF is encrypted with a password: decrypt it first (qpdf --decrypt"),
    (damaged, "not a readable PDF (damaged, or not a PDF)"),
    (truncated, "not a readable PDF (damaged, or not a PDF)"),
    (no_pages, "the PDF holds no pages"),
    (vector_only, "no page holds a scanned image (vector text and drawings only): nothing to "
                  "clean"),
])
def test_a_bad_pdf_gets_a_clear_message_and_no_output(capsys, tmp_path, tiny_model_base, make,
                                                      message):
    source = make(tmp_path / "in.pdf")
    good = tmp_path / "good.png"
    good.write_bytes(scan_png(16, 16, 72))
    status, err = run(capsys, str(source), str(good), "-o", str(tmp_path / "out"),
                      "--model-dir", str(tiny_model_base))
    assert status == 1
    assert f"failed: {source}: no code, {message}" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.png"]


def test_a_page_over_max_pixels_fails_alone_and_stays_as_it_was(capsys, tmp_path,
                                                                tiny_model_base):
    huge = io.BytesIO()  # 8000x5100 one-bit scan: 40.8 MP, a few KB in the file
    Image.new("1", (8000, 5100), 1).save(huge, "PNG", dpi=(600, 600))
    source = scanned_pdf(tmp_path / "big.pdf", [scan_png(32, 24, 100), huge.getvalue(),
                                                 scan_png(24, 32, 100, seed=4)])
    status, err = run(capsys, str(source), "-o", str(tmp_path / "out"),
                      "--model-dir", str(tiny_model_base))
    assert status == 1
    assert (f"failed: {source}, page 2: code 4, page too large to clean (8000x5100 px at "
            "600 dpi is 40.8 MP, over MAX_PIXELS (40.0 MP))") in err
    with pikepdf.open(source) as before, pikepdf.open(tmp_path / "out" / "big.pdf") as after:
        assert len(after.pages) == 3
        assert after.pages[1].Contents.read_bytes() == before.pages[1].Contents.read_bytes()
        assert "/DDDClean" in after.pages[0].obj.Resources.XObject
        assert "/DDDClean" in after.pages[2].obj.Resources.XObject


MEMORY_PROBE = textwrap.dedent("""
    import re, sys
    from pathlib import Path
    from doctools.document_jobs import clean_document

    class Echo:  # the document path alone: the page's own PNG comes back as its cleaned page
        mode = "cinza"

        def clean(self, data):
            return data

    outcome = clean_document(Echo(), Path(sys.argv[1]), Path(sys.argv[2]),
                             max_pixels=40_000_000, workers=2)
    assert outcome.cleaned == outcome.pages, outcome
    # VmHWM, not getrusage: Linux carries ru_maxrss over from the process that started this one.
    status = open("/proc/self/status").read()
    print(outcome.pages, re.search(r"VmHWM:\\s+(\\d+) kB", status)[1])
""")


def test_memory_holds_pages_not_the_document(tmp_path):
    """2,000 pages cost about what 20 do: pages wait on disk, PDFium is reopened, and the writer
    saves and reopens the document every 256 pages, so neither the pages' pixels (290 MB here)
    nor their compressed data piles up (one save at the end exceeds the bound)."""
    peaks = {}
    scans = [scan_png(400, 360, 100, seed=seed) for seed in range(7)]
    for pages in (20, 2000):
        source = scanned_pdf(tmp_path / f"{pages}.pdf", [scans[i % 7] for i in range(pages)])
        result = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(source),
                                 str(tmp_path / f"out-{pages}.pdf")], cwd=ROOT,
                                capture_output=True, text=True, timeout=300, check=True)
        count, peak_kib = map(int, result.stdout.split())
        assert count == pages
        peaks[pages] = peak_kib / 1024
    with pikepdf.open(tmp_path / "out-2000.pdf") as pdf:
        assert len(pdf.pages) == 2000
        for index in (0, 255, 256, 1999):  # both sides of a stage, and the last page
            assert np.array_equal(page_image(pdf.pages[index]),
                                  np.array(Image.open(io.BytesIO(scans[index % 7]))))
    assert peaks[2000] - peaks[20] < 60, peaks


def colour_scan_png(width: int, height: int, dpi: int) -> bytes:
    rgb = np.stack([page_array(width, height, seed=s) for s in (1, 2, 3)], axis=-1)
    return encode(Image.fromarray(rgb), "PNG", dpi=(dpi, dpi))


def mode_clean(model_base: Path, data: bytes, mode: str) -> np.ndarray:
    """What the API's pipeline answers for these bytes in this output mode."""
    return np.array(Image.open(io.BytesIO(LocalCleaner(str(model_base), mode).clean(data))))


def test_binaria_pdf_pages_are_ccitt_g4_and_cor_pages_rgb(capsys, tmp_path, tiny_model_base):
    """--saida binaria: each page a 1-bit CCITT Group 4 image, the API's bitonal answer pixel for
    pixel; --saida cor: each page the API's RGB answer, lossless; both of a colour scan."""
    scans = [colour_scan_png(64, 48, 150), scan_png(50, 30, 300, seed=2)]
    source = scanned_pdf(tmp_path / "scan.pdf", scans)
    for mode, codec, colours in (("binaria", "/CCITTFaxDecode", "/DeviceGray"),
                                 ("cor", "/FlateDecode", "/DeviceRGB")):
        out = tmp_path / mode
        status, err = run(capsys, str(source), "-o", str(out), "--saida", mode,
                          "--model-dir", str(tiny_model_base))
        assert status == 0, err
        with pikepdf.open(out / "scan.pdf") as pdf:
            for page, scan in zip(pdf.pages, scans, strict=True):
                (image,) = page.obj.Resources.XObject.values()
                assert (pikepdf.PdfImage(image).filters, str(image.ColorSpace)) == \
                    ([codec], colours)
                assert np.array_equal(page_image(page), mode_clean(tiny_model_base, scan, mode))


def test_binaria_tiff_pages_are_group4_and_images_one_bit(capsys, tmp_path, tiny_model_base):
    frames = [Image.open(io.BytesIO(colour_scan_png(64, 48, 200))),
              Image.fromarray(page_array(40, 56, seed=2))]
    source = tiff(tmp_path / "fax.tif", frames, dpi=200)
    picture = tmp_path / "photo.jpg"
    frames[0].save(picture, "JPEG")
    status, err = run(capsys, str(source), str(picture), "-o", str(tmp_path / "out"),
                      "--saida", "binaria", "--model-dir", str(tiny_model_base))
    assert status == 0, err
    with Image.open(tmp_path / "out" / "photo.png") as page:
        assert page.mode == "1"
    with Image.open(tmp_path / "out" / "fax.tif") as cleaned:
        for index, frame in enumerate(frames):
            cleaned.seek(index)
            assert (cleaned.mode, cleaned.info["compression"]) == ("1", "group4")
            png = io.BytesIO()
            frame.save(png, "PNG")
            assert np.array_equal(np.array(cleaned),
                                  mode_clean(tiny_model_base, png.getvalue(), "binaria"))
