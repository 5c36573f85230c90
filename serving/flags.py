"""The `tensorflow_model_server` command-line flags that the stand-in understands.

Flag names, defaults and checks follow tensorflow_serving/model_servers/main.cc, server.h and
server.cc. The real binary (tsl command_line_flags) reads only `--flag=value` (and a bare `--flag`
for booleans); the stand-in also takes `--flag value`, and unlike the real binary it refuses
unknown arguments instead of printing them and carrying on.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field


class FlagError(ValueError):
    """A command line the server cannot run with; the message says which flag and why."""


@dataclass(frozen=True)
class ServerOptions:
    """What the command line asked for (names as in tensorflow_model_server)."""

    port: int = 8500
    grpc_host: str = "0.0.0.0"
    grpc_max_threads: int = field(default_factory=lambda: 4 * (os.cpu_count() or 1))
    grpc_channel_arguments: str = ""
    rest_api_port: int = 0
    rest_api_host: str = "0.0.0.0"
    rest_api_num_threads: int = field(default_factory=lambda: 4 * (os.cpu_count() or 1))
    rest_api_timeout_in_ms: int = 30000
    enable_batching: bool = False
    batching_parameters_file: str = ""
    model_config_file: str = ""
    model_name: str = "default"
    model_base_path: str = ""
    file_system_poll_wait_seconds: int = 1
    enable_model_warmup: bool = True
    tensorflow_intra_op_parallelism: int = 0
    tensorflow_inter_op_parallelism: int = 0
    mixed_precision: str = ""


HELP = {
    "port": "TCP port for the gRPC API (not 0: TF Serving cannot run without gRPC)",
    "grpc_host": "address to bind the gRPC API to (stand-in only; the real server binds all)",
    "grpc_max_threads": "gRPC calls handled at once (default: 4 x CPUs)",
    "grpc_channel_arguments": "gRPC server arguments, e.g. grpc.max_connection_age_ms=2000,...",
    "rest_api_port": "port for the HTTP/REST API; 0: no REST API; must differ from --port",
    "rest_api_host": "address to bind the REST API to (stand-in only; the real server binds all)",
    "rest_api_num_threads": "number of model calls run at once (default: 4 x CPUs)",
    "rest_api_timeout_in_ms": "timeout for HTTP/REST API calls; 0 or less: none",
    "enable_batching": "read and check --batching_parameters_file (the stand-in does not batch)",
    "batching_parameters_file": "ascii BatchingParameters protobuf (needs --enable_batching)",
    "model_config_file": "ascii ModelServerConfig protobuf; --model_name/--model_base_path "
    "are ignored when set",
    "model_name": "name of the model (ignored with --model_config_file)",
    "model_base_path": "folder holding numbered versions (ignored with --model_config_file)",
    "file_system_poll_wait_seconds": "seconds between polls for new versions; 0: poll once",
    "enable_model_warmup": "accepted; our exports carry no warm-up requests to replay",
    "tensorflow_intra_op_parallelism": "threads for one op; 0: TensorFlow's choice",
    "tensorflow_inter_op_parallelism": "ops run at once; 0: TensorFlow's choice",
    "mixed_precision": "bfloat16: bfloat16 automatic mixed precision (pays on AVX512-BF16/AMX "
    "CPUs only); other values are warned about and ignored",
}

_FIELDS = {f.name: f for f in dataclasses.fields(ServerOptions)}


def usage(program: str = "python -m serving") -> str:
    defaults = ServerOptions()
    lines = [f"usage: {program} [--flag=value | --flag value] ...", "Flags:"]
    for name, text in HELP.items():
        default = getattr(defaults, name)
        shown = str(default).lower() if isinstance(default, bool) else f"{default}"
        lines.append(f"  --{name}={shown}".ljust(46) + text)
    return "\n".join(lines)


def parse_flags(argv: list[str]) -> ServerOptions:
    """Reads argv (without the program name); a repeated flag keeps its last value, as the
    official image's entrypoint relies on when it adds its own flags before the user's."""
    values: dict[str, object] = {}
    args = list(argv)
    while args:
        arg = args.pop(0)
        if not arg.startswith("--") or arg == "--":
            raise FlagError(f"unknown argument: {arg}")
        name, has_value, text = arg[2:].partition("=")
        if name not in _FIELDS:
            raise FlagError(f"unknown flag: --{name}")
        kind = _FIELDS[name].type
        if not has_value:
            if kind == "bool":
                text = "true"
            elif args:
                text = args.pop(0)
            else:
                raise FlagError(f"flag --{name} needs a value")
        values[name] = _convert(name, kind, text)
    options = ServerOptions(**values)
    check_options(options)
    return options


def _convert(name: str, kind: str, text: str) -> object:
    if kind == "bool":
        if text.lower() in ("true", "1"):
            return True
        if text.lower() in ("false", "0"):
            return False
        raise FlagError(f"couldn't interpret value {text!r} for flag --{name}")
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise FlagError(f"couldn't interpret value {text!r} for flag --{name}") from None
    return text


def check_options(options: ServerOptions) -> None:
    """The start-up checks of server.cc (Server::BuildAndStart)."""
    if not options.model_base_path and not options.model_config_file:
        raise FlagError("both --model_base_path and --model_config_file are empty")
    if options.batching_parameters_file and not options.enable_batching:
        raise FlagError("--batching_parameters_file is set without --enable_batching")
    if options.port == 0:  # the stand-in has no --grpc_socket_path to take its place
        raise FlagError("At least one of server_options.grpc_port or "
                        "server_options.grpc_socket_path must be set.")
    if min(options.rest_api_num_threads, options.grpc_max_threads) <= 0:
        raise FlagError("--rest_api_num_threads and --grpc_max_threads must be positive")
