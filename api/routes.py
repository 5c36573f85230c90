"""HTTP routes: /remove_background (the product), /health, /ready and /metrics."""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from flask import Blueprint, Request, Response, current_app, jsonify, request

from api.body import BodyMalformed, BodyTooLarge, read_body
from api.log.request_log import LogUnavailable
from api.log.store import LogRecord, storable_text
from api.request_json import body_text, field_text, parse_json
from api.services import Services
from pagework.codec import to_data_url
from pagework.codes import HTTP_STATUS, ApiError, Code, body
from pagework.config import EXTENSION
from pagework.pipeline import clean_text
from tfmodel.modes import DEFAULT, MODES

KEY = "imgb64_dirty"
MODE_KEY = "saida"
MODE_CHOICES = "'cinza' (o padrão), 'cor' ou 'binaria'"
KEY_DETAIL = "envie a chave no cabeçalho X-API-Key"
LOG_DETAIL = ("a requisição não pôde ser registrada (banco de dados e fila local indisponíveis);"
              " tente novamente")
BODY_TOO_LARGE_DETAIL = "corpo da requisição excede o limite"
CLIENT_ID_CHARS = 128  # of a client's X-Request-ID in the log line: an id, not a payload
# Characters that JSON leaves raw but log readers (Python's splitlines, many viewers) take for a
# line break: escaped, so that a client's header cannot forge a second log line.
LINE_BREAKS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}
bp = Blueprint("api", __name__)
log = logging.getLogger("api.requests")


@dataclass(frozen=True)
class Outcome:
    """What one request settled on: the response and the row are both built from it."""

    code: Code = Code.OK
    clean: str = ""
    detail: str = ""
    dirty: str | None = None
    width: int | None = None
    height: int | None = None
    mode: str | None = None  # the output mode, once a valid one was read


def services() -> Services:
    return current_app.extensions[EXTENSION]


@bp.post("/remove_background")
def remove_background() -> Response:
    started = time.perf_counter()
    received_at = datetime.now(UTC).replace(tzinfo=None)
    request_id = uuid.uuid4().hex
    svc = services()
    with svc.metrics.in_flight.track_inprogress():
        return serve(svc, request_id, received_at, started)


def serve(svc: Services, request_id: str, received_at: datetime, started: float) -> Response:
    """Settle, log the row, count, answer."""
    outcome = settle(svc, request)
    duration_ms = (time.perf_counter() - started) * 1000
    outcome, stored = log_request(svc, outcome, request_id, received_at, duration_ms)
    svc.metrics.requests.labels(str(int(outcome.code))).inc()
    svc.metrics.request_seconds.observe(time.perf_counter() - started)
    log_line(request, request_id, outcome, duration_ms, stored)
    return respond(outcome, request_id)


def settle(svc: Services, req: Request) -> Outcome:
    """The ordered checks (key, JSON, field, mode, base64, image, size, model): the first that
    fails sets the code. `received` is what the row keeps of the request, as far as it was read."""
    received: str | None = None
    mode: str | None = None
    try:
        check_api_key(req, svc.config.api_key)
        raw = read_request_body(req, svc.config.max_request_bytes, svc.config.front_token)
        try:
            payload = parse_json(raw, svc.config.max_json_values)
            value = image_field(payload)
        except ApiError:
            received = storable_text(body_text(raw))  # the whole body, as sent
            raise
        received = storable_text(value) if isinstance(value, str) else \
            field_text(body_text(raw), KEY)
        mode = output_mode(payload)
        with svc.metrics.inference_seconds.time():
            cleaned = clean_text(value, svc.backend, svc.config, svc.budget, mode)
        return Outcome(Code.OK, to_data_url(cleaned.png), dirty=received, width=cleaned.width,
                       height=cleaned.height, mode=mode)
    except ApiError as err:
        width, height = err.page_size or (None, None)
        return Outcome(err.code, detail=err.detail, dirty=received, width=width, height=height,
                       mode=mode)
    except Exception:  # the one boundary where a bug must still give JSON and a log row
        log.exception("request failed unexpectedly")
        return Outcome(Code.INTERNAL, dirty=received, mode=mode)


def log_request(svc: Services, outcome: Outcome, request_id: str, received_at: datetime,
                duration_ms: float) -> tuple[Outcome, str]:
    """Writes the request's one row (MySQL or spool) before the answer leaves. A row that cannot
    be stored anywhere turns the answer into code 8: nothing is served unlogged."""
    record = LogRecord(
        request_id=request_id, data=received_at, codigo_retorno=int(outcome.code),
        imgb64_dirty=outcome.dirty, imgb64_clean=outcome.clean or None, largura=outcome.width,
        altura=outcome.height, duracao_ms=round(duration_ms, 3),
        versao_modelo=svc.backend.version() if outcome.code == Code.OK else None,
        saida=outcome.mode,
    )
    written = time.perf_counter()
    try:
        stored = svc.request_log.write(record)
    except LogUnavailable:
        return replace(outcome, code=Code.LOG_UNAVAILABLE, clean="", detail=LOG_DETAIL), "lost"
    svc.metrics.log_write_seconds.labels(stored).observe(time.perf_counter() - written)
    return outcome, stored


def check_api_key(req: Request, api_key: str) -> None:
    if not has_api_key(req, api_key):
        raise ApiError(Code.UNAUTHORIZED, KEY_DETAIL)


