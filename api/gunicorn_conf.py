"""gunicorn settings for the service, from the same environment as the app (api/config.py)."""

import os
import tempfile

from api.config import from_env

_config = from_env()
# Several workers share /metrics through files (prometheus_client's multiprocess mode); set here,
# in the master, so that every worker sees it before it imports the app.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="ddd-metrics-"))

bind = f"{_config.host}:{_config.port}"
workers = _config.web_concurrency
worker_class = "gthread"
threads = _config.gunicorn_threads
timeout = _config.gunicorn_timeout
graceful_timeout = 60  # SIGTERM: in-flight requests finish, then the spool gets a last replay
keepalive = 5
control_socket_disable = True  # gunicorn 27's control socket is unused and wants a writable $HOME
accesslog = None  # the app writes one structured line per request
errorlog = "-"
loglevel = _config.log_level.lower()


def worker_exit(server, worker) -> None:
    """Replays the spool once more as the worker stops, so a clean shutdown leaves it empty."""
    app = getattr(worker, "wsgi", None)
    services = getattr(app, "extensions", {}).get("ddd") if app is not None else None
    if services is not None:
        services.close()


def child_exit(server, worker) -> None:
    """Drops a dead worker's live gauges from /metrics (its counters stay counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
