"""Hostile input: every case gets its code, its HTTP status, a JSON body and exactly one row.
Property-based tests throw random JSON and random bytes at the route."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import struct
import subprocess
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from api.log.store import storable_text
from api.routes import LOG_DETAIL, parse_json
from pagework.budget import BUSY_DETAIL, PixelBudget
from pagework.codec import decode_base64, read_page, strip_data_url
from pagework.codes import HTTP_STATUS, MESSAGES, ApiError
from tests.conftest import FUZZ_EXAMPLES, ROOT, decode_clean, encode, page_array
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
    (encode(Image.fromarray(page_array(20, 400))), (20, 400)),
    (encode(Image.fromarray(page_array(400, 20))), (400, 20)),
    (rgba16_with_transparency(), (5, 6)),
    (palette_png_with_alpha(), (9, 4)),
], ids=["20x400", "400x20", "png16-rgba-transparent", "palette-alpha"])
def test_elongated_shapes_and_transparency_are_cleaned(live, image, size):
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
    assert response.status_code < 500 or code in (5, 8)
    assert response.headers["X-Request-ID"]
    assert (payload["imgb64_clean"] != "") == (code == 0)
    assert not LEAKS.search(response.text), payload.get("detalhe")
    assert database.row(response.headers["X-Request-ID"])["codigo_retorno"] == code


FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
# Text with lone surrogates and control characters, numbers far beyond 64 bits.
hostile_text = st.text(st.characters(codec=None) | st.characters(categories=["Cs", "Cc"]),
                       max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**60, 10**60) | st.floats() | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
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


# --- Class 1: every step that touches request text is linear and bounded ----------------------

MB = 1_000_000
ADVERSARIAL_TEXT = {
    "data-letters": "data:" + "a" * MB,
    "data-slashes": "data:" + "a/" * (MB // 2),
    "data-params": "data:image/png" + ";a=b" * (MB // 4),
    "data-params-no-value": "data:" + ";a=" * (MB // 3),
    "data-base64-late": "data:" + "a" * MB + ";base64,QUJD",
    "data-commas": "data:" + "," * MB,
    "spaces": " " * MB + "A",
    "padding": "=" * MB,
    "line-breaks": "QUJD\r\n" * (MB // 6),
    "non-ascii": "é" * MB,
    "almost-base64": "A" * MB + "!",
    "surrogates": "\ud800" * MB,
}
ADVERSARIAL_BODIES = {
    "brackets": b"[" * MB,
    "objects": b'{"a":' * (MB // 5),
    "empty-objects": b"[" + b"{}," * (MB // 3) + b"{}]",
    "escapes": b'{"imgb64_dirty": "' + b"\\u0000" * (MB // 6) + b'"}',
    "long-key": b'{"' + b"k" * MB + b'": 1}',
    "digits": b'{"imgb64_dirty": ' + b"9" * MB + b"}",
    "whitespace": b" " * MB + b"{}",
    "strings": b"[" + b'"",' * (MB // 3) + b'""]',
}


def cpu_seconds(step) -> float:
    """This thread's CPU time for the step: what a backtracking parser burns, whatever the
    machine's load (wall-clock would measure the neighbours too)."""
    started = time.thread_time()
    with contextlib.suppress(ApiError):
        step()
    return time.thread_time() - started


@pytest.mark.parametrize("value", ADVERSARIAL_TEXT.values(), ids=ADVERSARIAL_TEXT.keys())
def test_image_text_steps_take_under_a_second_for_1_mb(value):
    body = json.dumps({"imgb64_dirty": value}).encode()
    steps = {"data URL": lambda: strip_data_url(value), "base64": lambda: decode_base64(value, MB),
             "body": lambda: parse_json(body, 10_000), "row text": lambda: storable_text(value)}
    times = {name: cpu_seconds(step) for name, step in steps.items()}
    assert max(times.values()) < 1.0, times


