"""`python -m serving`: the local TF-Serving-compatible server (development and test stand-in)."""

from __future__ import annotations

import logging
import sys

from serving.config_files import ConfigError
from serving.flags import FlagError, parse_flags, usage


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--help" in args or "-h" in args:
        print(usage())
        return 0
    try:
        options = parse_flags(args)
    except FlagError as error:
        print(f"error: {error}\n\n{usage()}", file=sys.stderr)
        return 2
    configure_logging()
    from serving.server import run_server  # TensorFlow is imported only past the flag checks

    try:
        return run_server(options)
    except (ConfigError, OSError) as error:
        logging.getLogger("serving").error("Failed to start server. Error: %s", error)
        return 1


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
