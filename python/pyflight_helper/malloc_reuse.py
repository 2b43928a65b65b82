"""Keeps the helper's freed memory for reuse, which halves the cost of a stack read.

pystack copies each memory map it touches whole into a fresh buffer (its cache), every call: on
Python 3.11 that includes the 8 MB C stack of every thread (the `_PyCFrame` lives there). glibc
serves such buffers with mmap and unmaps them on free, so every read faulted in and zeroed ~8 MB
of new pages per thread again. Raising the mmap and trim thresholds makes glibc hand the same,
already-mapped pages back instead. Costs the helper (never the target) up to the largest read's
worth of resident memory (pystack's cache is capped at 50 MB).
"""

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's ceiling on 64-bit
_TRIM_THRESHOLD = 128 * 1024 * 1024

_done = False


def keep_freed_memory():
    """Once per helper; a no-op where the C library is not glibc."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return
    _done = True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return  # musl and others: no mallopt, reads just stay slower
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
    mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
