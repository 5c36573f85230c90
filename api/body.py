"""Reading a request body whole: one answer however it is framed (Content-Length or chunked).

Werkzeug's stream is not used: when the server ends the input itself (gunicorn, chunked bodies)
it stops at the size limit without saying so, and a body cut short by a client's half-close reads
as a shorter, complete one. gunicorn's own parse errors (a bad chunk size, a missing CRLF, an
oversized trailer) derive from Exception, not from the OSError werkzeug expects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gunicorn.http.errors import ParseException
from werkzeug.wsgi import get_content_length

READ_STEP = 1024 * 1024  # bytes asked of the server per read


class BodyTooLarge(Exception):
    """More bytes than the limit, announced or sent."""


class BodyMalformed(Exception):
    """Not a whole body: fewer bytes than Content-Length, or chunked framing that does not
    parse."""


def read_body(environ: Mapping[str, Any], limit: int) -> bytes:
    """The whole body, at most `limit` bytes; BodyTooLarge or BodyMalformed otherwise."""
    length = get_content_length(environ)
    if length is not None and length > limit:
        raise BodyTooLarge(f"Content-Length {length}")
    if length is None and not environ.get("wsgi.input_terminated"):
        return b""  # neither length nor an end the server keeps: no body to read
    wanted = limit + 1 if length is None else length
    try:
        data = read_up_to(environ["wsgi.input"], wanted)
    except (OSError, ValueError, ParseException) as err:
        raise BodyMalformed(type(err).__name__) from None
    if len(data) > limit:
        raise BodyTooLarge(f"more than {limit} bytes")
    if length is not None and len(data) < length:
        raise BodyMalformed(f"{len(data)} of {length} bytes")
    return data


def read_up_to(stream: Any, wanted: int) -> bytes:
    """Reads until `wanted` bytes or the end of the input, whichever comes first."""
    parts: list[bytes] = []
    got = 0
    while got < wanted:
        piece = stream.read(min(READ_STEP, wanted - got))
        if not piece:
            break
        parts.append(piece)
        got += len(piece)
    return b"".join(parts)
