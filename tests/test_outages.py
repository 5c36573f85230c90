"""MySQL outages with nothing lost: the link to the real MariaDB is cut by a TCP proxy while
requests run, the service is killed with -9 holding spooled rows, and stopped with SIGTERM."""

from __future__ import annotations

import base64
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bench.processes import kill_group, running_api, stop
from tests.conftest import mysql_params, page_png
from tests.tcp_proxy import TcpProxy

PAGE = page_png(120, 80)
BODY = {"imgb64_dirty": base64.b64encode(PAGE).decode()}


def wait_for(predicate, timeout: float = 30, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not reached in {timeout} s")
        time.sleep(0.1)


@pytest.fixture
def proxy():
    link = TcpProxy(mysql_params()["port"])
    yield link
    link.cut()


def post(url: str) -> requests.Response:
    return requests.post(url + "/remove_background", json=BODY, timeout=60)


def assert_one_row_each(database, ids: list[str]) -> None:
    rows = database.query("SELECT request_id, COUNT(*) AS n FROM Imagens GROUP BY request_id")
    counts = {row["request_id"]: row["n"] for row in rows}
    assert len(ids) == len(set(ids))
    missing = [i for i in ids if i not in counts]
    assert not missing, f"{len(missing)} of {len(ids)} requests have no row"
    assert all(counts[i] == 1 for i in ids)
    assert database.count() == len(ids)


def test_cut_during_a_run_of_requests_loses_nothing(start_server, proxy):
    server, database = start_server(mysql_port=proxy.port, mysql_connect_timeout=1)
    ids: list[str] = []
    failures: list[str] = []
    stop_sending = threading.Event()

    def sender() -> None:
        while not stop_sending.is_set():
            response = post(server.url)
            if response.status_code != 200 or response.json()["codigo_retorno"] != 0:
                failures.append(response.text[:200])
            ids.append(response.headers["X-Request-ID"])

    with ThreadPoolExecutor(4) as pool:
        for _ in range(4):
            pool.submit(sender)
        try:
            wait_for(lambda: len(ids) >= 20, message="20 requests before the cut")
            proxy.cut()
            cut_at = len(ids)
            wait_for(lambda: len(ids) >= cut_at + 20, message="20 requests during the outage")
            wait_for(lambda: requests.get(server.url + "/ready", timeout=30).json()
                     == {"status": "degraded"}, message="readiness degraded")
            assert server.services.spool.depth() > 0
            proxy.restore()
            restored_at = len(ids)
            wait_for(lambda: len(ids) >= restored_at + 20, message="20 requests after the outage")
        finally:
            stop_sending.set()
    assert not failures, failures[:3]
    wait_for(lambda: not server.services.spool.has_pending(), message="spool replayed")
    assert_one_row_each(database, ids)
    assert server.services.spool.rejected() == 0


def requests_in_flight(url: str) -> float:
    text = requests.get(url + "/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("ddd_requests_in_flight "))


def api_env(database, proxy, spool_dir, model_base, **extra) -> dict[str, str]:
    return {"MODEL_DIR": str(model_base), "MYSQL_DATABASE": database.name,
            "MYSQL_PORT": str(proxy.port), "MYSQL_CONNECT_TIMEOUT": "1",
            "SPOOL_DIR": str(spool_dir), "WEB_CONCURRENCY": "2", **extra}


def test_spooled_rows_survive_kill_9_and_drain_after_restart(
        make_database, proxy, tiny_model_base, tmp_path):
    database = make_database()
    env = api_env(database, proxy, tmp_path / "spool", tiny_model_base)
    with running_api(env, tmp_path / "api1.log") as api:
        ids = [post(api.url).headers["X-Request-ID"] for _ in range(3)]
        proxy.cut()
        for _ in range(12):
            response = post(api.url)
            assert response.json()["codigo_retorno"] == 0
            ids.append(response.headers["X-Request-ID"])
        kill_group(api)  # gunicorn master and workers, no chance to replay
    assert database.count() == 3
    proxy.restore()
    with running_api(env, tmp_path / "api2.log"):
        wait_for(lambda: database.count() == 15, message="15 rows after the restart")
    assert_one_row_each(database, ids)


def test_sigterm_finishes_in_flight_requests_and_flushes_the_spool(
        make_database, proxy, tiny_model_base, tmp_path):
    database = make_database()
    env = api_env(database, proxy, tmp_path / "spool", tiny_model_base,
                  SPOOL_DRAIN_INTERVAL="600")  # only the shutdown may replay
    big = {"imgb64_dirty": base64.b64encode(page_png(3000, 3000)).decode()}
    with running_api(env, tmp_path / "api.log") as api:
        proxy.cut()
        ids = [post(api.url).headers["X-Request-ID"] for _ in range(5)]
        proxy.restore()
        with ThreadPoolExecutor(2) as pool:
            in_flight = [pool.submit(requests.post, api.url + "/remove_background", json=big,
                                     timeout=120) for _ in range(2)]
            wait_for(lambda: requests_in_flight(api.url) == 2, message="2 requests in flight")
            assert stop(api) == 0
            responses = [f.result() for f in in_flight]
    assert [r.json()["codigo_retorno"] for r in responses] == [0, 0]
    ids += [r.headers["X-Request-ID"] for r in responses]
    assert_one_row_each(database, ids)
    assert (tmp_path / "spool" / "pending.jsonl").stat().st_size == 0
