"""The rows a benchmark's API wrote, read from the MySQL of pagework/config.py's environment."""

from __future__ import annotations

import mysql.connector

from api.log.schema import apply_schema
from api.log.store import connection_params
from pagework.config import from_env


def _connect(database: str | None = None):
    return mysql.connector.connect(**connection_params(from_env()), database=database)


def create_database(database: str) -> str:
    """A throw-away database with the schema, made by the schema step as in production."""
    apply_schema(from_env().with_overrides({"mysql_database": database}))
    return database


def count_rows(database: str) -> tuple[int, int]:
    """(rows, distinct request ids) in `database`.Imagens."""
    cnx = _connect(database)
    try:
        cursor = cnx.cursor()
        cursor.execute("SELECT COUNT(*), COUNT(DISTINCT request_id) FROM Imagens")
        rows, distinct = cursor.fetchone()
        return int(rows), int(distinct)
    finally:
        cnx.close()


def drop_database(database: str) -> None:
    """Benchmarks log into a throw-away database."""
    cnx = _connect()
    try:
        cnx.cursor().execute(f"DROP DATABASE IF EXISTS `{database}`")
    finally:
        cnx.close()
