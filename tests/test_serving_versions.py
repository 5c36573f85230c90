"""Version discovery and switching: the rules on the tiny model in this process, then a real
server picking up a newly exported version without restart.

Rules from TF Serving: numbered folders are versions (file_system_storage_path_source.cc), the
default policy serves the latest one, a new version becomes AVAILABLE before the old one is
unloaded (availability_preserving_policy.cc), and status lists every version the manager has
handled, newest first, old ones as END (servable_state_monitor.h, get_model_status_impl.cc).
"""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from serving.config_files import ModelConfig
from serving.errors import Code, ServingError
from serving.models import Model, State
from tests.conftest import build_tiny_denoiser, page_png
from tests.serving_contract.fake_models import add_version
from tests.serving_contract.local_server import free_port, running_server, stop
from tests.serving_contract.payloads import MODEL, b64


@pytest.fixture
def model(tiny_model_base, tmp_path):
    """A model whose base path holds a copy of the tiny model as version 1."""
    shutil.copytree(tiny_model_base / "1", tmp_path / "1")
    with ThreadPoolExecutor(1) as pool:
        yield Model(ModelConfig(MODEL, str(tmp_path)), pool), tmp_path


def states(model: Model) -> dict[int, tuple[str, str]]:
    return {s.version: (State.Name(s.state), s.status.error_message)
            for s in model.status(None).model_version_status}


def test_the_highest_complete_numbered_folder_is_served(model, tiny_model_base):
    model, base = model
    (base / "10.card.json").write_text("{}")
    (base / ".11.tmp").mkdir()
    (base / "12" / "variables").mkdir(parents=True)  # no saved_model.pb yet
    model.poll()
    assert model.servable(None).version == 1
    shutil.copytree(tiny_model_base / "1", base / "10")
    model.poll()
    assert (model.servable(None).version, model.servable(10).version) == (10, 10)
    assert states(model) == {10: ("AVAILABLE", ""), 1: ("END", "")}


def test_a_version_that_fails_to_load_keeps_the_old_one_served(model):
    model, base = model
    model.poll()
    add_version(base, 2)  # saved_model.pb that is not a SavedModel
    model.poll()
    model.poll()  # not retried
    assert model.servable(None).version == 1
    state, error = states(model)[2]
    assert state == "END" and error


def test_lookup_errors_name_the_request_as_tf_serving_does(tmp_path):
    model = Model(ModelConfig(MODEL, str(tmp_path)), None)
    model.poll()
    with pytest.raises(ServingError) as latest:
        model.servable(None)
    assert (latest.value.code, latest.value.message) == (
        Code.NOT_FOUND, f"Servable not found for request: Latest({MODEL})")
    with pytest.raises(ServingError) as specific:
        model.servable(7)
    assert specific.value.message == f"Servable not found for request: Specific({MODEL}, 7)"
    with pytest.raises(ServingError) as status:
        model.status(None)
    assert status.value.message == f"Could not find any versions of model {MODEL}"


# --- a real server picking up a new export ---------------------------------------------------


@pytest.fixture(scope="module")
def pickup(tiny_model_base, tmp_path_factory):
    """A server of its own (the test adds versions)."""
    base = tmp_path_factory.mktemp("pickup") / MODEL
    shutil.copytree(tiny_model_base, base)
    port = free_port()
    flags = [f"--rest_api_port={port}", "--rest_api_host=127.0.0.1", f"--port={free_port()}",
             "--grpc_host=127.0.0.1", f"--model_name={MODEL}", f"--model_base_path={base}",
             "--file_system_poll_wait_seconds=1"]
    with running_server(flags, base.parent / "server.log", port=port) as server:
        yield server, base


def status_of(url: str) -> list[dict]:
    return requests.get(f"{url}/v1/models/{MODEL}", timeout=30).json()["model_version_status"]


def test_new_export_is_served_without_restart_and_a_half_written_folder_is_not(pickup):
    from training.export import export_model

    server, base = pickup
    (base / "3" / "variables").mkdir(parents=True)  # a copy that has not reached saved_model.pb
    export_model(build_tiny_denoiser(), base, multiple=2, margin=8, tile=64, version=2)
    deadline = time.monotonic() + 60
    while status_of(server.url)[0] != {"version": "2", "state": "AVAILABLE",
                                       "status": {"error_code": "OK", "error_message": ""}}:
        assert time.monotonic() < deadline, status_of(server.url)
        time.sleep(0.2)
    # Version 2 is served, so the poller has looked at the base path since "3" appeared.
    assert [(s["version"], s["state"]) for s in status_of(server.url)] == \
        [("2", "AVAILABLE"), ("1", "END")]
    answer = requests.get(f"{server.url}/v1/models/{MODEL}/versions/3", timeout=30)
    assert answer.status_code == 404
    assert answer.json() == {"error": f"Could not find version 3 of model {MODEL}"}
    body = {"instances": [b64(page_png(40, 20))]}
    assert requests.post(f"{server.url}/v1/models/{MODEL}/versions/2:predict", json=body,
                         timeout=60).status_code == 200
    old = requests.post(f"{server.url}/v1/models/{MODEL}/versions/1:predict", json=body,
                        timeout=60)
    assert old.status_code == 404
    assert old.json() == {"error": f"Servable not found for request: Specific({MODEL}, 1)"}


def test_sigterm_stops_the_server_cleanly(pickup):
    server, _ = pickup
    assert stop(server) == 0
    assert "Stopped" in server.log_text()
