"""gunicorn settings for the service, from the same environment as the app (pagework/config.py).

Imports nothing but pagework.config: prometheus_client must not be imported in the master before
`on_starting` has set PROMETHEUS_MULTIPROC_DIR (it reads the variable once, at import).
"""

import os
import shutil
import tempfile
from pathlib import Path

from pagework.config import EXTENSION, from_env

_config = from_env()
_owned: list[Path] = []  # the metrics folder this start created, removed at exit

bind = f"{_config.host}:{_config.port}"
workers = _config.web_concurrency
# gunicorn's gthread worker, with what gunicorn refuses itself answered as the API's JSON.
worker_class = "api.gunicorn_worker.JsonErrorWorker"
threads = _config.gunicorn_threads
timeout = _config.gunicorn_timeout
graceful_timeout = 60  # SIGTERM: in-flight requests finish, then the spool gets a last replay
keepalive = 5
control_socket_disable = True  # gunicorn 27's control socket is unused and wants a writable $HOME
accesslog = None  # the app writes one structured line per request
errorlog = "-"
loglevel = _config.log_level.lower()


def on_starting(server) -> None:
    """Before any worker forks: an empty folder where every worker writes its metric samples,
    so /metrics sums all workers whichever one answers the scrape."""
    if _config.prometheus_multiproc_dir:
        folder = Path(_config.prometheus_multiproc_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):  # samples of an earlier run would be summed in
            stale.unlink()
    else:
        folder = Path(tempfile.mkdtemp(prefix="ddd-metrics-"))
        _owned.append(folder)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def on_exit(server) -> None:
    """Removes the metrics folder this start created (none is left behind in the temp dir)."""
    while _owned:
        shutil.rmtree(_owned.pop(), ignore_errors=True)


def worker_exit(server, worker) -> None:
    """Replays the spool once more as the worker stops, so a clean shutdown leaves it empty."""
    app = getattr(worker, "wsgi", None)
    services = getattr(app, "extensions", {}).get(EXTENSION) if app is not None else None
    if services is not None:
        services.close()


def child_exit(server, worker) -> None:
    """Drops a dead worker's live gauges from /metrics (its counters stay counted)."""
    # Not at the top: prometheus_client reads PROMETHEUS_MULTIPROC_DIR once, at import, and this
    # file sets it first.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
