"""Prometheus metrics: requests by code, latency of the request, the model call and the log write,
spool depth and model version.

Each app gets its own registry (no global state, several apps per test process). Under gunicorn,
PROMETHEUS_MULTIPROC_DIR (set by api/gunicorn_conf.py before any worker starts) makes every worker
write its samples to files that /metrics sums up, whichever worker answers the scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

# Seconds: a 540x420 page takes tens of milliseconds, an A4 300 DPI scan several seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self, spool_depth: Callable[[], int], model_version: Callable[[], str],
                 backend: str, multiprocess_dir: str = "") -> None:
        self.registry = CollectorRegistry()
        multiprocess = bool(multiprocess_dir)
        if multiprocess and values.ValueClass.__name__ != "MmapedValue":
            # Imported before the variable was set: samples would stay in this process's memory
            # while /metrics reads the (empty) folder, the bug this check keeps from coming back.
            raise RuntimeError("prometheus_client was imported before PROMETHEUS_MULTIPROC_DIR"
                               " was set")
        own = None if multiprocess else self.registry  # multiprocess: samples go to files
        self.in_flight = Gauge("ddd_requests_in_flight",
                               "Requests to /remove_background being served now.",
                               multiprocess_mode="livesum", registry=own)
        self.pixels_in_flight = Gauge("ddd_pixels_in_flight",
                                      "Pixels held by requests now (the worker's pixel budget).",
                                      multiprocess_mode="livesum", registry=own)
        self.requests = Counter("ddd_requests", "Requests to /remove_background by code.",
                                ["codigo_retorno"], registry=own)
        self.request_seconds = Histogram("ddd_request_duration_seconds",
                                         "Whole /remove_background request.", buckets=BUCKETS,
                                         registry=own)
        self.inference_seconds = Histogram("ddd_inference_duration_seconds",
                                           "Model backend call (decode, network, PNG encode).",
                                           buckets=BUCKETS, registry=own)
        self.log_write_seconds = Histogram("ddd_log_write_duration_seconds",
                                           "Writing the request's row (MySQL or spool).",
                                           ["destination"], buckets=BUCKETS, registry=own)
        if multiprocess:
            MultiProcessCollector(self.registry, path=multiprocess_dir)
        self.registry.register(_StateCollector(spool_depth, model_version, backend))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _StateCollector(Collector):
    """Read at scrape time, so the values are current whichever worker answers."""

    def __init__(self, spool_depth: Callable[[], int], model_version: Callable[[], str],
                 backend: str) -> None:
        self.spool_depth = spool_depth
        self.model_version = model_version
        self.backend = backend

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("ddd_spool_pending_rows",
                                "Log rows waiting in the spool for MySQL.",
                                value=self.spool_depth())
        info = GaugeMetricFamily("ddd_model_info", "Model version serving requests.",
                                 labels=["version", "backend"])
        info.add_metric([self.model_version(), self.backend], 1)
        yield info
