"""Version discovery and switching: the manager's rules with a fake loader, then a real server
picking up a newly exported version without restart.

Rules from TF Serving: numbered folders are versions (file_system_storage_path_source.cc), the
default policy serves the latest one, a new version becomes AVAILABLE before the old one is
unloaded (availability_preserving_policy.cc), and status lists every version the manager has
handled, newest first, old ones as END (servable_state_monitor.h, get_model_status_impl.cc).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from serving.config_files import ModelConfig
from serving.errors import Code, ServingError
from serving.model_manager import ModelManager, VersionState
from tests.conftest import build_tiny_denoiser, page_png
from tests.serving_contract.fake_models import add_version
from tests.serving_contract.local_server import free_port, running_server, stop
from tests.serving_contract.payloads import MODEL, b64


class FakeLoader:
    """Stands in for loading a SavedModel; `fail` lists versions whose load raises."""

    def __init__(self, fail: tuple[int, ...] = ()) -> None:
        self.fail = set(fail)
        self.loads: list[int] = []
        self.runners: dict[int, SimpleNamespace] = {}

    def __call__(self, name: str, version: int, path: Path) -> SimpleNamespace:
        self.loads.append(version)
        if version in self.fail:
            raise ServingError(Code.NOT_FOUND, f"no SavedModel in {path}")
        runner = SimpleNamespace(version=version, closed=False)
        runner.close = lambda: setattr(runner, "closed", True)
        self.runners[version] = runner
        return runner


def manager_for(base: Path, loader: FakeLoader) -> ModelManager:
    return ModelManager(ModelConfig(name=MODEL, base_path=str(base)), loader)


def states(manager: ModelManager) -> dict[int, str]:
    return {version: state.state for version, state in manager.status()}


def test_first_poll_serves_the_highest_numbered_folder(tmp_path):
    for version in (1, 2, 10):
        add_version(tmp_path, version)
    (tmp_path / "10.card.json").write_text("{}")
    (tmp_path / ".11.tmp").mkdir()
    (tmp_path / "12" / "variables").mkdir(parents=True)  # no saved_model.pb yet
    loader = FakeLoader()
    manager = manager_for(tmp_path, loader)
    manager.poll()
    assert loader.loads == [10]
    assert manager.runner_for().version == 10
    assert manager.status() == [(10, VersionState("AVAILABLE"))]


def test_new_version_is_loaded_once_its_files_stop_changing_then_old_one_unloaded(tmp_path):
    add_version(tmp_path, 1)
    loader = FakeLoader()
    manager = manager_for(tmp_path, loader)
    manager.poll()
    add_version(tmp_path, 2)
    manager.poll()  # seen once: it may still be being copied
    assert manager.runner_for().version == 1
    manager.poll()
    assert manager.runner_for().version == 2
    assert states(manager) == {2: "AVAILABLE", 1: "END"}
    assert loader.runners[1].closed and not loader.runners[2].closed


def test_version_still_changing_is_not_served(tmp_path):
    add_version(tmp_path, 1)
    loader = FakeLoader()
    manager = manager_for(tmp_path, loader)
    manager.poll()
    folder = add_version(tmp_path, 2)
    for size in range(3):
        (folder / "variables" / "data").write_bytes(b"x" * (size + 1))
        manager.poll()
        assert manager.runner_for().version == 1
    assert loader.loads == [1]


def test_failed_load_keeps_the_old_version_and_is_retried_only_when_files_change(tmp_path):
    add_version(tmp_path, 1)
    loader = FakeLoader(fail=(2,))
    manager = manager_for(tmp_path, loader)
    manager.poll()
    add_version(tmp_path, 2)
    manager.poll()
    manager.poll()
    manager.poll()
    assert loader.loads == [1, 2]
    assert manager.runner_for().version == 1
    (failed,) = [s for v, s in manager.status() if v == 2]
    assert (failed.state, failed.error_code) == ("END", "NOT_FOUND")
    loader.fail.clear()
    (tmp_path / "2" / "saved_model.pb").write_bytes(b"fixed graph")
    manager.poll()
    manager.poll()
    assert manager.runner_for().version == 2


def test_lookup_errors_name_the_request_as_tf_serving_does(tmp_path):
    manager = manager_for(tmp_path, FakeLoader())
    manager.poll()
    with pytest.raises(ServingError) as latest:
        manager.runner_for()
    assert (latest.value.code, latest.value.message) == (
        Code.NOT_FOUND, f"Servable not found for request: Latest({MODEL})")
    with pytest.raises(ServingError) as specific:
        manager.runner_for(7)
    assert specific.value.message == f"Servable not found for request: Specific({MODEL}, 7)"
    with pytest.raises(ServingError) as status:
        manager.status()
    assert status.value.message == f"Could not find any versions of model {MODEL}"


# --- a real server picking up a new export ---------------------------------------------------


@pytest.fixture(scope="module")
def pickup(tiny_model_base, tmp_path_factory):
    """A server of its own (the test adds versions), started with `--flag value` flags."""
    base = tmp_path_factory.mktemp("pickup") / MODEL
    shutil.copytree(tiny_model_base, base)
    port = free_port()
    flags = ["--rest_api_port", str(port), "--rest_api_host", "127.0.0.1",
             "--port", str(free_port()), "--grpc_host", "127.0.0.1",
             "--model_name", MODEL, "--model_base_path", str(base),
             "--file_system_poll_wait_seconds", "1"]
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
