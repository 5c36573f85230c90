"""The HTTP server under the REST API: werkzeug's threaded WSGI server, quiet per request.
A thread per keep-alive connection; model calls at once are bounded by the runner, not here."""

from __future__ import annotations

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class QuietRequestHandler(WSGIRequestHandler):
    """HTTP/1.1 with keep-alive; no access-log line per request (load tests would drown the
    log), errors still go to the `werkzeug` logger."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def make_http_server(host: str, port: int, app) -> BaseWSGIServer:
    """Binds now (so a taken port fails at start-up); `serve_forever` starts answering."""
    return make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)
