"""The Flask application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from api import openapi, routes, web
from api.services import build_services
from pagework.codes import Code, body
from pagework.config import EXTENSION, Config, from_env

log = logging.getLogger(__name__)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def create_app(config: Config | Mapping[str, Any] | None = None) -> Flask:
    """Defaults, then the environment, then `config` (a Config, or overrides from tests)."""
    cfg = config if isinstance(config, Config) else from_env().with_overrides(config)
    logging.basicConfig(level=cfg.log_level, format=LOG_FORMAT)
    logging.getLogger("mysql.connector").setLevel(logging.WARNING)  # it logs each auth plugin
    app = Flask(__name__, static_folder=None)  # api/web.py serves the page's files
    app.config["MAX_CONTENT_LENGTH"] = cfg.max_request_bytes
    app.extensions[EXTENSION] = build_services(cfg)
    app.register_blueprint(routes.bp)
    app.register_blueprint(web.bp)
    app.register_blueprint(openapi.bp)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.after_request(_no_store)
    return app


def _no_store(response: Response) -> Response:
    """Answers carry a client's page and the service's state: never cached by a proxy, never
    sniffed into another type by a browser."""
    if response.mimetype == "application/json":
        response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def _http_error(err: HTTPException) -> Response:
    """404, 405, 413... answered in the API's JSON shape, never as an HTML page; werkzeug's
    headers (e.g. Allow on a 405) are kept."""
    code = Code.TOO_LARGE if err.code == 413 else Code.BAD_REQUEST
    response = jsonify(body(code, detail=f"{err.code} {err.name}"))
    response.status_code = err.code or 400
    for name, value in err.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _unexpected_error(err: Exception) -> tuple[Response, int]:
    log.exception("unhandled error", exc_info=err)
    return jsonify(body(Code.INTERNAL)), 500
