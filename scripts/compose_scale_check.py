"""The client side of `make compose-scale-test`: load through the front while a replica is killed.

Standard library only, like compose_check.py (whose request helpers it uses).

  compose_scale_check.py load URL LEDGER --data DIR --count N --threads T
        [--kill-after K --kill "shell command"]
      N pages, T at a time. With --kill: once K answers are in, the command runs (it kills a
      replica) while the load goes on. Every request is written to LEDGER with its start and end
      times; the kill's time too. Checks: every answer that carries an X-Request-ID is code 0,
      or code 5 for a call that was in flight when the kill came; an answer without one (the
      front's own error for a request cut off inside a killed API) only for calls in flight
      then; every request that started after the kill got code 0.
  compose_scale_check.py share NAME=COUNT... [--total N]
      Each replica's share of the work: every one must have done some (and with --total, the
      counts add up to N).
  compose_scale_check.py rows LEDGER < tab-separated "request_id codigo_retorno"
      Every answered request has exactly one row with its code; rows without an answer only for
      calls cut off by a kill.
  compose_scale_check.py metric NAME < Prometheus text
      Prints the sum of the samples of NAME (e.g. ddd_requests_total).
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from compose_check import CheckFailed, check_clean, dispatch, png_size


def post(url: str, page: bytes, timeout: float = 600.0) -> tuple[int, dict | None, str]:
    """(HTTP status, JSON body or None when the answer is not JSON, X-Request-ID)."""
    data = json.dumps({"imgb64_dirty": base64.b64encode(page).decode("ascii")}).encode()
    request = urllib.request.Request(url.rstrip("/") + "/remove_background", data=data,
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as err:
        status, raw, headers = err.code, err.read(), err.headers
    except (ConnectionError, urllib.error.URLError) as err:
        return 0, {"error": str(err)}, ""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    return status, body, headers.get("X-Request-ID", "")


def cmd_load(args) -> None:
    pages = sorted(Path(args.data).glob("*.png"))[: max(args.count, 1)]
    ledger: list[dict] = []
    lock = threading.Lock()
    kill: dict[str, float] = {}
    answered = threading.Semaphore(0)

    def killer() -> None:
        for _ in range(args.kill_after):
            answered.acquire()
        kill["at"] = time.monotonic()
        done = subprocess.run(args.kill, shell=True, capture_output=True, text=True)
        kill["done"] = time.monotonic()  # the replica died somewhere between "at" and "done"
        kill["rc"] = done.returncode
        print(f"  kill after {args.kill_after} answers, {kill['done'] - kill['at']:.3f}s:"
              f" `{args.kill}` -> {done.returncode}"
              f" {done.stdout.strip()} {done.stderr.strip()}", flush=True)

    def one(i: int) -> None:
        page = pages[i % len(pages)].read_bytes()
        started = time.monotonic()
        status, body, request_id = post(args.url, page)
        entry = {"request_id": request_id, "status": status, "started": started,
                 "ended": time.monotonic(), "size": list(png_size(page)),
                 "code": body.get("codigo_retorno") if isinstance(body, dict) else None}
        if entry["code"] == 0:
            check_clean({"status": status, "body": body, "width": entry["size"][0],
                         "height": entry["size"][1], "note": f"request {i}"})
        with lock:
            ledger.append(entry)
        answered.release()

    thread = threading.Thread(target=killer) if args.kill else None
    if thread:
        thread.start()
    started = time.monotonic()
    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(one, range(args.count)))
    wall = time.monotonic() - started
    if thread:
        thread.join()
        if kill.get("rc") != 0:
            raise CheckFailed("the kill command failed")
    with args.ledger.open("a") as handle:
        for entry in ledger:
            handle.write(json.dumps({**entry, "kill": kill or None}) + "\n")
    report(ledger, kill, wall, args.threads)


def report(ledger: list[dict], kill: dict, wall: float, threads: int) -> None:
    """Prints what happened and checks it against the rules in the module's docstring."""
    def in_flight(entry: dict) -> bool:
        return bool(kill) and entry["started"] <= kill["done"] and entry["ended"] >= kill["at"]

    codes: dict[str, int] = {}
    for entry in ledger:
        key = f"code {entry['code']}" if entry["request_id"] else f"HTTP {entry['status']}"
        codes[key] = codes.get(key, 0) + 1
    print(f"  {len(ledger)} requests, {threads} at a time, {wall:.1f}s: "
          + ", ".join(f"{k}: {n}" for k, n in sorted(codes.items())))
    problems = []
    for entry in ledger:
        ok = entry["request_id"] and entry["code"] == 0
        if ok:
            continue
        if not in_flight(entry):
            problems.append(f"{entry} failed but was not in flight at the kill")
        elif entry["request_id"] and entry["code"] != 5:
            problems.append(f"{entry} in flight at the kill: code {entry['code']}, wanted 5")
    if kill:
        flying = sum(in_flight(e) for e in ledger)
        after = [e for e in ledger if e["started"] > kill["done"]]
        print(f"  at the kill {flying} calls were in flight; {len(after)} started after it,"
              f" all code 0: {all(e['code'] == 0 and e['request_id'] for e in after)}")
        if len(after) < threads:
            problems.append(f"only {len(after)} requests after the kill: too few to show the"
                            " traffic continued")
    if problems:
        raise CheckFailed("; ".join(problems[:5]))


