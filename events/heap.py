"""Giving freed memory back to the system, so that the `serve` tree stays small after a burst.

CPython frees the objects of a processed batch (a 4 MB body of 2,000 results parses into tens
of MB of dicts and rows), but glibc's allocator keeps the freed pages in its heaps, so a worker
that once held a big batch keeps that RSS for good. malloc_trim(0) hands them back. It walks
the heap (a millisecond or so), so it runs after a round of work, at most once a second.
Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


class HeapTrimmer:
    """Call after a round of work: trims the heap at most every `every_seconds`."""

    def __init__(self, every_seconds: float = 1.0) -> None:
        self.every_seconds = every_seconds
        self._trim = _malloc_trim()
        self._last = 0.0

    def __call__(self) -> None:
        now = time.monotonic()
        if self._trim is None or now - self._last < self.every_seconds:
            return
        self._last = now
        self._trim(0)
