"""Giving a worker's freed memory back to the system after large work.

TensorFlow allocates with malloc here (api/tf_runtime.py turns oneDNN's own pool off: it never
returned memory, and one large page left a worker gigabytes above its baseline for good). glibc
keeps freed heap memory for reuse; a trim after large work returns it. Elsewhere: no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def return_free_memory() -> None:
    """Returns the free memory at the top and inside of every malloc arena to the system."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
