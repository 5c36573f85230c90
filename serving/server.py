"""Assembles the stand-in from its options: models, gRPC and REST APIs, and shutdown."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import tensorflow as tf
from werkzeug.serving import WSGIRequestHandler, make_server

from serving.config_files import ModelConfig
from serving.grpc_api import make_grpc_server
from serving.models import Registry
from serving.rest_api import RestApi
from tfmodel import precision

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 30


class QuietRequestHandler(WSGIRequestHandler):
    """HTTP/1.1 with keep-alive and no access-log line per request (load tests would drown the
    log); errors still go to the `werkzeug` logger."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def run_server(options: argparse.Namespace, configs: list[ModelConfig]) -> int:
    """Loads the initial versions, serves until SIGTERM or SIGINT, then stops."""
    configure_precision(options.mixed_precision)
    if options.enable_batching:
        log.info("Batching enabled: the stand-in runs each call on its own")
    pool = ThreadPoolExecutor(4 * (os.cpu_count() or 1), thread_name_prefix="predict")
    registry = Registry(configs, pool, options.file_system_poll_wait_seconds)
    registry.start()
    grpc_server = make_grpc_server(registry, options.grpc_host, options.port)
    grpc_server.start()
    log.info("Running gRPC ModelServer at %s:%d ...", options.grpc_host, options.port)
    http = None
    if options.rest_api_port:
        http = make_server(options.rest_api_host, options.rest_api_port,
                           RestApi(registry, options.rest_api_timeout_in_ms), threaded=True,
                           request_handler=QuietRequestHandler)
        threading.Thread(target=http.serve_forever, name="http", daemon=True).start()
        log.info("Exporting HTTP/REST API at:%s:%d ...", options.rest_api_host, http.port)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    log.info("Shutting down")
    grpc_server.stop(SHUTDOWN_GRACE_SECONDS).wait(SHUTDOWN_GRACE_SECONDS)
    if http is not None:
        http.shutdown()
        http.server_close()
    registry.stop()
    pool.shutdown(wait=False, cancel_futures=True)
    log.info("Stopped")
    return 0


def configure_precision(mixed_precision: str) -> None:
    """Before the first op. An unknown value is warned about and ignored, as
    saved_model_bundle_factory.cc does; bfloat16 on a CPU without native support runs, as it
    does there, but says so."""
    if mixed_precision == "bfloat16":
        log.info("Running inference with bfloat16 auto mixed precision")
        precision.enable(tf, "bfloat16")
        if reason := precision.unsupported_reason():
            log.warning("bfloat16 will be slower than float32 here: %s", reason)
    elif mixed_precision:
        log.warning("%s auto mixed precision is not supported. Valid option: bfloat16",
                    mixed_precision)