def cmd_share(args) -> None:
    shares = {name: float(value) for name, value in (item.split("=", 1) for item in args.items)}
    total = sum(shares.values())
    print("  " + ", ".join(f"{name}: {value:g} ({value / total:.0%})" if total else
                           f"{name}: {value:g}" for name, value in shares.items()))
    idle = [name for name, value in shares.items() if value <= 0]
    if idle or not total:
        raise CheckFailed(f"no work went to {', '.join(idle) or 'any replica'}")
    if args.total is not None and total != args.total:
        raise CheckFailed(f"the counts add up to {total:g}, not {args.total}")


def cmd_rows(args) -> None:
    sent = [json.loads(line) for line in args.ledger.read_text().splitlines() if line.strip()]
    rows: dict[str, list[int]] = {}
    for line in sys.stdin.read().splitlines():
        request_id, code = line.split("\t")[:2]
        rows.setdefault(request_id, []).append(int(code))
    answered = {e["request_id"]: e for e in sent if e["request_id"]}
    cut_off = [e for e in sent if not e["request_id"]]
    problems = [f"request {rid}: rows {rows.get(rid)}, answer code {e['code']}"
                for rid, e in answered.items() if rows.get(rid) != [e["code"]]]
    extra = [rid for rid in rows if rid not in answered]
    if len(extra) > len(cut_off):
        problems.append(f"{len(extra)} rows of no answered request, only {len(cut_off)} cut off")
    if problems:
        raise CheckFailed("; ".join(problems[:5]))
    print(f"  Imagens: every one of {len(answered)} answered requests has exactly one row with"
          f" its code; {len(extra)} more rows of the {len(cut_off)} calls cut off by a kill")


def cmd_metric(args) -> None:
    total = 0.0
    for line in sys.stdin.read().splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name == args.name and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    print(f"{total:g}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load")
    load.add_argument("url")
    load.add_argument("ledger", type=Path)
    load.add_argument("--data", required=True)
    load.add_argument("--count", type=int, required=True)
    load.add_argument("--threads", type=int, default=4)
    load.add_argument("--kill-after", type=int, default=0)
    load.add_argument("--kill", default="")
    share = sub.add_parser("share")
    share.add_argument("items", nargs="+")
    share.add_argument("--total", type=int)
    rows = sub.add_parser("rows")
    rows.add_argument("ledger", type=Path)
    metric = sub.add_parser("metric")
    metric.add_argument("name")
    return dispatch(parser.parse_args(argv), globals())


if __name__ == "__main__":
    sys.exit(main())