@pytest.mark.parametrize("body", ADVERSARIAL_BODIES.values(), ids=ADVERSARIAL_BODIES.keys())
def test_body_steps_take_under_a_second_for_1_mb(body):
    assert cpu_seconds(lambda: parse_json(body, 10_000)) < 1.0
    assert cpu_seconds(lambda: storable_text(body.decode("utf-8", "backslashreplace"))) < 1.0


@pytest.mark.parametrize("name", ["data-letters", "data-params", "surrogates", "padding"])
def test_adversarial_text_through_the_service(live, name):
    server, database = live
    started = time.monotonic()
    response = server.post(data=json.dumps({"imgb64_dirty": ADVERSARIAL_TEXT[name]}).encode(),
                           headers=JSON)
    assert time.monotonic() - started < 30  # the regex took 60 s for 60 KB, hours for 1 MB
    check_invariants(response, database)
    assert response.json()["codigo_retorno"] == 3


def test_data_url_header_is_looked_for_in_a_short_prefix_only():
    with pytest.raises(ApiError) as refused:
        decode_base64("data:image/png" + ";x=y" * 100 + ";base64,QUJD", MB)
    assert refused.value.detail == "data URL sem ';base64,'"
    assert decode_base64("data:image/png;charset=x;base64,QUJD", MB) == b"ABC"
    assert decode_base64("DATA:,QUJD".replace(",", ";base64,"), MB) == b"ABC"


# --- Class 3: Pillow opens the documented formats only; any read error is code 3 ---------------

def other_format(fmt: str) -> bytes:
    image = Image.fromarray(page_array(16, 8))
    if fmt in ("DDS", "ICNS", "JPEG2000", "QOI"):
        image = image.convert("RGB")
    elif fmt in ("XBM", "MSP", "PALM"):
        image = image.convert("1")
    return encode(image, fmt)


def dds_without_pixel_format() -> bytes:
    """A DDS header whose pixel-format flags are all zero (raised outside the caught set)."""
    header = struct.pack("<4sIIIIIII44x", b"DDS ", 124, 0x1007, 8, 8, 0, 0, 0)
    pixel_format = struct.pack("<II4sIIIII", 32, 0, b"\0\0\0\0", 0, 0, 0, 0, 0)
    return header + pixel_format + b"\0" * 20 + b"\0" * 256


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n%%EOF\n"
PSD = b"8BPS\x00\x01" + b"\0" * 6 + struct.pack(">HIIHH", 1, 8, 8, 8, 1) + b"\0" * 64
NOT_ALLOWED = {fmt: other_format(fmt) for fmt in (
    "ICO", "PCX", "TGA", "SGI", "PPM", "XBM", "DDS", "QOI", "SPIDER", "PDF", "MSP",
    "PALM", "JPEG2000", "ICNS")}
NOT_ALLOWED.update({"DDS-no-pixel-format": dds_without_pixel_format(), "EPS": EPS, "PSD": PSD})


@pytest.mark.parametrize("data", NOT_ALLOWED.values(), ids=NOT_ALLOWED.keys())
def test_formats_outside_the_list_are_code_3(live, data):
    server, database = live
    response = server.clean(data)
    check_invariants(response, database)
    assert response.json()["codigo_retorno"] == 3
    assert response.json()["detalhe"] == ("os bytes não são uma imagem reconhecida "
                                          "(PNG, JPEG, GIF, BMP, TIFF, WEBP)")


# --- Class 10: memory from small inputs is bounded --------------------------------------------

def test_a_body_of_millions_of_tiny_values_is_refused_before_parsing(live):
    server, database = live
    body = b'{"imgb64_dirty": "QUJD", "padding": [' + b"{}," * MB + b"{}]}"
    response = server.post(data=body, headers=JSON)
    check_invariants(response, database)
    assert response.json()["codigo_retorno"] == 1
    assert response.json()["detalhe"] == "JSON com mais de 10000 valores"
    assert database.row(response.headers["X-Request-ID"])["imgb64_dirty"].startswith(
        '{"imgb64_dirty": "QUJD", "padding": [{},')


