"""`python -m api.log.retention purge`: deletes request-log rows older than RETENTION_DAYS.

The log holds both images of every request, so it grows without bound unless something deletes
old rows. This runs as its own MySQL user (SELECT and DELETE on the table), in small batches by
primary-key range: each batch is one short autocommitted DELETE under READ COMMITTED, which
locks only the rows it deletes (no gap locks), so the service's inserts, which always land at the
top of the key, never wait on the purge. Rows are chosen by `data` (request time), not by ID: a
row replayed late from a spool has an old time and a high ID, and goes too.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta

import mysql.connector

from api.log.store import connection_params
from pagework.config import Config, from_env

BOUNDS_SQL = "SELECT MIN(ID), MAX(ID) FROM Imagens WHERE data < %s"  # ix_imagens_data covers it
NEXT_SQL = "SELECT ID FROM Imagens WHERE ID >= %s ORDER BY ID LIMIT 1 OFFSET %s"
DELETE_SQL = "DELETE FROM Imagens WHERE ID >= %s AND ID < %s AND data < %s"
COUNT_SQL = "SELECT COUNT(*) FROM Imagens WHERE data < %s"


@dataclass(frozen=True)
class PurgeResult:
    cutoff: datetime
    rows: int
    batches: int
    seconds: float


def retention_config(config: Config) -> Config:
    """The purge's account: MYSQL_RETENTION_USER/PASSWORD, else the service's own."""
    if not config.mysql_retention_user:
        return config
    return replace(config, mysql_user=config.mysql_retention_user,
                   mysql_password=config.mysql_retention_password)


def cutoff_for(days: int, now: datetime | None = None) -> datetime:
    """Rows logged before this instant (UTC, as `data` is stored) are older than `days`."""
    if days <= 0:
        raise ValueError("retention days must be positive")
    now = now or datetime.now(UTC)
    return (now - timedelta(days=days)).replace(tzinfo=None)


def prepare_session(cursor) -> None:
    """READ COMMITTED: a batch's DELETE locks the rows it removes and no gaps around them."""
    cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")


def delete_batch(cursor, low: int, high: int, cutoff: datetime) -> int:
    """Deletes the old rows with low <= ID < high; returns how many."""
    cursor.execute(DELETE_SQL, (low, high, cutoff))
    return cursor.rowcount


def next_bound(cursor, low: int, batch_rows: int, last: int) -> int:
    """The ID `batch_rows` rows above `low` (gaps in the key skipped), or past the last one."""
    cursor.execute(NEXT_SQL, (low, batch_rows))
    found = cursor.fetchone()
    return min(int(found[0]), last + 1) if found else last + 1


def purge(cnx, cutoff: datetime, *, batch_rows: int = 200, pause: float = 0.0,
          on_batch: Callable[[int, int], None] | None = None) -> PurgeResult:
    """Deletes every row with `data` before `cutoff`, batch by batch; `pause` seconds between
    batches leave the disk to the service. `on_batch(batch, rows)` is called after each."""
    started = time.monotonic()
    cnx.autocommit = True
    cursor = cnx.cursor()
    prepare_session(cursor)
    cursor.execute(BOUNDS_SQL, (cutoff,))
    first, last = cursor.fetchone()
    rows = batches = 0
    low = first
    while low is not None and low <= last:
        high = next_bound(cursor, low, batch_rows, last)
        deleted = delete_batch(cursor, low, high, cutoff)
        rows, batches, low = rows + deleted, batches + 1, high
        if on_batch:
            on_batch(batches, deleted)
        if pause and low <= last:
            time.sleep(pause)
    cursor.close()
    return PurgeResult(cutoff, rows, batches, round(time.monotonic() - started, 3))


def count_older(cnx, cutoff: datetime) -> int:
    cursor = cnx.cursor()
    cursor.execute(COUNT_SQL, (cutoff,))
    (count,) = cursor.fetchone()
    cursor.close()
    return int(count)


def main(argv: Sequence[str] | None = None) -> int:
    config = from_env()
    parser = argparse.ArgumentParser(prog="python -m api.log.retention", description=__doc__.split(
        "\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("purge", help="delete rows older than --days")
    run.add_argument("--days", type=int, default=config.retention_days,
                     help="keep this many days (default RETENTION_DAYS; 0: keep everything)")
    run.add_argument("--batch-rows", type=int, default=config.retention_batch_rows,
                     help="rows of the key per DELETE (default RETENTION_BATCH_ROWS)")
    run.add_argument("--pause", type=float, default=0.05, help="seconds between batches")
    run.add_argument("--dry-run", action="store_true", help="count the rows, delete nothing")
    args = parser.parse_args(argv)
    if args.days <= 0:
        print("retention: RETENTION_DAYS is 0 (or --days 0): every row is kept")
        return 0
    cutoff = cutoff_for(args.days)
    account = retention_config(config)
    try:
        cnx = mysql.connector.connect(**connection_params(account),
                                      database=config.mysql_database)
        try:
            if args.dry_run:
                print(json.dumps({"cutoff": cutoff.isoformat(), "older_rows":
                                  count_older(cnx, cutoff)}))
                return 0
            result = purge(cnx, cutoff, batch_rows=args.batch_rows, pause=args.pause)
        finally:
            cnx.close()
    except mysql.connector.Error as err:
        print(f"retention: MySQL at {config.mysql_host}:{config.mysql_port} as"
              f" {account.mysql_user}: {err}", file=sys.stderr)
        return 1
    print(json.dumps({**asdict(result), "cutoff": result.cutoff.isoformat()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
