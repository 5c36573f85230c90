"""Holds N MariaDB connections until stopped, as another client of the same server would:
`python -m tests.hold_connections 30 &`, then `make test` must still pass (docs/testing.md).
Prints `holding N` once all are open."""

from __future__ import annotations

import signal
import sys
import threading

import mysql.connector

from tests.conftest import mysql_params


def main(argv: list[str] | None = None) -> None:
    count = int((argv or sys.argv[1:] or ["30"])[0])
    held = [mysql.connector.connect(**mysql_params()) for _ in range(count)]
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(f"holding {len(held)}", flush=True)
    stop.wait()
    for connection in held:
        connection.close()


if __name__ == "__main__":
    main()
