"""The durable spool and the request log's fall-back to it, against the real MariaDB."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from api.log.request_log import RequestLog
from api.log.spool import Spool
from tests.conftest import ROOT
from tests.test_routes import closed_port
from tests.test_store import make_store, record


def drain_all(spool: Spool) -> list[dict]:
    rows, end = spool.read_batch(10_000)
    spool.commit(end)
    return rows


def test_rows_come_back_in_order_and_the_file_empties(tmp_path):
    spool = Spool(tmp_path)
    for i in range(5):
        spool.append({"n": i, "text": "ção"})
    assert spool.has_pending() and spool.depth() == 5
    rows, end = spool.read_batch(3)
    assert [r["n"] for r in rows] == [0, 1, 2]
    spool.commit(end)
    assert spool.depth() == 2
    assert [r["n"] for r in drain_all(spool)] == [3, 4]
    assert not spool.has_pending() and spool.depth() == 0
    assert spool.path.stat().st_size == 0


def test_uncommitted_batch_is_read_again(tmp_path):
    spool = Spool(tmp_path)
    spool.append({"n": 1})
    first, _ = spool.read_batch(10)
    again, _ = Spool(tmp_path).read_batch(10)  # e.g. a restarted process
    assert first == again == [{"n": 1}]


def test_torn_line_from_a_crash_is_set_aside(tmp_path):
    spool = Spool(tmp_path)
    spool.append({"n": 1})
    with spool.path.open("ab") as handle:
        handle.write(b'{"n": 2, "trunc')  # a writer killed mid-write
    spool.append({"n": 3})
    assert [r["n"] for r in drain_all(spool)] == [1, 3]
    assert spool.rejected() == 1
    spool.append({"n": 4})
    with spool.path.open("ab") as handle:
        handle.write(b'{"n": 5')
    assert [r["n"] for r in drain_all(spool)] == [4]
    assert not spool.has_pending()
    assert spool.rejected() == 2


WRITER = """
import sys
from api.log.spool import Spool
spool = Spool(sys.argv[1])
for i in range(int(sys.argv[3])):
    spool.append({"writer": sys.argv[2], "i": i, "pad": "x" * 5000})