def has_api_key(req: Request, api_key: str) -> bool:
    """True when no key is configured, or the request carries it (compared in constant time)."""
    return not api_key or same_secret(req.headers.get("X-API-Key", ""), api_key)


def has_bearer_key(req: Request, api_key: str) -> bool:
    scheme, _, token = req.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and same_secret(token.strip(), api_key)


def front_refused(req: Request, front_token: str) -> bool:
    """The front's word that it refused the body, believed only with the front's token: any
    client can send X-Front-Refused, and not every proxy clears it (Kubernetes' ingress does
    not)."""
    return bool(front_token) and req.headers.get("X-Front-Refused") == "413" \
        and same_secret(req.headers.get("X-Front-Token", ""), front_token)


def same_secret(sent: str, expected: str) -> bool:
    """Compared in constant time."""
    return hmac.compare_digest(sent.encode(), expected.encode())


def read_request_body(req: Request, limit: int, front_token: str) -> bytes:
    if front_refused(req, front_token):
        # The nginx front did not read a body over the limit, and asks for its row and answer.
        raise ApiError(Code.TOO_LARGE, BODY_TOO_LARGE_DETAIL)
    if not (req.mimetype == "application/json" or req.mimetype.endswith("+json")):
        raise ApiError(Code.BAD_REQUEST, "Content-Type deve ser application/json")
    try:
        return read_body(req.environ, limit)
    except BodyTooLarge:
        raise ApiError(Code.TOO_LARGE, BODY_TOO_LARGE_DETAIL) from None
    except BodyMalformed as err:
        raise ApiError(Code.BAD_REQUEST, f"corpo da requisição incompleto ou malformado ({err})"
                       ) from None


def image_field(payload: object) -> object:
    if not isinstance(payload, dict):
        raise ApiError(Code.BAD_REQUEST, "o corpo deve ser um objeto JSON")
    if KEY not in payload:
        raise ApiError(Code.MISSING_KEY, f"o objeto JSON não tem a chave {KEY}")
    return payload[KEY]


def output_mode(payload: dict) -> str:
    """`saida`, or cinza when the request has none: the answer every client had before."""
    value = payload.get(MODE_KEY, DEFAULT)
    if isinstance(value, str) and value in MODES:
        return value
    if not isinstance(value, str):
        raise ApiError(Code.BAD_MODE, f"{MODE_KEY} deve ser um texto: {MODE_CHOICES}")
    # ASCII JSON of the value: a client's text cannot break the log line or the answer
    raise ApiError(Code.BAD_MODE, f"{MODE_KEY} deve ser {MODE_CHOICES}; recebido "
                                  f"{json.dumps(value[:32])}")


def respond(outcome: Outcome, request_id: str) -> Response:
    response = jsonify(body(outcome.code, outcome.clean, outcome.detail))
    response.status_code = HTTP_STATUS[outcome.code]
    response.headers["X-Request-ID"] = request_id
    return response


def log_line(req: Request, request_id: str, outcome: Outcome, duration_ms: float,
             stored: str) -> None:
    """One JSON line per request, findable by the X-Request-ID the client got."""
    client_id = req.headers.get("X-Request-ID")
    log.info(json.dumps({
        "request_id": request_id, "codigo_retorno": int(outcome.code),
        "status": HTTP_STATUS[outcome.code], "duration_ms": round(duration_ms, 1),
        "width": outcome.width, "height": outcome.height, "saida": outcome.mode,
        "log_row": stored,
        "client_request_id": client_id[:CLIENT_ID_CHARS] if client_id else client_id,
        "detail": outcome.detail,
    }, ensure_ascii=False).translate(LINE_BREAKS))


@bp.get("/health")
def health() -> Response:
    """The process answers; says nothing about the model or MySQL (see /ready)."""
    return jsonify({"status": "ok"})


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text format. With API_KEY set, only for callers with the key (X-API-Key, or
    `Authorization: Bearer`, which Prometheus's scrape config sends): the API's own port may be
    reachable where the front is not in the way."""
    svc = services()
    key = svc.config.api_key
    if not (has_api_key(request, key) or has_bearer_key(request, key)):
        response = jsonify(body(Code.UNAUTHORIZED, detail=KEY_DETAIL))
        response.status_code = HTTP_STATUS[Code.UNAUTHORIZED]
        return response
    payload, content_type = svc.metrics.render()
    return Response(payload, content_type=content_type)


@bp.get("/ready")
def ready() -> Response:
    """Ready when the model answers and the table exists; MySQL down only degrades (rows wait in
    the spool). Strangers get the status alone; the details (hosts, errors, paths) need the API
    key, and are never shown when the service runs without one."""
    svc = services()
    state = svc.readiness.check()
    payload: dict[str, object] = {"status": state.status}
    if svc.config.api_key and has_api_key(request, svc.config.api_key):
        payload.update(
            model=state.model,
            database={"reachable": state.database, "table_missing": state.table_missing,
                      "name": svc.store.database, "error": state.database_error,
                      "max_allowed_packet": svc.store.max_allowed_packet},
            spool={"pending": svc.spool.depth(), "rejected": svc.spool.rejected(),
                   "dir": str(svc.spool.directory)})
    return jsonify(payload), 503 if state.status == "unavailable" else 200
