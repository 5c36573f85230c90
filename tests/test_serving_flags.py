"""tensorflow_model_server's flags as the stand-in reads them (model_servers/main.cc, server.h,
server.cc; tsl/util/command_line_flags.cc for the `--flag=value` syntax)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata

import pytest

from serving.flags import FlagError, ServerOptions, parse_flags
from tests.serving_contract.local_server import ROOT

COMPOSE_FLAGS = [  # what docker-compose.yml and the image's entrypoint pass
    "--port=8500", "--rest_api_port=8501", "--model_name=autoencoder",
    "--model_base_path=/models/autoencoder", "--model_config_file=/config/models.config",
    "--enable_batching", "--batching_parameters_file=/config/batching.config",
    "--rest_api_timeout_in_ms=120000", "--file_system_poll_wait_seconds=30",
    "--mixed_precision=",
]


def test_compose_flags_in_equals_form():
    options = parse_flags(COMPOSE_FLAGS)
    assert options == ServerOptions(
        port=8500, rest_api_port=8501, model_name="autoencoder",
        model_base_path="/models/autoencoder", model_config_file="/config/models.config",
        enable_batching=True, batching_parameters_file="/config/batching.config",
        rest_api_timeout_in_ms=120000, file_system_poll_wait_seconds=30,
        rest_api_num_threads=ServerOptions().rest_api_num_threads,
    )


def test_space_form_reads_the_same():
    spaced = []
    for flag in COMPOSE_FLAGS:
        spaced += flag.split("=", 1)
    assert parse_flags(spaced) == parse_flags(COMPOSE_FLAGS)


def test_defaults_are_tf_servings():
    options = parse_flags(["--rest_api_port=8501", "--model_base_path=/m"])
    assert (options.port, options.model_name, options.file_system_poll_wait_seconds,
            options.rest_api_timeout_in_ms, options.enable_batching,
            options.grpc_channel_arguments) == (8500, "default", 1, 30000, False, "")
    assert options.grpc_max_threads == options.rest_api_num_threads == 4 * (os.cpu_count() or 1)
    assert parse_flags(["--model_base_path=/m"]).rest_api_port == 0  # gRPC only, as TF Serving


def test_later_flag_wins_as_after_the_entrypoint():
    options = parse_flags(["--rest_api_port=8501", "--model_base_path=/a",
                           "--model_base_path", "/b", "--enable_batching=false"])
    assert (options.model_base_path, options.enable_batching) == ("/b", False)


def test_other_flags_are_accepted():
    options = parse_flags(["--rest_api_port=1", "--model_base_path=/m",
                           "--rest_api_num_threads=3", "--grpc_max_threads=5",
                           "--grpc_channel_arguments=grpc.max_connection_age_ms=2000",
                           "--enable_model_warmup=0", "--tensorflow_intra_op_parallelism=2"])
    assert (options.rest_api_num_threads, options.grpc_max_threads,
            options.grpc_channel_arguments, options.enable_model_warmup,
            options.tensorflow_intra_op_parallelism) == \
        (3, 5, "grpc.max_connection_age_ms=2000", False, 2)


@pytest.mark.parametrize(("argv", "message"), [
    (["--rest_api_port=8501", "--model_base_path=/m", "--rest_api_enable_cors_support"],
     "unknown flag: --rest_api_enable_cors_support"),
    (["--rest_api_port=8501", "--model_base_path=/m", "stray"], "unknown argument: stray"),
    (["--rest_api_port=8501", "--model_base_path=/m", "-v"], "unknown argument: -v"),
    (["--rest_api_port=eighty", "--model_base_path=/m"], "couldn't interpret value 'eighty'"),
    (["--rest_api_port=8501", "--enable_batching=maybe", "--model_base_path=/m"],
     "couldn't interpret value 'maybe'"),
    (["--rest_api_port=8501", "--model_base_path"], "flag --model_base_path needs a value"),
    (["--rest_api_port=8501"], "both --model_base_path and --model_config_file are empty"),
    (["--rest_api_port=8501", "--model_base_path=/m", "--batching_parameters_file=/b"],
     "--batching_parameters_file is set without --enable_batching"),
    (["--port=0", "--rest_api_port=8501", "--model_base_path=/m"],
     "At least one of server_options.grpc_port or server_options.grpc_socket_path must be set."),
    (["--grpc_max_threads=0", "--model_base_path=/m"], "must be positive"),
])
def test_bad_command_lines_are_refused(argv, message):
    with pytest.raises(FlagError, match=message):
        parse_flags(argv)


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "serving", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_unknown_flag_exits_with_error_before_loading_anything():
    result = run_cli("--rest_api_port=8501", "--model_base_path=/m", "--no_such_flag=1")
    assert result.returncode == 2
    assert "error: unknown flag: --no_such_flag" in result.stderr
    assert "--rest_api_port" in result.stderr  # usage follows


def test_stand_in_runs_the_tensorflow_of_the_image_it_stands_in_for():
    """The stand-in must run the TensorFlow release of the official image compose pulls, or the
    tests prove a different runtime from the one production uses."""
    image = re.search(r"tensorflow/serving:([0-9.]+)", (ROOT / "docker-compose.yml").read_text())
    assert metadata.version("tensorflow") == image.group(1)


def test_unreadable_model_config_fails_start_up(tmp_path):
    result = run_cli("--rest_api_port=1", f"--model_config_file={tmp_path / 'missing.config'}")
    assert result.returncode == 1
    assert "Failed to start server" in result.stderr


def test_taken_grpc_port_fails_start_up(tiny_model_base):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(f"--port={port}", "--grpc_host=127.0.0.1",
                         f"--model_base_path={tiny_model_base}")
    assert result.returncode == 1
    assert f"Failed to start server. Error: Failed to bind gRPC to 127.0.0.1:{port}" in \
        result.stderr
