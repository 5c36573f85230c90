"""Hostile input: every case gets its code, its HTTP status, a JSON body and exactly one row.
Property-based tests throw random JSON and random bytes at the route."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from api.codes import HTTP_STATUS, MESSAGES
from tests.conftest import ROOT, decode_clean, encode, page_array
from tests.test_routes import JSON, assert_answer, assert_row, b64


def rgba16_with_transparency() -> bytes:
    """16-bit RGBA PNG (Pillow cannot write one, so build it with the PNG chunk layout)."""
    import struct
    import zlib

    height, width = 6, 5
    pixels = np.zeros((height, width, 4), ">u2")
    pixels[..., :3] = 1000
    pixels[..., 3] = 0  # fully transparent: should come out white
    pixels[0, 0] = (0, 0, 0, 65535)
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def palette_png_with_alpha() -> bytes:
    image = Image.new("P", (9, 4))
    image.putpalette([255, 0, 0, 0, 0, 0] + [0] * 762)
    image.putpixel((0, 0), 1)
    return encode(image, transparency=bytes([0, 255] + [255] * 254))


@pytest.mark.parametrize(("image", "size"), [
    (encode(Image.fromarray(page_array(1, 20000))), (1, 20000)),
    (encode(Image.fromarray(page_array(20000, 1))), (20000, 1)),
    (rgba16_with_transparency(), (5, 6)),
    (palette_png_with_alpha(), (9, 4)),
], ids=["1x20000", "20000x1", "png16-rgba-transparent", "palette-alpha"])
def test_extreme_shapes_and_transparency_are_cleaned(live, image, size):
    server, database = live
    response = server.clean(image)
    assert_answer(response, 0)
    assert decode_clean(response).size == size
    row = assert_row(database, response, 0, b64(image))
    assert (row["largura"], row["altura"]) == size


def test_non_utf8_body_is_code_1(live):
    server, database = live
    response = server.post(data=b'{"imgb64_dirty": "\xff\xfe"}', headers=JSON)
    assert_answer(response, 1)
    assert database.row(response.headers["X-Request-ID"])["codigo_retorno"] == 1


def test_deeply_nested_json_is_code_1_or_2(live):
    server, database = live
    response = server.post(data=b"[" * 100_000 + b"]" * 100_000, headers=JSON)
    assert response.json()["codigo_retorno"] == 1
    assert response.status_code == 400
    database.row(response.headers["X-Request-ID"])


def test_huge_json_number_and_duplicate_keys(live):
    server, _ = live
    response = server.post(data=b'{"imgb64_dirty": 1' + b"0" * 5000 + b"}", headers=JSON)
    assert response.json()["codigo_retorno"] in (1, 3)
    png = b64(encode(Image.fromarray(page_array(10, 10))))
    body = b'{"imgb64_dirty": "bad!", "imgb64_dirty": "' + png.encode() + b'"}'
    assert server.post(data=body, headers=JSON).json()["codigo_retorno"] == 0  # last one wins


# What a response must never show: stack traces, source paths, TensorFlow graph node names.
LEAKS = re.compile(r"Traceback|File \"|\.py\b|/usr/|site-packages|\{\{node|node |Op:|"
                   + re.escape(str(ROOT)))


def check_invariants(response, database) -> None:
    """What every answer of the route must satisfy, whatever was sent."""
    payload = response.json()
    code = payload["codigo_retorno"]
    assert code in MESSAGES and code != 7, payload
    assert payload["mensagem"] == MESSAGES[code]
    assert response.status_code == HTTP_STATUS[code]
    assert response.status_code < 500 or code == 5
    assert (payload["imgb64_clean"] != "") == (code == 0)
    assert not LEAKS.search(response.text), payload.get("detalhe")
    assert database.row(response.headers["X-Request-ID"])["codigo_retorno"] == code


FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12,
)


@FUZZ
@given(payload=json_values | st.dictionaries(st.just("imgb64_dirty"), json_values))
def test_random_json(live, payload):
    server, database = live
    check_invariants(server.post(data=json.dumps(payload).encode(), headers=JSON), database)


@FUZZ
@given(data=st.binary(max_size=2000))
def test_random_bytes_as_body(live, data):
    server, database = live
    check_invariants(server.post(data=data, headers=JSON), database)


@FUZZ
@given(data=st.binary(max_size=3000))
def test_random_bytes_as_image(live, data):
    server, database = live
    check_invariants(server.post({"imgb64_dirty": base64.b64encode(data).decode()}), database)


PNG_SEED = encode(Image.fromarray(page_array(24, 16)))
JPEG_SEED = encode(Image.fromarray(page_array(24, 16)), "JPEG")


@FUZZ
@given(seed=st.sampled_from([PNG_SEED, JPEG_SEED]), position=st.integers(0, 10_000),
       value=st.integers(0, 255), cut=st.integers(0, 10_000))
def test_corrupted_images(live, seed, position, value, cut):
    """A real image with one byte changed and possibly truncated: decoders' corner cases."""
    server, database = live
    data = bytearray(seed)
    data[position % len(data)] = value
    data = bytes(data[: max(1, len(data) - cut % len(data))])
    check_invariants(server.post({"imgb64_dirty": base64.b64encode(data).decode()}), database)
