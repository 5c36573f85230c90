"""Assembles the stand-in from its options: models, batching, gRPC and REST APIs, shutdown."""

from __future__ import annotations

import logging
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from serving.config_files import (
    read_batching_parameters,
    read_model_config,
    single_model_config,
)
from serving.flags import ServerOptions
from serving.grpc_api import make_grpc_server
from serving.http_server import make_http_server
from serving.model_manager import ModelManager, ModelRegistry
from serving.rest_api import RestApi
from serving.runner import VersionRunner
from serving.servable import load_servable
from tfmodel import precision as mixed_precision

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
    if batching:
        log.info("Batching parameters read (%s); the stand-in runs each call on its own",
                 batching)
    pool = ThreadPoolExecutor(options.rest_api_num_threads, thread_name_prefix="predict")
    registry = ModelRegistry(
        [ModelManager(c, version_loader(pool)) for c in configs],
        options.file_system_poll_wait_seconds,
    )
    registry.start()
    grpc_server = make_grpc_server(registry, options)
    grpc_server.start()
    log.info("Running gRPC ModelServer at %s:%d ...", options.grpc_host, options.port)
    api = RestApi(registry, options.rest_api_timeout_in_ms)
    http = start_rest_api(options, api)
    stop = install_stop_signals()
    while not stop.wait(0.5):
        pass
    log.info("Shutting down: no new connections, waiting for requests in flight")
    grpc_stopped = grpc_server.stop(SHUTDOWN_GRACE_SECONDS)
    api.draining = True
    if http is not None:
        http.shutdown()
        wait_idle(api, SHUTDOWN_GRACE_SECONDS)
        http.server_close()
    grpc_stopped.wait(SHUTDOWN_GRACE_SECONDS)
    registry.stop()
    pool.shutdown(wait=False, cancel_futures=True)
    log.info("Stopped")
    return 0


def start_rest_api(options: ServerOptions, api: RestApi):
    """The HTTP server, unless --rest_api_port is 0 or --port's (TF Serving then skips REST)."""
    if options.rest_api_port and options.rest_api_port == options.port:
        log.error("server_options.http_port cannot be same as grpc_port. Please use a different "
                  "port for HTTP/REST API. Skipped exporting HTTP/REST API.")
    if not options.rest_api_port or options.rest_api_port == options.port:
        return None
    http = make_http_server(options.rest_api_host, options.rest_api_port, api)
    threading.Thread(target=http.serve_forever, name="http", daemon=True).start()
    log.info("Exporting HTTP/REST API at:%s:%d ...", options.rest_api_host, http.port)
    return http


def configure_tensorflow(options: ServerOptions) -> None:
    """Thread and precision settings must be made before TensorFlow runs its first op.
    An unknown --mixed_precision is warned about and ignored, as saved_model_bundle_factory.cc
    does; bfloat16 on a CPU without native support runs, as it does there, but says so."""
    import tensorflow as tf

    if options.mixed_precision == "bfloat16":
        log.info("Running inference with bfloat16 auto mixed precision")
        mixed_precision.enable(tf, "bfloat16")
        if reason := mixed_precision.unsupported_reason():
            log.warning("bfloat16 will be slower than float32 here: %s", reason)
    elif options.mixed_precision:
        log.warning("%s auto mixed precision is not supported. Valid option: bfloat16",
                    options.mixed_precision)

    if options.tensorflow_intra_op_parallelism > 0:
        tf.config.threading.set_intra_op_parallelism_threads(
            options.tensorflow_intra_op_parallelism)
    if options.tensorflow_inter_op_parallelism > 0:
        tf.config.threading.set_inter_op_parallelism_threads(
            options.tensorflow_inter_op_parallelism)


def version_loader(pool: ThreadPoolExecutor):
    """What the model managers call to bring a version folder up. No warm-up: TF Serving replays
    only assets.extra/tf_serving_warmup_requests, which our exports do not write."""

    def load(name: str, version: int, path: Path) -> VersionRunner:
        return VersionRunner(load_servable(name, version, path), pool)

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
