"""Assembles the stand-in from its options: models, batching, REST API, HTTP server, shutdown."""

from __future__ import annotations

import logging
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from serving.config_files import (
    BatchingOptions,
    read_batching_parameters,
    read_model_config,
    single_model_config,
)
from serving.flags import ServerOptions
from serving.http_server import make_http_server
from serving.model_manager import ModelManager, ModelRegistry
from serving.rest_api import RestApi
from serving.runner import VersionRunner
from serving.servable import load_servable, warm_up

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 30


def run_server(options: ServerOptions) -> int:
    """Loads the initial versions, serves until SIGTERM or SIGINT, then stops accepting,
    lets requests in flight finish (up to 30 s) and unloads the models."""
    configure_tensorflow(options)
    configs = (read_model_config(options.model_config_file) if options.model_config_file
               else single_model_config(options.model_name, options.model_base_path))
    batching = (read_batching_parameters(options.batching_parameters_file)
                if options.enable_batching else None)
    warn_ignored(options, batching)
    pool = ThreadPoolExecutor(options.rest_api_num_threads, thread_name_prefix="predict")
    registry = ModelRegistry(
        [ModelManager(c, version_loader(pool, batching, options.enable_model_warmup))
         for c in configs],
        options.file_system_poll_wait_seconds,
    )
    if options.port:
        log.info("gRPC (--port=%d) is not served by the local stand-in: REST only",
                 options.port)
    registry.start()
    api = RestApi(registry, options.rest_api_timeout_in_ms, options.rest_api_enable_cors_support)
    http = make_http_server(options.rest_api_host, options.rest_api_port, api)
    stop = install_stop_signals()
    threading.Thread(target=http.serve_forever, name="http", daemon=True).start()
    log.info("Exporting HTTP/REST API at:%s:%d ...", options.rest_api_host, http.port)
    while not stop.wait(0.5):
        pass
    log.info("Shutting down: no new connections, waiting for requests in flight")
    api.draining = True
    http.shutdown()
    wait_idle(api, SHUTDOWN_GRACE_SECONDS)
    http.server_close()
    registry.stop()
    pool.shutdown(wait=False, cancel_futures=True)
    log.info("Stopped")
    return 0


def warn_ignored(options: ServerOptions, batching: BatchingOptions | None) -> None:
    """Accepted for compatibility, not acted on: say so once at start."""
    if batching:
        log.info("Batching enabled: %s", batching)
        if batching.pad_variable_length_inputs:
            log.warning("pad_variable_length_inputs is not supported by the stand-in: ignored")
    if options.model_config_file_poll_wait_seconds > 0:
        log.warning("--model_config_file_poll_wait_seconds: the stand-in reads the model config "
                    "only at start")


def configure_tensorflow(options: ServerOptions) -> None:
    """Thread settings must be made before TensorFlow runs its first op."""
    import tensorflow as tf

    if options.tensorflow_intra_op_parallelism > 0:
        tf.config.threading.set_intra_op_parallelism_threads(
            options.tensorflow_intra_op_parallelism)
    if options.tensorflow_inter_op_parallelism > 0:
        tf.config.threading.set_inter_op_parallelism_threads(
            options.tensorflow_inter_op_parallelism)


def version_loader(pool: ThreadPoolExecutor, batching: BatchingOptions | None, warmup: bool):
    """What the model managers call to bring a version folder up: load, warm up, wrap."""

    def load(name: str, version: int, path: Path) -> VersionRunner:
        servable = load_servable(name, version, path)
        if warmup:
            warm_up(servable)
        return VersionRunner(servable, pool, batching)

    return load


def install_stop_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def wait_idle(api: RestApi, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    with api.idle:
        while api.in_flight and time.monotonic() < deadline:
            api.idle.wait(deadline - time.monotonic())
    if api.in_flight:
        log.warning("%d requests still in flight at shutdown", api.in_flight)
