"""The document-cleaning HTTP service.

`create_app` is imported on first use, not here: gunicorn's config (api/gunicorn_conf.py) imports
`pagework.config` in the master, and must set PROMETHEUS_MULTIPROC_DIR before anything imports
prometheus_client, which reads it once, at import.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from api.app import create_app

        return create_app
    raise AttributeError(f"module 'api' has no attribute {name!r}")
