"""TF Serving's REST API as a WSGI app: model status and `:predict`, one JSON answer each.

As tensorflow_serving/model_servers/http_rest_api_handler.cc: every failure is
`{"error": message}` with the status's HTTP code, paths outside `/v1/` get a plain 404.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from http import HTTPStatus

from serving import json_codec
from serving.errors import ServingError, invalid_argument
from serving.models import DEFAULT_SIGNATURE, Registry, status_json

log = logging.getLogger(__name__)

# What the API, bench.direct and the health checks call: status, and :predict on the latest or a
# numbered version.
PREDICT_PATH = re.compile(r"/v1/models/([^/:]+)(?:/versions/(\d+))?:predict")
STATUS_PATH = re.compile(r"/v1/models(?:/([^/:]+))?(?:/versions/(\d+))?")


class RestApi:
    def __init__(self, registry: Registry, timeout_ms: int) -> None:
        self.registry = registry
        self.timeout = timeout_ms / 1000 if timeout_ms > 0 else None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if not path.startswith("/v1/"):
            start_response("404 Not Found", [("Content-Type", "text/html")])
            return [b"<HTML><BODY><H1>Not Found</H1></BODY></HTML>\n"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        status, body = self.respond(method, path, environ["wsgi.input"].read(length))
        start_response(f"{status} {HTTPStatus(status).phrase}",
                       [("Content-Type", "application/json")])
        return [body.encode()]

    def respond(self, method: str, path: str, body: bytes) -> tuple[int, str]:
        """HTTP status and JSON text for one request."""
        try:
            return 200, self.dispatch(method, path, body)
        except ServingError as error:
            return error.http_status, json.dumps({"error": error.message}, indent=1) + "\n"
        except Exception as error:  # a bug must still answer JSON, and be logged with its trace
            log.exception("%s %s failed", method, path)
            return 500, json.dumps({"error": f"Internal error: {error}"}, indent=1) + "\n"

    def dispatch(self, method: str, path: str, body: bytes) -> str:
        match = (PREDICT_PATH if method == "POST" else STATUS_PATH).fullmatch(path)
        if method not in ("GET", "POST") or match is None:
            raise invalid_argument(f"Malformed request: {method} {path}")
        name, version = match[1], int(match[2]) if match[2] else None
        if method == "GET":
            if not name:
                raise invalid_argument("Missing model name in request.")
            return status_json(self.registry.model(name).status(version))
        signature, instances = json_codec.parse_request(body)
        servable = self.registry.model(name).servable(version)
        key = signature or DEFAULT_SIGNATURE
        if key not in servable.signatures:
            raise invalid_argument(f'Serving signature name: "{key}" not found in signature def')
        inputs = json_codec.instances_to_tensors(instances, servable.input_dtypes(key))
        return json_codec.predictions_json(servable.predict(key, inputs, self.timeout))
