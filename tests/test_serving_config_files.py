"""Model config and batching parameter files: the repository's own, and TF Serving's rules
(config/model_server_config.proto, servables/tensorflow/session_bundle_config.proto)."""

from __future__ import annotations

import pytest

from serving.batching_proto import batching_parameters_class
from serving.config_files import (
    BatchingOptions,
    ConfigError,
    ModelConfig,
    read_batching_parameters,
    read_model_config,
)
from tests.serving_contract.local_server import ROOT


def test_repository_models_config_serves_the_autoencoder_from_the_compose_mount():
    assert read_model_config(ROOT / "serving" / "models.config") == [
        ModelConfig(name="autoencoder", base_path="/models/autoencoder")
    ]


def test_repository_batching_config_is_sized_for_two_cores():
    options = read_batching_parameters(ROOT / "serving" / "batching.config")
    assert options == BatchingOptions(max_batch_size=4, batch_timeout_micros=2000,
                                      max_enqueued_batches=16, num_batch_threads=2)


def test_several_models(tmp_path):
    path = tmp_path / "models.config"
    path.write_text("""
        model_config_list {
          config { name: "a" base_path: "/m/a" model_platform: "tensorflow" }
          config { name: "b" base_path: "/m/b" }
        }""")
    assert read_model_config(path) == [ModelConfig("a", "/m/a"), ModelConfig("b", "/m/b")]


@pytest.mark.parametrize(("text", "message"), [
    ("model_config_list { config { name: 'a' base_path: '/m' } ", "model config file"),
    ("model_config_list { config { name: 'a' bse_path: '/m' } }", "model config file"),
    ("model_config_list { }", "no model"),
    ("model_config_list { config { name: 'a' } }", "needs name and base_path"),
    ("model_config_list { config { name: 'a' base_path: '/m' model_platform: 'onnx' } }",
     "platform 'onnx' is not served"),
    ("model_config_list { config { name: 'a' base_path: '/m' } config { name: 'a' "
     "base_path: '/n' } }", "unique"),
    ("model_config_list { config { name: 'a' base_path: '/m' model_version_policy { all {} } } }",
     "version policies and labels are not supported"),
    ("model_config_list { config { name: 'a' base_path: '/m' version_labels { key: 's' value: 1 }"
     " } }", "version policies and labels are not supported"),
])
def test_bad_model_configs_are_refused(tmp_path, text, message):
    path = tmp_path / "models.config"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_model_config(path)


def test_unset_batching_fields_keep_the_scheduler_defaults(tmp_path):
    path = tmp_path / "batching.config"
    path.write_text("batch_timeout_micros { value: 500 }\nthread_pool_name { value: 'x' }\n")
    assert read_batching_parameters(path) == BatchingOptions(batch_timeout_micros=500)


@pytest.mark.parametrize(("text", "message"), [
    ("max_batch_size { value: 4 } allowed_batch_sizes: 2 allowed_batch_sizes: 4",
     "not supported by the stand-in: allowed_batch_sizes"),
    ("enable_large_batch_splitting { value: true } pad_variable_length_inputs: true",
     "not supported by the stand-in: enable_large_batch_splitting, pad_variable_length_inputs"),
    ("num_batch_threads { value: 0 }", ">= 1"),
    ("max_batch_size: 4", "batching parameters file"),  # a wrapper, not a plain int
])
def test_bad_batching_files_are_refused(tmp_path, text, message):
    path = tmp_path / "batching.config"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_batching_parameters(path)


def test_rebuilt_batching_message_matches_the_proto_definition():
    descriptor = batching_parameters_class().DESCRIPTOR
    fields = {f.name: (f.number, f.message_type.name if f.message_type else f.type)
              for f in descriptor.fields}
    assert descriptor.full_name == "tensorflow.serving.BatchingParameters"
    assert fields == {
        "max_batch_size": (1, "Int64Value"), "batch_timeout_micros": (2, "Int64Value"),
        "max_enqueued_batches": (3, "Int64Value"), "num_batch_threads": (4, "Int64Value"),
        "thread_pool_name": (5, "StringValue"), "allowed_batch_sizes": (6, 3),
        "pad_variable_length_inputs": (7, 8), "enable_large_batch_splitting": (8, "BoolValue"),
        "max_execution_batch_size": (9, "Int64Value"),
    }
