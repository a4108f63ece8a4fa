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


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", CYCLES, mode], capture_output=True, text=True, check=True)
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_arrays_freed_and_allocated_again_take_no_new_pages():
    kept, given_back = _faults("keep"), _faults("default")
    pages = 50 * 12 * 2**20 // 4096  # what the cycles would fault in if every array came from new pages
    assert kept < pages // 50, (kept, given_back)
    assert given_back > pages // 4, (kept, given_back)  # by default glibc gives pages back: the test means something


def test_keep_freed_memory_applies_where_the_c_library_has_mallopt():
    assert malloc.keep_freed_memory() is sys.platform.startswith("linux")
