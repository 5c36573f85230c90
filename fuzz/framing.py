"""Fuzzes the HTTP framing layer: raw request bytes through gunicorn's own parser to the app.

    python -m fuzz.framing [libFuzzer flags, e.g. -max_total_time=1800 var/fuzz/framing]

The input picks a body (as fuzz.route makes them) and how it is framed: Content-Length right,
or larger than what arrives (a half-close), chunked with chunk sizes from the input, a chunk-size
line, extension, trailer or end taken from the input, or the whole head and body raw. gunicorn's
RequestParser reads the bytes as a worker does, and its WSGI environ goes to the app.
- Errors before the app must be gunicorn's client errors (the worker answers them, as JSON).
- Every answer: the API's JSON, a known code (never 7), the code's status, one row with it.
- A body must get the same code and row however it is framed (Content-Length or chunked), and
  a body shorter than its Content-Length is code 1.
"""

from __future__ import annotations

import json
import socket

import atheris

from fuzz import run

with atheris.instrument_imports(include=["api", "pagework", "gunicorn.http"]):
    from gunicorn.config import Config as GunicornConfig
    from gunicorn.http import wsgi
    from gunicorn.http.errors import NoMoreData, ParseException
    from gunicorn.http.parser import RequestParser
    from werkzeug.test import run_wsgi_app

    from fuzz.route import Route, make_body
    from pagework.codes import HTTP_STATUS, MESSAGES, Code

HEAD = b"POST /remove_background HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


class Framing:
    """The app and database of fuzz.route, reached through gunicorn's parser."""

    def __init__(self) -> None:
        self.route = Route()
        self.app = self.route.client.application
        self.cfg = GunicornConfig()
        self.sock, self.peer = socket.socketpair()  # what the environ's socket entries hold

    def check(self, data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        kind, framing = fdp.ConsumeIntInRange(0, 3), fdp.ConsumeIntInRange(0, 5)
        body = make_body(bytes([kind]), fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 4096)))
        if framing == 0:  # the same body, both ways: one answer
            by_length = self.answer(HEAD + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            by_chunks = self.answer(chunked(body, split_points(fdp, len(body))))
            assert by_length == by_chunks, (by_length, by_chunks)
        elif framing == 1:
            extra = fdp.ConsumeIntInRange(1, 100_000)
            answer = self.answer(HEAD + b"Content-Length: %d\r\n\r\n" % (len(body) + extra) + body)
            assert answer and answer[0] == Code.BAD_REQUEST, answer
        elif framing == 2:
            self.answer(chunked(body, [], size_line=fdp.ConsumeBytes(12)))
        elif framing == 3:
            self.answer(chunked(body, [], end=fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 300))))
        else:
            self.answer(HEAD + fdp.ConsumeBytes(fdp.remaining_bytes()))

    def answer(self, raw: bytes) -> tuple[int, str | None] | None:
        """(code, row text) of the app's answer; None when gunicorn refused the head itself."""
        parser = RequestParser(self.cfg, iter([raw]), ("127.0.0.1", 1))
        try:
            request = next(parser)
        except (ParseException, NoMoreData, StopIteration):  # the worker's JSON refusals
            return None
        _, environ = wsgi.create(request, self.sock, ("127.0.0.1", 1), ("127.0.0.1", 3030),
                                 self.cfg)
        app_iter, status, headers = run_wsgi_app(self.app, environ, buffered=True)
        answer = json.loads(b"".join(app_iter))
        code = answer["codigo_retorno"]
        assert code in MESSAGES and code != Code.INTERNAL, answer
        assert answer["mensagem"] == MESSAGES[code]
        assert int(status.split()[0]) == HTTP_STATUS[code], (status, answer)
        return code, self.row_text(headers["X-Request-ID"], code)

    def row_text(self, request_id: str, code: int) -> str | None:
        cursor = self.route.cnx.cursor()
        cursor.execute("SELECT codigo_retorno, imgb64_dirty FROM Imagens WHERE request_id = %s",
                       (request_id,))
        rows = cursor.fetchall()
        cursor.close()
        assert len(rows) == 1 and rows[0][0] == code, "not exactly one row with the answer's code"
        return rows[0][1]


def split_points(fdp: atheris.FuzzedDataProvider, length: int) -> list[int]:
    return sorted({fdp.ConsumeIntInRange(0, length) for _ in range(fdp.ConsumeIntInRange(0, 4))})


def chunked(body: bytes, splits: list[int], size_line: bytes | None = None,
            end: bytes = b"0\r\n\r\n") -> bytes:
    """The body in chunks cut at `splits`; `size_line` replaces the first chunk's size line."""
    edges = [0, *splits, len(body)]
    chunks = [body[a:b] for a, b in zip(edges, edges[1:], strict=False) if b > a]
    framed = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
    if size_line is not None and chunks:
        framed = size_line + framed[framed.index(b"\r\n"):]
    return HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + framed + end


def main() -> None:
    run(Framing().check)


if __name__ == "__main__":
    main()
