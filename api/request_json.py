"""The request body as JSON, and the text of it the audit row keeps.

The row keeps what was sent, not a re-serialisation of what Python parsed: `1e400` would come back
as `Infinity` (not JSON), duplicate keys would lose all but the last, `1.0` would become `1.0` but
`1E2` `100.0`. So the text is sliced from the body itself.
"""

from __future__ import annotations

import json
from json.decoder import WHITESPACE, scanstring

from api.log.store import storable_text
from pagework.codes import ApiError, Code

JSON_VALUE_MARKS = (b",", b":", b"[", b"{")
_skip = WHITESPACE.match  # JSON's own whitespace, as json.loads skips it


def parse_json(raw: bytes, max_values: int) -> object:
    """The parsed body. Values are counted first (a linear scan): millions of tiny values would
    cost ~30x the body's size in Python objects before any check could refuse them."""
    if sum(raw.count(mark) for mark in JSON_VALUE_MARKS) > max_values:
        raise ApiError(Code.BAD_REQUEST, f"JSON com mais de {max_values} valores")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as err:  # RecursionError: absurdly deep nesting
        raise ApiError(Code.BAD_REQUEST, f"corpo não é JSON válido: {err}") from None


def body_text(raw: bytes) -> str:
    """The body as text, decoded as json.loads decodes it (UTF-8, or UTF-16/32 when the bytes
    say so); bytes that are not text as \\xNN. May hold lone surrogates: see storable_text."""
    try:
        return raw.decode(json.detect_encoding(raw), "surrogatepass")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace")


def field_text(text: str, key: str) -> str:
    """The source text of the last top-level `key`'s value (the one json.loads keeps) in a body
    text that json.loads accepted as an object, as the row can hold it."""
    scan = json.JSONDecoder().scan_once
    position, found = _skip(text, text.index("{") + 1).end(), ""
    while text[position] == '"':
        name, position = scanstring(text, position + 1)
        start = _skip(text, _skip(text, position).end() + 1).end()  # past the colon
        _, end = scan(text, start)
        if name == key:
            found = text[start:end]
        position = _skip(text, end).end()
        if text[position] == ",":
            position = _skip(text, position + 1).end()
    return storable_text(found)
