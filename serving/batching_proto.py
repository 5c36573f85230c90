"""The `BatchingParameters` protobuf message, to read batching files exactly as TF Serving does.

tensorflow-serving-api does not ship `session_bundle_config_pb2`, so the message is rebuilt from
its definition in tensorflow_serving/servables/tensorflow/session_bundle_config.proto (same
package, names, numbers and types), in a private descriptor pool.
"""

from __future__ import annotations

import functools
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

_WRAPPED = {"max_batch_size": (1, "Int64Value"), "batch_timeout_micros": (2, "Int64Value"),
            "max_enqueued_batches": (3, "Int64Value"), "num_batch_threads": (4, "Int64Value"),
            "thread_pool_name": (5, "StringValue"), "max_execution_batch_size": (9, "Int64Value"),
            "enable_large_batch_splitting": (8, "BoolValue")}


@functools.cache
def batching_parameters_class() -> Any:
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    proto = descriptor_pb2.FileDescriptorProto(
        name="tensorflow_serving/servables/tensorflow/session_bundle_config.proto",
        package="tensorflow.serving",
        syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
    )
    message = proto.message_type.add(name="BatchingParameters")
    field = descriptor_pb2.FieldDescriptorProto
    for name, (number, wrapper) in _WRAPPED.items():
        message.field.add(name=name, number=number, type=field.TYPE_MESSAGE,
                          label=field.LABEL_OPTIONAL, type_name=f".google.protobuf.{wrapper}")
    message.field.add(name="allowed_batch_sizes", number=6, type=field.TYPE_INT64,
                      label=field.LABEL_REPEATED)
    message.field.add(name="pad_variable_length_inputs", number=7, type=field.TYPE_BOOL,
                      label=field.LABEL_OPTIONAL)
    pool.Add(proto)
    descriptor = pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters")
    return message_factory.GetMessageClass(descriptor)
