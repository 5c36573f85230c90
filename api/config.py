"""Every setting of the service, read from environment variables in this one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Config:
    """Defaults are safe for a local run against the MariaDB on this machine."""

    host: str = "0.0.0.0"
    port: int = 3030
    web_concurrency: int = 1  # gunicorn worker processes; each loads its own model in-process
    gunicorn_threads: int = 4
    gunicorn_timeout: int = 180
    mysql_host: str = "127.0.0.1"
    mysql_port: int = 3306
    mysql_user: str = "root"
    mysql_password: str = ""
    mysql_database: str = "ImagensAPi"
    mysql_pool_size: int = 8
    mysql_connect_timeout: float = 3.0
    schema_file: str = str(ROOT / "db" / "init.sql")
    # In-process backend: base path holding numbered SavedModel versions.
    model_dir: str = str(ROOT / "serving" / "models" / "autoencoder")
    # TF Serving backend: used when set, and then the API needs no TensorFlow. gRPC
    # (host:port, e.g. serving:8500) wins over REST (URL); neither set: the in-process model.
    tf_serving_url: str = ""
    tf_serving_grpc: str = ""
    tf_serving_grpc_lb_policy: str = "round_robin"  # gRPC's name; pick_first: one address only
    model_name: str = "autoencoder"
    model_version: str = ""
    tf_serving_timeout: float = 60.0
    tf_intra_op_threads: int = 0
    tf_inter_op_threads: int = 0
    max_image_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 40_000_000
    spool_dir: str = str(ROOT / "var" / "spool")
    spool_drain_interval: float = 2.0
    api_key: str = ""
    log_level: str = "INFO"
    # Request-log retention (`python -m api.retention purge`): rows older than this many days are
    # deleted, RETENTION_BATCH_ROWS rows of the key per DELETE; 0 keeps every row.
    retention_days: int = 0
    retention_batch_rows: int = 200
    # The purge's own account (SELECT, DELETE on the table); empty: MYSQL_USER's.
    mysql_retention_user: str = ""
    mysql_retention_password: str = ""

    @property
    def max_request_bytes(self) -> int:
        """Base64 grows data by 4/3; leave room for a data-URL prefix, line breaks and JSON."""
        return self.max_image_bytes * 4 // 3 + self.max_image_bytes // 38 + 64 * 1024

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> Config:
        return replace(self, **dict(overrides or {}))


def from_env(env: Mapping[str, str] = os.environ) -> Config:
    """Each field `foo_bar` is read from `FOO_BAR`, converted to the field's type."""
    values: dict[str, Any] = {}
    for field in fields(Config):
        raw = env.get(field.name.upper())
        if raw is None or raw == "" and field.type != "str":
            continue
        kind = {"int": int, "float": float}.get(field.type, str)
        try:
            values[field.name] = kind(raw)
        except ValueError as err:
            raise ValueError(f"{field.name.upper()}={raw!r} is not a valid {field.type}") from err
    return Config(**values)
