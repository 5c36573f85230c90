"""GET /openapi.json: an OpenAPI 3.1 document of every route.

Built from `pagework.codes` and the running configuration, so the code table, the messages and the
limits it states cannot drift from what the service answers.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata

from flask import Blueprint, Response, current_app, jsonify

from api.routes import KEY_DETAIL, LOG_DETAIL, MODE_KEY, image_field, output_mode
from pagework.codec import TOO_LARGE_DETAIL, check_header, decode_base64
from pagework.codes import HTTP_STATUS, MESSAGES, ApiError, Code, code_table
from pagework.config import EXTENSION, Config
from pagework.pipeline import MODE_DETAIL, MODEL_DOWN_DETAIL
from pagework.work import SHAPE_DETAIL
from tfmodel.modes import DEFAULT, MODES

bp = Blueprint("openapi", __name__)

# A 4x3 grayscale PNG: small enough to paste, real enough that the service cleans it.
EXAMPLE_PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAQAAAADCAAAAACRn/EaAAAAF0lEQVR42mN8xsDAwMRgwcDA+IyBgQEAEiMCCWeCn/UAAAAASUVORK5CYII="
)
# What pagework.codec.decode_base64 can accept: an optional data-URL prefix ("data:" in any case),
# then the standard and URL-safe alphabets, padding and whitespace.
BASE64_PATTERN = (r"^\s*(?:[Dd][Aa][Tt][Aa]:[A-Za-z0-9_.+/-]*"
                  r"(?:;[A-Za-z0-9_.+-]+=[A-Za-z0-9_.+-]+)*;base64,)?[A-Za-z0-9+/=_\s-]+$")
REQUEST_ID_HEADER = {"$ref": "#/components/headers/X-Request-ID"}
EXAMPLE_BAD_IMAGE = "aGVsbG8gd29ybGQ="  # "hello world"


def error_examples(config: Config) -> dict[Code, tuple[object, str]]:
    """A body that reaches each error code (None where it depends on size, the model, the key
    or the database) and the `detalhe` the service's own checks give it."""
    return {
        Code.BAD_REQUEST: ([1, 2], _detail_of(lambda: image_field([1, 2]))),
        Code.MISSING_KEY: ({"imgb64": EXAMPLE_PNG_B64},
                           _detail_of(lambda: image_field({"imgb64": EXAMPLE_PNG_B64}))),
        Code.BAD_IMAGE: ({"imgb64_dirty": EXAMPLE_BAD_IMAGE}, _detail_of(lambda: check_header(
            decode_base64(EXAMPLE_BAD_IMAGE, config.max_image_bytes), config.max_pixels))),
        Code.TOO_LARGE: (None, TOO_LARGE_DETAIL.format(max_bytes=config.max_image_bytes)),
        Code.MODEL_UNAVAILABLE: (None, MODEL_DOWN_DETAIL),
        Code.UNAUTHORIZED: (None, KEY_DETAIL),
        Code.INTERNAL: (None, ""),
        Code.LOG_UNAVAILABLE: (None, LOG_DETAIL),
        Code.PAGE_SHAPE: (None, SHAPE_DETAIL.format(width=1, height=65535,
                                                    ratio=config.max_aspect_ratio)),
        Code.BAD_MODE: ({"imgb64_dirty": EXAMPLE_PNG_B64, MODE_KEY: "colorido"},
                        _detail_of(lambda: output_mode({MODE_KEY: "colorido"}))),
        Code.MODE_UNAVAILABLE: (None, MODE_DETAIL.format(version=3, mode="cor")),
    }


def _detail_of(check: Callable[[], object]) -> str:
    try:
        check()
    except ApiError as err:
        return err.detail
    raise AssertionError("the example passed the check it should fail")


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(build_spec(current_app.extensions[EXTENSION].config))


