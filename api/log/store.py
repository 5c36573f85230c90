"""The MySQL request log: the row, the connection pool and the one INSERT.

The service's database user needs INSERT only: it never runs DDL or SET GLOBAL (the schema is
`python -m api.log.schema`'s job, run as its own user). A missing table is reported, not recreated,
so a dropped audit table cannot go unnoticed. The pool is created lazily so that the service
starts, and keeps answering, while MySQL is down; log rows then wait in the spool.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

import mysql.connector
from mysql.connector import errorcode, pooling

from pagework.config import Config

log = logging.getLogger(__name__)

INSERT_SQL = (
    "INSERT INTO Imagens (data, imgb64_dirty, imgb64_clean, codigo_retorno, request_id,"
    " largura, altura, duracao_ms, versao_modelo, saida)"
    " VALUES (%(data)s, %(imgb64_dirty)s, %(imgb64_clean)s, %(codigo_retorno)s, %(request_id)s,"
    " %(largura)s, %(altura)s, %(duracao_ms)s, %(versao_modelo)s, %(saida)s)"
)
LATER_FIELDS = {"saida"}  # columns added since the first release: absent from older spooled rows
TABLE_EXISTS_SQL = ("SELECT COUNT(*) FROM information_schema.TABLES"
                    " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'Imagens'")


def storable_text(value: object) -> str:
    """The received value as text MySQL and the spool can always hold: a string as it is,
    anything else as JSON (storable_json)."""
    if not isinstance(value, str):
        return storable_json(value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value)
    return value


def storable_json(value: object) -> str:
    """JSON text of the value. Text that is not valid Unicode (lone UTF-16 surrogates, which JSON
    allows and UTF-8 cannot hold) is kept as ASCII JSON, with \\u escapes: nothing is lost and
    nothing fails to encode."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value)
    return text


@dataclass(frozen=True)
class LogRecord:
    """One row of `Imagens`; field names are the column names."""

    request_id: str
    data: datetime
    codigo_retorno: int
    imgb64_dirty: str | None = None
    imgb64_clean: str | None = None
    largura: int | None = None
    altura: int | None = None
    duracao_ms: float | None = None
    versao_modelo: str | None = None
    saida: str | None = None

    def to_json(self) -> dict[str, object]:
        row = asdict(self)
        row["data"] = self.data.isoformat()
        return row

    @classmethod
    def from_json(cls, row: object) -> LogRecord:
        """A spooled row, checked field by field; ValueError if it is not one."""
        if isinstance(row, dict) and set(row) == {f.name for f in fields(cls)} - LATER_FIELDS:
            row = {**row, **dict.fromkeys(LATER_FIELDS)}  # spooled by a release before them
        if not isinstance(row, dict) or set(row) != {f.name for f in fields(cls)}:
            raise ValueError("not a log row: wrong fields")
        _expect(row, "request_id", str, required=True)
        _expect(row, "data", str, required=True)
        _expect(row, "codigo_retorno", int, required=True)
        for name in ("imgb64_dirty", "imgb64_clean", "versao_modelo", "saida"):
            _expect(row, name, str)
        for name in ("largura", "altura"):
            _expect(row, name, int)
        _expect(row, "duracao_ms", (int, float))
        return cls(**{**row, "data": datetime.fromisoformat(row["data"])})


def _expect(row: dict[str, Any], name: str, kind: type | tuple[type, ...],
            required: bool = False) -> None:
    value = row[name]
    if (value is None and not required) or (isinstance(value, kind)
                                            and not isinstance(value, bool)):
        return
    raise ValueError(f"not a log row: {name} is {type(value).__name__}")


class StoreUnavailable(Exception):
    """MySQL did not take the row now; it may later (connection lost, server down, table
    missing)."""


class RowRejected(Exception):
    """MySQL refused this row for good (e.g. bigger than max_allowed_packet)."""


# Errors about the row itself: retrying cannot help.
PER_ROW_ERRORS = (mysql.connector.errors.DataError, mysql.connector.errors.IntegrityError)
# The schema step has not run (or someone dropped its work): not an outage, a readiness error.
SCHEMA_MISSING = (errorcode.ER_NO_SUCH_TABLE, errorcode.ER_BAD_DB_ERROR)


def connection_params(config: Config) -> dict[str, Any]:
    """How every part of the project (service, schema step, tools, tests) reaches MySQL."""
    params = {"host": config.mysql_host, "port": config.mysql_port, "user": config.mysql_user,
              "password": config.mysql_password,
              "connection_timeout": max(1, round(config.mysql_connect_timeout)),
              "charset": "utf8mb4", "collation": "utf8mb4_unicode_ci"}
    if config.mysql_ssl_ca:  # verified TLS, never a silent fall-back to plain text
        params.update(ssl_ca=config.mysql_ssl_ca, ssl_verify_cert=True,
                      ssl_verify_identity=config.mysql_ssl_verify_identity)
    return params


