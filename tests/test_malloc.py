"""Freed memory is kept for the next arrays: a backtest's ticks do not pay their arrays again in page faults."""

import subprocess
import sys

import pytest

from cityvitals import malloc

# Allocate and fill three 4 MB arrays, free them, 50 times over; print the page faults. By default glibc
# maps the first ones apart, then takes them from the heap but gives back its free top past twice
# the largest freed (three such arrays are past it): each cycle comes back as new pages.
CYCLES = """
import resource, sys
import numpy as np
from cityvitals import malloc
if sys.argv[1] == "keep":
    assert malloc.keep_freed_memory()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    arrays = [np.ones(4 * 2**20 // 8) for _ in range(3)]
    del arrays
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _run(code: str, mode: str) -> int:
    """The number a script prints, run in a process of its own with ``mode``."""
    out = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True)
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_arrays_freed_and_allocated_again_take_no_new_pages():
    kept, given_back = _run(CYCLES, "keep"), _run(CYCLES, "default")
    pages = 50 * 12 * 2**20 // 4096  # what the cycles would fault in if every array came from new pages
    assert kept < pages // 50, (kept, given_back)
    assert given_back > pages // 4, (kept, given_back)  # by default glibc gives pages back: the test means something


def test_keep_freed_memory_applies_where_the_c_library_has_mallopt():
    assert malloc.keep_freed_memory() is sys.platform.startswith("linux")


# Fill 400 MB of 4 MB arrays from the heap (mmap threshold raised), keep one small block above them so
# that the heap's top is not free, free the arrays; print how much the resident memory fell after it.
GIVE_BACK = """
import os, sys
from pathlib import Path
import numpy as np
from cityvitals import malloc
def rss():
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
assert malloc.keep_freed_memory()
arrays = [np.ones(4 * 2**20 // 8) for _ in range(100)]
above = np.ones(16)
del arrays
before = rss()
if sys.argv[1] == "give":
    assert malloc.give_back()
print(before - rss())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_heap_pages_go_back_to_the_system_when_given_back():
    given, held = _run(GIVE_BACK, "give"), _run(GIVE_BACK, "hold")
    assert given > 100 * 2**20, (given, held)  # what is past the trim threshold (256 MB) went back at once
    assert held < 20 * 2**20, (given, held)  # without it glibc holds them: the test means something
