"""The MySQL store against the real server: schema, idempotent inserts, failure classes."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from api.config import ROOT
from api.store import LogRecord, RowRejected, Store, StoreUnavailable, schema_statements
from tests.conftest import mysql_params
from tests.test_routes import closed_port


def record(**fields) -> LogRecord:
    return LogRecord(**{"request_id": uuid.uuid4().hex, "data": datetime(2026, 1, 2, 3, 4, 5, 6000),
                        "codigo_retorno": 0, "imgb64_dirty": "QUJD", "imgb64_clean": "data:x",
                        "largura": 3, "altura": 1, "duracao_ms": 1.5, "versao_modelo": "1",
                        **fields})


def make_store(database: str, **params) -> Store:
    return Store(**{**mysql_params(), **params}, database=database,
                 schema_file=str(ROOT / "db" / "init.sql"), pool_size=2)


def test_schema_is_applied_idempotently_and_keeps_rows(make_database):
    database = make_database()
    store = make_store(database.name)
    stored = record()
    store.insert(stored)
    store.apply_schema()
    make_store(database.name).apply_schema()  # a restarted service
    rows = database.query("SELECT * FROM Imagens")
    assert len(rows) == 1
    assert rows[0]["request_id"] == stored.request_id
    assert rows[0]["data"] == stored.data  # millisecond precision kept


def test_columns_match_the_issue(make_database):
    database = make_database()
    make_store(database.name).apply_schema()
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
    store.apply_schema()
    store.max_allowed_packet = 10_000
    with pytest.raises(RowRejected):
        store.insert(record(imgb64_dirty="A" * 20_000))


def test_packet_limit_is_raised_for_big_pages(make_database):
    store = make_store(make_database().name)
    store.apply_schema()
    assert store.max_allowed_packet >= 256 * 1024 * 1024
    big = "A" * (40 * 1024 * 1024)  # a 30 MB page as base64
    store.insert(record(imgb64_dirty=big))
    assert store.count() == 1


def test_schema_statements_skip_database_naming_only():
    sql = (ROOT / "db" / "init.sql").read_text()
    statements = schema_statements(sql)
    assert len(statements) == 1
    assert statements[0].startswith("CREATE TABLE IF NOT EXISTS Imagens")
    assert not any(word in s.upper() for s in statements for word in ("DROP", "TRUNCATE"))
