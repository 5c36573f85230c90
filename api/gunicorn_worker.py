"""gunicorn's gthread worker, answering the requests gunicorn refuses itself as the API's JSON.

A request gunicorn cannot parse (duplicate Content-Length, Content-Length with
Transfer-Encoding, folded headers, a request line or headers too long, an Expect it cannot meet,
a transfer coding it does not know) never reaches the application: gunicorn answered it with an
HTML page. Its status, logging and decisions stay gunicorn's; only the page it writes becomes
the API's JSON answer with the code table's code. Such requests have no MySQL row: none of
them reached the application, most not even with a method and path.
"""

from __future__ import annotations

import json
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from pagework.codes import Code, body


class JsonErrorWorker(ThreadWorker):
    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        page = _Captured()
        super().handle_error(req, page, addr, exc)
        status, _, reason = page.status_line().partition(" ")
        try:
            util.write_nonblock(client, json_error(int(status), reason))
        except OSError:  # the client is gone: nothing left to tell it
            self.log.debug("could not send the JSON error answer")


def json_error(status: int, reason: str) -> bytes:
    """A whole HTTP answer: the API's JSON body (code 7 for gunicorn's 500, else code 1)."""
    code = Code.INTERNAL if status >= 500 and status != 501 else Code.BAD_REQUEST
    payload = json.dumps(body(code, detail=f"{status} {reason}"), ensure_ascii=False).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            "Content-Type: application/json\r\nCache-Control: no-store\r\n"
            f"X-Content-Type-Options: nosniff\r\nContent-Length: {len(payload)}\r\n\r\n")
    return head.encode("latin-1") + payload


class _Captured:
    """Stands in for the client's socket while gunicorn writes its HTML error page."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0

    def setblocking(self, flag: bool) -> None:
        """Nothing to block on."""

    def sendall(self, data: bytes) -> None:
        self.data += data

    def status_line(self) -> str:
        """'400 Bad Request' from 'HTTP/1.1 400 Bad Request'; 500 if nothing was written."""
        first = self.data.split(b"\r\n", 1)[0].decode("latin-1")
        return first.split(" ", 1)[1] if first.startswith("HTTP/") else "500 Internal Server Error"
