"""The retention purge against the real MariaDB: what it deletes, that its batches never block
the service's inserts, and the CLI as the least-privilege user the db init script creates."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mysql.connector
import pytest

from api.log.retention import cutoff_for, delete_batch, prepare_session, purge
from api.log.schema import apply_schema
from api.log.store import INSERT_SQL, LogRecord
from pagework.config import Config
from tests.conftest import mysql_params, mysql_params_config

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 6, 30, 12, 0, 0)
LOCK_WAIT_TIMEOUT = 1205


@pytest.fixture
def database(make_database):
    database = make_database()
    apply_schema(Config(**mysql_params_config(), mysql_database=database.name))
    return database


def insert(cnx, when: datetime, text: str = "x") -> str:
    """One committed row as the service writes it; returns its request_id."""
    record = LogRecord(request_id=uuid.uuid4().hex, data=when, codigo_retorno=0,
                       imgb64_dirty=text, imgb64_clean=text, largura=1, altura=1)
    cursor = cnx.cursor()
    cursor.execute(INSERT_SQL, asdict(record))
    cnx.commit()
    cursor.close()
    return record.request_id


def ids_by_age(database) -> tuple[set[str], set[str]]:
    """(request ids of rows older than 30 days before NOW, the others)."""
    cutoff = NOW - timedelta(days=30)
    rows = database.query("SELECT request_id, data FROM Imagens")
    return ({r["request_id"] for r in rows if r["data"] < cutoff},
            {r["request_id"] for r in rows if r["data"] >= cutoff})


def test_purge_deletes_exactly_the_rows_older_than_the_cutoff(database):
    cnx = database.connect()
    old = {insert(cnx, NOW - timedelta(days=40, minutes=i)) for i in range(25)}
    kept = {insert(cnx, NOW - timedelta(days=29, minutes=i)) for i in range(10)}
    # A row replayed late from a spool: old request time, the highest ID.
    old.add(insert(cnx, NOW - timedelta(days=31)))
    kept.add(insert(cnx, NOW - timedelta(days=30) + timedelta(seconds=1)))
    assert ids_by_age(database) == (old, kept)
    batches = []
    result = purge(cnx, cutoff_for(30, NOW.replace(tzinfo=UTC)), batch_rows=4,
                   on_batch=lambda n, rows: batches.append(rows))
    assert result.rows == len(old) == sum(batches)
    assert result.batches == len(batches) > len(old) // 4  # small batches, every one reported
    assert max(batches) <= 4
    assert ids_by_age(database) == (set(), kept)
    again = purge(cnx, cutoff_for(30, NOW.replace(tzinfo=UTC)), batch_rows=4)
    assert (again.rows, again.batches) == (0, 0)
    cnx.close()


def test_cutoff_needs_a_positive_number_of_days():
    assert cutoff_for(1, NOW.replace(tzinfo=UTC)) == NOW - timedelta(days=1)
    with pytest.raises(ValueError):
        cutoff_for(0)


def open_batch(database, *, naive: bool) -> object:
    """A purge batch over every row, left uncommitted: the longest a batch can hold its locks.
    naive=True is the one-statement DELETE under the default isolation, for contrast."""
    cnx = database.connect()
    cnx.autocommit = False
    cursor = cnx.cursor()
    cutoff = NOW - timedelta(days=30)
    if naive:
        cursor.execute("DELETE FROM Imagens WHERE data < %s", (cutoff,))
    else:
        prepare_session(cursor)
        cursor.execute("SELECT MIN(ID), MAX(ID) FROM Imagens")
        low, high = cursor.fetchone()
        assert delete_batch(cursor, low, high + 1, cutoff) == 20
    return cnx


def insert_waiting_at_most_one_second(database) -> int | None:
    """Inserts a new row; None if it went in, else the MySQL error number."""
    cnx = database.connect()
    try:
        cnx.cursor().execute("SET SESSION innodb_lock_wait_timeout = 1")
        cnx.autocommit = False
        insert(cnx, NOW)
        return None
    except mysql.connector.Error as err:
        return err.errno
    finally:
        cnx.close()


@pytest.mark.parametrize("naive", [False, True], ids=["purge-batch", "naive-delete"])
def test_an_open_batch_does_not_block_new_rows(database, naive):
    """Worst case: every row is old, so the batch reaches the top of the key. The purge's batch
    lets the insert through; the naive DELETE makes it wait (proof that the check can fail)."""
    cnx = database.connect()
    for i in range(20):
        insert(cnx, NOW - timedelta(days=40, minutes=i))
    cnx.close()
    batch = open_batch(database, naive=naive)
    try:
        outcome = insert_waiting_at_most_one_second(database)
    finally:
        batch.rollback()
        batch.close()
    assert outcome == (LOCK_WAIT_TIMEOUT if naive else None)


def test_inserts_go_on_between_the_batches_of_a_purge(database):
    """A writer inserts rows (as the service does) for as long as the purge runs; after each
    batch the purge waits until the writer has committed one more, so every gap between
    batches provably saw an insert. Nothing new is lost, nothing old stays."""
    setup = database.connect()
    text = "A" * 50_000
    for i in range(300):
        insert(setup, NOW - timedelta(days=40, seconds=i), text)
    setup.close()
    written: list[str] = []
    progress = threading.Condition()
    done = threading.Event()

    def writer() -> None:
        cnx = database.connect()
        while not done.is_set():
            request_id = insert(cnx, NOW, text)
            with progress:
                written.append(request_id)
                progress.notify_all()
        cnx.close()

    def after_batch(batch: int, rows: int) -> None:
        with progress:
            seen = len(written)
            assert progress.wait_for(lambda: len(written) > seen, timeout=30), \
                "no insert went in after a batch"

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        cnx = database.connect()
        result = purge(cnx, cutoff_for(30, NOW.replace(tzinfo=UTC)), batch_rows=25,
                       on_batch=after_batch)
        cnx.close()
    finally:
        done.set()
        thread.join(60)
    assert (result.rows, result.batches) == (300, 12)
    assert len(written) >= 12
    old, new = ids_by_age(database)
    assert old == set() and new == set(written)


# --- the CLI as the least-privilege user of docker/mysql-initdb/30-retention-user.sh ------------

@pytest.fixture
def retention_user(database):
    """The init script run for real (bash, the mysql client as root in place of the image's
    docker_process_sql), against the throw-away database."""
    name, password = f"ret_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(12) + "'\\x"
    params = mysql_params()
    shim = (f'docker_process_sql() {{ mysql -h{params["host"]} -P{params["port"]} '
            f'-u{params["user"]} ${{MYSQL_PWD:+-p"$MYSQL_PWD"}} "$@"; }}\n'
            f'. {ROOT / "docker" / "mysql-initdb" / "30-retention-user.sh"}\n')
    env = {"PATH": os.environ["PATH"], "MYSQL_DATABASE": database.name,
           "MYSQL_RETENTION_USER": name, "MYSQL_RETENTION_PASSWORD": password,
           "MYSQL_PWD": params["password"]}
    made = subprocess.run(["bash", "-ec", shim], env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    yield name, password
    root = mysql.connector.connect(**params, autocommit=True)
    root.cursor().execute(f"DROP USER IF EXISTS '{name}'@'%'")
    root.close()


def cli(database, user: tuple[str, str], *args: str) -> subprocess.CompletedProcess:
    params = mysql_params()
    env = {**os.environ, "MYSQL_HOST": params["host"], "MYSQL_PORT": str(params["port"]),
           "MYSQL_DATABASE": database.name, "MYSQL_USER": "nobody-else",
           "MYSQL_RETENTION_USER": user[0], "MYSQL_RETENTION_PASSWORD": user[1]}
    return subprocess.run([sys.executable, "-m", "api.log.retention", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_purges_as_the_retention_user(database, retention_user):
    cnx = database.connect()
    now = datetime.now(UTC).replace(tzinfo=None)
    for i in range(7):
        insert(cnx, now - timedelta(days=10, minutes=i))
    fresh = insert(cnx, now - timedelta(days=1))
    cnx.close()
    counted = cli(database, retention_user, "purge", "--days", "7", "--dry-run")
    assert counted.returncode == 0, counted.stderr
    assert json.loads(counted.stdout)["older_rows"] == 7
    assert database.count() == 8
    purged = cli(database, retention_user, "purge", "--days", "7", "--batch-rows", "3")
    assert purged.returncode == 0, purged.stderr
    report = json.loads(purged.stdout)
    assert (report["rows"], report["batches"]) == (7, 3)
    assert [r["request_id"] for r in database.query("SELECT request_id FROM Imagens")] == [fresh]


def test_retention_user_may_only_read_and_delete(database, retention_user):
    cnx = mysql.connector.connect(**{**mysql_params(), "user": retention_user[0],
                                     "password": retention_user[1]},
                                  database=database.name, autocommit=True)
    cursor = cnx.cursor()
    cursor.execute("SELECT COUNT(*) FROM Imagens")
    cursor.fetchall()
    cursor.execute("DELETE FROM Imagens WHERE ID = 0")
    for statement in ("INSERT INTO Imagens (data, codigo_retorno, request_id) VALUES"
                      " (NOW(), 0, 'x')", "UPDATE Imagens SET codigo_retorno = 1",
                      "DROP TABLE Imagens", "ALTER TABLE Imagens ADD COLUMN y INT",
                      "CREATE TABLE other (x INT)"):
        with pytest.raises(mysql.connector.Error) as refused:
            cursor.execute(statement)
        assert refused.value.errno in (1142, 1044), statement  # command denied
    cnx.close()


def test_zero_days_keeps_every_row_without_connecting(database):
    answer = cli(database, ("nobody", "wrong"), "purge", "--days", "0")
    assert answer.returncode == 0
    assert "every row is kept" in answer.stdout


def test_unreachable_database_is_an_error_exit(database):
    answer = cli(database, ("nobody", "wrong"), "purge", "--days", "3")
    assert answer.returncode == 1
    assert "retention: MySQL" in answer.stderr and "nobody" in answer.stderr
