"""HTTP routes: /remove_background (the product), /health and /ready."""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, Request, Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from api.backends import BackendUnavailable, InvalidImage, ModelBackend
from api.codec import Page, decode_base64, png_size, read_page, to_data_url
from api.codes import HTTP_STATUS, ApiError, Code, body
from api.services import Services
from api.store import LogRecord

KEY = "imgb64_dirty"
bp = Blueprint("api", __name__)
log = logging.getLogger("api.requests")


@dataclass
class Outcome:
    """What one request settled on: the response and the row are both built from it."""

    code: Code = Code.OK
    clean: str = ""
    detail: str = ""
    dirty: str | None = None
    width: int | None = None
    height: int | None = None
    status: int | None = None


def services() -> Services:
    return current_app.extensions["ddd"]


@bp.post("/remove_background")
def remove_background() -> Response:
    started = time.perf_counter()
    received_at = datetime.now(UTC).replace(tzinfo=None)
    request_id = uuid.uuid4().hex
    svc = services()
    outcome = settle(svc, request, request_id)
    duration_ms = (time.perf_counter() - started) * 1000
    stored = log_request(svc, outcome, request_id, received_at, duration_ms)
    svc.metrics.requests.labels(str(int(outcome.code))).inc()
    svc.metrics.request_seconds.observe(time.perf_counter() - started)
    log_line(request_id, outcome, duration_ms, stored)
    return respond(outcome, request_id)


def settle(svc: Services, req: Request, request_id: str) -> Outcome:
    """The ordered checks (key, JSON, field, base64, image, size, model): the first that fails
    sets the code."""
    outcome = Outcome()
    try:
        check_api_key(req, svc.config.api_key)
        payload = read_json(req, outcome)
        value = image_field(payload, outcome)
        outcome.dirty = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        page = read_page(decode_base64(value, svc.config.max_image_bytes), svc.config.max_pixels)
        outcome.width, outcome.height = page.width, page.height
        with svc.metrics.inference_seconds.time():
            png = clean_page(svc.backend, page)
        outcome.clean = to_data_url(png)
    except ApiError as err:
        outcome.code, outcome.detail, outcome.status = err.code, err.detail, err.status
    except Exception:  # the one boundary where a bug must still give JSON and a log row
        log.exception("request %s failed unexpectedly", request_id)
        outcome.code, outcome.status = Code.INTERNAL, None
    return outcome


def log_request(svc: Services, outcome: Outcome, request_id: str, received_at: datetime,
                duration_ms: float) -> str:
    """Writes the request's one row (MySQL or spool) before the answer leaves."""
    record = LogRecord(
        request_id=request_id, data=received_at, codigo_retorno=int(outcome.code),
        imgb64_dirty=outcome.dirty, imgb64_clean=outcome.clean or None, largura=outcome.width,
        altura=outcome.height, duracao_ms=round(duration_ms, 3),
        versao_modelo=svc.backend.version() if outcome.code == Code.OK else None,
    )
    written = time.perf_counter()
    stored = svc.request_log.write(record)
    svc.metrics.log_write_seconds.labels(stored).observe(time.perf_counter() - written)
    return stored


def check_api_key(req: Request, api_key: str) -> None:
    if api_key and not hmac.compare_digest(req.headers.get("X-API-Key", "").encode(),
                                           api_key.encode()):
        raise ApiError(Code.UNAUTHORIZED, "envie a chave no cabeçalho X-API-Key")


def read_json(req: Request, outcome: Outcome) -> object:
    """The parsed body; a body that is not JSON is kept (as text) for the log row."""
    if not (req.mimetype == "application/json" or req.mimetype.endswith("+json")):
        raise ApiError(Code.BAD_REQUEST, "Content-Type deve ser application/json")
    try:
        raw = req.get_data(cache=False)
    except RequestEntityTooLarge:
        raise ApiError(Code.TOO_LARGE, "corpo da requisição excede o limite") from None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as err:  # RecursionError: absurdly deep nesting
        outcome.dirty = raw.decode("utf-8", "replace")
        raise ApiError(Code.BAD_REQUEST, f"corpo não é JSON válido: {err}") from None


def image_field(payload: object, outcome: Outcome) -> object:
    """The image value; a body without it is kept (as JSON text) for the log row."""
    if not isinstance(payload, dict) or KEY not in payload:
        outcome.dirty = json.dumps(payload, ensure_ascii=False)
    if not isinstance(payload, dict):
        raise ApiError(Code.BAD_REQUEST, "o corpo deve ser um objeto JSON")
    if KEY not in payload:
        raise ApiError(Code.MISSING_KEY, f"o objeto JSON não tem a chave {KEY}")
    return payload[KEY]


def clean_page(backend: ModelBackend, page: Page) -> bytes:
    """Runs the model and checks its answer has the input's size."""
    try:
        png = backend.clean(page.data)
    except InvalidImage as err:
        # The model's own message names graph nodes: it goes to the log, not to the client.
        log.info("model could not decode the %s image: %s", page.source_format, err)
        raise ApiError(Code.BAD_IMAGE, f"imagem {page.source_format} corrompida ou truncada"
                       ) from None
    except BackendUnavailable as err:
        log.warning("model backend unavailable: %s", err)
        raise ApiError(Code.MODEL_UNAVAILABLE, "o modelo não respondeu; tente novamente") from None
    if png_size(png) != (page.width, page.height):
        raise ApiError(Code.INTERNAL, "o modelo devolveu uma imagem de outro tamanho")
    return png


def respond(outcome: Outcome, request_id: str) -> Response:
    response = jsonify(body(outcome.code, outcome.clean, outcome.detail))
    response.status_code = outcome.status or HTTP_STATUS[outcome.code]
    response.headers["X-Request-ID"] = request_id
    return response


def log_line(request_id: str, outcome: Outcome, duration_ms: float, stored: str) -> None:
    """One JSON line per request, findable by the X-Request-ID the client got."""
    log.info(json.dumps({
        "request_id": request_id, "codigo_retorno": int(outcome.code),
        "status": outcome.status or HTTP_STATUS[outcome.code], "duration_ms": round(duration_ms, 1),
        "width": outcome.width, "height": outcome.height, "log_row": stored,
        "client_request_id": request.headers.get("X-Request-ID"), "detail": outcome.detail,
    }, ensure_ascii=False))


@bp.get("/health")
def health() -> Response:
    """The process answers; says nothing about the model or MySQL (see /ready)."""
    return jsonify({"status": "ok"})


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text format."""
    payload, content_type = services().metrics.render()
    return Response(payload, content_type=content_type)


@bp.get("/ready")
def ready() -> Response:
    """Ready when the model answers. MySQL down only degrades: rows wait in the spool."""
    svc = services()
    model = svc.backend.status()
    database = svc.store.ping()
    spool = {"pending": svc.spool.depth(), "rejected": svc.spool.rejected(),
             "dir": str(svc.spool.directory)}
    is_ready = bool(model.get("ready"))
    state = "ready" if is_ready and database else "degraded" if is_ready else "unavailable"
    payload = {"status": state, "model": model,
               "database": {"reachable": database, "name": svc.store.database,
                            "error": svc.store.last_error,
                            "max_allowed_packet": svc.store.max_allowed_packet},
               "spool": spool}
    return jsonify(payload), 200 if is_ready else 503
