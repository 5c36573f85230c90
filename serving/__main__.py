"""`python -m serving`: the local TF-Serving-compatible server (development and test stand-in)."""

from __future__ import annotations

import logging
import sys

from serving.config_files import ConfigError, model_configs
from serving.flags import parse_flags


def main(argv: list[str] | None = None) -> int:
    options = parse_flags(sys.argv[1:] if argv is None else argv)  # exits 2 on a bad flag
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        configs = model_configs(options)
        from serving.server import run_server  # TensorFlow is imported only past the checks

        return run_server(options, configs)
    except (ConfigError, OSError) as error:
        logging.getLogger("serving").error("Failed to start server. Error: %s", error)
        return 1


if __name__ == "__main__":
    sys.exit(main())
