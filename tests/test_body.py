"""The HTTP framing layer, through gunicorn as `make run` serves it: every way of framing a body
(Content-Length, chunked, malformed chunked, cut short) gets the API's JSON answer and one row,
and the same answer and row however a body is framed."""

from __future__ import annotations

import base64
import json
import socket

import pytest

from bench.processes import running_api
from pagework.config import Config
from tests.conftest import page_png

SMALL_LIMIT = 200_000  # MAX_IMAGE_BYTES of the server under test
BODY_LIMIT = Config(max_image_bytes=SMALL_LIMIT).max_request_bytes
HEAD = b"POST /remove_background HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
PAGE = json.dumps({"imgb64_dirty": base64.b64encode(page_png(40, 30)).decode()}).encode()


@pytest.fixture(scope="module")
def gunicorn_api(tiny_model_base, make_database, tmp_path_factory):
    database = make_database()
    folder = tmp_path_factory.mktemp("framing")
    env = {"MODEL_DIR": str(tiny_model_base), "MYSQL_DATABASE": database.name,
           "SPOOL_DIR": str(folder / "spool"), "MAX_IMAGE_BYTES": str(SMALL_LIMIT)}
    with running_api(env, folder / "api.log") as api:
        yield api, database


def exchange(url: str, request: bytes, half_close: bool = True) -> tuple[int, dict, dict]:
    """Sends raw bytes, reads the answer to the end: (status, headers, JSON body)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(request)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if answer_complete(answer):
                break
    head, _, payload = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, json.loads(payload)


def answer_complete(answer: bytes) -> bool:
    head, sep, payload = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if sep and line.lower().startswith(b"content-length:"):
            return len(payload) >= int(line.split(b":", 1)[1])
    return False


def chunked(*chunks: bytes, end: bytes = b"0\r\n\r\n") -> bytes:
    return HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(
        b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + end


def assert_code(api, database, request: bytes, code: int, status: int) -> dict:
    got_status, headers, payload = exchange(api.url, request)
    assert (got_status, payload["codigo_retorno"]) == (status, code), payload
    row = database.row(headers["x-request-id"])
    assert row["codigo_retorno"] == code
    return row


MALFORMED_CHUNKED = {
    "size-not-hex": HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "size-0x-prefix": HEAD + b"Transfer-Encoding: chunked\r\n\r\n0x1f\r\n" + b"a" * 31
    + b"\r\n0\r\n\r\n",
    "size-negative": HEAD + b"Transfer-Encoding: chunked\r\n\r\n-1\r\nabc\r\n0\r\n\r\n",
    "bad-extension": HEAD + b"Transfer-Encoding: chunked\r\n\r\n2;=x\r\n{}\r\n0\r\n\r\n",
    "data-without-crlf": HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n",
    "bare-lf-in-trailer": chunked(b"{}", end=b"0\r\nX-T: 1\nX-U: 2\r\n\r\n"),
    "300-kb-trailer": chunked(b"{}", end=b"0\r\nX-T: " + b"a" * 300_000 + b"\r\n\r\n"),
    "no-final-crlf": chunked(PAGE, end=b"0\r\n"),
    "cut-mid-chunk": HEAD + b"Transfer-Encoding: chunked\r\n\r\n100\r\n{}",
}


@pytest.mark.parametrize("request_bytes", MALFORMED_CHUNKED.values(),
                         ids=MALFORMED_CHUNKED.keys())
def test_malformed_chunked_body_is_code_1_with_its_row(gunicorn_api, request_bytes):
    api, database = gunicorn_api
    assert_code(api, database, request_bytes, 1, 400)


def test_a_valid_chunked_body_is_served(gunicorn_api):
    api, database = gunicorn_api
    half = len(PAGE) // 2
    assert_code(api, database, chunked(PAGE[:half], PAGE[half:]), 0, 200)


@pytest.mark.parametrize("padding", [BODY_LIMIT - len(PAGE) + 1, 3 * BODY_LIMIT],
                         ids=["one-byte-over", "three-times"])
def test_a_body_over_the_limit_is_code_4_however_it_is_framed(gunicorn_api, padding):
    """A valid object followed by spaces: chunked bodies were cut at the limit and served."""
    api, database = gunicorn_api
    body = PAGE + b" " * padding
    assert len(body) > BODY_LIMIT
    by_length = HEAD + b"Content-Length: %d\r\n\r\n" % len(body) + body
    by_chunks = chunked(*(body[i:i + 65536] for i in range(0, len(body), 65536)))
    rows = [assert_code(api, database, request, 4, 413) for request in (by_length, by_chunks)]
    assert [row["imgb64_dirty"] for row in rows] == [None, None]


def test_a_chunked_body_at_the_limit_is_served(gunicorn_api):
    api, database = gunicorn_api
    body = PAGE + b" " * (BODY_LIMIT - len(PAGE))
    row = assert_code(api, database, chunked(body[:100_000], body[100_000:]), 0, 200)
    assert row["imgb64_dirty"] == json.loads(PAGE)["imgb64_dirty"]


@pytest.mark.parametrize("missing", [1, 1000])
def test_a_whole_object_shorter_than_its_content_length_is_code_1(gunicorn_api, missing):
    """The client half-closes after a complete JSON object: the body is not what it announced."""
    api, database = gunicorn_api
    request = HEAD + b"Content-Length: %d\r\n\r\n" % (len(PAGE) + missing) + PAGE
    assert_code(api, database, request, 1, 400)


GUNICORN_REFUSES = {
    # (request, the status gunicorn gives it)
    "duplicate-content-length": (HEAD + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400),
    "length-and-chunked": (HEAD + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"0\r\n\r\n", 400),
    "folded-header": (HEAD + b"X-A: 1\r\n  folded\r\nContent-Length: 2\r\n\r\n{}", 400),
    "request-line-too-long": (b"POST /remove_background?" + b"q" * 9000 + b" HTTP/1.1\r\n"
                              b"Host: x\r\n\r\n", 414),
    "too-many-headers": (HEAD + b"".join(b"X-%d: 1\r\n" % i for i in range(200))
                         + b"Content-Length: 2\r\n\r\n{}", 431),
    "unknown-expectation": (HEAD + b"Expect: 200-ok\r\nContent-Length: 2\r\n\r\n{}", 417),
    "unknown-transfer-coding": (HEAD + b"Transfer-Encoding: br\r\n\r\n0\r\n\r\n", 501),
}


@pytest.mark.parametrize(("request_bytes", "status"), GUNICORN_REFUSES.values(),
                         ids=GUNICORN_REFUSES.keys())
def test_what_gunicorn_refuses_itself_is_the_apis_json(gunicorn_api, request_bytes, status):
    """These never reach the application (so no row): the answer is still the API's shape."""
    api, _ = gunicorn_api
    got, headers, payload = exchange(api.url, request_bytes)
    assert got == status
    assert headers["content-type"] == "application/json"
    assert payload == {"codigo_retorno": 1, "mensagem": "Erro na requisição", "imgb64_clean": "",
                       "detalhe": payload["detalhe"]}
    assert payload["detalhe"].startswith(str(status))
