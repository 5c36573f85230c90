"""remove-background clean: folders in, cleaned PNGs out, in this process or through the service."""

from __future__ import annotations

import importlib
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from PIL import Image

from doctools.cli import main
from pagework.codes import MESSAGES, Code
from tests.conftest import ROOT, encode, page_array, page_png

SIZES = {"a.png": (64, 48), "sub/b.jpg": (50, 30), "sub/deep/c.bmp": (33, 17)}


@pytest.fixture
def pages(tmp_path) -> Path:
    """A folder of pages in three formats and subfolders, one text file named .png and one
    file that is no image by its name (skipped)."""
    folder = tmp_path / "scans"
    for seed, (name, size) in enumerate(SIZES.items()):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = {".png": "PNG", ".jpg": "JPEG", ".bmp": "BMP"}[path.suffix]
        path.write_bytes(encode(Image.fromarray(page_array(*size, seed=seed)), fmt))
    (folder / "sub" / "bad.png").write_text("not an image")
    (folder / "notes.txt").write_text("skipped: not an image suffix")
    return folder


def run(capsys, *args: str) -> tuple[int, str]:
    status = main(["clean", *args, "-q"])
    return status, capsys.readouterr().err


def outputs(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*.png")}


def assert_cleaned(out: Path) -> dict[str, bytes]:
    written = outputs(out)
    assert set(written) == {str(Path(name).with_suffix(".png")) for name in SIZES}
    for name, size in SIZES.items():
        with Image.open(out / Path(name).with_suffix(".png")) as image:
            assert (image.format, image.mode, image.size) == ("PNG", "L", size)
    return written


def test_in_process_cleans_a_folder_and_reports_the_bad_file(capsys, pages, tmp_path,
                                                            tiny_model_base):
    out = tmp_path / "clean"
    status, err = run(capsys, str(pages), "-o", str(out), "--model-dir", str(tiny_model_base))
    assert status == 1
    assert_cleaned(out)
    assert "3 of 4 files cleaned" in err
    assert (f"failed: {pages / 'sub' / 'bad.png'}: code 3, not a readable image (PNG, JPEG, "
            "GIF, BMP, TIFF or WebP), or damaged (os bytes não são uma imagem reconhecida") in err
    assert MESSAGES[Code.BAD_IMAGE] not in err  # the API's words about its JSON key


def test_url_mode_writes_the_same_bytes_and_logs_rows(capsys, live, pages, tmp_path,
                                                      tiny_model_base):
    server, database = live
    local, remote = tmp_path / "local", tmp_path / "remote"
    before = database.count()
    status, err = run(capsys, str(pages), "-o", str(remote), "--url", server.url,
                      "--workers", "3")
    assert status == 1
    assert database.count() == before + 4  # every page, the failed one too, has its row
    assert "code 3, not a readable image" in err and "[request " in err
    run(capsys, str(pages), "-o", str(local), "--model-dir", str(tiny_model_base))
    assert assert_cleaned(remote) == assert_cleaned(local)


def test_files_as_arguments_and_all_good_exit_0(capsys, live, tmp_path):
    server, _ = live
    first, second = tmp_path / "one.png", tmp_path / "two.jpeg"
    first.write_bytes(page_png(40, 20))
    second.write_bytes(encode(Image.fromarray(page_array(30, 24)), "JPEG"))
    status, err = run(capsys, str(first), str(second), "-o", str(tmp_path / "out"),
                      "--url", server.url)
    assert status == 0
    assert sorted(outputs(tmp_path / "out")) == ["one.png", "two.png"]
    assert "2 of 2 files cleaned" in err


def test_unreachable_service_is_reported_per_file(capsys, tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    page = tmp_path / "p.png"
    page.write_bytes(page_png(8, 8))
    status, err = run(capsys, str(page), "-o", str(tmp_path / "out"), "--url", url,
                      "--timeout", "5")
    assert status == 1
    assert f"failed: {page}: no code, service unreachable" in err
    assert not (tmp_path / "out" / "p.png").exists()


@pytest.mark.parametrize("case", ["collision", "missing", "empty"])
def test_usage_errors_write_nothing(capsys, tmp_path, case):
    out = tmp_path / "out"
    inputs = tmp_path / "in"
    inputs.mkdir()
    if case == "collision":  # page.png and page.jpg would both become page.png
        (inputs / "page.png").write_bytes(page_png(8, 8))
        (inputs / "page.jpg").write_bytes(page_png(8, 8))
    target = str(inputs / "nothing-here") if case == "missing" else str(inputs)
    status, err = run(capsys, target, "-o", str(out), "--url", "http://127.0.0.1:9")
    assert status == 2
    assert {"collision": "would both be written to", "missing": "no such file or folder",
            "empty": "no images or PDFs found"}[case] in err
    assert not out.exists()


def test_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "doctools.cli", "clean", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=True)
    assert "usage: remove-background clean" in result.stdout


def test_the_installed_command_is_this_main():
    """pyproject's `remove-background` names this function; installed, the command answers."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, name = scripts["remove-background"].partition(":")
    assert getattr(importlib.import_module(module), name) is main
    command = Path(sys.executable).with_name("remove-background")
    if command.exists() and f"from {module} import {name}" in command.read_text():
        result = subprocess.run([str(command), "--help"], capture_output=True, text=True,
                                timeout=60, check=True)
        assert "usage: remove-background" in result.stdout
