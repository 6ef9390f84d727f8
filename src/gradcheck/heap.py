"""How a worker process's C heap gives memory back.

glibc's malloc hands an array of more than 128 kB to the kernel as its own mapping and
unmaps it when the array is freed, raising that threshold only as far as the sizes it
sees freed; and it returns the top of the heap once more than twice the threshold lies
free there. A check of a large matrix makes and frees arrays of that order at every
probe (a direction, the moved point, f's value there), so the kernel maps them afresh
each time and zeroes every page of them on first touch: `verify logdet --size 1000` took
98,000 page faults and 1.5-1.7 s, of which 0.15 s was that; with the thresholds below,
33,000 and 1.35-1.45 s. The peak a check holds is the same: only memory already freed is
kept, up to TRIM_FROM, for the next array of its size.

Only the processes a run starts for its checks are set (see `checker._worker_init`):
the Python API and the adapters run in the caller's process, whose heap is its own
business. A setting of the caller's environment (glibc's MALLOC_*_ variables) is left
as it is.
"""

from __future__ import annotations

import ctypes
import os
import platform

__all__ = ["MMAP_FROM", "TRIM_FROM", "keep_freed"]

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Arrays up to 32 MiB (a 2048 x 2048 real matrix, a 1448 x 1448 complex one) come from
# the heap: glibc's own ceiling for the threshold it adapts on 64-bit machines. Larger
# ones are still mapped and unmapped, so that a heap never keeps a freed giant.
MMAP_FROM = 32 * 1024 * 1024
# Up to 64 MiB of freed memory stays at the top of the heap (at n = 1000 as many faults
# are saved as with 256 MiB).
TRIM_FROM = 64 * 1024 * 1024
# A variable of the caller's that sets what we would set
_CALLERS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")


def keep_freed() -> bool:
    """Keep freed arrays of up to MMAP_FROM bytes in this process's heap for reuse; True
    where set. Where the C library is not glibc, or the caller's environment sets
    malloc's thresholds, nothing is changed."""
    if platform.libc_ver()[0] != "glibc" or any(name in os.environ for name in _CALLERS):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # the mapping threshold first: set explicitly, it also stops glibc adapting the other
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_FROM)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_FROM))