"""


def test_concurrent_writers_never_interleave(tmp_path):
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(w), "200"],
                                cwd=ROOT) for w in range(4)]
    assert all(w.wait(timeout=60) == 0 for w in writers)
    rows = drain_all(Spool(tmp_path))
    assert len(rows) == 800
    for w in range(4):
        assert [r["i"] for r in rows if r["writer"] == str(w)] == list(range(200))


def test_rows_written_before_kill_9_survive(tmp_path):
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), "k", "100000"],
                              cwd=ROOT)
    deadline = time.monotonic() + 30
    while Spool(tmp_path).depth() < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    rows = drain_all(Spool(tmp_path))
    assert len(rows) >= 50
    assert [r["i"] for r in rows] == list(range(len(rows)))


def test_request_log_spools_while_mysql_is_down_and_replays_once(make_database, tmp_path):
    database = make_database()
    spool = Spool(tmp_path)
    down = RequestLog(make_store(database.name, port=closed_port()), spool)
    records = [record() for _ in range(7)]
    assert [down.write(r) for r in records] == ["spool"] * 7
    up = RequestLog(make_store(database.name), spool)
    extra = record()
    assert up.write(extra) == "spool"  # older rows are waiting: keep the order
    assert up.drain() == 8
    assert up.drain() == 0
    up.spool.append(records[0].to_json())  # a replay of a row already stored
    up.drain()
    rows = database.query("SELECT request_id FROM Imagens ORDER BY ID")
    ids = [row["request_id"] for row in rows]
    assert ids == [r.request_id for r in records + [extra]]
    assert up.write(record()) == "db"


def test_row_mysql_refuses_is_kept_aside_and_does_not_block(make_database, tmp_path):
    database = make_database()
    store = make_store(database.name)
    assert store.ping()  # connects (and reads the server's limit) before the test lowers it
    spool = Spool(tmp_path)
    spool.append(record().to_json())
    spool.append(record(imgb64_dirty="A" * 50_000).to_json())
    spool.append(record().to_json())
    store.max_allowed_packet = 20_000
    log = RequestLog(store, spool)
    assert log.drain() == 3  # all three left the queue
    assert database.count() == 2
    assert spool.rejected() == 1 and not spool.has_pending()
    rejected = json.loads(spool.rejected_path.read_text())
    assert len(rejected["imgb64_dirty"]) == 50_000


def test_background_replay_empties_the_spool(make_database, tmp_path):
    database = make_database()
    spool = Spool(tmp_path)
    spool.append(record().to_json())
    log = RequestLog(make_store(database.name), spool, drain_interval=0.1)
    log.start()
    try:
        deadline = time.monotonic() + 10
        while spool.has_pending() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        log.close()
    assert database.count() == 1


def test_depth_is_a_count_read_without_the_writers_lock(tmp_path):
    """/ready and /metrics read a number: a writer holding the lock (a slow fsync) cannot stall
    them, and a big spool is not read again at every scrape."""
    import fcntl
    import threading

    spool = Spool(tmp_path)
    for i in range(300):
        spool.append({"n": i})
    rows, end = spool.read_batch(100)
    spool.commit(end)
    with (tmp_path / "spool.lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        answers: list[int] = []
        reader = threading.Thread(target=lambda: answers.append(spool.depth()))
        reader.start()
        reader.join(timeout=10)
        fcntl.flock(held, fcntl.LOCK_UN)
    assert answers == [200]


def test_counts_are_rebuilt_when_a_crash_left_them_stale(tmp_path):
    spool = Spool(tmp_path)
    for i in range(5):
        spool.append({"n": i})
    spool.reject({"bad": 1})
    spool.counts_path.write_text("99 0\n")  # as if a process died between the row and the count
    assert (Spool(tmp_path).depth(), Spool(tmp_path).rejected()) == (5, 1)


def test_bounded_spool_refuses_rows_at_the_bound(tmp_path):
    from api.log.spool import SpoolFull

    spool = Spool(tmp_path, max_bytes=2000)
    spool.append({"pad": "x" * 900})
    spool.append({"pad": "x" * 900})
    with pytest.raises(SpoolFull):
        spool.append({"pad": "x" * 900})
    assert spool.depth() == 2
    drain_all(spool)
    spool.append({"pad": "x" * 900})  # room again once replayed


def test_line_that_is_json_but_not_a_row_does_not_block_the_rest(make_database, tmp_path):
    database = make_database()
    spool = Spool(tmp_path)
    good = [record() for _ in range(3)]
    spool.append(good[0].to_json())
    spool.append({"not": "a row"})
    spool.append({**record().to_json(), "codigo_retorno": "zero"})
    spool.append(good[1].to_json())
    log = RequestLog(make_store(database.name), spool)
    log.drain()
    assert log.write(good[2]) == "db"  # nothing left waiting in front of new rows
    rows = database.query("SELECT request_id FROM Imagens ORDER BY ID")
    ids = [row["request_id"] for row in rows]
    assert ids == [r.request_id for r in good]
    assert spool.rejected() == 2 and spool.depth() == 0
    kept = [json.loads(line) for line in spool.rejected_path.read_text().splitlines()]
    assert kept[0] == {"not": "a row"}


def test_row_with_lone_surrogates_survives_the_spool(make_database, tmp_path):
    from api.log.store import storable_text

    database = make_database()
    spool = Spool(tmp_path)
    row = record(imgb64_dirty="\ud800 as sent")  # what a careless caller could build
    spool.append(row.to_json())
    stored = record(imgb64_dirty=storable_text("\ud800 as sent"))
    spool.append(stored.to_json())
    rows = drain_all(Spool(tmp_path))
    assert rows[0]["imgb64_dirty"] == "\ud800 as sent"
    RequestLog(make_store(database.name), spool).write(stored)
    assert json.loads(database.row(stored.request_id)["imgb64_dirty"]) == "\ud800 as sent"
