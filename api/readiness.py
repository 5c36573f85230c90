"""What /ready reports: the model and MySQL, asked at most once per period whoever asks."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from api.log.store import Store
from pagework.backends import ModelBackend


@dataclass(frozen=True)
class Readiness:
    model: dict[str, object]
    database: bool
    table_missing: bool
    database_error: str

    @property
    def status(self) -> str:
        if not self.model.get("ready") or self.table_missing:
            return "unavailable"
        return "ready" if self.database else "degraded"


class ReadinessProbe:
    """Asks the model server and MySQL at most once per `ttl` seconds, however often /ready is
    called: a flood of probes opens no connections."""

    def __init__(self, backend: ModelBackend, store: Store, ttl: float) -> None:
        self.backend, self.store, self.ttl = backend, store, ttl
        self._last: Readiness | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def check(self) -> Readiness:
        fresh = self._last is not None and time.monotonic() - self._checked < self.ttl
        if fresh or not self._lock.acquire(blocking=self._last is None):
            return self._last  # type: ignore[return-value]  # set once the first probe ran
        try:
            database = self.store.ping()
            self._last = Readiness(self.backend.status(), database, self.store.table_missing,
                                   self.store.last_error)
            self._checked = time.monotonic()
            return self._last
        finally:
            self._lock.release()
