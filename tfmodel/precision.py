"""bfloat16 automatic mixed precision, the way TF Serving's `--mixed_precision=bfloat16` does it.

TF Serving (2.15 and later) turns on grappler's `auto_mixed_precision_onednn_bfloat16` rewrite
for every model it loads: the SavedModel stays float32 and portable, and at load time the
convolutions and the element-wise ops between them are rewritten to bfloat16, with casts at the
edges. The in-process backend and the stand-in use the same rewrite, so a model behaves the same
in all three. It pays only where oneDNN has native bfloat16 (AVX512-BF16 or AMX-BF16); elsewhere
the rewritten graph is emulated and was measured 8x slower than float32, so callers check
`unsupported_reason` first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MODES = ("", "bfloat16")  # "" is float32 throughout, TF Serving's default
NATIVE_FLAGS = {"avx512_bf16", "amx_bf16"}


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags (Linux); empty where they cannot be read."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def unsupported_reason(flags: set[str] | None = None,
                       environ: Mapping[str, str] = os.environ) -> str:
    """Why bfloat16 would be slow here, or "" when oneDNN can run it natively."""
    if not (cpu_flags() if flags is None else flags) & NATIVE_FLAGS:
        return "this CPU has neither AVX512-BF16 nor AMX-BF16"
    if environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower() in ("0", "false"):
        return "TF_ENABLE_ONEDNN_OPTS turns oneDNN off"
    return ""


def enable(tf: Any, mode: str) -> None:
    """Before the first model is loaded: the rewrite applies to every graph of the process."""
    if mode not in MODES:
        raise ValueError(f"mixed precision {mode!r}: valid options are 'bfloat16' or none")
    if mode:
        tf.config.optimizer.set_experimental_options(
            {"auto_mixed_precision_onednn_bfloat16": True})