def test_pixels_over_the_budget_wait_then_get_code_5(start_server):
    server, database = start_server(pixel_budget=1_000, max_pixels=1_000,
                                    pixel_budget_wait=0.2)
    page = encode(Image.fromarray(page_array(40, 25)))  # 1000 pixels: the whole budget
    with server.services.budget.hold(1):  # another request holds a pixel
        busy = server.clean(page)
    assert_answer(busy, 5)
    assert busy.json()["detalhe"] == BUSY_DETAIL
    row = database.row(busy.headers["X-Request-ID"])
    assert (row["codigo_retorno"], row["largura"], row["altura"]) == (5, 40, 25)
    assert_answer(server.clean(page), 0)  # released: the same page passes
    assert server.services.budget.in_use == 0


def test_budget_lets_a_waiting_page_in_when_another_finishes():
    budget = PixelBudget(limit=100, wait=30)
    holding = {80: threading.Event(), 50: threading.Event()}
    release = threading.Event()

    def page(pixels: int) -> None:
        with budget.hold(pixels):
            holding[pixels].set()
            release.wait(30)

    first = threading.Thread(target=page, args=(80,))
    first.start()
    assert holding[80].wait(30)
    second = threading.Thread(target=page, args=(50,))
    second.start()
    assert not holding[50].wait(0.2) and budget.in_use == 80  # 80 + 50 > 100: it waits
    release.set()
    assert holding[50].wait(30)  # let in once the first page is done
    first.join(30)
    second.join(30)
    assert budget.in_use == 0


def test_a_page_alone_always_fits():
    budget = PixelBudget(limit=100, wait=0)
    with budget.hold(1_000):  # more than the limit: held as the whole budget, not refused
        assert budget.in_use == 100
    assert budget.in_use == 0


def test_sixteen_bit_conversion_works_a_block_of_rows_at_a_time():
    """A 20 KB 16-bit 10 MP PNG: the conversion holds the 8-bit page and a block of rows, not
    several float copies of the page (that cost ~170 MB)."""
    import tracemalloc

    pixels = np.zeros((2500, 4000), np.uint16)
    pixels[::7] = 65535
    data = encode(Image.fromarray(pixels))
    assert len(data) < 100_000
    tracemalloc.start()
    try:
        page = read_page(data, 40_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 30 * 1024 * 1024, f"{peak / 2**20:.0f} MiB traced"  # was 134 MiB
    gray = np.asarray(Image.open(io.BytesIO(page.data)))
    assert gray.shape == (2500, 4000) and gray[0, 0] == 255 and gray[1, 0] == 0


# --- Class 2: when neither MySQL nor the spool can keep the row -------------------------------

@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 64 KiB tmpfs: a disk that fills up after a few rows."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_full_disk_and_mysql_down_give_code_8_never_an_unlogged_answer(start_server, tiny_tmpfs):
    from tests.test_routes import closed_port

    server, _ = start_server(spool_dir=str(tiny_tmpfs), mysql_port=closed_port(),
                             mysql_connect_timeout=1)
    page = encode(Image.fromarray(page_array(64, 64)))
    answers = [server.clean(page) for _ in range(40)]  # each row ~12 KB: the disk fills up
    codes = [answer.json()["codigo_retorno"] for answer in answers]
    assert codes[0] == 0 and codes[-1] == 8, codes
    assert codes == sorted(codes)  # served while rows could be kept, code 8 after
    spooled = server.services.spool.depth()
    assert spooled == codes.count(0)  # every answered page has its row waiting
    for answer in answers[codes.index(8):]:
        assert answer.status_code == 503 and answer.headers["X-Request-ID"]
        assert answer.json() == {"codigo_retorno": 8, "imgb64_clean": "",
                                 "mensagem": "Não foi possível registrar a requisição",
                                 "detalhe": LOG_DETAIL}
