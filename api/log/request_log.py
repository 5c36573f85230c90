"""Where every request's row goes: MySQL when it answers, else the spool, replayed in order.

When neither can take a row (MySQL down and the spool at its bound or on a full disk), `write`
raises LogUnavailable and the request is answered with code 8: no answer leaves without its row.
"""

from __future__ import annotations

import logging
import threading

from api.log.spool import Spool
from api.log.store import LogRecord, RowRejected, Store, StoreUnavailable

log = logging.getLogger(__name__)


class LogUnavailable(Exception):
    """Neither MySQL nor the spool could store the row."""


class RequestLog:
    def __init__(self, store: Store, spool: Spool, drain_interval: float = 2.0,
                 batch_size: int = 50) -> None:
        self.store = store
        self.spool = spool
        self.drain_interval = drain_interval
        self.batch_size = batch_size
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def write(self, record: LogRecord) -> str:
        """Stores the row durably before returning; says where it went: "db", "spool", or
        "rejected" (MySQL refused it for good; kept in the spool's rejected file). Raises
        LogUnavailable, and nothing else, when the row could not be stored anywhere."""
        if not self.spool.has_pending():  # rows already waiting go first, to keep the order
            try:
                self.store.insert(record)
                return "db"
            except StoreUnavailable as err:
                log.warning("request %s: MySQL did not take the row (%s); spooled",
                            record.request_id, err)
            except RowRejected as err:
                return self._reject(record, err)
            except Exception:  # a bug in the MySQL path must not cost the row: spool it
                log.exception("request %s: writing the row to MySQL failed; spooled",
                              record.request_id)
        try:
            self.spool.append(record.to_json())
        except Exception as err:  # disk full, spool at its bound, read-only volume...
            log.error("request %s: row NOT stored: MySQL and the spool both failed (%s);"
                      " answered with code 8", record.request_id, err)
            raise LogUnavailable(str(err)) from err
        self._wake.set()
        return "spool"

    def drain(self) -> int:
        """Replays spooled rows in order until the spool is empty or MySQL stops answering."""
        stored = 0
        with self.spool.draining() as mine:
            while mine and not self._stop.is_set():
                rows, end = self.spool.read_batch(self.batch_size)
                if not rows:
                    break
                records = self._records(rows)
                try:
                    self.store.insert_many(records)
                except RowRejected:
                    self._insert_one_by_one(records)
                except StoreUnavailable:
                    break
                self.spool.commit(end)
                stored += len(records)
        if stored:
            log.info("replayed %d spooled rows into MySQL", stored)
        return stored

    def _records(self, rows: list[dict]) -> list[LogRecord]:
        """Spooled rows as records; a line that is valid JSON but not a row is set aside, so it
        cannot hold back every row behind it."""
        records = []
        for row in rows:
            try:
                records.append(LogRecord.from_json(row))
            except (TypeError, ValueError) as err:
                log.error("spooled line is not a log row (%s); kept in %s", err,
                          self.spool.rejected_path)
                self.spool.reject(row)
        return records

    def _insert_one_by_one(self, records: list[LogRecord]) -> None:
        """Isolates the row MySQL refuses so it cannot hold back the others."""
        for record in records:
            try:
                self.store.insert(record)
            except RowRejected as err:
                self._reject(record, err)

    def _reject(self, record: LogRecord, err: Exception) -> str:
        log.error("request %s: row refused by MySQL for good (%s); kept in %s",
                  record.request_id, err, self.spool.rejected_path)
        try:
            self.spool.reject(record.to_json())
        except OSError as failed:
            raise LogUnavailable(str(failed)) from failed
        return "rejected"

    def start(self) -> None:
        """Background replay, so the spool empties without waiting for traffic."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="spool-drain", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.drain_interval)
            self._wake.clear()
            if self.spool.has_pending():
                try:
                    self.drain()
                except Exception:  # the thread must outlive any surprise; rows stay spooled
                    log.exception("spool replay failed; will retry")

    def close(self) -> None:
        """Stops the replay thread, then tries once more to empty the spool."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._stop.clear()
        if self.spool.has_pending():
            self.drain()
