"""tensorflow_model_server's flags as the stand-in reads them (model_servers/main.cc, server.h,
server.cc): the ones compose, the image's entrypoint and `make run-stack` pass."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from importlib import metadata

import pytest

from serving.flags import parse_flags
from tests.serving_contract.local_server import ROOT

COMPOSE_FLAGS = [  # what docker-compose.yml and the image's entrypoint pass
    "--port=8500", "--rest_api_port=8501", "--model_name=autoencoder",
    "--model_base_path=/models/autoencoder", "--model_config_file=/config/models.config",
    "--enable_batching", "--batching_parameters_file=/config/batching.config",
    "--rest_api_timeout_in_ms=120000", "--file_system_poll_wait_seconds=30",
    "--mixed_precision=",
]


def test_compose_flags():
    options = parse_flags(COMPOSE_FLAGS)
    assert vars(options) == {
        "port": 8500, "grpc_host": "0.0.0.0", "rest_api_port": 8501, "rest_api_host": "0.0.0.0",
        "rest_api_timeout_in_ms": 120000, "model_name": "autoencoder",
        "model_base_path": "/models/autoencoder", "model_config_file": "/config/models.config",
        "enable_batching": True, "batching_parameters_file": "/config/batching.config",
        "file_system_poll_wait_seconds": 30, "mixed_precision": "",
    }


def test_defaults_are_tf_servings():
    options = parse_flags(["--model_base_path=/m"])
    assert (options.port, options.rest_api_port, options.model_name,
            options.file_system_poll_wait_seconds, options.rest_api_timeout_in_ms,
            options.enable_batching) == (8500, 0, "default", 1, 30000, False)


def test_later_flag_wins_as_after_the_entrypoint():
    options = parse_flags(["--model_base_path=/a", "--enable_batching", "--model_base_path=/b",
                           "--enable_batching=false"])
    assert (options.model_base_path, options.enable_batching) == ("/b", False)


@pytest.mark.parametrize("argv", [
    ["--model_base_path=/m", "--no_such_flag=1"], ["--model_base_path=/m", "--rest_api_port=x"],
    ["--model_base_path=/m", "--enable_batching=maybe"], ["--rest_api_port=8501"],
    ["--model_base_path=/m", "--batching_parameters_file=/b"],
    ["--model_base=/m"],  # no abbreviations: the real binary has none
])
def test_bad_command_lines_are_refused(argv):
    with pytest.raises(SystemExit) as exit_:
        parse_flags(argv)
    assert exit_.value.code == 2


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "serving", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_unknown_flag_exits_with_usage_before_loading_anything():
    result = run_cli("--model_base_path=/m", "--no_such_flag=1")
    assert result.returncode == 2
    assert "unrecognized arguments: --no_such_flag=1" in result.stderr
    assert "usage: python -m serving" in result.stderr


def test_stand_in_runs_the_tensorflow_of_the_image_it_stands_in_for():
    """The stand-in must run the TensorFlow release of the official image compose pulls, or the
    tests prove a different runtime from the one production uses."""
    image = re.search(r"tensorflow/serving:([0-9.]+)", (ROOT / "docker-compose.yml").read_text())
    assert metadata.version("tensorflow") == image.group(1)


def test_unreadable_files_and_a_taken_port_fail_start_up(tmp_path, tiny_model_base):
    missing = tmp_path / "missing.config"
    for flags in ([f"--model_config_file={missing}"],
                  [f"--model_base_path={tiny_model_base}", "--enable_batching",
                   f"--batching_parameters_file={missing}"]):
        result = run_cli("--port=0", *flags)
        assert result.returncode == 1, result.stderr
        assert "Failed to start server" in result.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(f"--port={port}", "--grpc_host=127.0.0.1",
                         f"--model_base_path={tiny_model_base}")
    assert result.returncode == 1
    assert f"Failed to start server. Error: Failed to bind gRPC to 127.0.0.1:{port}" in \
        result.stderr
