"""The model config and batching parameters files, read as TF Serving reads them.

Both are text protobufs (ModelServerConfig and BatchingParameters, parsed with the real message
definitions); this module turns them into small frozen dataclasses the server uses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving.batching_proto import batching_parameters_class


class ConfigError(ValueError):
    """A config file the server cannot run with."""


@dataclass(frozen=True)
class ModelConfig:
    name: str
    base_path: str


@dataclass(frozen=True)
class BatchingOptions:
    """Defaults are those of TF Serving's SharedBatchScheduler queue options."""

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 10
    num_batch_threads: int = field(default_factory=lambda: os.cpu_count() or 1)


def single_model_config(name: str, base_path: str) -> list[ModelConfig]:
    """What `--model_name` and `--model_base_path` mean (BuildSingleModelConfig in server.cc)."""
    return [ModelConfig(name=name, base_path=base_path)]


def read_model_config(path: str | Path) -> list[ModelConfig]:
    """Reads an ascii ModelServerConfig; only `model_config_list` of TensorFlow models."""
    message = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(Path(path).read_text(), message)
    except (OSError, text_format.ParseError) as error:
        raise ConfigError(f"model config file {path}: {error}") from error
    if message.WhichOneof("config") != "model_config_list":
        raise ConfigError(f"model config file {path}: only model_config_list is supported")
    configs = [_model_config(entry, path) for entry in message.model_config_list.config]
    if not configs:
        raise ConfigError(f"model config file {path}: no model in model_config_list")
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ConfigError(f"model config file {path}: model names must be unique")
    return configs


def _model_config(entry, path: str | Path) -> ModelConfig:
    if not entry.name or not entry.base_path:
        raise ConfigError(f"model config file {path}: each config needs name and base_path")
    if entry.model_platform not in ("", "tensorflow"):
        raise ConfigError(f"model {entry.name}: platform {entry.model_platform!r} is not served")
    if entry.HasField("model_version_policy") or entry.version_labels:
        raise ConfigError(f"model {entry.name}: version policies and labels are not supported by "
                          "the stand-in (it serves the latest version, TF Serving's default)")
    return ModelConfig(name=entry.name, base_path=entry.base_path)


_BATCHING_FIELDS = {"max_batch_size", "batch_timeout_micros", "max_enqueued_batches",
                    "num_batch_threads", "thread_pool_name"}


def read_batching_parameters(path: str | Path | None) -> BatchingOptions:
    """Reads an ascii BatchingParameters; unset fields keep the scheduler defaults."""
    if not path:
        return BatchingOptions()
    message = batching_parameters_class()()
    try:
        text_format.Parse(Path(path).read_text(), message)
    except (OSError, text_format.ParseError) as error:
        raise ConfigError(f"batching parameters file {path}: {error}") from error
    unsupported = {f.name for f, _ in message.ListFields()} - _BATCHING_FIELDS
    if unsupported:  # padding and splitting: refused rather than silently not done
        raise ConfigError(f"batching parameters file {path}: not supported by the stand-in: "
                          f"{', '.join(sorted(unsupported))}")
    defaults = BatchingOptions()
    options = BatchingOptions(
        max_batch_size=_wrapped(message, "max_batch_size", defaults.max_batch_size),
        batch_timeout_micros=_wrapped(message, "batch_timeout_micros",
                                      defaults.batch_timeout_micros),
        max_enqueued_batches=_wrapped(message, "max_enqueued_batches",
                                      defaults.max_enqueued_batches),
        num_batch_threads=_wrapped(message, "num_batch_threads", defaults.num_batch_threads),
    )
    if min(options.max_batch_size, options.max_enqueued_batches, options.num_batch_threads) < 1:
        raise ConfigError(f"batching parameters file {path}: sizes and threads must be >= 1")
    return options


def _wrapped(message, name: str, default):
    return getattr(message, name).value if message.HasField(name) else default

