"""Fuzzes the decode path without HTTP: body text → JSON → base64 → header checks → pixels.

    python -m fuzz.decode [libFuzzer flags, e.g. -max_total_time=1800 var/fuzz/decode]

The first input byte picks what the rest is: raw image bytes, base64 text, a data URL, or a
whole request body. Any exception other than ApiError, or an ApiError with a code that is not
an input code, is a finding (libFuzzer stops and writes the input under -artifact_prefix).
"""

from __future__ import annotations

import base64
import json

import atheris

from fuzz import run

with atheris.instrument_imports(include=["api", "pagework", "PIL"]):
    from PIL import Image

    Image.init()  # the format plugins, imported here so that they are instrumented too
    from api.log.store import storable_json, storable_text
    from api.routes import image_field, parse_json
    from fuzz.checks import LIMITS, check_image
    from pagework.codec import decode_base64
    from pagework.codes import ApiError, Code


def test_one_input(data: bytes) -> None:
    kind, rest = (data[0] % 4, data[1:]) if data else (0, b"")
    if kind == 0:
        check_image(rest)
    elif kind == 1:
        check_text(base64.b64encode(rest).decode("ascii"))
    elif kind == 2:
        check_text("data:image/png;base64," + base64.b64encode(rest).decode("ascii"))
    else:
        check_body(rest)


def check_text(text: str) -> None:
    try:
        raw = decode_base64(text, LIMITS["max_bytes"])
    except ApiError as err:
        assert err.code in (Code.BAD_IMAGE, Code.TOO_LARGE), err
        return
    check_image(raw)


def check_body(body: bytes) -> None:
    storable_text(body.decode("utf-8", "backslashreplace")).encode("utf-8")
    try:
        payload = parse_json(body, 10_000)
        storable_json(payload).encode("utf-8")  # every row text can be written
        value = image_field(payload)
    except ApiError as err:
        assert err.code in (Code.BAD_REQUEST, Code.MISSING_KEY), err
        return
    storable_text(value).encode("utf-8")
    if isinstance(value, str):
        check_text(value)
    else:
        try:
            decode_base64(value, LIMITS["max_bytes"])
        except ApiError as err:
            assert err.code == Code.BAD_IMAGE, err
        else:
            raise AssertionError(f"a {type(value).__name__} passed as base64: {json.dumps(value)}")


def main() -> None:
    run(test_one_input)


if __name__ == "__main__":
    main()
