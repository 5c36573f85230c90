"""Starts the local stand-in for real (a subprocess on a free 127.0.0.1 port) and stops it,
with the project's process helpers (bench/processes.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from bench.processes import ROOT, Process, free_port, model_available, running, stop

__all__ = ["ROOT", "LocalServer", "free_port", "running_server", "stop"]

LocalServer = Process
START_TIMEOUT = 180  # seconds: TensorFlow import, load and warm-up on a busy 2-core machine


@contextlib.contextmanager
def running_server(flags: list[str], log_path: Path, port: int | None = None,
                   model_name: str = "autoencoder") -> Iterator[LocalServer]:
    """`python -m serving` with these flags (plus REST and gRPC ports and hosts on loopback unless
    `port` says the flags carry them), ready once `model_name` has an AVAILABLE version; SIGTERM
    after. `server.grpc` is the gRPC target when this function chose the ports."""
    grpc_target = ""
    if port is None:
        port, grpc_port = free_port(), free_port()
        grpc_target = f"127.0.0.1:{grpc_port}"
        flags = [f"--rest_api_port={port}", "--rest_api_host=127.0.0.1", f"--port={grpc_port}",
                 "--grpc_host=127.0.0.1", *flags]
    with running(["-m", "serving", *flags], port=port, log_path=log_path,
                 ready=model_available(model_name), timeout=START_TIMEOUT) as server:
        server.grpc = grpc_target
        yield server
