"""`python -m api.log.schema`: creates the request log's schema (db/init.sql), as its own user.

The service never runs DDL: this step runs before it (`make run`, compose's `migrate` service, a
Kubernetes Job), as MYSQL_SCHEMA_USER (default: MYSQL_USER), which needs CREATE on the database.
Idempotent (`IF NOT EXISTS`); nothing here drops or truncates logged data. Where the user may, it
also raises the server's max_allowed_packet to what the largest request's row needs.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import mysql.connector

from api.log.store import connection_params
from pagework.config import Config, from_env

log = logging.getLogger(__name__)
IDENTIFIER = re.compile(r"^[A-Za-z0-9_$]{1,64}$")
MIN_PACKET = 256 * 1024 * 1024


def schema_statements(sql: str) -> list[str]:
    """The statements of init.sql except those naming the database, which is configurable."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    # A statement ends with ';' at the end of a line (a ';' inside a COMMENT string does not).
    statements = [s.strip() for s in re.split(r";\s*$", "\n".join(lines), flags=re.M) if s.strip()]
    return [s for s in statements if not re.match(r"(CREATE\s+DATABASE|USE)\b", s, re.I)]


def wanted_packet(config: Config) -> int:
    """A maximal row: the dirty text and a clean PNG that may outgrow a JPEG input, with room."""
    return max(MIN_PACKET, 3 * config.max_request_bytes + 1024 * 1024)


def schema_config(config: Config) -> Config:
    """The schema step's account: MYSQL_SCHEMA_USER/PASSWORD, else the service's own."""
    if not config.mysql_schema_user:
        return config
    return replace(config, mysql_user=config.mysql_schema_user,
                   mysql_password=config.mysql_schema_password)


def apply_schema(config: Config) -> int:
    """Runs db/init.sql against the configured database; returns max_allowed_packet after it."""
    database = config.mysql_database
    if not IDENTIFIER.match(database):
        raise ValueError(f"invalid database name {database!r}")
    statements = schema_statements(Path(config.schema_file).read_text())
    cnx = mysql.connector.connect(**connection_params(schema_config(config)))
    try:
        cursor = cnx.cursor()
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`"
                       " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        cursor.execute(f"USE `{database}`")
        for statement in statements:
            cursor.execute(statement)
        limit = _raise_packet_limit(cursor, wanted_packet(config))
        cursor.close()
        cnx.commit()
        return limit
    finally:
        cnx.close()


def _raise_packet_limit(cursor, wanted: int) -> int:
    cursor.execute("SELECT @@GLOBAL.max_allowed_packet")
    (limit,) = cursor.fetchone()
    if limit >= wanted:
        return int(limit)
    try:
        cursor.execute("SET GLOBAL max_allowed_packet = %s", (wanted,))
        return wanted
    except mysql.connector.Error as err:
        log.warning("max_allowed_packet is %d, below the %d that the largest requests need, and"
                    " cannot be raised (%s): rows bigger than that go to the spool's rejected"
                    " file; raise it in the server's configuration", limit, wanted, err.msg)
        return int(limit)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.log.schema",
                                     description=__doc__.split("\n")[0])
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    config = from_env()
    try:
        limit = apply_schema(config)
    except mysql.connector.Error as err:
        print(f"schema: MySQL at {config.mysql_host}:{config.mysql_port}: {err}", file=sys.stderr)
        return 1
    print(f"schema: {config.mysql_database}.Imagens is in place on {config.mysql_host}:"
          f"{config.mysql_port} (max_allowed_packet {limit})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
