"""The model config file (`--model_config_file`), read as TF Serving reads it: a text
ModelServerConfig, parsed with the real message definition."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2


class ConfigError(ValueError):
    """A config file the server cannot run with."""


@dataclass(frozen=True)
class ModelConfig:
    name: str
    base_path: str


def model_configs(options: argparse.Namespace) -> list[ModelConfig]:
    """The models the flags name. The batching file need only be readable: the stand-in runs
    each call on its own (batching is production's TF Serving's job)."""
    if options.enable_batching and options.batching_parameters_file:
        Path(options.batching_parameters_file).read_text()
    if options.model_config_file:
        return read_model_config(options.model_config_file)
    return [ModelConfig(options.model_name, options.model_base_path)]


def read_model_config(path: str | Path) -> list[ModelConfig]:
    """The `model_config_list` entries; version policies and labels (which the stand-in does not
    follow: it serves the latest version, TF Serving's default) are refused."""
    message = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(Path(path).read_text(), message)
    except (OSError, text_format.ParseError) as error:
        raise ConfigError(f"model config file {path}: {error}") from error
    entries = message.model_config_list.config
    if not entries or any(e.HasField("model_version_policy") or e.version_labels for e in entries):
        raise ConfigError(f"model config file {path}: wanted a model_config_list without "
                          "version policies or labels")
    return [ModelConfig(e.name, e.base_path) for e in entries]
