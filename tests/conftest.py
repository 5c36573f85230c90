"""Shared fixtures: a small real SavedModel with the production signatures, and page images."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pagework.config import EXTENSION

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Connections each test service may hold (in-process apps and the gunicorn workers the tests
# start): the suite shares the MariaDB server (151 connections by default) with whatever else
# runs on the machine.
TEST_POOL_SIZE = 2
os.environ.setdefault("MYSQL_POOL_SIZE", str(TEST_POOL_SIZE))
# Examples per fuzzing test (hypothesis, schemathesis; the atheris harnesses run a multiple):
# `make test` runs a short smoke so the harnesses cannot rot, `make fuzz` runs them long.
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("DDD_DATA", ROOT.parent / "shared" / "data" / "noisyoffice-ddd"))
INK_DIR = Path(os.environ.get("INK_DATA", ROOT.parent / "shared" / "data" / "historical-ink"))


def build_tiny_denoiser():
    """A two-level conv net with a skip and a residual output: the shape of the real model,
    small enough to export in seconds. Needs sizes that are multiples of 2."""
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((None, None, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    down = keras.layers.MaxPooling2D()(x)
    down = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(down)
    up = keras.layers.UpSampling2D()(down)
    x = keras.layers.Concatenate()([x, up])
    x = keras.layers.Conv2D(1, 3, padding="same")(x)
    return keras.Model(inp, keras.layers.Add()([inp, x]), name="tiny_denoiser")


@pytest.fixture(scope="session")
def tiny_model_base(tmp_path_factory) -> Path:
    """Model base path holding version 1 of the tiny denoiser, exported like the real one."""
    from training.export import export_model

    base = tmp_path_factory.mktemp("models") / "autoencoder"
    export_model(build_tiny_denoiser(), base, multiple=2, margin=8, tile=64, version=1)
    return base


@pytest.fixture(scope="session")
def local_serving(tiny_model_base, tmp_path_factory):
    """The local TF-Serving stand-in (`python -m serving`) on the tiny model, REST and gRPC on
    loopback: the target of the REST and gRPC contract tests."""
    from tests.serving_contract.local_server import running_server

    log = tmp_path_factory.mktemp("serving") / "server.log"
    with running_server(["--model_name=autoencoder", f"--model_base_path={tiny_model_base}"],
                        log) as server:
        yield server


def page_array(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A grey page with dark 'text' strokes and a stain, as uint8 [height, width]."""
    rng = np.random.default_rng(seed)
    page = np.full((height, width), 230, np.uint8)
    page[rng.random((height, width)) < 0.05] = 30
    yy, xx = np.mgrid[0:height, 0:width]
    stain = ((yy - height / 2) ** 2 + (xx - width / 3) ** 2) < (min(width, height) / 4) ** 2
    page[stain] = (page[stain] * 0.7).astype(np.uint8)
    return page


