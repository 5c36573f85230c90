"""`python -m bench.direct`: direct calls to a TF Serving (the official server or the local
stand-in) over REST and gRPC, both signatures, on real pages: p50/p95, throughput, bytes per call.

  serving_default  encoded page in, PNG out: {"b64": ...} in JSON; a DT_STRING tensor over gRPC
  denoise          float pixels in and out: nested JSON lists over REST; over gRPC tensor_content
                   in, float_val out (as TF Serving fills outputs)

Request bodies are built once per page before timing; a timed call sends, waits, receives and
decodes the answer (the PNG bytes, or the float array). Bytes per call are the request and
response bodies (HTTP headers and HTTP/2 framing not counted). gRPC goes through
tensorflow-serving-api's stubs, with TF Serving's own 2 GiB message limit. Example:

  python -m bench.direct --rest http://127.0.0.1:8501 --grpc 127.0.0.1:8500 --model autoencoder
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import requests
from PIL import Image

from bench.measure import Result, header, measure, megapixels, row
from bench.pages import add_source_args, load_pages
from bench.report import add_load_args, start_run, write_report

SIGNATURES = {"serving_default": ("image_bytes", "clean_png_bytes"), "denoise": ("images", "clean")}
MAX_MESSAGE = 2**31 - 1  # what TF Serving's server.cc allows; the client must allow it too
TIMEOUT = 900.0


class Wire:
    """Bytes sent and received by one target, summed over its calls (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.sent = self.received = self.calls = 0

    def add(self, sent: int, received: int) -> None:
        with self._lock:
            self.sent, self.received, self.calls = (self.sent + sent, self.received + received,
                                                    self.calls + 1)

    def per_call_kb(self) -> tuple[float, float]:
        calls = max(self.calls, 1)
        return round(self.sent / calls / 1024, 1), round(self.received / calls / 1024, 1)


def pixels(page: bytes) -> np.ndarray:
    """[1, H, W, 1] float32 in [0, 1]: what `denoise` takes."""
    gray = np.asarray(Image.open(io.BytesIO(page)).convert("L"), np.float32) / 255.0
    return gray[np.newaxis, :, :, np.newaxis]


def rest_call(url: str, model: str, signature: str, pages: list[bytes], wire: Wire,
              session: requests.Session) -> Callable[[bytes], None]:
    endpoint = f"{url.rstrip('/')}/v1/models/{model}:predict"
    bodies = {}
    for page in pages:
        instance = ({"b64": base64.b64encode(page).decode()} if signature == "serving_default"
                    else pixels(page)[0].tolist())
        bodies[page] = json.dumps({"signature_name": signature, "instances": [instance]}).encode()

    def call(page: bytes) -> None:
        answer = session.post(endpoint, data=bodies[page], timeout=TIMEOUT,
                              headers={"Content-Type": "application/json"})
        answer.raise_for_status()
        prediction = answer.json()["predictions"][0]
        if signature == "serving_default":
            base64.b64decode(prediction["b64"])
        else:
            np.asarray(prediction, np.float32)
        wire.add(len(bodies[page]), len(answer.content))

    return call


def grpc_call(stub, model: str, signature: str, pages: list[bytes],
              wire: Wire) -> Callable[[bytes], None]:
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    input_name, output_name = SIGNATURES[signature]
    built = {}
    for page in pages:
        request = predict_pb2.PredictRequest()
        request.model_spec.name, request.model_spec.signature_name = model, signature
        value = np.array([page], dtype=object) if signature == "serving_default" else pixels(page)
        request.inputs[input_name].CopyFrom(tf.make_tensor_proto(value))
        built[page] = request

    def call(page: bytes) -> None:
        request = built[page]
        response = stub.Predict(request, timeout=TIMEOUT)
        output = response.outputs[output_name]
        if signature == "serving_default":
            output.string_val[0]  # noqa: B018 - the PNG, as a client takes it
        else:
            tf.make_ndarray(output)
        wire.add(request.ByteSize(), response.ByteSize())

    return call


def grpc_stub(target: str):
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    channel = grpc.insecure_channel(target, options=[
        ("grpc.max_send_message_length", MAX_MESSAGE),
        ("grpc.max_receive_message_length", MAX_MESSAGE)])
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


def run_direct(pages: dict[str, list[bytes]], *, rest: str | None, grpc: str | None, model: str,
               signatures: list[str], levels: list[int], requests_small: int,
               requests_large: int, time_limit: float) -> Iterator[Result]:
    """Each signature x size x protocol x level on the same pages (pages over 1 MP at the first
    level only: a float A4 page over JSON takes minutes); one result each."""
    session = requests.Session()
    stub = grpc_stub(grpc) if grpc else None
    for signature in signatures:
        for size, sample in pages.items():
            for protocol in [p for p, where in (("rest", rest), ("grpc", grpc)) if where]:
                wire = Wire()
                call = (rest_call(rest, model, signature, sample, wire, session)
                        if protocol == "rest" else grpc_call(stub, model, signature, sample, wire))
                large = megapixels(size) > 1
                if not large:  # warm-up (sizes run small first): connections, graph tracing
                    call(sample[0])
                for level in levels[:1] if large else levels:  # large pages: one level
                    count = requests_large if large else requests_small
                    wire.reset()
                    result = measure(call, sample, target=f"{protocol}:{signature}",
                                     size=size, count=count, concurrency=level,
                                     time_limit=time_limit)
                    result.sent_kb, result.received_kb = wire.per_call_kb()
                    yield result


def ratios(results: list[Result]) -> str:
    """gRPC against REST, same signature, size and level: p50 and bytes on the wire."""
    by_key = {(r.target, r.size, r.concurrency): r for r in results}
    lines = ["\ngRPC / REST (p50 latency; bytes sent + received per call):"]
    for r in results:
        protocol, _, signature = r.target.partition(":")
        rest = by_key.get((f"rest:{signature}", r.size, r.concurrency))
        if protocol == "grpc" and rest and rest.p50_ms:
            lines.append(f"  {signature:16s} {r.size:10s} c={r.concurrency}: "
                         f"{r.p50_ms / rest.p50_ms:5.2f}x time, "
                         f"{(r.sent_kb + r.received_kb) / (rest.sent_kb + rest.received_kb):5.2f}x"
                         " bytes")
    return "\n".join(lines)


def add_direct_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--signatures", default=",".join(SIGNATURES),
                        help="serving_default (bytes in, PNG out), denoise (floats in and out)")
    parser.add_argument("--direct-requests", type=int, default=20,
                        help="calls per protocol, signature, size and level (pages up to 1 MP)")
    parser.add_argument("--direct-large-requests", type=int, default=3,
                        help="the same for pages over 1 MP")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rest", help="TF Serving's REST base URL, e.g. http://127.0.0.1:8501")
    parser.add_argument("--grpc", help="TF Serving's gRPC target, e.g. 127.0.0.1:8500")
    parser.add_argument("--model", default="autoencoder")
    add_source_args(parser)
    parser.add_argument("--sizes", default="540x420,2480x3508", help="page sizes (A4: 2480x3508)")
    parser.add_argument("--concurrency", default="1,4", help="levels, e.g. 1,2,4")
    parser.add_argument("--time-limit", type=float, default=300, help="seconds per measurement")
    parser.add_argument("--out", type=Path, help="also write the report as JSON here (for "
                        "python -m bench.render)")
    add_direct_args(parser)
    add_load_args(parser)
    args = parser.parse_args(argv)
    started = start_run(args, argv)
    if not (args.rest or args.grpc):
        parser.error("give --rest, --grpc or both")
    pages = {size: load_pages(args.data, size) for size in args.sizes.split(",")}
    print(header())
    results = []
    for result in run_direct(pages, rest=args.rest, grpc=args.grpc, model=args.model,
                             signatures=args.signatures.split(","),
                             levels=[int(c) for c in args.concurrency.split(",")],
                             requests_small=args.direct_requests,
                             requests_large=args.direct_large_requests,
                             time_limit=args.time_limit):
        results.append(result)
        print(row(result), flush=True)
    print(ratios(results))
    if args.out:
        write_report(args.out, "TF Serving called directly: REST and gRPC", results, started)
    failed = sum(r.errors for r in results)
    if failed:
        sys.exit(f"bench.direct: {failed} calls failed")


if __name__ == "__main__":
    main()
