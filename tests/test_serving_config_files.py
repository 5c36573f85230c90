"""The model config and batching parameter files compose mounts into TF Serving, read with TF
Serving's message definitions (config/model_server_config.proto,
servables/tensorflow/session_bundle_config.proto)."""

from __future__ import annotations

import pytest
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    text_format,
    wrappers_pb2,
)

from serving.config_files import ConfigError, ModelConfig, read_model_config
from tests.serving_contract.local_server import ROOT


def test_repository_models_config_serves_the_autoencoder_from_the_compose_mount():
    assert read_model_config(ROOT / "serving" / "models.config") == [
        ModelConfig(name="autoencoder", base_path="/models/autoencoder")
    ]


@pytest.mark.parametrize("text", [
    "model_config_list { config { name: 'a' base_path: '/m' } ",
    "model_config_list { }",
    "model_config_list { config { name: 'a' base_path: '/m' model_version_policy { all {} } } }",
    "model_config_list { config { name: 'a' base_path: '/m' version_labels { key: 's' value: 1 }"
    " } }",
])
def test_configs_the_stand_in_cannot_follow_are_refused(tmp_path, text):
    path = tmp_path / "models.config"
    path.write_text(text)
    with pytest.raises(ConfigError, match="model config file"):
        read_model_config(path)


MESSAGE = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE


def batching_parameters():
    """BatchingParameters, rebuilt from session_bundle_config.proto (same package, names,
    numbers and types): tensorflow-serving-api does not ship it."""
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    proto = descriptor_pb2.FileDescriptorProto(
        name="tensorflow_serving/servables/tensorflow/session_bundle_config.proto",
        package="tensorflow.serving", syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"])
    message = proto.message_type.add(name="BatchingParameters")
    for name, number in (("max_batch_size", 1), ("batch_timeout_micros", 2),
                         ("max_enqueued_batches", 3), ("num_batch_threads", 4)):
        message.field.add(name=name, number=number, type=MESSAGE,
                          type_name=".google.protobuf.Int64Value")
    pool.Add(proto)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters"))()


def test_repository_batching_config_is_tf_servings_format_sized_for_two_cores():
    """TF Serving refuses to start on a file it cannot parse; the stand-in does not batch, so
    this is what proves the file production reads."""
    message = batching_parameters()
    text_format.Parse((ROOT / "serving" / "batching.config").read_text(), message)
    assert {f.name: value.value for f, value in message.ListFields()} == {
        "max_batch_size": 4, "batch_timeout_micros": 2000, "max_enqueued_batches": 16,
        "num_batch_threads": 2}
    with pytest.raises(text_format.ParseError):  # the check can fail: a plain int is refused
        text_format.Parse("max_batch_size: 4", batching_parameters())
