"""The rows a benchmark's API wrote, read from the MySQL of api/config.py's environment."""

from __future__ import annotations

import mysql.connector

from api.config import from_env


def _connect(database: str | None = None):
    cfg = from_env()
    return mysql.connector.connect(host=cfg.mysql_host, port=cfg.mysql_port, user=cfg.mysql_user,
                                   password=cfg.mysql_password, database=database)


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
