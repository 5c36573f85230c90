"""The `tensorflow_model_server` flags the stand-in's callers pass (docker-compose.yml and the
official image's entrypoint, `make run-stack`, the tests), with its names and defaults (main.cc,
server.h). Write `--flag=value`: the real binary reads only that form (and a bare `--flag` for
booleans). A repeated flag keeps its last value, as the entrypoint relies on when it adds its own
flags before the command's; unknown flags are refused (the real binary warns and carries on)."""

from __future__ import annotations

import argparse


def _bool(text: str) -> bool:
    if text.lower() not in ("true", "1", "false", "0"):
        raise argparse.ArgumentTypeError(f"couldn't interpret value {text!r}")
    return text.lower() in ("true", "1")


def parser() -> argparse.ArgumentParser:
    flags = argparse.ArgumentParser(prog="python -m serving", allow_abbrev=False,
                                    description="Development stand-in for TensorFlow Serving.")
    add = flags.add_argument
    add("--port", type=int, default=8500, help="TCP port for the gRPC API")
    add("--grpc_host", default="0.0.0.0", help="address for the gRPC API (stand-in only)")
    add("--rest_api_port", type=int, default=0, help="port for the REST API; 0: none")
    add("--rest_api_host", default="0.0.0.0", help="address for the REST API (stand-in only)")
    add("--rest_api_timeout_in_ms", type=int, default=30000,
        help="a REST call past this answers 504; 0 or less: no timeout")
    add("--model_name", default="default", help="ignored with --model_config_file")
    add("--model_base_path", default="", help="folder of numbered versions (idem)")
    add("--model_config_file", default="", help="text ModelServerConfig")
    add("--enable_batching", type=_bool, nargs="?", const=True, default=False,
        help="accepted; the stand-in runs each call on its own")
    add("--batching_parameters_file", default="", help="must be readable (needs the flag above)")
    add("--file_system_poll_wait_seconds", type=int, default=1,
        help="seconds between looks for new versions; 0 or less: at start only")
    add("--mixed_precision", default="",
        help="bfloat16: TF Serving's bfloat16 rewrite; other values are warned about")
    return flags


def parse_flags(argv: list[str]) -> argparse.Namespace:
    """The options, after the start-up checks of server.cc that apply here."""
    flags = parser()
    options = flags.parse_args(argv)
    if not options.model_base_path and not options.model_config_file:
        flags.error("both --model_base_path and --model_config_file are empty")
    if options.batching_parameters_file and not options.enable_batching:
        flags.error("--batching_parameters_file is set without --enable_batching")
    return options
