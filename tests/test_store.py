"""The MySQL store against the real server: idempotent inserts, failure classes, least
privilege (INSERT only, never DDL), text that is not valid Unicode."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import mysql.connector
import pytest

from api.store import (
    LogRecord,
    RowRejected,
    Store,
    StoreUnavailable,
    storable_json,
    storable_text,
)
from tests.conftest import mysql_params
from tests.test_routes import closed_port


def record(**fields) -> LogRecord:
    return LogRecord(**{"request_id": uuid.uuid4().hex, "data": datetime(2026, 1, 2, 3, 4, 5, 6000),
                        "codigo_retorno": 0, "imgb64_dirty": "QUJD", "imgb64_clean": "data:x",
                        "largura": 3, "altura": 1, "duracao_ms": 1.5, "versao_modelo": "1",
                        **fields})


def make_store(database: str, **params) -> Store:
    return Store({**mysql_params(), **params}, database=database, pool_size=2)


def test_row_keeps_millisecond_time(make_database):
    database = make_database()
    stored = record()
    make_store(database.name).insert(stored)
    rows = database.query("SELECT * FROM Imagens")
    assert [row["request_id"] for row in rows] == [stored.request_id]
    assert rows[0]["data"] == stored.data


def test_columns_match_the_issue(make_database):
    database = make_database()
    columns = {row["Field"]: row["Type"] for row in database.query("SHOW COLUMNS FROM Imagens")}
    assert columns["ID"].startswith("bigint")
    assert columns["data"] == "datetime(3)"
    assert columns["imgb64_dirty"] == columns["imgb64_clean"] == "longtext"
    assert {"codigo_retorno", "request_id", "largura", "altura", "duracao_ms",
            "versao_modelo"} <= columns.keys()
    unique = database.query("SHOW INDEX FROM Imagens WHERE Column_name = 'request_id'")
    assert unique and unique[0]["Non_unique"] == 0


def test_replayed_row_is_stored_once(make_database):
    database = make_database()
    store = make_store(database.name)
    row = record()
    store.insert(row)
    store.insert_many([row, row])
    assert database.count() == 1


def test_values_are_parameters_not_sql(make_database):
    database = make_database()
    store = make_store(database.name)
    nasty = "x'); DROP TABLE Imagens; -- \\ \" ` ção"
    store.insert(record(imgb64_dirty=nasty, versao_modelo="1'--"))
    assert database.query("SELECT imgb64_dirty FROM Imagens")[0]["imgb64_dirty"] == nasty


def test_unreachable_server_is_store_unavailable():
    store = make_store("ddd_never_created", port=closed_port())
    with pytest.raises(StoreUnavailable):
        store.insert(record())
    assert store.ping() is False and store.last_error


def test_wrong_password_waits_instead_of_rejecting(make_database):
    store = make_store(make_database().name, user="ddd_no_such_user", password="x")
    with pytest.raises(StoreUnavailable):
        store.insert(record())


def test_row_over_max_allowed_packet_is_rejected_not_sent(make_database):
    store = make_store(make_database().name)
    assert store.ping()  # reads the session's limit before the test lowers it
    store.max_allowed_packet = 10_000
    with pytest.raises(RowRejected):
        store.insert(record(imgb64_dirty="A" * 20_000))


def test_big_pages_fit_the_limit_the_schema_step_set(make_database):
    database = make_database()
    store = make_store(database.name)
    assert store.ping() and store.max_allowed_packet >= 256 * 1024 * 1024
    big = "A" * (40 * 1024 * 1024)  # a 30 MB page as base64
    store.insert(record(imgb64_dirty=big))
    assert database.count() == 1


@pytest.fixture
def insert_only_user(make_database):
    """A MySQL account like compose's `api`: INSERT on the table, nothing else."""
    database = make_database()
    user, password = f"ddd_ins_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = mysql.connector.connect(**mysql_params(), autocommit=True)
    cursor = admin.cursor()
    cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
    cursor.execute(f"GRANT INSERT ON `{database.name}`.Imagens TO %s@'%%'", (user,))
    yield database, user, password
    cursor.execute("DROP USER %s@'%%'", (user,))
    admin.close()


def test_service_needs_insert_only(insert_only_user):
    database, user, password = insert_only_user
    store = make_store(database.name, user=user, password=password)
    assert store.ping(), store.last_error
    stored = record()
    store.insert(stored)
    store.insert_many([stored, record()])  # a replay: the duplicate is recognised, not updated
    assert database.count() == 2


def test_dropped_table_is_reported_not_recreated(make_database):
    database = make_database()
    store = make_store(database.name)
    store.insert(record())
    database.query("DROP TABLE Imagens")
    with pytest.raises(StoreUnavailable):
        store.insert(record())
    assert store.table_missing
    assert store.ping() is False and "does not exist" in store.last_error
    assert not database.query("SHOW TABLES LIKE 'Imagens'")  # the store ran no DDL


SURROGATES = ["\ud800", "a\udfffb", "\udc00" * 3 + "ção", "\ud83d"]


@pytest.mark.parametrize("text", SURROGATES)
def test_text_that_is_not_unicode_is_stored_losslessly(make_database, text):
    for value, stored in ((text, storable_text(text)), ({"k": text}, storable_json({"k": text})),
                          ([text], storable_text([text]))):
        stored.encode("utf-8")  # always encodable
        assert json.loads(stored) == value  # and nothing lost
    database = make_database()
    make_store(database.name).insert(record(imgb64_dirty=storable_text(text)))
    assert json.loads(database.query("SELECT imgb64_dirty FROM Imagens")[0]["imgb64_dirty"]) == text


def test_valid_text_is_stored_as_received():
    assert storable_text("ação \u0000 \U0001f600") == "ação \u0000 \U0001f600"
    assert storable_json({"a": "ç"}) == '{"a": "ç"}'


@pytest.mark.parametrize("row", [
    {"n": 1}, [1, 2], "text", None,
    {**record().to_json(), "codigo_retorno": "0"},
    {**record().to_json(), "request_id": None},
    {**record().to_json(), "data": "yesterday"},
    {**record().to_json(), "imgb64_dirty": {"a": 1}},
    {**record().to_json(), "largura": 1.5},
    {**record().to_json(), "extra": 1},
])
def test_spooled_line_that_is_not_a_row_is_refused(row):
    with pytest.raises(ValueError):
        LogRecord.from_json(row)
    assert LogRecord.from_json(record().to_json()).codigo_retorno == 0
