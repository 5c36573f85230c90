"""Status codes as TensorFlow Serving reports them: gRPC's codes, and for REST the HTTP status
of `ToHTTPStatusCode` (http_server.cc) for the codes the stand-in raises."""

from __future__ import annotations

import grpc

Code = grpc.StatusCode
HTTP_STATUS = {Code.INVALID_ARGUMENT: 400, Code.FAILED_PRECONDITION: 400, Code.NOT_FOUND: 404,
               Code.DEADLINE_EXCEEDED: 504, Code.UNAVAILABLE: 503, Code.RESOURCE_EXHAUSTED: 429}


class ServingError(Exception):
    """A failed request: the code picks the gRPC status and the HTTP status, the message goes in
    the gRPC details or in `{"error": ...}`."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)


def invalid_argument(message: str) -> ServingError:
    return ServingError(Code.INVALID_ARGUMENT, message)


def not_found(message: str) -> ServingError:
    return ServingError(Code.NOT_FOUND, message)
