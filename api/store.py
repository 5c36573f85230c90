"""The MySQL request log: schema, connection pool and the one INSERT.

The pool is created lazily so that the service starts, and keeps answering, while MySQL is down;
log rows then wait in the spool (see request_log.py).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import mysql.connector
from mysql.connector import errorcode, pooling

from api.config import Config

log = logging.getLogger(__name__)

INSERT_SQL = (
    "INSERT INTO Imagens (data, imgb64_dirty, imgb64_clean, codigo_retorno, request_id,"
    " largura, altura, duracao_ms, versao_modelo)"
    " VALUES (%(data)s, %(imgb64_dirty)s, %(imgb64_clean)s, %(codigo_retorno)s, %(request_id)s,"
    " %(largura)s, %(altura)s, %(duracao_ms)s, %(versao_modelo)s)"
)
IDENTIFIER = re.compile(r"^[A-Za-z0-9_$]{1,64}$")
MIN_PACKET = 256 * 1024 * 1024


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

    def to_json(self) -> dict[str, object]:
        row = asdict(self)
        row["data"] = self.data.isoformat()
        return row

    @classmethod
    def from_json(cls, row: dict[str, object]) -> LogRecord:
        return cls(**{**row, "data": datetime.fromisoformat(str(row["data"]))})


class StoreUnavailable(Exception):
    """MySQL did not take the row now; it may later (connection lost, server down)."""


class RowRejected(Exception):
    """MySQL refused this row for good (e.g. bigger than max_allowed_packet)."""


# Errors about the row itself: retrying cannot help.
PER_ROW_ERRORS = (mysql.connector.errors.DataError, mysql.connector.errors.IntegrityError)


class Store:
    def __init__(self, *, host: str, port: int, user: str, password: str, database: str,
                 schema_file: str, pool_size: int = 8, connect_timeout: float = 3.0,
                 max_row_bytes: int = 0) -> None:
        if not IDENTIFIER.match(database):
            raise ValueError(f"invalid database name {database!r}")
        self.database = database
        self.schema_file = Path(schema_file)
        self.pool_size = pool_size
        self._params = {"host": host, "port": port, "user": user, "password": password,
                        "connection_timeout": max(1, round(connect_timeout)), "autocommit": False,
                        "charset": "utf8mb4", "collation": "utf8mb4_unicode_ci"}
        self._pool: pooling.MySQLConnectionPool | None = None
        self._lock = threading.Lock()
        # mysql-connector's pool fails at once when empty; this makes callers wait their turn.
        self._slots = threading.BoundedSemaphore(pool_size)
        self.max_allowed_packet = 0
        self.last_error = ""
        # max_allowed_packet wanted: a maximal row (both base64 texts and the SQL around them).
        self.wanted_packet = max(MIN_PACKET, max_row_bytes + 1024 * 1024)

    @classmethod
    def from_config(cls, config: Config, **overrides: object) -> Store:
        """The service's store; `overrides` (e.g. another database) are for tools and tests."""
        params: dict = dict(
            host=config.mysql_host, port=config.mysql_port, user=config.mysql_user,
            password=config.mysql_password, database=config.mysql_database,
            schema_file=config.schema_file, pool_size=config.mysql_pool_size,
            connect_timeout=config.mysql_connect_timeout,
            # The dirty text, and a clean PNG that may outgrow a JPEG input: room for both twice.
            max_row_bytes=3 * config.max_request_bytes,
        )
        return cls(**{**params, **overrides})

    def insert(self, record: LogRecord) -> None:
        """Commits one row; raises StoreUnavailable or RowRejected."""
        self._execute([record])

    def insert_many(self, records: list[LogRecord]) -> None:
        """Commits the rows in one transaction, in order."""
        self._execute(records)

    def ping(self) -> bool:
        """True when MySQL answers; `last_error` says why not."""
        try:
            self._execute([])
        except (StoreUnavailable, RowRejected) as err:
            self.last_error = str(err)
            return False
        self.last_error = ""
        return True

    def count(self) -> int:
        """Rows logged so far (readiness detail and tests)."""
        with self._connection() as cnx:
            cursor = cnx.cursor()
            cursor.execute("SELECT COUNT(*) FROM Imagens")
            (n,) = cursor.fetchone()
            cursor.close()
            cnx.rollback()
            return int(n)

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
            if err.errno == errorcode.ER_NO_SUCH_TABLE:
                self._pool = None  # someone dropped it: the schema is re-applied on reconnect
            # Anything else (server down, lost connection, wrong password) may heal: the rows wait.
            raise StoreUnavailable(str(err)) from err

    def _check_size(self, record: LogRecord) -> None:
        """A row over max_allowed_packet makes the server drop the connection, which looks like
        an outage; refuse it here instead, so it cannot block the rows behind it."""
        size = len(record.imgb64_dirty or "") + len(record.imgb64_clean or "") + 4096
        if self.max_allowed_packet and size > self.max_allowed_packet:
            raise RowRejected(f"row of {size} bytes exceeds max_allowed_packet"
                              f" ({self.max_allowed_packet})")

    def _connection(self) -> _Borrowed:
        return _Borrowed(self)

    def _get_pool(self) -> pooling.MySQLConnectionPool:
        with self._lock:
            if self._pool is None:
                self.apply_schema()
                self._pool = pooling.MySQLConnectionPool(
                    pool_name=f"ddd-{id(self)}", pool_size=self.pool_size,
                    pool_reset_session=False, database=self.database, **self._params
                )
            return self._pool

    def apply_schema(self) -> None:
        """Runs db/init.sql against the configured database name, idempotently."""
        statements = schema_statements(self.schema_file.read_text())
        cnx = mysql.connector.connect(**self._params)
        try:
            cursor = cnx.cursor()
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{self.database}`"
                           " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            cursor.execute(f"USE `{self.database}`")
            for statement in statements:
                cursor.execute(statement)
            self.max_allowed_packet = self._raise_packet_limit(cursor)
            cursor.close()
            cnx.commit()
        finally:
            cnx.close()

    def _raise_packet_limit(self, cursor) -> int:
        cursor.execute("SELECT @@GLOBAL.max_allowed_packet")
        (limit,) = cursor.fetchone()
        if limit < self.wanted_packet:
            try:
                cursor.execute("SET GLOBAL max_allowed_packet = %s", (self.wanted_packet,))
                limit = self.wanted_packet
            except mysql.connector.Error as err:
                log.warning("max_allowed_packet is %d, below the %d that the largest requests need,"
                            " and cannot be raised (%s): rows bigger than that go to the spool's"
                            " rejected file", limit, self.wanted_packet, err.msg)
        return int(limit)


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
        self.cnx = None

    def __enter__(self):
        if not self.store._slots.acquire(timeout=30):
            raise mysql.connector.errors.PoolError(msg="no connection free for 30 s")
        try:
            self.cnx = self.store._get_pool().get_connection()
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
            self.store._slots.release()


def schema_statements(sql: str) -> list[str]:
    """The statements of init.sql except those naming the database, which is configurable."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    # A statement ends with ';' at the end of a line (a ';' inside a COMMENT string does not).
    statements = [s.strip() for s in re.split(r";\s*$", "\n".join(lines), flags=re.M) if s.strip()]
    return [s for s in statements if not re.match(r"(CREATE\s+DATABASE|USE)\b", s, re.I)]
