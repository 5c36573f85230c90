"""What a running service holds: the model backend, the MySQL store and the request log."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from api.backends import ModelBackend, build_backend
from api.config import Config
from api.metrics import Metrics
from api.request_log import RequestLog
from api.spool import Spool
from api.store import Store

log = logging.getLogger(__name__)


@dataclass
class Services:
    config: Config
    backend: ModelBackend
    store: Store
    spool: Spool
    request_log: RequestLog
    metrics: Metrics

    def close(self) -> None:
        """Lets the spool replay once more, then releases the model and connections."""
        self.request_log.close()
        self.backend.close()


def build_services(config: Config) -> Services:
    backend = build_backend(config)  # first: a model that will not load stops the start-up
    store = Store.from_config(config)
    if not store.ping():  # creates the schema when MySQL answers; otherwise rows wait in spool
        log.warning("MySQL at %s:%s is not answering (%s): request rows go to the spool in %s",
                    config.mysql_host, config.mysql_port, store.last_error, config.spool_dir)
    spool = Spool(config.spool_dir)
    request_log = RequestLog(store, spool, drain_interval=config.spool_drain_interval)
    request_log.start()
    metrics = Metrics(spool.depth, backend.version, backend.kind)
    return Services(config, backend, store, spool, request_log, metrics)
