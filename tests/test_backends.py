"""Both model backends on the same SavedModel: byte-identical answers, errors mapped to codes,
and the TF Serving backend's outage and recovery against a real server process."""

from __future__ import annotations

import contextlib
import threading

import pytest

from bench.processes import free_port
from pagework.backends import BackendUnavailable, InvalidImage
from pagework.backends.in_process import InProcessBackend
from pagework.backends.tf_serving import TFServingBackend
from tests.conftest import decode_clean, encode, page_array, page_png
from tests.test_hostile import LEAKS
from tests.test_routes import assert_answer, assert_row, b64

PAGES = [page_png(64, 48), page_png(541, 259, seed=3), page_png(1, 1), page_png(7, 300, seed=4)]


@pytest.fixture(scope="module")
def model_server(local_serving):
    return local_serving


@pytest.fixture(scope="module")
def in_process(tiny_model_base):
    return InProcessBackend(str(tiny_model_base))


def test_tf_serving_backend_is_byte_identical_to_in_process(model_server, in_process):
    remote = TFServingBackend(model_server.url, "autoencoder")
    for page in PAGES:
        assert remote.clean(page) == in_process.clean(page)
    assert remote.version() == in_process.version() == "1"
    assert remote.status() == {"ready": True, "backend": "tf-serving",
                               "url": model_server.url + "/v1/models/autoencoder", "version": "1"}


def test_undecodable_bytes_are_invalid_image_on_both(model_server, in_process):
    remote = TFServingBackend(model_server.url, "autoencoder")
    broken = page_png(200, 100)[:300]
    for backend in (remote, in_process):
        with pytest.raises(InvalidImage):
            backend.clean(broken)


def test_unknown_model_or_version_is_unavailable(model_server):
    for backend in (TFServingBackend(model_server.url, "nope"),
                    TFServingBackend(model_server.url, "autoencoder", "9")):
        with pytest.raises(BackendUnavailable):
            backend.clean(PAGES[0])
        assert backend.status()["ready"] is False


def test_api_over_tf_serving_end_to_end(model_server, in_process, start_server):
    server, database = start_server(tf_serving_url=model_server.url)
    jpeg = encode(_page_image(), "JPEG", quality=85)
    for image in (PAGES[1], jpeg):
        response = server.clean(image)
        assert_answer(response, 0)
        assert decode_clean(response).size == (541, 259)
        row = assert_row(database, response, 0, b64(image))
        assert row["versao_modelo"] == "1"
    response = server.clean(page_png(200, 100)[:300])  # truncated: TF Serving's 400 -> code 3
    assert_answer(response, 3)
    assert LEAKS.search(response.text) is None
    assert_row(database, response, 3, b64(page_png(200, 100)[:300]))


def _page_image():
    from PIL import Image

    return Image.fromarray(page_array(541, 259, seed=3))


class HungServer:
    """Accepts connections and never answers: a model server stuck mid-request."""

    def __init__(self) -> None:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        import socket

        with contextlib.suppress(OSError):  # wakes the accept() that close() alone would not
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_hung_model_server_gives_code_5_within_the_timeout(start_server):
    """The server took the connection and never answered: the API's 2 s timeout answers, long
    before the client's own 60 s would."""
    hung = HungServer()
    try:
        server, database = start_server(tf_serving_url=hung.url, tf_serving_timeout=2)
        response = server.clean(PAGES[0])
        assert_answer(response, 5)
        assert hung.held  # connected: the call was cut by the read timeout, not refused
        assert_row(database, response, 5, b64(PAGES[0]))
    finally:
        hung.close()


def test_api_recovers_when_the_model_server_returns(tiny_model_base, start_server, tmp_path):
    port = free_port()
    server, database = start_server(tf_serving_url=f"http://127.0.0.1:{port}",
                                    tf_serving_timeout=10)
    assert_answer(server.clean(PAGES[0]), 5)  # nothing listens yet
    from bench.processes import model_available, running

    args = ["-m", "serving", f"--rest_api_port={port}", "--rest_api_host=127.0.0.1",
            f"--port={free_port()}", "--grpc_host=127.0.0.1",
            "--model_name=autoencoder", f"--model_base_path={tiny_model_base}"]
    with running(args, port=port, log_path=tmp_path / "log",
                 ready=model_available("autoencoder")):
        response = server.clean(PAGES[0])
        assert_answer(response, 0)
        assert database.row(response.headers["X-Request-ID"])["versao_modelo"] == "1"
    assert_answer(server.clean(PAGES[0]), 5)  # and down again after it stops
