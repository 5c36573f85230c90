"""Giving a worker's freed memory back to the system after large work.

TensorFlow's CPU tensors come from malloc. glibc keeps freed heap memory for reuse, and raises
its mmap threshold each time a large block is freed, so after one large page a worker stayed
gigabytes above its baseline for good. A fixed threshold sends large blocks to mmap (returned
on free), and a trim after large work returns what the heaps hold. Elsewhere than glibc: no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h
MMAP_THRESHOLD = 4 * 1024 * 1024  # blocks this large are mapped and unmapped on their own


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def configure_allocator() -> None:
    """Large blocks are mmapped, whatever was freed before (the threshold stops adapting)."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def return_free_memory() -> None:
    """Returns the free memory at the top and inside of every malloc arena to the system."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
