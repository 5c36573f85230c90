"""Starts the local stand-in for real (a subprocess on a free 127.0.0.1 port) and stops it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 180  # seconds: TensorFlow import, load and warm-up on a busy 2-core machine


@dataclass
class LocalServer:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_server(flags: list[str], log_path: Path, port: int | None = None,
                   model_name: str = "autoencoder") -> Iterator[LocalServer]:
    """`python -m serving` with these flags (plus the REST port and host unless `port` says the
    flags carry them), ready once `model_name` has an AVAILABLE version."""
    if port is None:
        port = free_port()
        flags = [f"--rest_api_port={port}", "--rest_api_host=127.0.0.1", *flags]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "serving", *flags], cwd=ROOT,
                                   stdout=log, stderr=subprocess.STDOUT, env=env)
    server = LocalServer(f"http://127.0.0.1:{port}", process, log_path)
    try:
        wait_available(server, model_name)
        yield server
    finally:
        stop(server)


def wait_available(server: LocalServer, model_name: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n"
                               f"{server.log_text()[-3000:]}")
        with contextlib.suppress(requests.RequestException):
            answer = requests.get(f"{server.url}/v1/models/{model_name}", timeout=5)
            if answer.ok and '"AVAILABLE"' in answer.text:
                return
        time.sleep(0.3)
    raise TimeoutError(f"no AVAILABLE version within {timeout} s:\n{server.log_text()[-3000:]}")


def stop(server: LocalServer, timeout: float = 60) -> int:
    """SIGTERM, as docker stop sends; kills only if the server does not stop in time."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    return server.process.returncode