def encode(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def page_png(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    return encode(Image.fromarray(page_array(width, height, seed)))


# --- The service under test: real MariaDB (throw-away database), real HTTP server ---------------

def mysql_params() -> dict:
    """The service's own connection settings (pagework/config.py's environment)."""
    from api.log.store import connection_params
    from pagework.config import from_env

    return connection_params(from_env())


class Database:
    """A throw-away database on the real server, with helpers to read what the service wrote."""

    def __init__(self, name: str) -> None:
        self.name = name

    def connect(self):
        import mysql.connector

        return mysql.connector.connect(**mysql_params(), database=self.name, autocommit=True)

    def connect_server(self):
        """A connection with no database selected (to create this one by hand)."""
        import mysql.connector

        return mysql.connector.connect(**mysql_params(), autocommit=True)

    def query(self, sql: str, params: tuple = ()) -> list[dict]:
        cnx = self.connect()
        try:
            cursor = cnx.cursor(dictionary=True)
            cursor.execute(sql, params)
            return cursor.fetchall()
        finally:
            cnx.close()

    def row(self, request_id: str) -> dict:
        rows = self.query("SELECT * FROM Imagens WHERE request_id = %s", (request_id,))
        assert len(rows) == 1, f"expected exactly one row for {request_id}, found {len(rows)}"
        return rows[0]

    def count(self) -> int:
        return self.query("SELECT COUNT(*) AS n FROM Imagens")[0]["n"]

    def drop(self) -> None:
        cnx = self.connect_server()
        try:
            cnx.cursor().execute(f"DROP DATABASE IF EXISTS `{self.name}`")
        finally:
            cnx.close()


@pytest.fixture(scope="session")
def make_database():
    """Factory of throw-away databases with the schema applied by the schema step (the service
    never creates it), all dropped at the end of the session."""
    import uuid

    from api.log.schema import apply_schema
    from pagework.config import from_env

    made: list[Database] = []

    def make(schema: bool = True) -> Database:
        database = Database(f"ddd_test_{uuid.uuid4().hex[:12]}")
        made.append(database)
        if schema:
            apply_schema(from_env().with_overrides({"mysql_database": database.name}))
        return database

    yield make
    for database in made:
        database.drop()


class LiveServer:
    """The Flask app served by werkzeug's threaded server on a free loopback port."""

    def __init__(self, app) -> None:
        from werkzeug.serving import make_server

        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        import threading

        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def services(self):
        return self.app.extensions[EXTENSION]

    def post(self, payload=None, *, data=None, headers=None, path="/remove_background"):
        import requests

        if data is None:
            return requests.post(self.url + path, json=payload, headers=headers, timeout=60)
        return requests.post(self.url + path, data=data, headers=headers, timeout=60)

    def clean(self, image: bytes, **kwargs):
        import base64

        return self.post({"imgb64_dirty": base64.b64encode(image).decode()}, **kwargs)

    def stop(self) -> None:
        self.server.shutdown()
        self.services.close()


@contextlib.contextmanager
def server_factory(tiny_model_base, make_database, tmp_path_factory):
    """Starts live services, each with its own database and spool (config overrides allowed),
    and stops them, closing their pools, when the block ends."""
    from api import create_app

    servers: list[LiveServer] = []

    def start(**overrides) -> tuple[LiveServer, Database]:
        database = make_database()
        config = {"model_dir": str(tiny_model_base), "mysql_database": database.name,
                  "spool_dir": str(tmp_path_factory.mktemp("spool")),
                  "spool_drain_interval": 0.2, "mysql_pool_size": TEST_POOL_SIZE,
                  **mysql_params_config(), **overrides}
        server = LiveServer(create_app(config))
        servers.append(server)
        return server, database

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def start_server(tiny_model_base, make_database, tmp_path_factory):
    """Factory of live services stopped when the test ends."""
    with server_factory(tiny_model_base, make_database, tmp_path_factory) as start:
        yield start


@pytest.fixture(scope="module")
def start_module_server(tiny_model_base, make_database, tmp_path_factory):
    """Factory of live services shared by one module's tests."""
    with server_factory(tiny_model_base, make_database, tmp_path_factory) as start:
        yield start


def mysql_params_config() -> dict:
    """Config overrides naming the same server as mysql_params()."""
    params = mysql_params()
    return {"mysql_host": params["host"], "mysql_port": params["port"],
            "mysql_user": params["user"], "mysql_password": params["password"]}


@pytest.fixture(scope="session")
def live(tiny_model_base, make_database, tmp_path_factory) -> tuple[LiveServer, Database]:
    """The shared service for contract tests (default limits)."""
    with server_factory(tiny_model_base, make_database, tmp_path_factory) as start:
        yield start()


def decode_clean(response) -> Image.Image:
    """The PNG inside a successful answer's data URL."""
    import base64

    value = response.json()["imgb64_clean"]
    prefix = "data:image/png;base64,"
    assert value.startswith(prefix)
    return Image.open(io.BytesIO(base64.b64decode(value[len(prefix):])))


# --- Tiers: `make check` runs the modules below (about a minute, for the edit loop: the route,
# codec, contract, store, spool and config against the real MariaDB and a small real model);
# `make test` runs everything. -------------------------------------------------------------------
QUICK_MODULES = {
    "test_bench_args", "test_bench_report", "test_codec", "test_codec_orientation", "test_codes",
    "test_config", "test_factory", "test_hostile", "test_layers", "test_openapi", "test_retention",
    "test_routes", "test_schema", "test_spool", "test_store", "test_synthetic_pages",
    "test_training_calibrate", "test_training_camera", "test_training_metrics",
    "test_training_pages",
}


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    """With `-m quick`, the other modules are not even imported (several import TensorFlow,
    which alone takes longer than the quick tier)."""
    if (config.getoption("markexpr") == "quick" and collection_path.suffix == ".py"
            and collection_path.stem.startswith("test_")
            and collection_path.stem not in QUICK_MODULES):
        return True
    return None


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if item.path.stem in QUICK_MODULES:
            item.add_marker(pytest.mark.quick)
