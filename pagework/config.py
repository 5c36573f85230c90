"""Every setting of the service, read from environment variables in this one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, get_type_hints

ROOT = Path(__file__).resolve().parents[1]
EXTENSION = "ddd"  # the key of the app's Services in `app.extensions`


@dataclass(frozen=True)
class Config:
    """Defaults are safe for a local run against the MariaDB on this machine."""

    # Loopback by default: gunicorn alone is starved by slow clients, so anything reachable from
    # a network goes through the nginx front (compose) or another buffering proxy.
    host: str = "127.0.0.1"
    port: int = 3030
    web_concurrency: int = 1  # gunicorn worker processes; each loads its own model in-process
    gunicorn_threads: int = 4
    gunicorn_timeout: int = 180
    # Where gunicorn's workers write /metrics samples; empty: a fresh folder per start, removed
    # at exit. Read from PROMETHEUS_MULTIPROC_DIR, the variable prometheus_client itself reads.
    prometheus_multiproc_dir: str = ""
    mysql_host: str = "127.0.0.1"
    mysql_port: int = 3306
    mysql_user: str = "root"
    mysql_password: str = ""
    mysql_database: str = "ImagensAPi"
    mysql_pool_size: int = 8
    mysql_connect_timeout: float = 3.0
    # TLS to MySQL (a managed server): the CA file that signed its certificate. Set, every
    # connection is encrypted and the certificate verified, its host name too unless
    # MYSQL_SSL_VERIFY_IDENTITY is false; a server without TLS is refused. Empty: no TLS.
    mysql_ssl_ca: str = ""
    mysql_ssl_verify_identity: bool = True
    # The schema step (`python -m api.log.schema`) runs as its own user; empty: MYSQL_USER's.
    mysql_schema_user: str = ""
    mysql_schema_password: str = ""
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
    # In-process backend: "bfloat16" runs the model in bfloat16 mixed precision, as TF Serving's
    # --mixed_precision=bfloat16 does (tfmodel/precision.py); only on CPUs with native
    # bfloat16 (AVX512-BF16, AMX), else the backend refuses to start. Empty: float32.
    mixed_precision: str = ""
    max_image_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 40_000_000
    # The model's work (pagework/work.py: padded pixels, tiles) a page may cost; a 40 MP page costs
    # up to ~70 M. Pages whose longer side exceeds MAX_ASPECT_RATIO times the shorter are
    # refused (code 9): a 1-pixel-wide strip costs 144 columns of work in a single pass.
    max_work_pixels: int = 80_000_000
    max_aspect_ratio: float = 20.0
    # The model's work (pagework/work.py) one worker may hold at once across its requests; a request
    # that does not fit waits up to PIXEL_BUDGET_WAIT seconds, then gets code 5.
    pixel_budget: int = 48_000_000
    pixel_budget_wait: float = 30.0
    # JSON values (commas, colons, brackets) a body may hold: a request needs a handful, and a
    # body of millions of tiny values costs ~30x its size in Python objects.
    max_json_values: int = 10_000
    spool_dir: str = str(ROOT / "var" / "spool")
    spool_drain_interval: float = 2.0
    spool_max_bytes: int = 2 * 1024**3
    # Seconds a readiness answer (model status, MySQL reachability) is reused.
    ready_cache_seconds: float = 5.0
    api_key: str = ""
    # A secret the nginx front sends with its refusal of a body over the limit (X-Front-Token):
    # X-Front-Refused is believed only with it, so no client can fake the front. Empty: never.
    front_token: str = ""
    log_level: str = "INFO"
    # Request-log retention (`python -m api.log.retention purge`): rows older than this many days
    # are deleted, RETENTION_BATCH_ROWS rows of the key per DELETE; 0 keeps every row.
    retention_days: int = 0
    retention_batch_rows: int = 200
    # The purge's own account (SELECT, DELETE on the table); empty: MYSQL_USER's.
    mysql_retention_user: str = ""
    mysql_retention_password: str = ""

    @property
    def max_request_bytes(self) -> int:
        """Base64 grows data by 4/3; leave room for a data-URL prefix, line breaks and JSON.
        docker/nginx/limits.envsh computes the same figure for the front's body limit."""
        return self.max_image_bytes * 4 // 3 + self.max_image_bytes // 38 + 64 * 1024

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> Config:
        return replace(self, **dict(overrides or {}))


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


PARSERS = {int: int, float: float, bool: _parse_bool, str: str}


def from_env(env: Mapping[str, str] = os.environ) -> Config:
    """Each field `foo_bar` is read from `FOO_BAR`, converted to the field's type; an empty value
    keeps the default, except for text settings (an empty password is a value)."""
    types = get_type_hints(Config)
    values: dict[str, Any] = {}
    for field in fields(Config):
        raw = env.get(field.name.upper())
        kind = types[field.name]
        if raw is None or (raw == "" and kind is not str):
            continue
        try:
            values[field.name] = PARSERS[kind](raw)
        except ValueError as err:
            raise ValueError(f"{field.name.upper()}={raw!r} is not a valid {kind.__name__}"
                             ) from err
    return Config(**values)
