"""gunicorn settings for the service, from the same environment as the app (api/config.py)."""

from api.config import from_env

_config = from_env()

bind = f"{_config.host}:{_config.port}"
workers = _config.web_concurrency
worker_class = "gthread"
threads = _config.gunicorn_threads
timeout = _config.gunicorn_timeout
graceful_timeout = 60  # SIGTERM: in-flight requests finish, then the spool gets a last replay
keepalive = 5
accesslog = None  # the app writes one structured line per request
errorlog = "-"
loglevel = _config.log_level.lower()


def worker_exit(server, worker) -> None:
    """Replays the spool once more as the worker stops, so a clean shutdown leaves it empty."""
    app = getattr(worker, "wsgi", None)
    services = getattr(app, "extensions", {}).get("ddd") if app is not None else None
    if services is not None:
        services.close()
