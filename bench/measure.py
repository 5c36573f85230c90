"""Timing of repeated calls, shared by the benchmarks: percentiles and throughput of one target."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np


@dataclass
class Result:
    target: str
    size: str
    concurrency: int
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    throughput_rps: float
    sent_kb: float = 0.0  # per call, request body (direct calls only; framing not counted)
    received_kb: float = 0.0  # per call, response body


def measure(call: Callable[[bytes], None], pages: list[bytes], *, target: str, size: str,
            count: int, concurrency: int, time_limit: float) -> Result:
    """`count` calls (fewer if `time_limit` runs out), cycling through the pages."""
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + time_limit

    def one(i: int) -> float | None:
        if time.monotonic() > deadline:
            return None
        started = time.perf_counter()
        call(pages[i % len(pages)])
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for outcome in pool.map(_safe(one), range(count)):
            if isinstance(outcome, Exception):
                errors += 1
            elif outcome is not None:
                latencies.append(outcome)
    wall = time.perf_counter() - started
    ms = np.array(latencies or [float("nan")]) * 1000
    return Result(target, size, concurrency, len(latencies), errors,
                  *(round(float(np.percentile(ms, q)), 1) for q in (50, 95, 99)),
                  round(float(ms.mean()), 1), round(len(latencies) / wall, 2))


def _safe(fn: Callable[[int], float | None]) -> Callable[[int], float | None | Exception]:
    def wrapped(i: int):
        try:
            return fn(i)
        except Exception as err:  # a failed call is counted, not fatal to the benchmark
            return err

    return wrapped


def megapixels(size: str) -> float:
    width, height = (int(v) for v in size.lower().split("x"))
    return width * height / 1e6


def header() -> str:
    return (f"{'target':20s} {'size':10s} {'conc':>4s} {'n':>4s} {'err':>3s} {'p50 ms':>8s}"
            f" {'p95 ms':>8s} {'p99 ms':>8s} {'mean ms':>8s} {'req/s':>7s} {'KB out':>9s}"
            f" {'KB in':>9s}")


def row(r: Result) -> str:
    return (f"{r.target:20s} {r.size:10s} {r.concurrency:4d} {r.requests:4d} {r.errors:3d}"
            f" {r.p50_ms:8.1f} {r.p95_ms:8.1f} {r.p99_ms:8.1f} {r.mean_ms:8.1f}"
            f" {r.throughput_rps:7.2f} {r.sent_kb:9.1f} {r.received_kb:9.1f}")
