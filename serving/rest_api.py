"""TF Serving's REST API as a WSGI app: routes, dispatch, and one JSON answer per request.

Routing and the order of checks follow tensorflow_serving/model_servers/http_rest_api_handler.cc
and http_rest_api_util.cc: the body is parsed before the model is looked up, every failure is
`{"error": message}` with the status's HTTP code, and paths outside `/v1/` get a plain 404.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from urllib.parse import unquote

from serving import json_codec
from serving.errors import Code, ServingError, invalid_argument
from serving.model_manager import ModelRegistry
from serving.servable import DEFAULT_SIGNATURE
from serving.status_json import model_status_json

log = logging.getLogger(__name__)

# What the API, bench.direct and the health checks call: status, and :predict on the latest or a
# numbered version (labels and metadata are not served).
PREDICTION_PATH = re.compile(r"/v1/models/([^/:]+)(?:/versions/(\d+))?:predict", re.IGNORECASE)
STATUS_PATH = re.compile(r"/v1/models(?:/([^/:]+))?(?:/versions/(\d+))?", re.IGNORECASE)
HANDLED_PATH = re.compile(r"/v1/.*", re.IGNORECASE | re.DOTALL)
JSON_HEADERS = [("Content-Type", "application/json")]
NOT_FOUND_PAGE = (b"<HTML><HEAD>\n<TITLE>404 Not Found</TITLE>\n</HEAD><BODY>\n<H1>Not Found</H1>"
                  b"\n</BODY></HTML>\n")
INT64_MAX = 2**63 - 1


class RestApi:
    """The WSGI callable; `in_flight` lets shutdown wait for requests being answered."""

    def __init__(self, registry: ModelRegistry, timeout_ms: int) -> None:
        self.registry = registry
        self.timeout_seconds = timeout_ms / 1000 if timeout_ms > 0 else None
        self.in_flight = 0
        self.idle = threading.Condition()
        self.draining = False  # set at shutdown: answers then close their connection

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = _raw_path(environ)
        method = environ.get("REQUEST_METHOD", "GET")
        if not HANDLED_PATH.fullmatch(path):
            start_response("404 Not Found", [("Content-Type", "text/html")])
            return [NOT_FOUND_PAGE]
        with self.idle:
            self.in_flight += 1
        try:
            status, body = self.respond(method, path, _read_body(environ))
        finally:
            with self.idle:
                self.in_flight -= 1
                self.idle.notify_all()
        headers = JSON_HEADERS + ([("Connection", "close")] if self.draining else [])
        start_response(f"{status} {_reason(status)}", headers)
        return [body.encode("utf-8")]

    def respond(self, method: str, path: str, body: bytes) -> tuple[int, str]:
        """HTTP status and JSON text for one request."""
        try:
            return 200, self.dispatch(method, path, body)
        except ServingError as error:
            if error.code in (Code.INTERNAL, Code.UNKNOWN):
                log.error("%s %s failed: %s", method, path, error.message)
            return error.http_status, error_json(error.message)
        except Exception as error:  # a bug must still answer JSON, and be logged with its trace
            log.exception("%s %s failed", method, path)
            return 500, error_json(f"Internal error: {error}")

    def dispatch(self, method: str, path: str, body: bytes) -> str:
        route = PREDICTION_PATH if method == "POST" else STATUS_PATH
        match = route.fullmatch(path) if method in ("POST", "GET") else None
        if match is None:
            raise invalid_argument("Malformed request: ", method, " ", path)
        name, version_text = match.groups()
        name = unquote(name) if name else ""
        version = _parse_version(version_text)
        if method == "GET":
            if not name:
                raise invalid_argument("Missing model name in request.")
            return self.status(name, version)
        return self.predict(name, version, body)

    def status(self, name: str, version: int | None) -> str:
        return model_status_json(self.registry.status(name, version))

    def predict(self, name: str, version: int | None, body: bytes) -> str:
        doc = json_codec.parse_json_object(body)
        signature_name = json_codec.signature_name_of(doc)
        runner = self.registry.runner_for(name, version)
        key = signature_name or DEFAULT_SIGNATURE
        if key not in runner.servable.signature_defs:
            raise invalid_argument(f'Serving signature name: "{key}" not found in signature def')
        inputs = json_codec.decode_predict_inputs(doc, runner.servable.input_dtypes(key),
                                                  signature_name)
        outputs = runner.predict(key, inputs, self.timeout_seconds)
        return json_codec.encode_predict_outputs(outputs)


def error_json(message: str) -> str:
    return json.dumps({"error": message}, indent=1) + "\n"


def _parse_version(text: str | None) -> int | None:
    if not text:
        return None
    version = int(text)
    if version > INT64_MAX:
        raise invalid_argument("Failed to convert version: ", text, " to numeric.")
    return version


def _raw_path(environ: dict) -> str:
    """The path as sent (percent-escapes intact), like evhttp's uri_path."""
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if raw:
        return raw.split("?", 1)[0]
    return environ.get("PATH_INFO", "")


def _reason(status: int) -> str:
    return "Client Closed" if status == 499 else HTTPStatus(status).phrase  # 499: nginx's


def _read_body(environ: dict) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return environ["wsgi.input"].read(length) if length > 0 else b""

