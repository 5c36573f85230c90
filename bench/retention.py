"""`python -m bench.retention`: retention by index + batched DELETE vs by monthly partitions.

Two tables in a throw-away database on the local MariaDB, filled alike with real-sized rows (a
540x420 page's base64 and its cleaned PNG's, ~330 KB) over three months: `Imagens` as db/init.sql
makes it (ix_imagens_data), and a copy partitioned by month on `data` (partitioning forces `data`
into the primary and unique keys). For each: insert throughput while filling, then the oldest
month removed (api.log.retention's batched purge vs ALTER TABLE ... DROP PARTITION) while a writer
keeps inserting rows, with that writer's insert latency (p50, max) during the removal, the time
it took and the table file's size before and after. Traffic goes to the local server only.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path

import mysql.connector
import numpy as np

from api.log.retention import purge
from api.log.schema import apply_schema
from api.log.store import INSERT_SQL, LogRecord, connection_params
from bench.report import add_load_args, settle
from bench.rows import drop_database
from pagework.config import Config, from_env

MONTHS = (datetime(2026, 1, 1), datetime(2026, 2, 1), datetime(2026, 3, 1), datetime(2026, 4, 1))
PARTITIONED = """
CREATE TABLE ImagensPart (
    ID BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    data DATETIME(3) NOT NULL,
    imgb64_dirty LONGTEXT NULL, imgb64_clean LONGTEXT NULL,
    codigo_retorno SMALLINT NOT NULL, request_id CHAR(32) NOT NULL,
    largura INT NULL, altura INT NULL, duracao_ms DOUBLE NULL, versao_modelo VARCHAR(64) NULL,
    saida VARCHAR(16) NULL,
    PRIMARY KEY (ID, data),
    UNIQUE KEY uq_request_id (request_id, data),
    KEY ix_codigo (codigo_retorno)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
PARTITION BY RANGE COLUMNS (data) (
    PARTITION p2026_01 VALUES LESS THAN ('2026-02-01'),
    PARTITION p2026_02 VALUES LESS THAN ('2026-03-01'),
    PARTITION p2026_03 VALUES LESS THAN ('2026-04-01'),
    PARTITION pmax VALUES LESS THAN (MAXVALUE)
)"""


def connect(config: Config):
    return mysql.connector.connect(**connection_params(config), database=config.mysql_database,
                                   autocommit=True)


def row(when: datetime, text: str) -> dict:
    return asdict(LogRecord(request_id=uuid.uuid4().hex, data=when, codigo_retorno=0,
                            imgb64_dirty=text[:len(text) * 2 // 3],
                            imgb64_clean=text[len(text) * 2 // 3:], largura=540, altura=420))


def fill(config: Config, table: str, per_month: int, text: str) -> float:
    """Rows spread evenly over the first three months; returns rows/s."""
    cnx = connect(config)
    cursor = cnx.cursor()
    sql = INSERT_SQL.replace("INTO Imagens", f"INTO {table}")
    started = time.perf_counter()
    for month in range(3):
        span = (MONTHS[month + 1] - MONTHS[month]) / per_month
        for i in range(per_month):
            cursor.execute(sql, row(MONTHS[month] + span * i, text))
    rate = 3 * per_month / (time.perf_counter() - started)
    cnx.close()
    return round(rate, 1)


def file_bytes(config: Config, table: str) -> int:
    cnx = connect(config)
    cursor = cnx.cursor()
    cursor.execute("SELECT @@datadir")
    (datadir,) = cursor.fetchone()
    cnx.close()
    folder = Path(datadir) / config.mysql_database
    files = [folder / f"{table}.ibd", *folder.glob(f"{table}#[Pp]#*.ibd")]  # #P#: partitions
    return sum(p.stat().st_size for p in files if p.exists())


def while_writing(config: Config, table: str, text: str, removal) -> dict:
    """Runs `removal()` while a writer inserts current rows; the writer's latencies during it."""
    latencies: list[float] = []
    stop = threading.Event()
    sql = INSERT_SQL.replace("INTO Imagens", f"INTO {table}")

    def writer() -> None:
        cnx = connect(config)
        cursor = cnx.cursor()
        while not stop.is_set():
            started = time.perf_counter()
            cursor.execute(sql, row(MONTHS[3] + timedelta(days=1), text))
            latencies.append(time.perf_counter() - started)
        cnx.close()

    thread = threading.Thread(target=writer)
    thread.start()
    started = time.perf_counter()
    removed = removal()
    seconds = time.perf_counter() - started
    stop.set()
    thread.join()
    ms = np.array(latencies) * 1000
    return {"removed_rows": removed, "seconds": round(seconds, 2),
            "inserts_during": len(latencies), "insert_p50_ms": round(float(np.median(ms)), 1),
            "insert_max_ms": round(float(ms.max()), 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-month", type=int, default=300, help="rows per month per table")
    parser.add_argument("--row-bytes", type=int, default=330_000, help="both texts together")
    parser.add_argument("--batch-rows", type=int, default=200)
    add_load_args(parser)
    args = parser.parse_args(argv)
    settle(args)
    text = "A" * args.row_bytes
    config = from_env().with_overrides({"mysql_database": f"ddd_ret_{uuid.uuid4().hex[:8]}"})
    apply_schema(config)
    try:
        cnx = connect(config)
        cnx.cursor().execute(PARTITIONED)
        cnx.close()
        results = {}
        for table in ("Imagens", "ImagensPart"):
            results[table] = {"fill_rows_per_s": fill(config, table, args.per_month, text),
                              "file_bytes_full": file_bytes(config, table)}
        cutoff = MONTHS[1]

        def batched() -> int:
            cnx = connect(config)
            result = purge(cnx, cutoff, batch_rows=args.batch_rows)
            cnx.close()
            return result.rows

        def drop_partition() -> int:
            cnx = connect(config)
            cursor = cnx.cursor()
            cursor.execute("SELECT COUNT(*) FROM ImagensPart PARTITION (p2026_01)")
            (count,) = cursor.fetchone()
            cursor.execute("ALTER TABLE ImagensPart DROP PARTITION p2026_01")
            cnx.close()
            return int(count)

        for table, removal in (("Imagens", batched), ("ImagensPart", drop_partition)):
            results[table].update(while_writing(config, table, text, removal))
            results[table]["file_bytes_after"] = file_bytes(config, table)
        idle = while_writing(config, "Imagens", text, lambda: time.sleep(3) or 0)
        results["idle_writer"] = {k: idle[k] for k in ("insert_p50_ms", "insert_max_ms")}
        print(json.dumps(results, indent=2))
    finally:
        drop_database(config.mysql_database)


if __name__ == "__main__":
    main()
