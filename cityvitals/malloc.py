"""Keep freed memory in the process for the next arrays, rather than giving it back page by page (glibc).

numpy allocates a new array for most operations and frees it soon after. Arrays above glibc's
mmap threshold (128 KB at first, rising with what is freed) are mapped fresh and returned on
free, and the heap's free top is trimmed past a threshold twice that: every such array is then
paid again in page faults (about 1,900 a tick at 502 grids, a sixth of a backtest's time, most of
it system time). With both thresholds raised, those arrays come from memory the process already
holds. At province scale the largest matrices stay mapped apart (above the mmap threshold).
"""

from __future__ import annotations

import ctypes
import gc

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (malloc.h)
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest on 64-bit systems: smaller blocks come from the heap
TRIM_THRESHOLD = 256 * 2**20  # free memory kept at the heap's top before any of it is given back


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; False where the C library has no ``mallopt``."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # the C library the process runs with
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def give_back() -> bool:
    """Free unreachable cycles, then return the heaps' free pages to the system (glibc's ``malloc_trim``).

    After a pass over whole matrices (an engine's first tick at province scale), glibc keeps the
    pages of its freed temporaries below 32 MB: at 100,000 grids 0.4 GB, and 1.5 GB once the
    cycles still holding some were collected, that steady ticks, working on the rows that moved,
    never use again. False where the C library has no ``malloc_trim``.
    """
    gc.collect()  # a full collection: once per pass from nothing, not per tick
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is None:
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True
