"""Server reflection, v1 beside v1alpha, with the error-details types in its pool: a client that
learns types from reflection (grpcurl) prints a google.rpc.BadRequest as fields, not base64.

grpcio-reflection (up to 1.85) ships only v1alpha. The v1 protocol's messages are the same as
v1alpha's field for field (only the package differs), so the v1alpha servicer also answers under
the v1 service name, and the v1 file (derived from the v1alpha one) is added to the pool so
that reflection can describe itself under both names."""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.rpc import error_details_pb2, status_pb2
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

V1ALPHA = reflection.SERVICE_NAME  # grpc.reflection.v1alpha.ServerReflection
V1 = "grpc.reflection.v1.ServerReflection"
# Types a client may meet in a status's details: importing them puts them in the pool.
ERROR_TYPES = (status_pb2.DESCRIPTOR.name, error_details_pb2.DESCRIPTOR.name)


def _add_v1_file() -> None:
    """grpc/reflection/v1/reflection.proto into the default pool (once per process)."""
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName("grpc/reflection/v1/reflection.proto")
        return
    except KeyError:
        pass
    old, new = ".grpc.reflection.v1alpha.", ".grpc.reflection.v1."
    file = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(file)
    file.name = "grpc/reflection/v1/reflection.proto"
    file.package = "grpc.reflection.v1"
    file.ClearField("options")
    for message in file.message_type:
        for f in message.field:
            if f.HasField("type_name"):
                f.type_name = f.type_name.replace(old, new)
    for service in file.service:
        for method in service.method:
            method.input_type = method.input_type.replace(old, new)
            method.output_type = method.output_type.replace(old, new)
    pool.Add(file)


def enable(server: grpc.aio.Server, service_names: list[str]) -> None:
    """Serve reflection (v1 and v1alpha) for these services and reflection itself."""
    _add_v1_file()
    servicer = reflection.aio.ReflectionServicer([*service_names, V1ALPHA, V1])
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    info = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(V1, {"ServerReflectionInfo": info})]
    )
