"""`python -m bench.capacity`: the inputs of docs/scaling.md, measured in one run.

`pages`: the API (gunicorn) calling the local TF-Serving-compatible server over gRPC (or REST),
as in compose and Kubernetes; real pages of each size at a concurrency that keeps both cores
busy. For each process tree it reports CPU seconds per page (from /proc: immune to other work on
the machine, unlike wall throughput), peak resident memory, and the bytes each page leaves in
MySQL.
`rows`: durable inserts of real rows (a page's base64 and its cleaned PNG's, as the API writes
them) into a throw-away database on the local MariaDB, at several concurrencies: rows/s, MB/s,
and the bytes the table grows per row on disk.
Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import mysql.connector
import requests

from api.log.schema import apply_schema
from api.log.store import LogRecord, Store
from bench.pages import add_source_args, load_pages
from bench.processes import running_api, running_model_server
from bench.report import add_load_args, start_run, write_report
from bench.rows import drop_database
from pagework.config import from_env
from tfmodel.versions import latest_version

TICKS = os.sysconf("SC_CLK_TCK")


def tree(root: int) -> list[int]:
    """`root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """user + system CPU time of the processes, in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def peak_rss_mib(pids: list[int]) -> float:
    """Largest VmHWM among the processes (each gunicorn worker or server holds its own)."""
    peaks = [0.0]
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        peaks += [int(line.split()[1]) / 1024 for line in status.splitlines()
                  if line.startswith("VmHWM:")]
    return round(max(peaks), 1)


def mysqld_pids() -> list[int]:
    names = {"mariadbd", "mysqld"}
    return [int(p.parent.name) for p in Path("/proc").glob("[0-9]*/comm")
            if _read(p) in names]


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def post_pages(url: str, pages: list[bytes], count: int, concurrency: int) -> tuple[int, float]:
    """`count` pages to /remove_background; (answers with code 0, wall seconds)."""
    bodies = [json.dumps({"imgb64_dirty": base64.b64encode(p).decode()}) for p in pages]
    local_sessions: dict[int, requests.Session] = {}

    def one(i: int) -> bool:
        session = local_sessions.setdefault(i % concurrency, requests.Session())
        answer = session.post(url + "/remove_background", data=bodies[i % len(bodies)],
                              headers={"Content-Type": "application/json"}, timeout=600)
        return answer.status_code == 200 and answer.json()["codigo_retorno"] == 0

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        ok = sum(pool.map(one, range(count)))
    return ok, time.perf_counter() - started


def measure_pages(args: argparse.Namespace) -> list[dict]:
    database = f"ddd_capacity_{uuid.uuid4().hex[:8]}"
    apply_schema(from_env().with_overrides({"mysql_database": database}))  # as `make run` does
    logs = Path(tempfile.mkdtemp(prefix="ddd-capacity-"))
    batching = Path(__file__).resolve().parents[1] / "serving" / "batching.config"
    # compose's flags, with room for A4 pages queued behind each other on a busy machine.
    extra = ["--enable_batching", f"--batching_parameters_file={batching}",
             "--rest_api_timeout_in_ms=600000"]
    results = []
    try:
        with running_model_server(args.model_dir, logs / "serving.log", extra=extra) as serving:
            link = ({"TF_SERVING_GRPC": serving.grpc} if args.backend == "grpc"
                    else {"TF_SERVING_URL": serving.url})
            env = {"MYSQL_DATABASE": database, **link,
                   "SPOOL_DIR": str(logs / "spool"), "TF_SERVING_TIMEOUT": "600",
                   "GUNICORN_TIMEOUT": "900"}
            with running_api(env, logs / "api.log") as api:
                for size, count in ((s, args.requests if s == "540x420" else args.large_requests)
                                    for s in args.sizes.split(",")):
                    pages = load_pages(args.data, size)
                    post_pages(api.url, pages[:1], 2, 1)  # warm-up
                    procs = {"serving": tree(serving.popen.pid), "api": tree(api.popen.pid),
                             "mysqld": mysqld_pids()}
                    before = {name: cpu_seconds(pids) for name, pids in procs.items()}
                    ok, wall = post_pages(api.url, pages, count, args.concurrency)
                    cpu = {name: cpu_seconds(pids) - before[name] for name, pids in procs.items()}
                    row = {"size": size, "pages": count, "ok": ok,
                           "concurrency": args.concurrency, "wall_s": round(wall, 1),
                           "pages_per_s": round(count / wall, 3),
                           **{f"cpu_s_per_page_{n}": round(c / count, 4) for n, c in cpu.items()},
                           "peak_rss_mib_serving": peak_rss_mib(procs["serving"]),
                           "peak_rss_mib_api_worker": peak_rss_mib(procs["api"][1:]),
                           **row_bytes(database, size)}
                    results.append(row)
                    print(json.dumps(row), flush=True)
    finally:
        drop_database(database)
    return results


def row_bytes(database: str, size: str) -> dict:
    """Mean length of the two base64 texts in the rows of pages of `size`."""
    width, height = (int(v) for v in size.split("x"))
    cnx = _connect(database)
    try:
        cursor = cnx.cursor()
        cursor.execute("SELECT AVG(LENGTH(imgb64_dirty)), AVG(LENGTH(imgb64_clean)) FROM Imagens"
                       " WHERE largura = %s AND altura = %s AND codigo_retorno = 0",
                       (width, height))
        dirty, clean = cursor.fetchone()
        return {"row_dirty_bytes": round(float(dirty or 0)),
                "row_clean_bytes": round(float(clean or 0))}
    finally:
        cnx.close()


def _connect(database: str | None = None):
    cfg = from_env()
    return mysql.connector.connect(host=cfg.mysql_host, port=cfg.mysql_port, user=cfg.mysql_user,
                                   password=cfg.mysql_password, database=database)


def real_rows(args: argparse.Namespace, size: str) -> tuple[str, str]:
    """A page of `size` as the API stores it: its base64 and its cleaned PNG's data URL (the
    in-process model, so the clean text has its real size)."""
    import tensorflow as tf  # heavy and optional (the `tf` extra): only the runs that need it

    page = load_pages(args.data, size, count=1)[0]
    serve = tf.saved_model.load(str(latest_version(args.model_dir))).signatures["serving_default"]
    clean = serve(image_bytes=tf.constant([page]))["clean_png_bytes"].numpy()[0]
    return (base64.b64encode(page).decode(),
            "data:image/png;base64," + base64.b64encode(clean).decode())


def measure_rows(args: argparse.Namespace) -> list[dict]:
    database = f"ddd_capacity_{uuid.uuid4().hex[:8]}"
    config = from_env().with_overrides({"mysql_database": database})
    apply_schema(config)
    store = Store.from_config(config, pool_size=8)
    results = []
    try:
        for size in args.sizes.split(","):
            dirty, clean = real_rows(args, size)
            count = args.rows if size == "540x420" else args.large_rows
            for level in (int(c) for c in args.row_concurrency.split(",")):
                results.append(insert_rows(store, database, size, dirty, clean, count, level))
                print(json.dumps(results[-1]), flush=True)
    finally:
        drop_database(database)
    return results


def insert_rows(store: Store, database: str, size: str, dirty: str, clean: str, count: int,
                concurrency: int) -> dict:
    """`count` durable single-row commits, as the API makes them; rows/s, MB/s, disk growth."""
    width, height = (int(v) for v in size.split("x"))

    def one(_: int) -> None:
        store.insert(LogRecord(request_id=uuid.uuid4().hex, data=datetime.now(UTC),
                               codigo_retorno=0, imgb64_dirty=dirty, imgb64_clean=clean,
                               largura=width, altura=height, duracao_ms=1.0, versao_modelo="3"))

    disk_before = table_file_bytes(database)
    mysqld = mysqld_pids()
    cpu_before = cpu_seconds(mysqld)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(count)))
    wall = time.perf_counter() - started
    row = len(dirty) + len(clean)
    return {"size": size, "concurrency": concurrency, "rows": count, "row_bytes": row,
            "rows_per_s": round(count / wall, 2), "mb_per_s": round(count * row / wall / 1e6, 1),
            "mysqld_cpu_s_per_row": round((cpu_seconds(mysqld) - cpu_before) / count, 4),
            "disk_bytes_per_row": round((table_file_bytes(database) - disk_before) / count)}


def table_file_bytes(database: str) -> int:
    """Size of the table's .ibd file (readable when this runs beside the server, as root)."""
    cnx = _connect()
    try:
        cursor = cnx.cursor()
        cursor.execute("SELECT @@datadir")
        (datadir,) = cursor.fetchone()
    finally:
        cnx.close()
    path = Path(datadir) / database / "Imagens.ibd"
    return path.stat().st_size if path.exists() else 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("pages", "rows", "all"))
    add_source_args(parser)
    parser.add_argument("--sizes", default="540x420,2480x3508")
    parser.add_argument("--requests", type=int, default=60, help="540x420 pages through the API")
    parser.add_argument("--large-requests", type=int, default=8, help="A4 pages through the API")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--backend", choices=("grpc", "rest"), default="grpc",
                        help="how the API calls the model server (Kubernetes: gRPC)")
    parser.add_argument("--rows", type=int, default=300, help="540x420 rows per level")
    parser.add_argument("--large-rows", type=int, default=30, help="A4 rows per level")
    parser.add_argument("--row-concurrency", default="1,4")
    parser.add_argument("--out", type=Path, help="also write the report as JSON here (for "
                        "python -m bench.render)")
    add_load_args(parser)
    args = parser.parse_args(argv)
    started = start_run(args, argv)
    print(json.dumps(started), flush=True)
    results: list[dict] = []
    if args.what in ("pages", "all"):
        results += [{"measure": "pages", **row} for row in measure_pages(args)]
    if args.what in ("rows", "all"):
        results += [{"measure": "rows", **row} for row in measure_rows(args)]
    print(json.dumps({"load_avg_after": os.getloadavg()}), flush=True)
    if args.out:
        write_report(args.out, "Capacity: the cost of a page in each tier", results, started)


if __name__ == "__main__":
    main()
