"""Pin glibc's malloc thresholds so that large temporaries behave the same in every run.

glibc raises its mmap threshold adaptively after the first large free, so the same code can
page-fault on every call in one run and reuse heap memory in the next. `mallopt` with a fixed
value turns the adaptation off. 128 KiB is glibc's own starting value: large buffers are
mmap'd and unmapped each time, the cost PyTorch's CPU allocator leaves to the program.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
DEFAULT_THRESHOLD = 128 * 1024


def pin_thresholds(mmap_threshold: int = DEFAULT_THRESHOLD, trim_threshold: int = DEFAULT_THRESHOLD) -> bool:
    """True when glibc accepted both settings (False off glibc: nothing pinned)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(M_TRIM_THRESHOLD, trim_threshold))
