"""The MySQL store against the real server: idempotent inserts, failure classes, least
privilege (INSERT only, never DDL), text that is not valid Unicode."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import uuid
from datetime import datetime
from pathlib import Path

import mysql.connector
import pytest

from api.log.store import (
    LogRecord,
    RowRejected,
    Store,
    StoreUnavailable,
    connection_params,
    storable_json,
    storable_text,
)
from bench.processes import free_port
from pagework.config import Config
from tests.conftest import mysql_params, mysql_params_config
from tests.test_outages import wait_for
from tests.test_routes import closed_port


def record(**fields) -> LogRecord:
    return LogRecord(**{"request_id": uuid.uuid4().hex, "data": datetime(2026, 1, 2, 3, 4, 5, 6000),
                        "codigo_retorno": 0, "imgb64_dirty": "QUJD", "imgb64_clean": "data:x",
                        "largura": 3, "altura": 1, "duracao_ms": 1.5, "versao_modelo": "1",
                        **fields})


_opened: list[Store] = []


@pytest.fixture(autouse=True)
def _close_stores():
    """Each test's stores give their connections back when it ends."""
    yield
    while _opened:
        _opened.pop().close()


def make_store(database: str, **params) -> Store:
    _opened.append(Store({**mysql_params(), **params}, database=database, pool_size=2))
    return _opened[-1]


def connections_to(database: str) -> int:
    cnx = mysql.connector.connect(**mysql_params())
    try:
        cursor = cnx.cursor()
        cursor.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s",
                       (database,))
        return cursor.fetchone()[0]
    finally:
        cnx.close()


def test_close_gives_the_connections_back_and_a_later_row_reopens(make_database):
    database = make_database()
    store = make_store(database.name)
    store.insert(record())
    assert connections_to(database.name) == 2  # the pool is opened whole, at the first row
    store.close()
    wait_for(lambda: connections_to(database.name) == 0, 10, "connections closed")
    store.insert(record())
    assert database.count() == 2
    store.close()
    wait_for(lambda: connections_to(database.name) == 0, 10, "connections closed")


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


# --- TLS to a managed server (MYSQL_SSL_CA) ---------------------------------------------------

def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    key, cert = folder / f"{name}.key", folder / f"{name}.pem"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout", str(key), "-out", str(cert))
    return key, cert


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """A private MariaDB on a free port that accepts TLS connections only, its certificate for
    IP 127.0.0.1 signed by its own CA: what a managed server looks like to the service."""
    if not (shutil.which("mariadbd") and shutil.which("mariadb-install-db")):
        pytest.skip("MariaDB's server is not installed (make test installs it)")
    folder = tmp_path_factory.mktemp("tls-mysql")
    ca_key, ca = make_ca(folder, "ca")
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", str(folder / "server.key"), "-out", str(folder / "server.csr"))
    openssl("x509", "-req", "-in", str(folder / "server.csr"), "-CA", str(ca), "-CAkey",
            str(ca_key), "-CAcreateserial", "-days", "2", "-extfile", str(folder / "san.cnf"),
            "-out", str(folder / "server.pem"))
    user = ["--user=root"] if os.geteuid() == 0 else []
    data = folder / "data"
    subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", *user,
                    "--auth-root-authentication-method=normal", "--skip-test-db"],
                   check=True, capture_output=True)
    port = free_port()
    with (folder / "server.log").open("wb") as log:
        server = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={data}", *user, f"--port={port}",
             "--bind-address=127.0.0.1", f"--socket={folder / 'sock'}", "--skip-log-bin",
             f"--ssl-ca={ca}", f"--ssl-cert={folder / 'server.pem'}",
             f"--ssl-key={folder / 'server.key'}", "--require-secure-transport=ON"],
            stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_for(lambda: socket_open(port), timeout=60, message="the TLS MariaDB listens")
        yield port, ca, make_ca(folder, "other-ca")[1]
    finally:
        server.terminate()
        server.wait(30)


def socket_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def tls_session(**settings) -> str:
    """The TLS version of a session opened with the service's own connection settings."""
    cnx = mysql.connector.connect(**connection_params(Config(**settings)))
    try:
        cursor = cnx.cursor()
        cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
        return cursor.fetchone()[1]
    finally:
        cnx.close()


def test_tls_to_mysql_verifies_the_server(tls_server):
    port, ca, other_ca = tls_server
    server = {"mysql_host": "127.0.0.1", "mysql_port": port, "mysql_user": "root",
              "mysql_password": ""}
    assert tls_session(**server, mysql_ssl_ca=str(ca)).startswith("TLSv1")
    with pytest.raises(mysql.connector.Error):  # a certificate this CA did not sign
        tls_session(**server, mysql_ssl_ca=str(other_ca))
    by_name = {**server, "mysql_host": "localhost", "mysql_ssl_ca": str(ca)}
    with pytest.raises(mysql.connector.Error):  # the certificate is for 127.0.0.1 only
        tls_session(**by_name)
    assert tls_session(**by_name, mysql_ssl_verify_identity=False).startswith("TLSv1")


def test_tls_is_never_dropped_for_a_server_without_it(tmp_path):
    """The shared test server has no TLS: with a CA configured, the service does not connect."""
    plain = mysql.connector.connect(**mysql_params())
    try:
        cursor = plain.cursor()
        cursor.execute("SHOW VARIABLES LIKE 'have_ssl'")
        if cursor.fetchone()[1] == "YES":
            pytest.skip("the test server speaks TLS")
    finally:
        plain.close()
    _, ca = make_ca(tmp_path, "ca")
    with pytest.raises(mysql.connector.Error, match="SSL"):
        tls_session(**mysql_params_config(), mysql_ssl_ca=str(ca))
