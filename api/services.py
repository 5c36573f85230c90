"""What a running service holds: the model backend, the MySQL store, the request log, the pixel
budget, readiness and metrics."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from api.log.request_log import RequestLog
from api.log.spool import Spool
from api.log.store import Store
from api.metrics import Metrics
from api.readiness import ReadinessProbe
from pagework.backends import ModelBackend, build_backend
from pagework.budget import PixelBudget
from pagework.config import Config

log = logging.getLogger(__name__)


@dataclass
class Services:
    config: Config
    backend: ModelBackend
    store: Store
    spool: Spool
    request_log: RequestLog
    budget: PixelBudget
    readiness: ReadinessProbe
    metrics: Metrics

    def close(self) -> None:
        """Lets the spool replay once more, then releases the model and connections."""
        self.request_log.close()
        self.store.close()
        self.backend.close()


def build_services(config: Config) -> Services:
    backend = build_backend(config)  # first: a model that will not load stops the start-up
    store = Store.from_config(config)
    spool = Spool(config.spool_dir, config.spool_max_bytes)
    request_log = RequestLog(store, spool, drain_interval=config.spool_drain_interval)
    request_log.start()
    readiness = ReadinessProbe(backend, store, config.ready_cache_seconds)
    metrics = Metrics(spool.depth, backend.version, backend.kind, config.prometheus_multiproc_dir)
    budget = PixelBudget(max(config.pixel_budget, config.max_pixels), config.pixel_budget_wait,
                         metrics.pixels_in_flight.inc)
    services = Services(config, backend, store, spool, request_log, budget, readiness, metrics)
    log_start(services)
    return services


def log_start(services: Services) -> None:
    """The few lines an operator reads at start-up: model, database, spool."""
    config, state = services.config, services.readiness.check()
    remote = config.tf_serving_url or config.tf_serving_grpc
    precision = f", {config.mixed_precision} mixed precision" \
        if config.mixed_precision and not remote else ""
    log.info("model: version %s, %s backend%s", services.backend.version(),
             services.backend.kind, precision)
    where = f"{config.mysql_host}:{config.mysql_port}/{config.mysql_database}"
    if state.database:
        log.info("request log: MySQL %s", where)
    elif state.table_missing:
        log.error("request log: MySQL %s has no Imagens table: run `python -m api.log.schema` (the"
                  " service never creates it); rows wait in the spool (%s) meanwhile", where,
                  config.spool_dir)
    else:
        log.warning("request log: MySQL %s is not usable (%s): rows wait in the spool (%s) until"
                    " it is", where, state.database_error, config.spool_dir)
    if services.spool.depth():
        log.info("spool: %d rows waiting for MySQL", services.spool.depth())
