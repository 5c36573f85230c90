"""What a page may cost is the model's real work (padded area, tiles), not width x height: thin and
elongated pages of every format are refused at once, and a worker's memory goes back near its
baseline after large work. Through gunicorn with the shipped SavedModel, as `make run` serves."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests

from bench.load import worker_rss_mib
from bench.processes import running_api
from bench.strips import STRIPS, strip
from pagework.codes import Code
from pagework.config import Config
from pagework.work import SHIPPED, check_work, work_pixels
from tests.conftest import ROOT, page_png

SHIPPED_MODELS = ROOT / "serving" / "models" / "autoencoder"
DEFAULTS = Config()


def test_geometry_is_the_shipped_exports():
    for card in SHIPPED_MODELS.glob("*.card.json"):
        serving = json.loads(card.read_text())["serving"]
        assert {k: serving[k] for k in ("multiple", "margin", "tile", "max_single_pixels")} == \
            SHIPPED.__dict__, card


@pytest.mark.parametrize(("size", "work"), [
    ((540, 420), 672 * 560),  # one pass: 64 px of mirror on every side, rounded up to 16
    ((1, 65535), 65664 * 144),  # 65,535 pixels, 144 times the work, in one pass
    ((2480, 3508), 5 * 7 * 640 * 640),  # A4: 512-px tiles with their margins
])
def test_work_is_what_the_graph_runs_on(size, work):
    assert work_pixels(*size) == work


@pytest.mark.parametrize("size", [(1, 65535), (65535, 1), (16383, 4), (100, 2001)])
def test_thin_and_elongated_pages_are_code_9(size):
    with pytest.raises(Exception) as refused:
        check_work(*size, DEFAULTS.max_aspect_ratio, DEFAULTS.max_work_pixels)
    assert refused.value.code == Code.PAGE_SHAPE


def test_work_over_the_limit_is_code_4():
    assert check_work(6000, 6000, 20, DEFAULTS.max_work_pixels) == 12 * 12 * 640 * 640
    with pytest.raises(Exception) as refused:
        check_work(6000, 6000, 20, 10_000_000)
    assert refused.value.code == Code.TOO_LARGE


@pytest.fixture(scope="module")
def shipped_api(make_database, tmp_path_factory):
    """`python -m api` with the shipped model, one worker (make run's default)."""
    if not list(SHIPPED_MODELS.glob("[0-9]*/saved_model.pb")):
        pytest.skip("no shipped SavedModel in serving/models")
    database = make_database()
    folder = tmp_path_factory.mktemp("work")
    env = {"MODEL_DIR": str(SHIPPED_MODELS), "MYSQL_DATABASE": database.name,
           "SPOOL_DIR": str(folder / "spool")}
    with running_api(env, folder / "api.log") as api:
        clean(api, page_png(540, 420))  # warm-up: the graph traced, pools filled
        yield api, database


def clean(api, image: bytes) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.post(api.url + "/remove_background", timeout=300,
                             json={"imgb64_dirty": base64.b64encode(image).decode()})
    return response, time.monotonic() - started


def worker_rss(api) -> float:
    (rss,) = worker_rss_mib(api.popen.pid).values()
    return rss


def test_memory_goes_back_near_the_baseline_after_large_work(shipped_api):
    """The largest single pass an allowed page gets (2 MP, elongated to the ratio limit): the
    worker held its peak for good (oneDNN's pool), now it returns what it took."""
    api, _ = shipped_api
    baseline = worker_rss(api)
    response, _ = clean(api, page_png(316, 6320))  # 20:1, 2.0 MP: a 2.9 M-pixel pass
    assert response.json()["codigo_retorno"] == 0
    assert worker_rss(api) < baseline + 300, (baseline, worker_rss(api))


@pytest.mark.parametrize(("label", "fmt", "width", "height"),
                         [s for s in STRIPS if s[2] * 20 < s[3] or s[3] * 20 < s[2]],
                         ids=[s[0] for s in STRIPS if s[2] * 20 < s[3] or s[3] * 20 < s[2]])
def test_strips_of_every_format_are_refused_within_a_second(shipped_api, label, fmt, width,
                                                             height):
    """A 209-byte 1x65535 PNG took 12.9 s and left the worker at 5.4 GiB."""
    api, database = shipped_api
    before = worker_rss(api)
    response, seconds = clean(api, strip(fmt, width, height))
    assert response.json()["codigo_retorno"] == Code.PAGE_SHAPE, response.json()
    assert response.status_code == 400 and seconds < 1.0, seconds
    row = database.row(response.headers["X-Request-ID"])
    assert (row["codigo_retorno"], row["largura"], row["altura"]) == (9, width, height)
    assert worker_rss(api) < before + 50
