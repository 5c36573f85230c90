"""The API's gRPC backend against the real local server and the real (tiny) SavedModel: the same
bytes as the REST and in-process backends, TF Serving's status codes mapped to codes 3 and 5, the
version read from GetModelStatus, a lost connection retried, the API end to end, no TensorFlow."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pagework.backends import BackendUnavailable, InvalidImage
from pagework.backends.in_process import InProcessBackend
from pagework.backends.tf_serving import TFServingBackend
from pagework.backends.tf_serving_grpc import TFServingGrpcBackend
from tests.conftest import encode, page_array, page_png
from tests.tcp_proxy import TcpProxy
from tests.test_backends import HungServer
from tests.test_hostile import LEAKS
from tests.test_routes import assert_answer, assert_row, b64

PAGES = [page_png(64, 48), page_png(541, 259, seed=3), page_png(1, 1), page_png(7, 300, seed=4)]
TRUNCATED = page_png(200, 100)[:300]


@pytest.fixture(scope="module")
def grpc_backend(local_serving):
    backend = TFServingGrpcBackend(local_serving.grpc, "autoencoder")
    yield backend
    backend.close()


def test_grpc_backend_is_byte_identical_to_rest_and_in_process(local_serving, grpc_backend,
                                                               tiny_model_base):
    rest = TFServingBackend(local_serving.url, "autoencoder")
    in_process = InProcessBackend(str(tiny_model_base))
    for page in PAGES:
        assert grpc_backend.clean(page) == rest.clean(page) == in_process.clean(page)
    assert grpc_backend.version() == rest.version() == in_process.version() == "1"
    assert grpc_backend.status() == {"ready": True, "backend": "tf-serving-grpc",
                                     "target": local_serving.grpc, "version": "1"}


def test_undecodable_bytes_are_invalid_image(grpc_backend):
    for broken in (TRUNCATED, b"this is not an image"):
        with pytest.raises(InvalidImage):
            grpc_backend.clean(broken)


def test_unknown_model_or_version_is_unavailable(local_serving):
    for backend in (TFServingGrpcBackend(local_serving.grpc, "nope"),
                    TFServingGrpcBackend(local_serving.grpc, "autoencoder", "9")):
        with pytest.raises(BackendUnavailable, match="NOT_FOUND"):
            backend.clean(PAGES[0])
        status = backend.status()
        assert status["ready"] is False and "NOT_FOUND" in status["error"]


def test_pinned_version_is_asked_for_and_reported(local_serving):
    backend = TFServingGrpcBackend(local_serving.grpc, "autoencoder", "1")
    assert backend.clean(PAGES[0]) and backend.version() == "1"


def test_hung_server_ends_at_the_deadline_as_code_5():
    """A server that accepts the connection and never answers: the call ends by its deadline
    (DEADLINE_EXCEEDED in the error, not a refused connection)."""
    hung = HungServer()
    backend = TFServingGrpcBackend(hung.url.removeprefix("http://"), "autoencoder", timeout=1.0)
    try:
        with pytest.raises(BackendUnavailable, match="DEADLINE_EXCEEDED"):
            backend.clean(PAGES[0])
    finally:
        backend.close()  # before the server: no reconnect lands on a closing listener
        hung.close()


def test_lost_connection_is_retried_once_the_server_is_back(local_serving):
    proxy = TcpProxy(int(local_serving.grpc.rsplit(":", 1)[1]))
    backend = TFServingGrpcBackend(f"127.0.0.1:{proxy.port}", "autoencoder", timeout=10)
    try:
        assert backend.clean(PAGES[0])
        proxy.cut()  # the open connection breaks, new ones are refused
        with pytest.raises(BackendUnavailable, match="UNAVAILABLE"):
            backend.clean(PAGES[0])
        proxy.restore()
        assert backend.clean(PAGES[0])  # the retry waited for the channel to reconnect
    finally:
        backend.close()
        proxy.cut()


def test_api_over_grpc_end_to_end(local_serving, start_server):
    server, database = start_server(tf_serving_grpc=local_serving.grpc,
                                    tf_serving_url="http://127.0.0.1:9")  # gRPC wins
    assert server.services.backend.kind == "tf-serving-grpc"
    jpeg = encode(_page_image(), "JPEG", quality=85)
    for image in (PAGES[1], jpeg):
        response = server.clean(image)
        assert_answer(response, 0)
        row = assert_row(database, response, 0, b64(image))
        assert row["versao_modelo"] == "1"
    response = server.clean(TRUNCATED)  # TF Serving's INVALID_ARGUMENT -> code 3
    assert_answer(response, 3)
    assert LEAKS.search(response.text) is None
    assert_row(database, response, 3, b64(TRUNCATED))


def test_api_over_grpc_answers_code_5_when_serving_is_gone(start_server):
    from bench.processes import free_port

    server, database = start_server(tf_serving_grpc=f"127.0.0.1:{free_port()}",
                                    tf_serving_timeout=2)
    response = server.clean(PAGES[0])
    assert_answer(response, 5)
    assert_row(database, response, 5, b64(PAGES[0]))


def test_grpc_backend_imports_no_tensorflow(local_serving):
    """As in the API image: messages from pagework/protos, no TensorFlow module loaded."""
    code = ("import sys; from pagework.backends.tf_serving_grpc import TFServingGrpcBackend as B; "
            f"b = B({local_serving.grpc!r}, 'autoencoder'); print(b.version(), "
            "len(b.clean(open(sys.argv[1], 'rb').read())) > 0, 'tensorflow' in sys.modules)")
    page = local_serving.log_path.parent / "page.png"
    page.write_bytes(PAGES[0])
    result = subprocess.run([sys.executable, "-c", code, str(page)], capture_output=True,
                            text=True, timeout=120, check=True)
    assert result.stdout.split() == ["1", "True", "False"]


def _page_image():
    from PIL import Image

    return Image.fromarray(page_array(541, 259, seed=3))


class CountingServer:
    """A gRPC PredictionService on a free loopback port that answers every Predict with its own
    name as the PNG and counts calls: a replica whose share of the traffic can be read."""

    def __init__(self, name: bytes) -> None:
        from concurrent.futures import ThreadPoolExecutor

        import grpc
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

        self.calls = 0
        outer = self

        class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
            def Predict(self, request, context):
                outer.calls += 1
                response = predict_pb2.PredictResponse()
                response.outputs["clean_png_bytes"].string_val.append(name)
                return response

        self.server = grpc.server(ThreadPoolExecutor(2))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(),
                                                                            self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()


@pytest.mark.parametrize(("policy", "spread"), [("round_robin", True), ("pick_first", False)])
def test_lb_policy_decides_how_calls_spread_over_replicas(policy, spread):
    """Two replicas behind one target (as DNS gives for `serving` with --scale serving=2, here
    a static address list): round_robin uses both, pick_first one."""
    replicas = [CountingServer(b"A"), CountingServer(b"B")]
    target = "ipv4:" + ",".join(f"127.0.0.1:{r.port}" for r in replicas)
    backend = TFServingGrpcBackend(target, "autoencoder", timeout=10, lb_policy=policy)
    try:
        answers = {backend.clean(PAGES[0]) for _ in range(10)}
    finally:
        backend.close()
        for replica in replicas:
            replica.server.stop(0)
    assert sum(r.calls for r in replicas) == 10
    assert (answers == {b"A", b"B"}) is spread
    assert (min(r.calls for r in replicas) > 0) is spread
