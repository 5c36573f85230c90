"""Timing of repeated calls, shared by the benchmarks: percentiles and throughput of one target."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

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


@dataclass
class Timings:
    """Raw outcome of calls: latencies in seconds, failed calls, wall-clock seconds."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    wall: float = 0.0

    def add(self, other: Timings) -> None:
        self.latencies += other.latencies
        self.errors += other.errors
        self.wall += other.wall

    def result(self, target: str, size: str, concurrency: int) -> Result:
        ms = np.array(self.latencies or [float("nan")]) * 1000
        return Result(target, size, concurrency, len(self.latencies), self.errors,
                      *(round(float(np.percentile(ms, q)), 1) for q in (50, 95, 99)),
                      round(float(ms.mean()), 1),
                      round(len(self.latencies) / self.wall, 2) if self.wall else 0.0)


def time_calls(call: Callable[[bytes], None], pages: list[bytes], *, count: int,
               concurrency: int, time_limit: float, first: int = 0) -> Timings:
    """`count` calls (fewer if `time_limit` runs out), cycling through the pages from `first`."""
    timings = Timings()
    deadline = time.monotonic() + time_limit

    def one(i: int) -> float | None:
        if time.monotonic() > deadline:
            return None
        started = time.perf_counter()
        call(pages[i % len(pages)])
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for outcome in pool.map(_safe(one), range(first, first + count)):
            if isinstance(outcome, Exception):
                timings.errors += 1
            elif outcome is not None:
                timings.latencies.append(outcome)
    timings.wall = time.perf_counter() - started
    return timings


def measure(call: Callable[[bytes], None], pages: list[bytes], *, target: str, size: str,
            count: int, concurrency: int, time_limit: float) -> Result:
    """One target on its own: `count` calls at `concurrency`."""
    return time_calls(call, pages, count=count, concurrency=concurrency,
                      time_limit=time_limit).result(target, size, concurrency)


def measure_interleaved(calls: dict[str, Callable[[bytes], None]], pages: list[bytes], *,
                        size: str, count: int, concurrency: int, time_limit: float,
                        rounds: int) -> list[Result]:
    """Targets in turn, `rounds` blocks of count/rounds calls each, so that a machine whose load
    drifts during the run weighs on every target alike; one result per target."""
    totals = {target: Timings() for target in calls}
    per_round = max(1, count // rounds)
    for round_index in range(rounds):
        for target, call in calls.items():
            totals[target].add(time_calls(call, pages, count=per_round, concurrency=concurrency,
                                          time_limit=time_limit / rounds,
                                          first=round_index * per_round))
    return [timings.result(target, size, concurrency) for target, timings in totals.items()]


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
