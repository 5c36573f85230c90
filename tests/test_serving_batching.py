"""Batching of concurrent :predict calls: the scheduler with a recording model function, then a
real server started from a model config file with --enable_batching and a batching file.

Behaviour after TF Serving's batching session (batching/batching_session.cc,
batching_util/shared_batch_scheduler.h): batches of at most max_batch_size rows, formed when full
or when the oldest request waited batch_timeout_micros; a task larger than max_batch_size is
refused; a full queue answers UNAVAILABLE; an error fails the whole batch.
"""

from __future__ import annotations

import base64
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pytest
import requests

from serving.batching import BatchScheduler
from serving.config_files import BatchingOptions
from serving.errors import Code, ServingError
from serving.runner import VersionRunner
from tests.conftest import page_png
from tests.serving_contract.local_server import running_server
from tests.serving_contract.payloads import MODEL, b64


class RecordingModel:
    """Doubles its input and records each call's batch size. Batches form only when full (the
    tests use a batch timeout far beyond their run), so what shares a batch does not depend on
    timing; `gate` holds a call (after setting `started`) to let requests queue behind it."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.batches: list[int] = []
        self.lock = threading.Lock()
        self.started = threading.Event()
        self.gate = gate

    def __call__(self, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = inputs["x"]
        with self.lock:
            self.batches.append(len(x) if x.ndim else 1)
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(30), "the test never opened the gate"
        if (x < 0).any():
            raise ServingError(Code.INVALID_ARGUMENT, "negative input")
        return {"y": x * 2, "sig": np.full(x.shape[:1], signature)}


NEVER = 600_000_000  # batch_timeout_micros: a batch is taken when full, or when closing


def scheduler(model: RecordingModel, **options) -> BatchScheduler:
    return BatchScheduler(model, BatchingOptions(**{"num_batch_threads": 1,
                                                    "batch_timeout_micros": NEVER, **options}))


def test_concurrent_requests_share_batches_and_get_their_own_rows():
    model = RecordingModel()
    batcher = scheduler(model, max_batch_size=4)
    try:
        with ThreadPoolExecutor(12) as pool:
            futures = [pool.submit(lambda i=i: batcher.submit("s", {"x": np.array([[i, i]])})
                                   .result(30)) for i in range(12)]
            results = [f.result() for f in futures]
    finally:
        batcher.close()
    for i, result in enumerate(results):
        np.testing.assert_array_equal(result["y"], [[2 * i, 2 * i]])
    assert model.batches == [4, 4, 4]


def test_multi_row_requests_are_not_split_across_batches():
    model = RecordingModel()
    batcher = scheduler(model, max_batch_size=5)
    try:
        futures = [batcher.submit("s", {"x": np.full((3, 1), i)}) for i in range(4)]
        batcher.close()  # 3 + 3 > 5: each full queue of one task runs as it is
        results = [f.result(30) for f in futures]
    finally:
        batcher.close()
    assert model.batches == [3, 3, 3, 3]
    for i, result in enumerate(results):
        np.testing.assert_array_equal(result["y"], np.full((3, 1), 2 * i))


def test_different_signatures_and_shapes_never_share_a_batch():
    model = RecordingModel()
    batcher = scheduler(model, max_batch_size=8)
    futures = [batcher.submit("a", {"x": np.array([[1]])}),
               batcher.submit("b", {"x": np.array([[1]])}),
               batcher.submit("a", {"x": np.array([[1, 1]])}),
               batcher.submit("a", {"x": np.array(5)})]  # a scalar runs alone
    batcher.close()  # runs what is queued: one call per queue
    results = [f.result(30) for f in futures]
    assert sorted(model.batches) == [1, 1, 1, 1]
    assert [r["sig"][0] for r in results[:3]] == ["a", "b", "a"]
    assert results[3]["y"] == 10


def test_an_error_fails_every_request_of_its_batch():
    model = RecordingModel()
    batcher = scheduler(model, max_batch_size=3)
    try:
        futures = [batcher.submit("s", {"x": np.array([[v]])}) for v in (1, -1, 2)]
        for future in futures:
            with pytest.raises(ServingError, match="negative input"):
                future.result(30)
    finally:
        batcher.close()
    assert model.batches == [3]


def test_task_larger_than_max_batch_size_is_refused():
    batcher = scheduler(RecordingModel(), max_batch_size=2)
    try:
        with pytest.raises(ServingError) as error:
            batcher.submit("s", {"x": np.zeros((3, 1))})
    finally:
        batcher.close()
    assert (error.value.code, error.value.message) == (
        Code.INVALID_ARGUMENT, "Task size 3 is larger than maximum input batch size 2")


def test_full_queue_answers_unavailable():
    gate = threading.Event()
    model = RecordingModel(gate)
    batcher = scheduler(model, max_batch_size=1, max_enqueued_batches=2)
    try:
        first = batcher.submit("s", {"x": np.array([[1]])})
        assert model.started.wait(30)  # taken by the only thread, which now waits on the gate
        queued = [batcher.submit("s", {"x": np.array([[1]])}) for _ in range(2)]
        with pytest.raises(ServingError) as error:
            batcher.submit("s", {"x": np.array([[1]])})
        assert error.value.code == Code.UNAVAILABLE
    finally:
        gate.set()
        batcher.close()
    assert all(f.result(30)["y"].tolist() == [[2]] for f in [first, *queued])


def test_runner_still_answers_after_its_scheduler_closed():
    """A request that looked a version up just before it was unloaded runs on the pool."""
    servable = SimpleNamespace(version=1, run=lambda s, inputs: {"y": inputs["x"] * 2})
    with ThreadPoolExecutor(1) as pool:
        runner = VersionRunner(servable, pool, BatchingOptions(num_batch_threads=1))
        runner.close()
        assert runner.predict("s", {"x": np.array([1])}, 5)["y"].tolist() == [2]


def test_close_runs_what_is_queued():
    model = RecordingModel()
    batcher = scheduler(model, max_batch_size=8, batch_timeout_micros=10_000_000)
    future = batcher.submit("s", {"x": np.array([[3]])})
    batcher.close()
    assert future.result(0)["y"].tolist() == [[6]]


# --- a real server with batching on ----------------------------------------------------------


@pytest.fixture(scope="module")
def batching_server(tiny_model_base, tmp_path_factory):
    folder = tmp_path_factory.mktemp("batching")
    (folder / "models.config").write_text(
        f'model_config_list {{ config {{ name: "{MODEL}" base_path: "{tiny_model_base}" '
        'model_platform: "tensorflow" } }\n')
    (folder / "batching.config").write_text(
        "max_batch_size { value: 4 }\nbatch_timeout_micros { value: 20000 }\n"
        "num_batch_threads { value: 1 }\n")
    flags = [f"--model_config_file={folder / 'models.config'}", "--enable_batching",
             f"--batching_parameters_file={folder / 'batching.config'}"]
    with running_server(flags, folder / "server.log") as server:
        yield server


def test_concurrent_predicts_through_batching_each_get_their_own_page(batching_server,
                                                                     tiny_model_base):
    import tensorflow as tf

    serve = tf.saved_model.load(str(tiny_model_base / "1")).signatures["serving_default"]
    pages = [page_png(24 + 2 * i, 20 + i, seed=i) for i in range(8)]

    def predict(page: bytes) -> bytes:
        answer = requests.post(f"{batching_server.url}/v1/models/{MODEL}:predict",
                               json={"instances": [b64(page)]}, timeout=60)
        assert answer.status_code == 200, answer.text
        return base64.b64decode(answer.json()["predictions"][0]["b64"])

    with ThreadPoolExecutor(len(pages)) as pool:
        served = list(pool.map(predict, pages))
    for page, png in zip(pages, served, strict=True):
        assert png == serve(image_bytes=tf.constant([page]))["clean_png_bytes"].numpy()[0]


def test_batching_server_reports_status_and_errors_as_usual(batching_server):
    url = f"{batching_server.url}/v1/models/{MODEL}"
    assert requests.get(url, timeout=30).json()["model_version_status"][0]["state"] == \
        "AVAILABLE"
    bad = requests.post(f"{url}:predict", json={"instances": [b64(b"not an image")]},
                        timeout=60)
    assert bad.status_code == 400
    assert "Unknown image file format" in bad.json()["error"]
    too_many = requests.post(f"{url}:predict", json={"instances": [b64(page_png())] * 5},
                             timeout=60)
    assert too_many.status_code == 400
    assert too_many.json() == {"error": "Task size 5 is larger than maximum input batch size 4"}
