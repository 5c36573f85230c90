"""The service as `make run` starts it (`python -m api`: gunicorn, gthread workers), sent the
request bytes an outsider would send. The in-process tests cannot see what differs here:
forked workers, metrics shared through files, gunicorn's own parsing and binding."""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path

import pytest
import requests

from bench.processes import running_api
from pagework.config import Config
from tests.conftest import page_png


@pytest.fixture(scope="module")
def two_workers(tiny_model_base, make_database, tmp_path_factory):
    """`python -m api` with two workers, as compose runs it."""
    database = make_database()
    folder = tmp_path_factory.mktemp("deployed")
    env = {"MODEL_DIR": str(tiny_model_base), "MYSQL_DATABASE": database.name,
           "SPOOL_DIR": str(folder / "spool"), "WEB_CONCURRENCY": "2", "TMPDIR": str(folder),
           "GUNICORN_THREADS": "4"}
    with running_api(env, folder / "api.log") as api:
        yield api, database, folder


def post_raw(url: str, body: bytes) -> requests.Response:
    return requests.post(url + "/remove_background", data=body, timeout=60,
                         headers={"Content-Type": "application/json"})


def metric(text: str, name: str) -> float:
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith(name + " ") or line.startswith(name + "{")]
    return sum(values)


def test_metrics_sum_both_workers_exactly(two_workers):
    api, _, _ = two_workers
    before = requests.get(api.url + "/metrics", timeout=10).text
    body = json.dumps({"imgb64_dirty": base64.b64encode(page_png(40, 30)).decode()}).encode()
    sessions = [requests.Session() for _ in range(6)]  # separate connections: both workers serve
    for i in range(30):
        response = sessions[i % 6].post(api.url + "/remove_background", data=body, timeout=60,
                                        headers={"Content-Type": "application/json"})
        assert response.json()["codigo_retorno"] == 0
    for _ in range(4):
        sessions[0].post(api.url + "/remove_background", json={}, timeout=60)
    after = requests.get(api.url + "/metrics", timeout=10).text
    assert metric(after, 'ddd_requests_total{codigo_retorno="0"}') \
        - metric(before, 'ddd_requests_total{codigo_retorno="0"}') == 30
    assert metric(after, 'ddd_requests_total{codigo_retorno="2"}') \
        - metric(before, 'ddd_requests_total{codigo_retorno="2"}') == 4
    assert metric(after, "ddd_request_duration_seconds_count") \
        - metric(before, "ddd_request_duration_seconds_count") == 34
    assert metric(after, "ddd_inference_duration_seconds_count") >= 30
    assert 'ddd_log_write_duration_seconds_bucket{destination="db",le="+Inf"}' in after
    assert "ddd_spool_pending_rows 0.0" in after
    assert api.log_text().count("Booting worker") == 2


def test_no_metrics_folder_is_left_behind(tiny_model_base, make_database, tmp_path):
    env = {"MODEL_DIR": str(tiny_model_base), "MYSQL_DATABASE": make_database().name,
           "SPOOL_DIR": str(tmp_path / "spool"), "TMPDIR": str(tmp_path)}
    with running_api(env, tmp_path / "api.log") as api:
        assert list(tmp_path.glob("ddd-metrics-*")), "gunicorn should use a fresh folder"
        requests.get(api.url + "/metrics", timeout=10)
    assert not list(tmp_path.glob("ddd-metrics-*"))


def test_binds_loopback_by_default(monkeypatch):
    monkeypatch.delenv("HOST", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    assert Config().host == "127.0.0.1"
    conf = Path(__file__).resolve().parents[1] / "api" / "gunicorn_conf.py"
    namespace: dict = {}
    exec(compile(conf.read_text(), str(conf), "exec"), namespace)  # as gunicorn reads it
    assert namespace["bind"] == "127.0.0.1:3030"


SURROGATE_BODIES = [
    # (id, body, code, the row's imgb64_dirty: the value, or the whole body when there is none)
    ("value", b'{"imgb64_dirty": "\\ud800"}', 3, '"\\ud800"'),
    ("other-key", b'{"imgb64_dirty": "abc", "\\udfff": 1}', 3, "abc"),
    ("key-missing", b'{"x": "\\ud800"}', 2, '{"x": "\\ud800"}'),
    ("nested", b'{"imgb64_dirty": ["\\udc00\\ud800", {"\\ud83d": "\\u0000"}]}', 3,
     '["\\udc00\\ud800", {"\\ud83d": "\\u0000"}]'),
    ("not-an-object", b'["\\ud800"]', 1, '["\\ud800"]'),
]


@pytest.mark.parametrize(("body", "code", "stored"), [case[1:] for case in SURROGATE_BODIES],
                         ids=[case[0] for case in SURROGATE_BODIES])
def test_lone_surrogates_get_a_code_and_a_lossless_row(two_workers, body, code, stored):
    """Text UTF-8 cannot hold is kept as its ASCII JSON literal: valid, and nothing lost."""
    api, database, _ = two_workers
    response = post_raw(api.url, body)
    assert (response.status_code, response.json()["codigo_retorno"]) == (400, code)
    row = database.row(response.headers["X-Request-ID"])
    assert (row["codigo_retorno"], row["imgb64_dirty"]) == (code, stored)


def test_adversarial_data_url_does_not_stall_the_worker(two_workers):
    """A backtracking regex took 60 s for 60 KB; here 1 MB is refused at once."""
    api, _, _ = two_workers
    for value in ("data:" + "a" * 1_000_000, "data:" + "a/" * 500_000,
                  "data:image/png" + ";a=b" * 250_000):
        response = post_raw(api.url, json.dumps({"imgb64_dirty": value}).encode())
        assert response.json()["codigo_retorno"] == 3
        assert response.elapsed.total_seconds() < 5


def test_json_answers_are_not_cached_or_sniffed(two_workers):
    api, _, _ = two_workers
    for response in (post_raw(api.url, b"{}"), requests.get(api.url + "/ready", timeout=10),
                     requests.get(api.url + "/nowhere", timeout=10),
                     requests.get(api.url + "/remove_background", timeout=10)):
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_start_up_reads_as_a_few_lines(two_workers):
    api, database, _ = two_workers
    log = api.log_text()
    for noise in ("cuda", "cuInit", "absl::InitializeLog", "computation_placer", "oneDNN"):
        assert noise not in log
    assert "model: version 1, in-process backend" in log
    assert f"request log: MySQL 127.0.0.1:3306/{database.name}" in log


def test_header_of_a_raw_socket_request(two_workers):
    """The bytes a client without any library sends: HTTP/1.0, no keep-alive."""
    api, _, _ = two_workers
    host, port = api.url.removeprefix("http://").split(":")
    body = b'{"imgb64_dirty": "data:image/png;base64,"}'
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /remove_background HTTP/1.0\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 400") or head.startswith(b"HTTP/1.1 400")
    assert b"X-Request-ID:" in head
    assert json.loads(payload)["codigo_retorno"] == 3


@pytest.mark.parametrize("sent", [b"", b'{"imgb64_dirty": "', b"{" * 500])
def test_body_shorter_than_its_content_length_is_code_1_with_a_row(two_workers, sent):
    """A client that half-closes before sending the whole body: its row, code 1, not code 7."""
    api, database, _ = two_workers
    host, port = api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(b"POST /remove_background HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n" + sent)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head[:100]
    assert json.loads(payload)["codigo_retorno"] == 1
    request_id = [line.split(b": ", 1)[1].decode() for line in head.split(b"\r\n")
                  if line.lower().startswith(b"x-request-id:")][0]
    assert database.row(request_id)["codigo_retorno"] == 1
