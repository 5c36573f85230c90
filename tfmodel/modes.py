"""The answer's modes (the request key `saida`) and the SavedModel signature that makes each:
the one naming rule the exporter, the model backends and the benchmarks share.

`cinza` is `serving_default`, so clients and TF Serving callers that name no signature get the
grayscale answer they always had; versions exported before the modes have only that one.
"""

from __future__ import annotations

DEFAULT = "cinza"
SIGNATURES = {"cinza": "serving_default", "cor": "cor", "binaria": "binaria"}
MODES = tuple(SIGNATURES)


def signature(mode: str) -> str:
    """The signature key of a mode (KeyError for an unknown one)."""
    return SIGNATURES[mode]
