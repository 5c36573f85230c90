"""The page at GET / in a real headless Chromium (Debian's), against the live service and MySQL."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import pytest
import requests
from PIL import Image

from pagework.backends.in_process import latest_version
from pagework.codes import MESSAGES, Code
from pagework.config import from_env
from tests.conftest import DATA_DIR, ROOT, page_png

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# No first-run, sync, update or background traffic: the machine may have no internet at all.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "docs" / "img"
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def browser():
    """Chromium driven by Playwright; a fresh profile per launch. Missing Chromium fails, as in
    CI, where make test installs it (scripts/ensure_debian_packages.sh)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: run make test, which installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser):
    """Opens a server's page in a new context; records every URL the page asked for."""
    contexts = []

    def open_(server):
        context = browser.new_context(accept_downloads=True,
                                      viewport={"width": 1000, "height": 720})
        contexts.append(context)
        page = context.new_page()
        page.requested = []
        page.on("request", lambda request: page.requested.append(request.url))
        page.goto(server.url + "/")
        return page

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def page_server(live, start_module_server):
    """The shared service. For the README's picture (UPDATE_SCREENSHOTS=1), the exported model
    when there is one (MODEL_DIR, default serving/models/autoencoder), so it shows a real clean."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        model_dir = from_env().model_dir
        try:
            latest_version(Path(model_dir))
        except FileNotFoundError:
            return live
        return start_module_server(model_dir=model_dir)
    return live


def sample_page(tmp_path: Path) -> Path:
    """A real scanned page from the data set, or a generated one where the data is absent."""
    real = DATA_DIR / "test" / "1.png"
    if real.exists():
        return real
    path = tmp_path / "1.png"
    path.write_bytes(page_png(540, 258))
    return path


def natural_size(page, selector: str) -> tuple[int, int]:
    return tuple(page.eval_on_selector(selector, "img => [img.naturalWidth, img.naturalHeight]"))


def assert_only_local(page, server) -> None:
    """Nothing from a CDN or anywhere else: only this service, data: and blob: URLs."""
    outside = [url for url in page.requested
               if not url.startswith((server.url + "/", "data:", "blob:"))]
    assert not outside, outside


def download(page) -> tuple[str, bytes]:
    """The cleaned page's download link, followed: the file's suggested name and its bytes."""
    with page.expect_download() as download_info:
        page.click("#download")
    return (download_info.value.suggested_filename,
            Path(download_info.value.path()).read_bytes())


def test_upload_shows_original_and_clean_and_downloads_png(page_server, open_page, tmp_path):
    server, database = page_server
    source = sample_page(tmp_path)
    with Image.open(source) as image:
        size = image.size
    before = database.count()
    page = open_page(server)
    page.keyboard.press("Tab")  # the file picker is the first control, reachable by keyboard
    assert page.evaluate("document.activeElement.id") == "file"

    page.set_input_files("#file", str(source))
    page.wait_for_selector("#result", state="visible", timeout=WAIT_MS)
    assert natural_size(page, "#original") == size
    assert natural_size(page, "#cleaned") == size
    assert page.text_content("#cleaned-size") == f"{size[0]} × {size[1]} px"
    assert page.text_content("#status-text") == f"Página limpa: {source.name}."
    assert page.is_hidden("#spinner") and page.is_hidden("#error")
    shoot(page, "web.png")

    name, png = download(page)
    assert name == f"{source.stem}-limpo.png"
    assert Image.open(io.BytesIO(png)).size == size

    row = database.row(page.text_content("#request-id"))
    assert row["codigo_retorno"] == 0
    assert (row["largura"], row["altura"]) == size
    assert row["imgb64_dirty"] == base64.b64encode(source.read_bytes()).decode()
    assert row["imgb64_clean"] == "data:image/png;base64," + base64.b64encode(png).decode()
    assert database.count() == before + 1  # GET /, its files and openapi.json log no row

    page.get_by_label("Comparar com cortina").check()
    assert page.is_visible("#curtain") and page.is_hidden("#pair")
    page.focus("#curtain-pos")
    page.keyboard.press("Home")  # the slider moves by keyboard too
    assert page.eval_on_selector("#curtain-cleaned", "img => img.style.getPropertyValue('--pos')") \
        == "0%"
    assert natural_size(page, "#curtain-cleaned") == size
    assert_only_local(page, server)


def test_a_chosen_mode_is_sent_and_its_answer_shown_as_sent(live, open_page, tmp_path):
    """Cores, then Preto e branco for the same file: each a request with its `saida` and row,
    and the page shows and saves the PNG the service answered, byte for byte."""
    server, database = live
    source = tmp_path / "colour.png"
    Image.open(io.BytesIO(page_png(64, 48))).convert("RGB").save(source)
    from playwright.sync_api import expect

    page = open_page(server)
    page.get_by_label("Cores").check()
    page.set_input_files("#file", str(source))
    for mode, label, pixels in (("cor", "em cores", "RGB"), ("binaria", "preto e branco", "1")):
        if mode == "binaria":
            page.get_by_label("Preto e branco").check()  # the page is cleaned again at once
        expect(page.locator("#cleaned-mode")).to_have_text(label, timeout=WAIT_MS)
        page.wait_for_selector("#result", state="visible", timeout=WAIT_MS)
        name, png = download(page)
        assert name == f"colour-limpo-{mode}.png"
        assert Image.open(io.BytesIO(png)).mode == pixels
        row = database.row(page.text_content("#request-id"))
        assert (row["saida"], row["codigo_retorno"]) == (mode, 0)
        assert row["imgb64_clean"] == "data:image/png;base64," + base64.b64encode(png).decode()
        shown = page.eval_on_selector("#cleaned", "img => img.src")
        assert shown == page.eval_on_selector("#download", "a => a.href")
    assert_only_local(page, server)


def test_dropped_text_file_shows_code_3_in_plain_words(live, open_page):
    server, database = live
    text = "isto é um texto, não uma imagem\n"
    page = open_page(server)
    transfer = page.evaluate_handle(
        """([name, text]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], name, {type: "image/png"}));
            return transfer;
        }""", ["notas.png", text])
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
    page.wait_for_selector("#error", state="visible", timeout=WAIT_MS)

    assert page.text_content("#error-code") == "3"
    assert page.text_content("#error-message") == MESSAGES[Code.BAD_IMAGE]
    assert "não é uma imagem que o serviço consiga ler" in page.text_content("#error-explain")
    assert page.text_content("#error-detail") == ("os bytes não são uma imagem reconhecida"
                                                     " (PNG, JPEG, GIF, BMP, TIFF, WEBP)")
    assert page.is_hidden("#result") and page.is_hidden("#spinner")
    assert page.eval_on_selector("#file", "input => input.files[0].name") == "notas.png"
    shoot(page, "web-error.png")
    row = database.row(page.text_content("#error-request-id"))
    assert row["codigo_retorno"] == 3
    assert row["imgb64_dirty"] == base64.b64encode(text.encode()).decode()
    assert_only_local(page, server)


def test_key_field_when_service_requires_api_key(start_server, open_page, tmp_path):
    server, database = start_server(api_key="segredo")
    source = tmp_path / "pagina.png"
    source.write_bytes(page_png(120, 80))
    page = open_page(server)
    page.wait_for_selector("#key-row", state="visible")

    page.set_input_files("#file", str(source))
    page.wait_for_selector("#error", state="visible", timeout=WAIT_MS)
    assert page.text_content("#error-code") == "6"
    assert page.evaluate("document.activeElement.id") == "api-key"
    assert database.row(page.text_content("#error-request-id"))["codigo_retorno"] == 6

    page.get_by_label("Chave de API").fill("segredo")
    page.get_by_role("button", name="Limpar página").click()
    page.wait_for_selector("#result", state="visible", timeout=WAIT_MS)
    assert natural_size(page, "#cleaned") == (120, 80)
    assert page.get_attribute("#download", "download") == "pagina-limpo.png"
    assert database.row(page.text_content("#request-id"))["codigo_retorno"] == 0


def test_page_is_served_with_a_local_only_policy(live):
    server, database = live
    before = database.count()
    response = requests.get(server.url + "/", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        asset = requests.get(f"{server.url}/static/{name}", timeout=10)
        assert asset.status_code == 200 and asset.headers["Content-Type"].startswith(kind)
    for path in (ROOT / "api" / "static").iterdir():
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, path
    assert database.count() == before


def shoot(page, name: str) -> None:
    """The docs' pictures: written to docs/img only when UPDATE_SCREENSHOTS=1, so a plain
    test run leaves the work tree clean; palette PNGs to keep them small."""
    shot = page.screenshot(full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS") != "1":
        return
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    image.quantize(colors=64).save(SCREENSHOTS / name, optimize=True)


@pytest.mark.parametrize("path", ["/", "/static/index.html", "/static/app.js", "/static/style.css"])
def test_every_file_of_the_page_carries_the_policy(live, path):
    """/static/index.html is the page too: served without the policy, any site could frame it."""
    server, _ = live
    response = requests.get(server.url + path, timeout=10)
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
