"""The README's client examples, run as written (only the address changes) against the service
under gunicorn, on a page too large to pass as one shell argument."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image

from bench.processes import running_api
from tests.conftest import encode
from tests.documents import scan_png, scanned_pdf

README = Path(__file__).resolve().parents[1] / "README.md"
README_URL = "http://localhost:3030"


def readme_block(language: str, must_contain: str) -> str:
    blocks = re.findall(rf"^```{language}\n(.*?)^```", README.read_text(), re.S | re.M)
    matching = [block for block in blocks if must_contain in block]
    assert len(matching) == 1, f"expected one {language} block with {must_contain!r}"
    return matching[0]


@pytest.fixture(scope="module")
def service(tiny_model_base, make_database, tmp_path_factory):
    database = make_database()
    folder = tmp_path_factory.mktemp("readme")
    env = {"MODEL_DIR": str(tiny_model_base), "MYSQL_DATABASE": database.name,
           "SPOOL_DIR": str(folder / "spool")}
    with running_api(env, folder / "api.log") as api:
        yield api, database


@pytest.fixture
def page(tmp_path) -> tuple[Path, Image.Image]:
    """A noisy A5-like scan: its base64 (> 200 KB) is over Linux's 128 KiB limit per argument."""
    rng = np.random.default_rng(7)
    pixels = np.clip(rng.normal(200, 30, (700, 500)), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    path = tmp_path / "page.png"
    path.write_bytes(encode(image))
    assert len(base64.b64encode(path.read_bytes())) > 200_000
    return path, image


def run_example(command: list[str], source: str, url: str, cwd: Path) -> None:
    assert README_URL in source
    subprocess.run([*command, source.replace(README_URL, url)], cwd=cwd, check=True,
                   timeout=120, capture_output=True)


@pytest.mark.parametrize(("language", "command"), [("sh", ["bash", "-euo", "pipefail", "-c"]),
                                                   ("python", [sys.executable, "-c"])])
def test_readme_example_cleans_a_real_size_page(service, page, language, command):
    api, database = service
    path, image = page
    before = database.count()
    run_example(command, readme_block(language, "remove_background"), api.url, path.parent)
    with Image.open(path.parent / "clean.png") as clean:
        assert (clean.format, clean.mode, clean.size) == ("PNG", "L", image.size)
    assert database.count() == before + 1


def test_readme_document_example_runs_as_written(tmp_path, tiny_model_base):
    """The CLI and the OCRmyPDF plugin on a folder of scans and a two-page PDF."""
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "page.png").write_bytes(scan_png(120, 80, 150))
    scanned_pdf(tmp_path / "contract.pdf", [scan_png(120, 80, 150, seed=1),
                                            scan_png(80, 120, 150, seed=2)])
    env = {**os.environ, "MODEL_DIR": str(tiny_model_base),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["bash", "-euo", "pipefail", "-c", readme_block("sh", "ocrmypdf --plugin")],
                   cwd=tmp_path, env=env, check=True, timeout=300, capture_output=True)
    assert (tmp_path / "cleaned" / "page.png").exists()
    for name in ("cleaned/contract.pdf", "searchable.pdf"):
        with pikepdf.open(tmp_path / name) as pdf:
            assert len(pdf.pages) == 2
