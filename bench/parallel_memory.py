"""`python -m bench.parallel_memory`: the worker's peak memory when several large pages arrive at
once, with the pixel budget and without it.

For each PIXEL_BUDGET it starts the service as `make run` does (gunicorn, one worker with four
threads, the model in-process), sends --concurrency copies of one large real page (a mosaic of
test pages) at the same time, and reports each answer's code and the worker's peak resident
memory (VmHWM). A budget of one page makes the pages take turns; a huge one lets them all in.
"""

from __future__ import annotations

import argparse
import base64
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.pages import add_source_args, load_pages
from bench.processes import running_api
from bench.report import add_load_args, settle
from bench.rows import create_database, drop_database


def worker_peak_mib(master_pid: int) -> float:
    """VmHWM of the gunicorn worker (the master's only child)."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    for line in Path(f"/proc/{children[0]}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def run(args: argparse.Namespace, budget: int, body: dict, folder: Path) -> dict:
    database = create_database(f"ddd_mem_{uuid.uuid4().hex[:8]}")
    env = {"MODEL_DIR": str(args.model_dir), "MYSQL_DATABASE": database,
           "PIXEL_BUDGET": str(budget), "PIXEL_BUDGET_WAIT": str(args.wait),
           "SPOOL_DIR": str(folder / f"spool-{budget}"), "WEB_CONCURRENCY": "1",
           "GUNICORN_THREADS": "4", "GUNICORN_TIMEOUT": "900"}
    try:
        with running_api(env, folder / f"api-{budget}.log") as api:
            idle = worker_peak_mib(api.popen.pid)
            started = time.monotonic()
            with ThreadPoolExecutor(args.concurrency) as pool:
                answers = list(pool.map(
                    lambda _: requests.post(api.url + "/remove_background", json=body,
                                            timeout=1800).json()["codigo_retorno"],
                    range(args.concurrency)))
            seconds = time.monotonic() - started
            peak = worker_peak_mib(api.popen.pid)
    finally:
        drop_database(database)
    return {"budget": budget, "codes": answers, "seconds": round(seconds, 1),
            "idle_mib": round(idle), "peak_mib": round(peak)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_source_args(parser)
    parser.add_argument("--size", default="6000x6000", help="the large page, WxH")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--budgets", default="40000000,1000000000",
                        help="PIXEL_BUDGET values to compare")
    parser.add_argument("--wait", type=float, default=900, help="PIXEL_BUDGET_WAIT, seconds")
    add_load_args(parser)
    args = parser.parse_args(argv)
    settle(args)
    page = load_pages(args.data, args.size, count=1)[0]
    body = {"imgb64_dirty": base64.b64encode(page).decode()}
    width, height = (int(v) for v in args.size.split("x"))
    folder = Path(tempfile.mkdtemp(prefix="ddd-parallel-memory-"))
    print(f"{args.concurrency} pages of {args.size} ({width * height / 1e6:.1f} MP, "
          f"{len(page) / 1e6:.1f} MB PNG) at once, one worker with 4 threads")
    for budget in (int(b) for b in args.budgets.split(",")):
        row = run(args, budget, body, folder)
        print(f"PIXEL_BUDGET {budget / 1e6:>7.0f} MP: codes {row['codes']}, {row['seconds']} s,"
              f" worker {row['idle_mib']} MiB idle, peak {row['peak_mib']} MiB", flush=True)


if __name__ == "__main__":
    main()
