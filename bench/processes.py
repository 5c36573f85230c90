"""Runs the project's servers as real subprocesses on free loopback ports, for benchmarks and
end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Process:
    url: str
    popen: subprocess.Popen
    log_path: Path
    grpc: str = ""  # host:port of the model server's gRPC API, when it has one

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running(args: list[str], *, port: int, log_path: Path, ready: Callable[[str], bool],
            env: dict[str, str] | None = None, timeout: float = 180) -> Iterator[Process]:
    """Starts `python <args>`, waits until `ready(url)` is true, stops it with SIGTERM after."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1",
                   **(env or {})}
    with log_path.open("wb") as log:
        # Own process group: a test can kill -9 a gunicorn master together with its workers.
        popen = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=log,
                                 stderr=subprocess.STDOUT, env=environment,
                                 start_new_session=True)
    process = Process(f"http://127.0.0.1:{port}", popen, log_path)
    try:
        wait_until(process, ready, timeout)
        yield process
    finally:
        stop(process)


def wait_until(process: Process, ready: Callable[[str], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.popen.args} exited with {process.popen.returncode}:\n"
                               f"{process.log_text()[-3000:]}")
        with contextlib.suppress(requests.RequestException):
            if ready(process.url):
                return
        time.sleep(0.3)
    raise TimeoutError(f"{process.popen.args} not ready in {timeout} s:\n"
                       f"{process.log_text()[-3000:]}")


def stop(process: Process, timeout: float = 60) -> int:
    """SIGTERM, as `docker stop` sends; SIGKILL to the whole group if it does not stop in time."""
    if process.popen.poll() is None:
        process.popen.send_signal(signal.SIGTERM)
        try:
            process.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(process)
    return process.popen.returncode


def kill_group(process: Process) -> None:
    """kill -9 of the process and every child it started (e.g. gunicorn's workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.popen.pid, signal.SIGKILL)
    process.popen.wait()


def api_ready(url: str) -> bool:
    return requests.get(url + "/ready", timeout=5).status_code == 200


def model_available(name: str) -> Callable[[str], bool]:
    def ready(url: str) -> bool:
        answer = requests.get(f"{url}/v1/models/{name}", timeout=5)
        return answer.ok and '"AVAILABLE"' in answer.text

    return ready


@contextlib.contextmanager
def running_api(env: dict[str, str], log_path: Path, timeout: float = 180) -> Iterator[Process]:
    """The API under gunicorn (`python -m api`), as `make run` starts it."""
    port = free_port()
    with running(["-m", "api"], port=port, log_path=log_path, ready=api_ready,
                 env={"HOST": "127.0.0.1", "PORT": str(port), **env}, timeout=timeout) as api:
        yield api


@contextlib.contextmanager
def running_model_server(model_base: Path, log_path: Path, name: str = "autoencoder",
                         extra: list[str] | None = None, timeout: float = 180
                         ) -> Iterator[Process]:
    """The local TF-Serving-compatible server (`python -m serving`), REST and gRPC on loopback."""
    port, grpc_port = free_port(), free_port()
    args = ["-m", "serving", f"--rest_api_port={port}", "--rest_api_host=127.0.0.1",
            f"--port={grpc_port}", "--grpc_host=127.0.0.1",
            f"--model_name={name}", f"--model_base_path={model_base}", *(extra or [])]
    with running(args, port=port, log_path=log_path, ready=model_available(name),
                 timeout=timeout) as server:
        server.grpc = f"127.0.0.1:{grpc_port}"
        yield server
