"""`python -m bench.load`: sustained load on the gunicorn-served API, then a count of the log rows.

Sends a bounded number of real pages to 127.0.0.1 at a fixed concurrency, within a time limit;
reports status codes, p50/p95/p99 latency, throughput, the workers' resident memory after warm-up
and at the end, and checks that MySQL holds exactly one row per request. Exits 1 on any 5xx or
lost row.
"""

from __future__ import annotations

import argparse
import base64
import collections
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests

from bench.pages import add_source_args, load_pages
from bench.processes import running_api
from bench.report import add_load_args, settle
from bench.rows import count_rows, create_database, drop_database


def worker_rss_mib(master_pid: int) -> dict[int, float]:
    """Resident memory of each gunicorn worker (children of the master), from /proc."""
    rss = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == master_pid:
                pid = int(stat.parent.name)
                status = (stat.parent / "status").read_text()
                kib = next(int(line.split()[1]) for line in status.splitlines()
                           if line.startswith("VmRSS:"))
                rss[pid] = round(kib / 1024, 1)
        except (OSError, ValueError, IndexError, StopIteration):
            continue
    return rss


def fire(url: str, bodies: list[dict], count: int, concurrency: int, deadline: float,
         on_progress=None) -> tuple[collections.Counter, list[float], list[str]]:
    """`count` POSTs (fewer if the deadline passes); statuses, latencies (s), request ids."""
    statuses: collections.Counter = collections.Counter()
    latencies: list[float] = []
    ids: list[str] = []
    lock = threading.Lock()
    local = threading.local()

    def one(i: int) -> None:
        if time.monotonic() > deadline:
            return
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.perf_counter()
        try:
            response = session.post(url + "/remove_background", json=bodies[i % len(bodies)],
                                    timeout=300)
            key, request_id = response.status_code, response.headers.get("X-Request-ID")
        except requests.RequestException as err:
            key, request_id = type(err).__name__, None
        elapsed = time.perf_counter() - started
        with lock:
            statuses[key] += 1
            latencies.append(elapsed)
            if request_id:
                ids.append(request_id)
            if on_progress:
                on_progress(len(latencies))

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(count)))
    return statuses, latencies, ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_source_args(parser)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--time-limit", type=float, default=1800, help="seconds for the run")
    parser.add_argument("--size", default="540x420", help="page size (mosaics when not in data)")
    parser.add_argument("--api-env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--keep-database", action="store_true")
    add_load_args(parser)
    args = parser.parse_args(argv)
    settle(args)

    pages = load_pages(args.data, args.size) + load_pages(args.data, "540x258")
    bodies = [{"imgb64_dirty": base64.b64encode(p).decode()} for p in pages]
    database = create_database(f"ddd_load_{uuid.uuid4().hex[:8]}")
    logs = Path(tempfile.mkdtemp(prefix="ddd-load-"))
    env = {"MODEL_DIR": str(args.model_dir), "MYSQL_DATABASE": database,
           "SPOOL_DIR": str(logs / "spool"), **dict(i.split("=", 1) for i in args.api_env)}
    print(f"load: {args.requests} requests at concurrency {args.concurrency}, {len(pages)} real"
          f" pages ({args.size} and 540x258), API env {env}, logs in {logs}", flush=True)
    with running_api(env, logs / "api.log") as api:
        master = api.popen.pid
        fire(api.url, bodies, args.warmup, args.concurrency, time.monotonic() + 600)
        rss_start = worker_rss_mib(master)
        samples: list[float] = []

        def progress(done: int) -> None:
            if done % 250 == 0:
                rss = worker_rss_mib(master)
                samples.append(sum(rss.values()))
                print(f"  {done} requests, workers RSS {rss} MiB", flush=True)

        started = time.perf_counter()
        statuses, latencies, ids = fire(api.url, bodies, args.requests, args.concurrency,
                                        time.monotonic() + args.time_limit, progress)
        wall = time.perf_counter() - started
        rss_end = worker_rss_mib(master)
        deadline = time.monotonic() + 60
        while (logs / "spool" / "pending.jsonl").exists() and \
                (logs / "spool" / "pending.jsonl").stat().st_size and time.monotonic() < deadline:
            time.sleep(0.5)
    sent = args.warmup + sum(statuses.values())
    rows, distinct = count_rows(database)
    if not args.keep_database:
        drop_database(database)
    ms = np.array(latencies) * 1000
    server_errors = sum(n for k, n in statuses.items() if not isinstance(k, int) or k >= 500)
    print(f"\nstatuses: {dict(statuses)}  (5xx or transport errors: {server_errors})")
    print(f"latency ms: p50 {np.percentile(ms, 50):.1f}  p95 {np.percentile(ms, 95):.1f}"
          f"  p99 {np.percentile(ms, 99):.1f}  max {ms.max():.1f}")
    print(f"throughput: {len(latencies) / wall:.2f} req/s over {wall:.1f} s")
    print(f"workers RSS MiB after warm-up: {rss_start}  at the end: {rss_end}"
          f"  (total sampled every 250 requests: {samples})")
    print(f"MySQL rows: {rows} ({distinct} distinct) for {sent} requests sent (incl. warm-up)")
    lost = sent - rows
    ok = server_errors == 0 and lost == 0 and distinct == rows and len(ids) == len(set(ids))
    print("RESULT:", "PASS" if ok else f"FAIL (lost rows {lost}, 5xx {server_errors})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
