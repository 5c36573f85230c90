"""The client side of `make compose-test`: real requests to the API on 127.0.0.1, with checks.

Standard library only, so it runs with any python3 >= 3.9 on the host. Every request it sends is
appended to a ledger (request id from the X-Request-ID header, codigo_retorno, HTTP status, size)
so that `rows` can check the db container's Imagens table against exactly what was sent.

  compose_check.py pages  URL LEDGER --data DIR --count N [--threads T] [--offset K]
  compose_check.py bad    URL LEDGER
  compose_check.py outage URL LEDGER --page PNG --timeout SECONDS [--hang] [--note TEXT]
  compose_check.py recover URL LEDGER --page PNG --wait SECONDS
  compose_check.py ready  URL --expect 200|503 [--wait SECONDS]
  compose_check.py get    URL PATH...   (each must answer 200: files and routes in the image)
  compose_check.py rows   LEDGER < tab-separated "request_id codigo_retorno largura altura"
  compose_check.py trickle URL LEDGER --data DIR [--connections 64] [--count 6] [--factor 2]
  compose_check.py oversize URL LEDGER --bytes N   (a body over the front's limit: code 4, row)
  compose_check.py metrics LEDGER < the API's /metrics text (counts = the ledger's, exactly)

Each command prints what it measured and exits 1 with the reason when a check fails.
"""

from __future__ import annotations

import argparse
import base64
import json
import socket
import struct
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DATA_URL_PREFIX = "data:image/png;base64,"


