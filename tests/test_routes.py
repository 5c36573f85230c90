"""The /remove_background contract through a real HTTP server, checking the MySQL row each time."""

from __future__ import annotations

import base64
import json
import logging
import socket
import zlib
from datetime import UTC, datetime, timedelta

import pytest
import requests
from PIL import Image

from pagework.codes import HTTP_STATUS, MESSAGES
from tests.conftest import ROOT, decode_clean, encode, page_array, page_png

JSON = {"Content-Type": "application/json"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def assert_answer(response, code: int) -> dict:
    """Exact keys, code, message and HTTP status; the clean image empty on errors."""
    assert response.headers["Content-Type"].startswith("application/json")
    payload = response.json()
    assert payload["codigo_retorno"] == code, payload
    assert payload["mensagem"] == MESSAGES[code]
    assert response.status_code == HTTP_STATUS[code]
    assert {"codigo_retorno", "mensagem", "imgb64_clean"} <= payload.keys() <= {
        "codigo_retorno", "mensagem", "imgb64_clean", "detalhe"}
    if code:
        assert payload["imgb64_clean"] == ""
        assert payload["detalhe"]
    return payload


def assert_row(database, response, code: int, dirty) -> dict:
    row = database.row(response.headers["X-Request-ID"])
    assert row["codigo_retorno"] == code
    assert row["imgb64_dirty"] == dirty
    now = datetime.now(UTC).replace(tzinfo=None)
    assert now - timedelta(minutes=2) < row["data"] <= now + timedelta(seconds=1)
    assert row["duracao_ms"] > 0
    if code:
        assert row["imgb64_clean"] is None
        assert row["versao_modelo"] is None
    else:
        assert row["imgb64_clean"] == response.json()["imgb64_clean"]
        assert row["versao_modelo"] == "1"
    return row


@pytest.mark.parametrize("size", [(540, 420), (541, 259), (1, 1), (4, 70), (15, 300)])
def test_clean_page_keeps_size_and_logs_row(live, size):
    server, database = live
    image = page_png(*size)
    response = server.clean(image)
    assert_answer(response, 0)
    clean = decode_clean(response)
    assert (clean.size, clean.mode) == (size, "L")
    row = assert_row(database, response, 0, b64(image))
    assert (row["largura"], row["altura"]) == size


def test_data_url_and_line_breaks_are_accepted(live):
    server, database = live
    encoded = b64(page_png(64, 40))
    wrapped = "\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))
    for value in ("data:image/png;base64," + encoded, wrapped + "\r\n",
                  "DATA:image/jpeg;base64," + wrapped, encoded.rstrip("="),
                  encoded.replace("+", "-").replace("/", "_")):
        response = server.post({"imgb64_dirty": value})
        assert_answer(response, 0)
        assert decode_clean(response).size == (64, 40)
        assert_row(database, response, 0, value)


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


BAD_BODIES = [
    # (id, raw body, content type, code, what the row keeps as imgb64_dirty)
    ("not-json", b"{imgb64_dirty:", "application/json", 1, "{imgb64_dirty:"),
    ("json-list", b"[1, 2]", "application/json", 1, "[1, 2]"),
    ("json-string", b'"abc"', "application/json", 1, '"abc"'),
    ("json-number", b"42", "application/json", 1, "42"),
    ("json-null", b"null", "application/json", 1, "null"),
    ("text-plain", b'{"imgb64_dirty": "x"}', "text/plain", 1, None),
    ("form", b"imgb64_dirty=abc", "application/x-www-form-urlencoded", 1, None),
    ("no-key", b"{}", "application/json", 2, "{}"),
    ("other-key", b'{"imgb64": "abcd"}', "application/json", 2, '{"imgb64": "abcd"}'),
    ("null", b'{"imgb64_dirty": null}', "application/json", 3, "null"),
    ("number", b'{"imgb64_dirty": 12}', "application/json", 3, "12"),
    ("object", b'{"imgb64_dirty": {"a": 1}}', "application/json", 3, '{"a": 1}'),
    ("list", b'{"imgb64_dirty": ["abcd"]}', "application/json", 3, '["abcd"]'),
    ("empty", b'{"imgb64_dirty": ""}', "application/json", 3, ""),
    ("blank", b'{"imgb64_dirty": "  \\n "}', "application/json", 3, "  \n "),
    ("bad-chars", b'{"imgb64_dirty": "abc$def!"}', "application/json", 3, "abc$def!"),
    ("bad-length", b'{"imgb64_dirty": "abcde"}', "application/json", 3, "abcde"),
    ("bad-padding", b'{"imgb64_dirty": "ab=c"}', "application/json", 3, "ab=c"),
    ("non-ascii", '{"imgb64_dirty": "ábcd"}'.encode(), "application/json", 3, "ábcd"),
    ("data-url-not-b64", b'{"imgb64_dirty": "data:image/png,abcd"}', "application/json", 3,
     "data:image/png,abcd"),
    ("text-b64", json.dumps({"imgb64_dirty": b64(b"hello world")}).encode(), "application/json",
     3, b64(b"hello world")),
    ("truncated-png", json.dumps({"imgb64_dirty": b64(truncated(page_png(200, 100)))}).encode(),
     "application/json", 3, b64(truncated(page_png(200, 100)))),
    ("sql", json.dumps({"imgb64_dirty": "'); DROP TABLE Imagens; --"}).encode(),
     "application/json", 3, "'); DROP TABLE Imagens; --"),
]


# The exact `detalhe` of each case: clients and the web page show it.
DETAILS = {
    "not-json": "corpo não é JSON válido: Expecting property name enclosed in double quotes: "
                "line 1 column 2 (char 1)",
    **dict.fromkeys(["json-list", "json-string", "json-number", "json-null"],
                    "o corpo deve ser um objeto JSON"),
    "text-plain": "Content-Type deve ser application/json",
    "form": "Content-Type deve ser application/json",
    "no-key": "o objeto JSON não tem a chave imgb64_dirty",
    "other-key": "o objeto JSON não tem a chave imgb64_dirty",
    "null": "imgb64_dirty deve ser uma string, não null",
    "number": "imgb64_dirty deve ser uma string, não número",
    "object": "imgb64_dirty deve ser uma string, não objeto",
    "list": "imgb64_dirty deve ser uma string, não lista",
    "empty": "string base64 vazia", "blank": "string base64 vazia",
    "bad-chars": "base64 inválido: Only base64 data is allowed",
    "bad-length": "comprimento inválido para base64",
    "bad-padding": "base64 inválido: Discontinuous padding not allowed",
    "non-ascii": "caracteres fora do alfabeto base64",
    "data-url-not-b64": "data URL sem ';base64,'",
    "text-b64": "os bytes não são uma imagem reconhecida (PNG, JPEG, GIF, BMP, TIFF, WEBP)",
    "truncated-png": "imagem PNG corrompida ou truncada",
    "sql": "base64 inválido: Only base64 data is allowed",
}


@pytest.mark.parametrize(("case", "raw", "content_type", "code", "dirty"), BAD_BODIES,
                         ids=[case[0] for case in BAD_BODIES])
def test_bad_request_gets_its_code_and_a_row(live, case, raw, content_type, code, dirty):
    server, database = live
    response = server.post(data=raw, headers={"Content-Type": content_type})
    assert_answer(response, code)
    assert response.json()["detalhe"] == DETAILS[case]
    assert_row(database, response, code, dirty)


def test_truncated_jpeg_is_code_3(live):
    server, database = live
    jpeg = encode(Image.fromarray(page_array(300, 200)), "JPEG", quality=90)
    response = server.clean(jpeg[: len(jpeg) * 2 // 3])
    assert_answer(response, 3)
    assert_row(database, response, 3, b64(jpeg[: len(jpeg) * 2 // 3]))


def test_missing_content_type_and_utf8_bom(live):
    server, database = live
    response = server.post(data=b'{"imgb64_dirty": "abcd"}', headers={"Content-Type": ""})
    assert_answer(response, 1)
    body = json.dumps({"imgb64_dirty": b64(page_png(20, 10))}).encode()
    response = server.post(data=b"\xef\xbb\xbf" + body, headers=JSON)
    assert_answer(response, 0)
    assert database.row(response.headers["X-Request-ID"])["largura"] == 20


def pixel_bomb(width: int, height: int) -> bytes:
    """A valid PNG header claiming width x height, with a few bytes of pixel data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 4096)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("size", [(40000, 40000), (9000, 5000)])
def test_pixel_bomb_is_refused_before_decoding(live, size):
    server, database = live
    bomb = pixel_bomb(*size)
    assert len(bomb) < 200
    response = server.clean(bomb)
    assert_answer(response, 4)
    assert_row(database, response, 4, b64(bomb))


def test_limits_are_configurable_and_413_is_json(start_server):
    server, database = start_server(max_image_bytes=5_000, max_pixels=10_000)
    response = server.clean(page_png(150, 100))  # 15,000 pixels
    assert_answer(response, 4)
    assert_row(database, response, 4, b64(page_png(150, 100)))
    big = b64(bytes(8_000))
    response = server.post({"imgb64_dirty": big})  # base64 over the byte limit
    assert_answer(response, 4)
    assert_row(database, response, 4, big)
    response = server.post(data=b'{"imgb64_dirty": "' + b"A" * 200_000 + b'"}', headers=JSON)
    assert_answer(response, 4)  # body over the request limit: refused before it is read
    assert database.row(response.headers["X-Request-ID"])["imgb64_dirty"] is None


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_model_server_down_is_code_5_quickly(start_server):
    """A refused connection is not waited out: with a 10-minute model timeout, the answer
    still comes within the client's own 60 s."""
    server, database = start_server(tf_serving_url=f"http://127.0.0.1:{closed_port()}",
                                    tf_serving_timeout=600)
    image = page_png(40, 30)
    response = server.clean(image)
    assert_answer(response, 5)
    row = assert_row(database, response, 5, b64(image))
    assert (row["largura"], row["altura"]) == (40, 30)
    import requests

    ready = requests.get(server.url + "/ready", timeout=10)
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable"}


def test_api_key_when_configured(start_server):
    server, database = start_server(api_key="s3cret")
    image = page_png(30, 20)
    response = server.clean(image)
    assert_answer(response, 6)
    assert_row(database, response, 6, None)
    response = server.clean(image, headers={"X-API-Key": "wrong"})
    assert_answer(response, 6)
    response = server.clean(image, headers={"X-API-Key": "s3cret"})
    assert_answer(response, 0)


@pytest.mark.parametrize(("method", "path", "status"), [
    ("get", "/remove_background", 405), ("put", "/remove_background", 405),
    ("get", "/nowhere", 404), ("post", "/health", 405),
])
def test_other_routes_and_methods_answer_json(live, method, path, status):
    import requests

    server, _ = live
    response = requests.request(method, server.url + path, timeout=10)
    assert response.status_code == status
    assert response.json()["codigo_retorno"] == 1
    assert response.json()["imgb64_clean"] == ""


def test_health_and_ready(live):
    import requests

    server, database = live
    assert requests.get(server.url + "/health", timeout=5).json() == {"status": "ok"}
    ready = requests.get(server.url + "/ready", timeout=5)
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}  # no API key configured: never any detail


def test_ready_details_need_the_api_key(start_server):
    """Strangers learn the status only: no MySQL error text, host, user, URL or spool path."""
    import requests

    server, database = start_server(api_key="s3cret", mysql_port=closed_port(),
                                    mysql_connect_timeout=1)
    stranger = requests.get(server.url + "/ready", timeout=10)
    assert stranger.status_code == 200
    assert stranger.json() == {"status": "degraded"}
    for secret in ("127.0.0.1", "root", str(server.services.spool.directory), "Can't connect"):
        assert secret not in stranger.text
    operator = requests.get(server.url + "/ready", headers={"X-API-Key": "s3cret"}, timeout=10)
    detail = operator.json()
    assert detail["status"] == "degraded"
    assert detail["model"] == {"ready": True, "backend": "in-process", "version": "1",
                              "mixed_precision": "float32"}
    assert detail["database"]["reachable"] is False and detail["database"]["error"]
    assert detail["spool"] == {"pending": 0, "rejected": 0,
                               "dir": str(server.services.spool.directory)}


def test_request_id_header_is_unique_and_matches_row(live):
    server, database = live
    ids = {server.post({}).headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5
    for request_id in ids:
        assert database.row(request_id)["codigo_retorno"] == 2


def test_metrics_count_codes_and_time_the_steps(start_server):
    import requests

    server, _ = start_server()
    server.clean(page_png(30, 20))
    server.post({})
    server.post({})
    text = requests.get(server.url + "/metrics", timeout=5).text
    assert 'ddd_requests_total{codigo_retorno="0"} 1.0' in text
    assert 'ddd_requests_total{codigo_retorno="2"} 2.0' in text
    assert "ddd_request_duration_seconds_count 3.0" in text
    assert "ddd_inference_duration_seconds_count 1.0" in text
    assert 'ddd_log_write_duration_seconds_count{destination="db"} 3.0' in text
    assert "ddd_spool_pending_rows 0.0" in text
    assert 'ddd_model_info{backend="in-process",version="1"} 1.0' in text


def test_ready_probes_are_cached_not_one_connection_per_call(start_server):
    """A flood of /ready calls asks MySQL and the model once per READY_CACHE_SECONDS."""
    import requests

    server, _ = start_server(ready_cache_seconds=3600)
    store, backend = server.services.store, server.services.backend
    calls = {"ping": 0, "status": 0}
    ping, status = store.ping, backend.status

    def counted_ping() -> bool:
        calls["ping"] += 1
        return ping()

    def counted_status() -> dict:
        calls["status"] += 1
        return status()

    store.ping, backend.status = counted_ping, counted_status
    with requests.Session() as session:
        answers = [session.get(server.url + "/ready", timeout=10) for _ in range(50)]
    assert {answer.json()["status"] for answer in answers} == {"ready"}
    assert calls["ping"] + calls["status"] <= 2  # the factory's own first probe happened already


def test_missing_table_is_a_readiness_error_and_rows_wait(start_server, make_database):
    """The service never creates the table: /ready says 503, rows go to the spool, and the
    schema step puts them where they belong."""
    import requests

    from api.log.schema import apply_schema
    from pagework.config import from_env
    from tests.test_outages import wait_for

    database = make_database(schema=False)
    server, _ = start_server(mysql_database=database.name, ready_cache_seconds=0)
    ready = requests.get(server.url + "/ready", timeout=10)
    assert (ready.status_code, ready.json()) == (503, {"status": "unavailable"})
    response = server.clean(page_png(30, 20))
    assert_answer(response, 0)
    assert server.services.spool.depth() == 1
    apply_schema(from_env().with_overrides({"mysql_database": database.name}))
    wait_for(lambda: database.count() == 1, message="the spooled row replayed")  # by the thread
    assert database.row(response.headers["X-Request-ID"])["codigo_retorno"] == 0
    assert requests.get(server.url + "/ready", timeout=10).json() == {"status": "ready"}


def test_a_clients_request_id_cannot_forge_or_flood_the_log(live, caplog):
    """U+0085 (NEL) is a line break to log readers; an 8,000-character id is not an id."""
    server, _ = live
    forged = 'x\x85{"request_id": "forged", "codigo_retorno": 0}' + "y" * 8000
    with caplog.at_level(logging.INFO, logger="api.requests"):
        response = server.post({"imgb64_dirty": "%%%"}, headers={"X-Request-ID": forged})
    ours = [r.getMessage() for r in caplog.records
            if response.headers["X-Request-ID"] in r.getMessage()]
    assert len(ours) == 1 and len(ours[0].splitlines()) == 1, ours
    logged = json.loads(ours[0])["client_request_id"]
    assert logged == forged[:128]


def test_metrics_need_the_api_key_when_one_is_set(start_server):
    server, _ = start_server(api_key="s3cret")
    stranger = requests.get(server.url + "/metrics", timeout=10)
    assert stranger.status_code == 401 and stranger.json()["codigo_retorno"] == 6
    assert "ddd_requests_total" not in stranger.text
    for headers in ({"X-API-Key": "s3cret"}, {"Authorization": "Bearer s3cret"}):
        assert "ddd_requests" in requests.get(server.url + "/metrics", headers=headers,
                                              timeout=10).text
    wrong = requests.get(server.url + "/metrics", headers={"Authorization": "Bearer s3"},
                         timeout=10)
    assert wrong.status_code == 401


# --- output modes (issue 36) ---------------------------------------------------------------------

MODE_CHOICES = "'cinza' (o padrão), 'cor' ou 'binaria'"
BAD_MODES = [
    # (id, saida as sent, its `detalhe`)
    ("unknown", '"colorido"', f'saida deve ser {MODE_CHOICES}; recebido "colorido"'),
    ("upper-case", '"COR"', f'saida deve ser {MODE_CHOICES}; recebido "COR"'),
    ("padded", '" cor"', f'saida deve ser {MODE_CHOICES}; recebido " cor"'),
    ("empty", '""', f'saida deve ser {MODE_CHOICES}; recebido ""'),
    ("non-ascii", '"\\u00e1"', f'saida deve ser {MODE_CHOICES}; recebido "\\u00e1"'),
    ("number", "1", f"saida deve ser um texto: {MODE_CHOICES}"),
    ("null", "null", f"saida deve ser um texto: {MODE_CHOICES}"),
    ("boolean", "true", f"saida deve ser um texto: {MODE_CHOICES}"),
    ("list", '["cor"]', f"saida deve ser um texto: {MODE_CHOICES}"),
    ("object", '{"modo": "cor"}', f"saida deve ser um texto: {MODE_CHOICES}"),
]


@pytest.mark.parametrize(("case", "sent", "detail"), BAD_MODES, ids=[m[0] for m in BAD_MODES])
def test_bad_saida_is_code_10_with_a_row(live, case, sent, detail):
    """Checked before the image (a broken image with a bad mode is code 10 too); the row keeps
    the image text and no mode."""
    server, database = live
    for image in (b64(page_png(30, 20)), "not base64!"):
        raw = f'{{"imgb64_dirty": "{image}", "saida": {sent}}}'.encode()
        response = server.post(data=raw, headers=JSON)
        assert_answer(response, 10)
        assert response.json()["detalhe"] == detail
        assert assert_row(database, response, 10, image)["saida"] is None


def test_each_mode_answers_its_png_and_the_row_records_it(live):
    """No key and cinza: the same bytes (the answer clients always had); cor an RGB PNG,
    binaria a 1-bit one, all of the page's size."""
    server, database = live
    image = encode(Image.fromarray(page_array(61, 45)).convert("RGB"), "JPEG")
    answers = {}
    for mode in (None, "cinza", "cor", "binaria"):
        response = server.post({"imgb64_dirty": b64(image), **({"saida": mode} if mode else {})})
        assert_answer(response, 0)
        assert assert_row(database, response, 0, b64(image))["saida"] == (mode or "cinza")
        answers[mode] = response.json()["imgb64_clean"]
        page = decode_clean(response)
        assert (page.size, page.mode) == ((61, 45), {"cor": "RGB", "binaria": "1"}.get(mode, "L"))
    assert answers[None] == answers["cinza"]


def test_a_model_without_the_modes_is_code_11(start_server, tmp_path):
    """Version 3 was exported before the modes: cinza as always, cor and binaria code 11 (HTTP
    501) with the version in the detail, and the row keeps the mode asked for."""
    base = tmp_path / "autoencoder"
    base.mkdir()
    (base / "3").symlink_to(ROOT / "serving" / "models" / "autoencoder" / "3",
                            target_is_directory=True)
    server, database = start_server(model_dir=str(base))
    image = page_png(40, 30)
    assert_answer(server.clean(image), 0)
    for mode in ("cor", "binaria"):
        response = server.post({"imgb64_dirty": b64(image), "saida": mode})
        assert_answer(response, 11)
        assert response.json()["detalhe"] == \
            f"a versão 3 do modelo não tem a saída {mode}; use saida cinza"
        assert assert_row(database, response, 11, b64(image))["saida"] == mode