class Store:
    def __init__(self, params: dict[str, Any], database: str, pool_size: int = 8) -> None:
        self.database = database
        self.pool_size = pool_size
        self._params = {**params, "autocommit": False}
        self._pool: pooling.MySQLConnectionPool | None = None
        self._lock = threading.Lock()
        # mysql-connector's pool fails at once when empty; this makes callers wait their turn.
        self._slots = threading.BoundedSemaphore(pool_size)
        self.max_allowed_packet = 0
        self.table_missing = False
        self.last_error = ""

    @classmethod
    def from_config(cls, config: Config, **overrides: Any) -> Store:
        """The service's store; `overrides` (database, pool_size) are for tools and tests."""
        settings = {"database": config.mysql_database, "pool_size": config.mysql_pool_size,
                    **overrides}
        return cls(connection_params(config), **settings)

    def insert(self, record: LogRecord) -> None:
        """Commits one row; raises StoreUnavailable or RowRejected."""
        self._execute([record])

    def insert_many(self, records: list[LogRecord]) -> None:
        """Commits the rows in one transaction, in order."""
        self._execute(records)

    def ping(self) -> bool:
        """True when MySQL answers and the table exists; `last_error` says why not."""
        try:
            with self._connection() as cnx:
                cursor = cnx.cursor()
                cursor.execute(TABLE_EXISTS_SQL)
                (found,) = cursor.fetchone()
                cursor.close()
                cnx.rollback()
        except mysql.connector.Error as err:
            self.table_missing = err.errno in SCHEMA_MISSING
            self.last_error = str(err)
            return False
        self.table_missing = not found
        self.last_error = f"table {self.database}.Imagens does not exist" if not found else ""
        return bool(found)

    def _execute(self, records: list[LogRecord]) -> None:
        for record in records:
            self._check_size(record)
        try:
            with self._connection() as cnx:
                cursor = cnx.cursor()
                for record in records:
                    _insert_once(cursor, record)
                cursor.close()
                cnx.commit()
        except mysql.connector.Error as err:
            if isinstance(err, PER_ROW_ERRORS):
                raise RowRejected(str(err)) from err
            self.table_missing = err.errno in SCHEMA_MISSING
            # Anything else (server down, lost connection, wrong password, table dropped) may
            # heal: the rows wait in the spool.
            raise StoreUnavailable(str(err)) from err

    def _check_size(self, record: LogRecord) -> None:
        """A row over max_allowed_packet makes the server drop the connection, which looks like
        an outage; refuse it here instead, so it cannot block the rows behind it."""
        size = len(record.imgb64_dirty or "") + len(record.imgb64_clean or "") + 4096
        if self.max_allowed_packet and size > self.max_allowed_packet:
            raise RowRejected(f"row of {size} bytes exceeds max_allowed_packet"
                              f" ({self.max_allowed_packet})")

    def close(self) -> None:
        """Closes the idle connections; a later row opens a new pool. Connections still lent
        out are closed as they come back."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            # mysql-connector has no public close for a pool; this is what its own tests use.
            pool._remove_connections()

    def _connection(self) -> _Borrowed:
        return _Borrowed(self)

    def _get_pool(self) -> pooling.MySQLConnectionPool:
        with self._lock:
            if self._pool is None:
                pool = pooling.MySQLConnectionPool(
                    pool_name=f"ddd-{id(self)}", pool_size=self.pool_size,
                    pool_reset_session=False, database=self.database, **self._params
                )
                self.max_allowed_packet = _session_packet_limit(pool)
                self._pool = pool
            return self._pool


def _session_packet_limit(pool: pooling.MySQLConnectionPool) -> int:
    cnx = pool.get_connection()
    try:
        cursor = cnx.cursor()
        cursor.execute("SELECT @@max_allowed_packet")
        (limit,) = cursor.fetchone()
        cursor.close()
        return int(limit)
    finally:
        cnx.close()


def _insert_once(cursor, record: LogRecord) -> None:
    """A replayed row (spool after a lost acknowledgement) is already there: the first copy
    stays. A failed statement leaves the transaction's other rows in place (InnoDB), and a plain
    INSERT needs no UPDATE privilege, unlike ON DUPLICATE KEY UPDATE."""
    try:
        cursor.execute(INSERT_SQL, asdict(record))
    except mysql.connector.errors.IntegrityError as err:
        if err.errno != errorcode.ER_DUP_ENTRY or "request_id" not in str(err.msg):
            raise


class _Borrowed:
    """A pooled connection, waited for and returned to the pool in every case."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pool: pooling.MySQLConnectionPool | None = None
        self.cnx = None

    def __enter__(self):
        if not self.store._slots.acquire(timeout=30):
            raise mysql.connector.errors.PoolError(msg="no connection free for 30 s")
        try:
            self.pool = self.store._get_pool()
            self.cnx = self.pool.get_connection()
        except BaseException:
            self.store._slots.release()
            raise
        return self.cnx

    def __exit__(self, kind, value, traceback) -> None:
        try:
            if kind is not None:
                self.cnx.rollback()
        except mysql.connector.Error:
            pass  # the connection is already broken; the pool reconnects it on next use
        finally:
            self.cnx.close()
            if self.pool is not self.store._pool:  # the store was closed meanwhile
                self.pool._remove_connections()
            self.store._slots.release()