def build_spec(config: Config) -> dict:
    """The whole document; `remove_background` requires the key only when API_KEY is set."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Document cleaning service",
            "version": _version(),
            "summary": "Removes stains, folds and shadows from scanned text pages.",
            "description": _description(config),
            "license": {"name": "Proprietary", "identifier": "LicenseRef-Proprietary"},
        },
        "servers": [{"url": "/", "description": "this service"}],
        "paths": {
            "/remove_background": {"post": _remove_background(config)},
            "/health": {"get": _health()},
            "/ready": {"get": _ready()},
            "/metrics": {"get": _metrics(config)},
            "/": {"get": _page()},
            "/static/{filename}": {"get": _static_file()},
            "/openapi.json": {"get": _openapi()},
        },
        "components": {
            "schemas": _schemas(),
            "headers": {"X-Request-ID": {
                "description": "This request's id: the same as the MySQL row's `request_id` and "
                               "the service log line's.",
                "required": True,
                "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
            }},
            "securitySchemes": {"ApiKey": {
                "type": "apiKey", "in": "header", "name": "X-API-Key",
                "description": "Required only when the service runs with `API_KEY` set "
                               "(then `security` of `/remove_background` lists it).",
            }},
        },
    }


def _version() -> str:
    try:
        return metadata.version("ddd-serving")
    except metadata.PackageNotFoundError:
        return "0"


def _description(config: Config) -> str:
    return (
        "`POST /remove_background` takes `{\"imgb64_dirty\": \"<base64 image>\"}` and answers the "
        "cleaned page as a PNG data URL of exactly the input's size: 8-bit grayscale, or with "
        "`\"saida\": \"cor\"` RGB (the page's inks on white paper), with `\"saida\": "
        "\"binaria\"` 1-bit black and white. Every "
        "answer has `codigo_retorno`, `mensagem` and `imgb64_clean` (`\"\"` on errors), plus "
        "`detalhe` on errors; every request is logged to MySQL, and its `X-Request-ID` header "
        "names the row.\n\n"
        f"Limits of this deployment: {config.max_image_bytes} bytes per image, "
        f"{config.max_pixels} pixels.\n\n"
        + code_table() + "\n"
    )


def _answer_ref(code: Code) -> dict:
    return {"$ref": f"#/components/schemas/Answer{int(code)}"}


def _answer_example(code: Code, detail: str = "") -> dict:
    body: dict[str, object] = {"codigo_retorno": int(code), "mensagem": MESSAGES[code],
                               "imgb64_clean": ""}
    if code == Code.OK:
        body["imgb64_clean"] = "data:image/png;base64," + EXAMPLE_PNG_B64
    if detail:
        body["detalhe"] = detail
    return body


def _remove_background(config: Config) -> dict:
    request_examples = {
        "page": {"summary": "a PNG page (raw base64)", "value": {"imgb64_dirty": EXAMPLE_PNG_B64}},
        "data-url": {"summary": "the same page as a data URL",
                     "value": {"imgb64_dirty": "data:image/png;base64," + EXAMPLE_PNG_B64}},
        "cor": {"summary": "the page in colour (an RGB PNG)",
                "value": {"imgb64_dirty": EXAMPLE_PNG_B64, MODE_KEY: "cor"}},
        "binaria": {"summary": "the page in black and white (a 1-bit PNG)",
                    "value": {"imgb64_dirty": EXAMPLE_PNG_B64, MODE_KEY: "binaria"}},
    }
    examples = error_examples(config)
    for code, (value, _) in examples.items():
        if value is not None:
            request_examples[f"code-{int(code)}"] = {
                "summary": f"answers code {int(code)}: {MESSAGES[code]}", "value": value}
    responses: dict[str, dict] = {}
    for code in Code:
        status = str(HTTP_STATUS[code])
        detail = "" if code == Code.OK else examples[code][1]
        entry = responses.setdefault(status, {
            "description": "", "headers": {"X-Request-ID": REQUEST_ID_HEADER},
            "content": {"application/json": {"schema": {"oneOf": []}, "examples": {}}},
        })
        entry["description"] = "; ".join(filter(None, [entry["description"], MESSAGES[code]]))
        media = entry["content"]["application/json"]
        media["schema"]["oneOf"].append(_answer_ref(code))
        media["examples"][f"code-{int(code)}"] = {"summary": MESSAGES[code],
                                                  "value": _answer_example(code, detail)}
    for entry in responses.values():
        schema = entry["content"]["application/json"]["schema"]
        if len(schema["oneOf"]) == 1:
            entry["content"]["application/json"]["schema"] = schema["oneOf"][0]
    return {
        "operationId": "removeBackground",
        "summary": "Clean a scanned page",
        "description": "Ordered checks settle one code (table in the document's description); "
                       "each request writes exactly one MySQL row, errors included.",
        "security": [{"ApiKey": []}] if config.api_key else [],
        "parameters": [{
            "name": "X-Request-ID", "in": "header", "required": False,
            "description": "Your own id for this request; written beside ours in the service's "
                           "log line (the answer's `X-Request-ID` is always the service's).",
            "schema": {"type": "string"},
        }],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/CleanRequest"},
            "examples": request_examples,
        }}},
        "responses": responses,
    }


def _schemas() -> dict:
    answers = {}
    for code in Code:
        clean = ({"type": "string", "pattern": "^data:image/png;base64,[A-Za-z0-9+/]+=*$"}
                 if code == Code.OK else {"const": ""})
        properties = {"codigo_retorno": {"const": int(code)},
                      "mensagem": {"const": MESSAGES[code]},
                      "imgb64_clean": clean}
        required = ["codigo_retorno", "mensagem", "imgb64_clean"]
        if code != Code.OK:
            properties["detalhe"] = {"type": "string", "description": "what to fix"}
        if code not in (Code.OK, Code.INTERNAL):  # a bug may have nothing to tell
            required.append("detalhe")
        answers[f"Answer{int(code)}"] = {
            "type": "object", "title": f"codigo_retorno {int(code)}: {MESSAGES[code]}",
            "properties": properties, "required": required, "additionalProperties": False,
        }
    return {
        "CleanRequest": {
            "type": "object", "required": ["imgb64_dirty"],
            "properties": {"imgb64_dirty": {
                "type": "string", "minLength": 1, "pattern": BASE64_PATTERN,
                "contentEncoding": "base64", "contentMediaType": "image/*",
                "description": "The image, base64 (standard or URL-safe, padding optional, line "
                               "breaks allowed) or a `data:image/...;base64,` URL. PNG, JPEG, "
                               "GIF, BMP, TIFF or WebP. Base64 that is not an image is code 3.",
            }, MODE_KEY: {
                "type": "string", "enum": list(MODES), "default": DEFAULT,
                "description": "The answer's mode: `cinza` an 8-bit grayscale PNG (the answer "
                               "without the key); `cor` an RGB PNG, paper white and neutral, each "
                               "ink in its own colour; `binaria` a 1-bit PNG, black ink on white. "
                               "Any other value, or one that is not a string, is code 10; a "
                               "model version exported before the modes answers code 11.",
            }},
        },
        **answers,
        "Readiness": {
            "type": "object", "required": ["status"],
            "description": "`status` alone, unless the request carries the API key (`API_KEY` "
                           "set): then the model, database and spool details too.",
            "properties": {
                "status": {"enum": ["ready", "degraded", "unavailable"],
                           "description": "`degraded`: the model answers, MySQL does not (rows "
                                          "wait in the spool); `unavailable`: the model does not "
                                          "answer, or the log table is missing."},
                "model": {"type": "object", "required": ["ready"],
                          "properties": {"ready": {"type": "boolean"}}},
                "database": {"type": "object", "required": ["reachable", "name"],
                             "properties": {"reachable": {"type": "boolean"},
                                            "table_missing": {"type": "boolean"},
                                            "name": {"type": "string"},
                                            "error": {"type": ["string", "null"]},
                                            "max_allowed_packet": {"type": ["integer", "null"]}}},
                "spool": {"type": "object", "required": ["pending", "rejected"],
                          "properties": {"pending": {"type": "integer", "minimum": 0},
                                         "rejected": {"type": "integer", "minimum": 0},
                                         "dir": {"type": "string"}}},
            },
        },
    }


def _health() -> dict:
    return {
        "operationId": "health", "summary": "The process is alive (says nothing of the model)",
        "responses": {"200": {"description": "alive", "content": {"application/json": {
            "schema": {"type": "object", "required": ["status"],
                       "properties": {"status": {"const": "ok"}}},
            "example": {"status": "ok"}}}}},
    }


def _ready() -> dict:
    ready = {"status": "ready"}
    down = {"status": "unavailable"}
    schema = {"$ref": "#/components/schemas/Readiness"}
    return {
        "operationId": "ready", "summary": "Whether the model answers (details with the API key)",
        "responses": {
            "200": {"description": "the model answers (`degraded` while MySQL is down)",
                    "content": {"application/json": {"schema": schema, "example": ready}}},
            "503": {"description": "the model does not answer, or the log table is missing",
                    "content": {"application/json": {"schema": schema, "example": down}}},
        },
    }


def _metrics(config: Config) -> dict:
    responses: dict[str, dict] = {"200": {
        "description": "`ddd_requests_total`, latency histograms, spool depth, model version",
        "content": {"text/plain": {"schema": {"type": "string"},
                                   "example": 'ddd_requests_total{codigo_retorno="0"} 12.0\n'}}}}
    if config.api_key:
        responses["401"] = {"description": MESSAGES[Code.UNAUTHORIZED], "content": {
            "application/json": {"schema": _answer_ref(Code.UNAUTHORIZED)}}}
    return {
        "operationId": "metrics", "summary": "Prometheus metrics (text exposition format)",
        "description": "With `API_KEY` set, only for callers with the key: `X-API-Key`, or "
                       "`Authorization: Bearer <key>` (what Prometheus's scrape config sends).",
        "security": [{"ApiKey": []}] if config.api_key else [],
        "responses": responses,
    }


def _page() -> dict:
    return {
        "operationId": "page", "summary": "A web page that cleans a picked or dropped image",
        "responses": {"200": {"description": "the page (its files are under /static/)",
                              "content": {"text/html": {"schema": {"type": "string"}}}}},
    }


def _static_file() -> dict:
    not_found = {"description": "no such file (the API's JSON shape, code 1)",
                 "content": {"application/json": {"schema": _answer_ref(Code.BAD_REQUEST)}}}
    return {
        "operationId": "staticFile", "summary": "The page's script and style sheet",
        "parameters": [{"name": "filename", "in": "path", "required": True,
                        "schema": {"type": "string"}, "example": "app.js"}],
        "responses": {
            "200": {"description": "the file", "content": {
                "text/javascript": {"schema": {"type": "string"}},
                "text/css": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}}}},
            "404": not_found,
        },
    }


def _openapi() -> dict:
    return {
        "operationId": "openapi", "summary": "This document",
        "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {
            "schema": {"type": "object", "required": ["openapi", "paths"]}}}}},
    }
