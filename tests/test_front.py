"""The nginx front of compose (docker/nginx/) in front of the service as `make run` starts it:
slow clients tie up nginx, not gunicorn; bodies over the limit still get their row; the API's
absence is answered in its JSON shape; /metrics stays inside."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from bench.processes import running_api, stop
from pagework.config import Config
from tests.conftest import DATA_DIR, page_png
from tests.nginx_front import NGINX, front_env, running_front

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(),
                                reason="nginx is not installed (make test installs it)")
SMALL_LIMIT = 200_000  # MAX_IMAGE_BYTES of the stack under test
FRONT_TOKEN = "front-secret-of-the-stack-under-test"


@pytest.mark.parametrize("image_bytes", ["1000", "200000", "26214400", "104857600"])
def test_front_body_limit_is_the_apis(image_bytes):
    env = front_env({"PATH": "/usr/bin:/bin", "MAX_IMAGE_BYTES": image_bytes})
    expected = Config(max_image_bytes=int(image_bytes)).max_request_bytes
    assert int(env["NGINX_CLIENT_MAX_BODY_SIZE"]) == expected


def test_front_defaults_when_the_limit_is_left_empty():
    env = front_env({"PATH": "/usr/bin:/bin", "MAX_IMAGE_BYTES": ""})  # as compose passes it
    assert int(env["NGINX_CLIENT_MAX_BODY_SIZE"]) == Config().max_request_bytes
    assert env["API_UPSTREAM"] == "api:3030"


@pytest.fixture(scope="module")
def stack(tiny_model_base, make_database, tmp_path_factory):
    """nginx → `python -m api` (one worker, four threads: make run's default)."""
    database = make_database()
    folder = tmp_path_factory.mktemp("front")
    env = {"MODEL_DIR": str(tiny_model_base), "MYSQL_DATABASE": database.name,
           "SPOOL_DIR": str(folder / "spool"), "MAX_IMAGE_BYTES": str(SMALL_LIMIT),
           "FRONT_TOKEN": FRONT_TOKEN}
    with running_api(env, folder / "api.log") as api, \
            running_front(api.url.removeprefix("http://"), folder / "nginx",
                          MAX_IMAGE_BYTES=str(SMALL_LIMIT), NGINX_CLIENT_TIMEOUT="3",
                          FRONT_TOKEN=FRONT_TOKEN) as front:
        yield front, api, database


class Tricklers:
    """Connections that send their headers, then one body byte per second."""

    def __init__(self, url: str, count: int) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sockets = []
        for _ in range(count):
            sock = socket.create_connection((host, int(port)), timeout=10)
            sock.sendall(b"POST /remove_background HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
            self.sockets.append(sock)
        self.stop = threading.Event()
        self.rounds = 0
        self.round_done = threading.Condition()
        self.thread = threading.Thread(target=self._trickle)
        self.thread.start()

    def _trickle(self) -> None:
        while not self.stop.wait(1.0):
            for sock in self.sockets:
                sock.send(b" ")  # a connection the front closed would fail the test here
            with self.round_done:
                self.rounds += 1
                self.round_done.notify_all()

    def wait_rounds(self, rounds: int, timeout: float = 60) -> bool:
        with self.round_done:
            return self.round_done.wait_for(lambda: self.rounds >= rounds, timeout)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for sock in self.sockets:
            sock.close()


def clean(url: str, page: bytes) -> requests.Response:
    return requests.post(url + "/remove_background", timeout=60,
                         json={"imgb64_dirty": base64.b64encode(page).decode()})


def test_slow_clients_do_not_starve_the_service(stack):
    """64 connections trickling one byte a second: gunicorn alone (4 threads) answers nobody
    once 8 of them arrive; behind the front, pages are cleaned as usual."""
    front, _, database = stack
    pages = real_pages()
    alone = [clean(front.url, page).elapsed.total_seconds() for page in pages]
    tricklers = Tricklers(front.url, 64)
    try:
        assert tricklers.wait_rounds(1)  # every connection has started its body
        during = []
        while len(during) < len(pages) or tricklers.rounds < 3:
            response = clean(front.url, pages[len(during) % len(pages)])
            assert response.json()["codigo_retorno"] == 0
            database.row(response.headers["X-Request-ID"])
            during.append(response.elapsed.total_seconds())
        assert tricklers.thread.is_alive()  # still trickling, none cut off
    finally:
        tricklers.close()
    print(f"\npages through the front: median {sorted(alone)[len(alone) // 2]:.3f} s alone, "
          f"{sorted(during)[len(during) // 2]:.3f} s with 64 trickling connections")


def real_pages() -> list[bytes]:
    found = sorted((DATA_DIR / "test").glob("*.png"))[:6] if DATA_DIR.exists() else []
    return [path.read_bytes() for path in found] or [page_png(540, 420, seed) for seed in range(6)]


def test_stalled_header_is_cut_off(stack):
    front, _, _ = stack
    host, port = front.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(b"POST /remove_background HTTP/1.1\r\nHost: x\r\n")  # and nothing more
        started = time.monotonic()
        answer = sock.recv(65536)  # returns when nginx gives up on the header
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < 50


def test_body_over_the_limit_gets_code_4_and_its_row(stack):
    front, _, database = stack
    body = json.dumps({"imgb64_dirty": "A" * (SMALL_LIMIT * 2)}).encode()
    response = requests.post(front.url + "/remove_background", data=body, timeout=60,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["codigo_retorno"] == 4
    assert response.json()["detalhe"] == "corpo da requisição excede o limite"
    row = database.row(response.headers["X-Request-ID"])
    assert (row["codigo_retorno"], row["imgb64_dirty"]) == (4, None)


@pytest.mark.parametrize("token", [None, "", "a-guess"])
@pytest.mark.parametrize("through", ["front", "api"])
def test_a_client_cannot_fake_the_fronts_refusal(stack, through, token):
    """Through the front, or straight to the API as a proxy that passes headers on lets it
    (Kubernetes' ingress does): the page is cleaned and logged, not refused."""
    front, api, database = stack
    page = base64.b64encode(page_png(30, 20)).decode()
    headers = {"X-Front-Refused": "413"} | ({} if token is None else {"X-Front-Token": token})
    response = requests.post((front if through == "front" else api).url + "/remove_background",
                             timeout=60, json={"imgb64_dirty": page}, headers=headers)
    assert response.json()["codigo_retorno"] == 0
    assert database.row(response.headers["X-Request-ID"])["imgb64_dirty"] == page


def test_metrics_stay_inside(stack):
    front, api, _ = stack
    outside = requests.get(front.url + "/metrics", timeout=10)
    assert outside.status_code == 404 and outside.json()["codigo_retorno"] == 1
    assert "ddd_requests_total" in requests.get(api.url + "/metrics", timeout=10).text


def self_signed(folder: Path) -> Path:
    """A certificate and key for 127.0.0.1, as a user would put in FRONT_TLS_DIR."""
    folder.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(folder / "tls.key"), "-out", str(folder / "tls.crt")],
                   check=True, capture_output=True)
    return folder


def test_front_speaks_tls_with_a_mounted_certificate(stack, tmp_path):
    """With tls.crt and tls.key in its folder the front answers HTTPS on its port, and a page
    still reaches the API and its row (X-Forwarded-Proto says https)."""
    _, api, database = stack
    tls = self_signed(tmp_path / "tls")
    with running_front(api.url.removeprefix("http://"), tmp_path / "nginx",
                       NGINX_TLS_DIR=str(tls)) as front:
        assert front.url.startswith("https://")
        response = requests.post(front.url + "/remove_background", timeout=60,
                                 verify=front.verify, json={"imgb64_dirty": "not base64!"})
        assert response.json()["codigo_retorno"] == 3
        assert database.row(response.headers["X-Request-ID"])["codigo_retorno"] == 3
        plain = requests.get(front.url.replace("https://", "http://") + "/health", timeout=10)
        assert plain.status_code == 400  # plain HTTP is not served on the TLS port


def test_front_refuses_half_a_tls_configuration(tmp_path):
    (tmp_path / "tls.crt").write_text("")
    with pytest.raises(subprocess.CalledProcessError):
        front_env({"PATH": "/usr/bin:/bin", "NGINX_TLS_DIR": str(tmp_path)})


def test_api_down_is_json_code_5(tiny_model_base, make_database, tmp_path):
    env = {"MODEL_DIR": str(tiny_model_base), "MYSQL_DATABASE": make_database().name,
           "SPOOL_DIR": str(tmp_path / "spool")}
    with running_api(env, tmp_path / "api.log") as api, \
            running_front(api.url.removeprefix("http://"), tmp_path / "nginx") as front:
        assert clean(front.url, page_png(20, 20)).json()["codigo_retorno"] == 0
        stop(api)
        response = clean(front.url, page_png(20, 20))
    assert response.status_code == 503
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json() == {"codigo_retorno": 5, "imgb64_clean": "",
                               "mensagem": "Serviço de inferência indisponível",
                               "detalhe": "o serviço não respondeu; tente novamente"}


def test_what_nginx_refuses_itself_is_json_too(stack):
    front, _, _ = stack
    too_long = requests.get(front.url + "/" + "a" * 10_000, timeout=10)
    huge_header = requests.get(front.url + "/health", headers={"X-Big": "b" * 40_000}, timeout=10)
    for response in (too_long, huge_header):
        assert response.status_code == 400
        assert response.json()["codigo_retorno"] == 1
        assert response.headers["Cache-Control"] == "no-store"
