"""Coverage-guided fuzzing (atheris) of the decode path and of the route: `make fuzz`."""

from __future__ import annotations

import sys
from collections.abc import Callable

import atheris


def run(check: Callable[[bytes], None]) -> None:
    """libFuzzer's loop over `check`, its flags taken from the command line."""
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()
