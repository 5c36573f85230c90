"""The schema step (`python -m api.log.schema`): idempotent, never drops, raises the packet
limit."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import datetime

from api.log.schema import apply_schema, schema_statements
from api.log.store import LogRecord, Store
from pagework.config import ROOT, from_env
from tests.conftest import mysql_params


def test_statements_skip_database_naming_only():
    statements = schema_statements((ROOT / "db" / "init.sql").read_text())
    assert len(statements) == 5  # the table, then the guarded ALTER that adds `saida`
    assert statements[0].startswith("CREATE TABLE IF NOT EXISTS Imagens")
    assert not any(word in s.upper() for s in statements for word in ("DROP", "TRUNCATE"))


def test_applied_again_keeps_rows_and_raises_the_packet_limit(make_database):
    database = make_database()
    config = from_env().with_overrides({"mysql_database": database.name})
    store = Store(mysql_params(), database.name, pool_size=1)
    store.insert(LogRecord(uuid.uuid4().hex, datetime(2026, 1, 1), 0))
    assert apply_schema(config) >= 256 * 1024 * 1024
    assert apply_schema(config) >= 256 * 1024 * 1024  # a second start
    assert database.count() == 1


def test_a_table_from_before_the_modes_gains_the_saida_column(make_database):
    """The log table as releases before the output modes made it: applying the schema adds the
    column (old rows NULL), keeps the rows, and a second run changes nothing."""
    database = make_database(schema=False)
    create = schema_statements((ROOT / "db" / "init.sql").read_text())[0]
    old = "\n".join(line for line in create.splitlines() if not line.lstrip().startswith("saida"))
    cnx = database.connect_server()
    try:
        cursor = cnx.cursor()
        cursor.execute(f"CREATE DATABASE `{database.name}`")
        cursor.execute(f"USE `{database.name}`")
        cursor.execute(old)
        cursor.execute("INSERT INTO Imagens (data, codigo_retorno, request_id) VALUES "
                       "(NOW(), 0, 'before-the-modes')")
    finally:
        cnx.close()
    config = from_env().with_overrides({"mysql_database": database.name})
    apply_schema(config)
    apply_schema(config)
    rows = database.query("SELECT request_id, saida FROM Imagens")
    assert rows == [{"request_id": "before-the-modes", "saida": None}]


def test_runs_as_a_command_and_creates_a_missing_table(make_database):
    database = make_database(schema=False)
    result = subprocess.run([sys.executable, "-m", "api.log.schema"], cwd=ROOT, timeout=60,
                            capture_output=True, text=True,
                            env={**_env(), "MYSQL_DATABASE": database.name})
    assert result.returncode == 0, result.stderr
    assert f"{database.name}.Imagens is in place" in result.stdout
    assert database.count() == 0


def test_unreachable_server_fails_with_a_clear_line(tmp_path):
    from tests.test_routes import closed_port

    result = subprocess.run([sys.executable, "-m", "api.log.schema"], cwd=ROOT, timeout=60,
                            capture_output=True, text=True,
                            env={**_env(), "MYSQL_PORT": str(closed_port())})
    assert result.returncode == 1
    assert result.stderr.startswith("schema: MySQL at 127.0.0.1:")


def _env() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if key != "MYSQL_DATABASE"}