class CheckFailed(Exception):
    pass


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk."""
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise CheckFailed("not a PNG")
    return struct.unpack(">II", data[16:24])


def post_page(url: str, payload: dict, timeout: float = 600.0) -> tuple[int, dict, str, float]:
    """POST /remove_background; returns (HTTP status, JSON body, request id, seconds)."""
    request = urllib.request.Request(
        url.rstrip("/") + "/remove_background", data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    start = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as err:
        status, raw, headers = err.code, err.read(), err.headers
    seconds = time.monotonic() - start
    try:
        body = json.loads(raw)
    except ValueError:
        raise CheckFailed(f"HTTP {status}: body is not JSON: {raw[:200]!r}") from None
    return status, body, headers.get("X-Request-ID", ""), seconds


def get_status(url: str, path: str, timeout: float = 10.0) -> int:
    try:
        with urllib.request.urlopen(url.rstrip("/") + path, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def record(ledger: Path, entry: dict) -> None:
    with ledger.open("a") as handle:
        handle.write(json.dumps(entry) + "\n")


def send(url: str, ledger: Path, page: bytes, note: str, timeout: float = 600.0) -> dict:
    """One request with a page; appends it to the ledger and returns the ledger entry."""
    payload = {"imgb64_dirty": base64.b64encode(page).decode("ascii")}
    status, body, request_id, seconds = post_page(url, payload, timeout)
    width, height = png_size(page)
    entry = {"request_id": request_id, "code": body.get("codigo_retorno"), "status": status,
             "width": width, "height": height, "seconds": round(seconds, 3), "note": note}
    record(ledger, entry)
    if not request_id:
        raise CheckFailed(f"{note}: no X-Request-ID header in the answer")
    entry["body"] = body
    return entry


def check_clean(entry: dict) -> None:
    body = entry["body"]
    if entry["status"] != 200 or body.get("codigo_retorno") != 0:
        raise CheckFailed(f"{entry['note']}: HTTP {entry['status']} code"
                          f" {body.get('codigo_retorno')} {body.get('mensagem')!r}"
                          f" {body.get('detalhe', '')!r}")
    if body.get("mensagem") != "Imagem processada com sucesso":
        raise CheckFailed(f"{entry['note']}: mensagem {body.get('mensagem')!r}")
    clean = body.get("imgb64_clean", "")
    if not clean.startswith(DATA_URL_PREFIX):
        raise CheckFailed(f"{entry['note']}: imgb64_clean is not a PNG data URL: {clean[:40]!r}")
    size = png_size(base64.b64decode(clean[len(DATA_URL_PREFIX):]))
    if size != (entry["width"], entry["height"]):
        raise CheckFailed(f"{entry['note']}: cleaned PNG is {size}, the page was"
                          f" {(entry['width'], entry['height'])}")


def cmd_pages(args) -> None:
    chosen = chosen_pages(args.data, args.count, args.offset)

    def one(path: Path) -> dict:
        entry = send(args.url, args.ledger, path.read_bytes(), f"page {path.name}")
        check_clean(entry)
        return entry

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        entries = list(pool.map(one, chosen))
    wall = time.monotonic() - start
    for entry in entries:
        print(f"  {entry['note']:<14} {entry['width']}x{entry['height']}  code 0, PNG"
              f" {entry['width']}x{entry['height']}  {entry['seconds']:.2f}s")
    seconds = sorted(e["seconds"] for e in entries)
    print(f"  {len(entries)} pages, {args.threads} at a time: all code 0 with a PNG of the"
          f" input's size; wall {wall:.1f}s, per request min {seconds[0]:.2f}s"
          f" median {seconds[len(seconds) // 2]:.2f}s max {seconds[-1]:.2f}s")


def cmd_bad(args) -> None:
    payload = {"imgb64_dirty": "this is not base64 at all!"}
    status, body, request_id, _ = post_page(args.url, payload)
    record(args.ledger, {"request_id": request_id, "code": body.get("codigo_retorno"),
                         "status": status, "width": None, "height": None, "note": "bad base64"})
    if body.get("codigo_retorno") != 3 or status != 400:
        raise CheckFailed(f"bad base64: HTTP {status} code {body.get('codigo_retorno')}, wanted"
                          " HTTP 400 code 3")
    print(f"  bad base64: HTTP {status}, code 3 ({body.get('mensagem')})")


def cmd_outage(args) -> None:
    """HTTP 503 code 5 within the API's TF_SERVING_TIMEOUT (plus a few seconds of slack for the
    connect retry); with --hang, not much sooner either: the timeout itself must have fired."""
    entry = send(args.url, args.ledger, Path(args.page).read_bytes(), args.note,
                 timeout=args.timeout + 60)
    body, seconds = entry["body"], entry["seconds"]
    if entry["status"] != 503 or body.get("codigo_retorno") != 5:
        raise CheckFailed(f"{args.note}: HTTP {entry['status']} code"
                          f" {body.get('codigo_retorno')}, wanted HTTP 503 code 5")
    if seconds > args.timeout + 5:
        raise CheckFailed(f"{args.note}: answered after {seconds:.2f}s, over the configured"
                          f" TF_SERVING_TIMEOUT of {args.timeout:g}s")
    if args.hang and seconds < args.timeout * 0.9:
        raise CheckFailed(f"{args.note}: answered after {seconds:.2f}s, before the"
                          f" TF_SERVING_TIMEOUT of {args.timeout:g}s could have fired")
    print(f"  {args.note}: HTTP 503, code 5 in {seconds:.2f}s (TF_SERVING_TIMEOUT"
          f" {args.timeout:g}s): {body.get('detalhe', '')}")


def cmd_recover(args) -> None:
    page = Path(args.page).read_bytes()
    start = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        entry = send(args.url, args.ledger, page, "after restart")
        if entry["body"].get("codigo_retorno") == 0:
            check_clean(entry)
            break
        if entry["body"].get("codigo_retorno") != 5:
            raise CheckFailed(f"after restart: code {entry['body'].get('codigo_retorno')},"
                              " wanted 5 (still down) or 0 (recovered)")
        if time.monotonic() - start > args.wait:
            raise CheckFailed(f"the API did not recover within {args.wait:g}s"
                              f" ({attempts} attempts, last: {entry['body']})")
        time.sleep(2)
    print(f"  recovered by itself: code 0 after {time.monotonic() - start:.1f}s,"
          f" {attempts} attempt(s)")


def cmd_ready(args) -> None:
    start = time.monotonic()
    while True:
        try:
            status = get_status(args.url, "/ready")
        except OSError as err:
            status = f"no answer ({err})"
        if status == args.expect:
            print(f"  /ready: HTTP {status} after {time.monotonic() - start:.1f}s")
            return
        if time.monotonic() - start > args.wait:
            raise CheckFailed(f"/ready answered {status}, wanted {args.expect} (waited"
                              f" {args.wait:g}s)")
        time.sleep(1)


def cmd_get(args) -> None:
    for path in args.paths:
        try:
            with urllib.request.urlopen(args.url.rstrip("/") + path, timeout=10) as response:
                status, kind = response.status, response.headers.get("Content-Type", "")
                size = len(response.read())
        except urllib.error.HTTPError as err:
            raise CheckFailed(f"GET {path}: HTTP {err.code}") from None
        if status != 200 or not size:
            raise CheckFailed(f"GET {path}: HTTP {status}, {size} bytes")
        print(f"  GET {path}: HTTP 200, {kind}, {size} bytes")


def cmd_rows(args) -> None:
    sent = [json.loads(line) for line in args.ledger.read_text().splitlines() if line.strip()]
    rows = {}
    for line in sys.stdin.read().splitlines():
        request_id, code, width, height = (line.split("\t") + ["", "", ""])[:4]
        rows[request_id] = (int(code), width, height)
    problems = []
    if len(rows) != len(sent):
        problems.append(f"{len(rows)} rows in Imagens, {len(sent)} requests sent")
    for entry in sent:
        row = rows.get(entry["request_id"])
        if row is None:
            problems.append(f"no row for request {entry['request_id']} ({entry['note']})")
        elif row[0] != entry["code"]:
            problems.append(f"request {entry['request_id']} ({entry['note']}): row has code"
                            f" {row[0]}, the answer had {entry['code']}")
        elif entry["width"] is not None and row[1:] != (str(entry["width"]),
                                                        str(entry["height"])):
            problems.append(f"request {entry['request_id']}: row size {row[1:]}, page"
                            f" {entry['width']}x{entry['height']}")
    if problems:
        raise CheckFailed("; ".join(problems[:10]))
    by_code: dict[int, int] = {}
    for code, *_ in rows.values():
        by_code[code] = by_code.get(code, 0) + 1
    summary = ", ".join(f"code {code}: {n}" for code, n in sorted(by_code.items()))
    print(f"  Imagens: {len(rows)} rows = {len(sent)} requests sent, each with its answer's"
          f" codigo_retorno ({summary})")


def chosen_pages(folder: str, count: int, offset: int = 0) -> list[Path]:
    pages = sorted(Path(folder).glob("*.png"), key=lambda p: (len(p.stem), p.stem))
    if len(pages) < count:
        raise CheckFailed(f"{folder}: {len(pages)} PNG pages, {count} wanted")
    # Spread over the folder, so both page sizes come up; offset picks other pages.
    step = len(pages) // count
    return pages[offset % step::step][:count]


class Tricklers:
    """Connections that send a request's headers, then one body byte per second."""

    def __init__(self, url: str, count: int) -> None:
        host, port = url.removeprefix("http://").rstrip("/").split(":")
        self.sockets = [socket.create_connection((host, int(port)), timeout=10)
                        for _ in range(count)]
        for sock in self.sockets:
            sock.sendall(b"POST /remove_background HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        self.rounds = 0
        self.failed = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(1.0):
            for sock in self.sockets:
                try:
                    sock.send(b" ")
                except OSError:
                    self.failed += 1
            self.rounds += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for sock in self.sockets:
            sock.close()


def cmd_trickle(args) -> None:
    """Real pages cleaned one after another, alone and then while --connections clients trickle
    their bodies a byte a second: the median may grow at most --factor times."""
    pages = [path.read_bytes() for path in chosen_pages(args.data, args.count)]

    def median_seconds(note: str) -> float:
        seconds = []
        for page in pages:
            entry = send(args.url, args.ledger, page, note)
            check_clean(entry)
            seconds.append(entry["seconds"])
        return sorted(seconds)[len(seconds) // 2]

    alone = median_seconds("page, alone")
    tricklers = Tricklers(args.url, args.connections)
    try:
        while tricklers.rounds < 1:
            time.sleep(0.1)
        during = median_seconds(f"page, {args.connections} trickling")
        rounds = tricklers.rounds
    finally:
        tricklers.close()
    print(f"  {len(pages)} pages: median {alone:.3f}s alone, {during:.3f}s with"
          f" {args.connections} connections trickling a byte a second ({during / alone:.2f}x;"
          f" {rounds} rounds of bytes sent, {tricklers.failed} sends refused)")
    if during > args.factor * alone:
        raise CheckFailed(f"pages took {during / alone:.2f}x their usual time while clients"
                          f" trickled (at most {args.factor:g}x allowed)")


def cmd_oversize(args) -> None:
    payload = {"imgb64_dirty": "A" * args.bytes}
    status, body, request_id, seconds = post_page(args.url, payload)
    record(args.ledger, {"request_id": request_id, "code": body.get("codigo_retorno"),
                         "status": status, "width": None, "height": None, "note": "oversize"})
    if (status, body.get("codigo_retorno")) != (413, 4) or not request_id:
        raise CheckFailed(f"{args.bytes}-byte image string: HTTP {status} code"
                          f" {body.get('codigo_retorno')}, wanted HTTP 413 code 4 and a request id")
    print(f"  {args.bytes / 2**20:.0f} MiB image string: HTTP 413, code 4 in {seconds:.2f}s"
          f" ({body.get('detalhe')}); its row is checked with the others")


def cmd_metrics(args) -> None:
    """ddd_requests_total by code, summed over gunicorn's workers, equals what was sent."""
    sent: dict[str, int] = {}
    for line in args.ledger.read_text().splitlines():
        if line.strip():
            code = str(json.loads(line)["code"])
            sent[code] = sent.get(code, 0) + 1
    counted: dict[str, int] = {}
    for line in sys.stdin.read().splitlines():
        if line.startswith("ddd_requests_total{"):
            code = line.split('codigo_retorno="', 1)[1].split('"', 1)[0]
            counted[code] = counted.get(code, 0) + int(float(line.rsplit(" ", 1)[1]))
    if counted != sent:
        raise CheckFailed(f"/metrics counts {counted}, the ledger {sent}")
    print(f"  /metrics (inside the network): ddd_requests_total {counted} = the requests sent")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("pages", "bad", "outage", "recover", "ready", "trickle", "oversize"):
        p = sub.add_parser(name)
        p.add_argument("url")
        if name != "ready":
            p.add_argument("ledger", type=Path)
    sub.choices["pages"].add_argument("--data", required=True)
    sub.choices["pages"].add_argument("--count", type=int, default=6)
    sub.choices["pages"].add_argument("--threads", type=int, default=1)
    sub.choices["pages"].add_argument("--offset", type=int, default=0)
    for name in ("outage", "recover"):
        sub.choices[name].add_argument("--page", required=True)
    sub.choices["outage"].add_argument("--timeout", type=float, required=True)
    sub.choices["outage"].add_argument("--note", default="serving down")
    sub.choices["outage"].add_argument("--hang", action="store_true")
    sub.choices["recover"].add_argument("--wait", type=float, default=180)
    sub.choices["ready"].add_argument("--expect", type=int, required=True)
    sub.choices["ready"].add_argument("--wait", type=float, default=0)
    sub.choices["trickle"].add_argument("--data", required=True)
    sub.choices["trickle"].add_argument("--count", type=int, default=6)
    sub.choices["trickle"].add_argument("--connections", type=int, default=64)
    sub.choices["trickle"].add_argument("--factor", type=float, default=2.0)
    sub.choices["oversize"].add_argument("--bytes", type=int, required=True)
    metrics = sub.add_parser("metrics")
    metrics.add_argument("ledger", type=Path)
    get = sub.add_parser("get")
    get.add_argument("url")
    get.add_argument("paths", nargs="+")
    rows = sub.add_parser("rows")
    rows.add_argument("ledger", type=Path)
    return dispatch(parser.parse_args(argv), globals())


def dispatch(args: argparse.Namespace, commands: dict) -> int:
    """Runs `cmd_<command>` from `commands`; a failed check prints its reason and returns 1."""
    try:
        commands[f"cmd_{args.command}"](args)
    except CheckFailed as err:
        print(f"  FAILED: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
