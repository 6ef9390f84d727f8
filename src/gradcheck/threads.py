"""BLAS threads chosen by the tool, not left to the BLAS library.

OpenBLAS starts one thread per core of the machine. For the small matrices of most
checks that buys nothing (a 100 x 100 product is done before a second thread wakes),
and on a loaded machine the threads spin against each other and against the other
processes: a slogdet at n = 250 took 1.4 s with two threads where one takes 0.7 ms. So
a check runs BLAS on one thread when its largest matrix is below THREADS_PAY, and
otherwise on this process's share of the cores it may use (its affinity mask, divided
among the worker processes of a run): never more threads than cores.

In a worker process `pin` sets the share once; in any other process (the Python API,
the adapters of PyTorch and JAX) `chosen` limits the threads for the check only and
gives the caller's setting back.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from gradcheck.supervisor import available_cores

__all__ = ["THREADS_PAY", "chosen", "pin", "threads_for"]

# The order of the largest matrix from which BLAS threads pay. bench/threads.py measures
# it; on two idle cores (OpenBLAS 0.3.31) at n = 128 two threads gain 0.1 ms on an
# inverse and lose it on a log-determinant, at n = 256 they take an inverse from 2.9 to
# 2.2 ms and a product from 0.7 to 0.4 ms, at n = 512 from 19 to 13 and from 5.9 to 2.8.
# Below it one thread is as fast on an idle machine, and much faster on a busy one.
THREADS_PAY = 256

_share: int | None = None  # this process's cores for BLAS, once pinned (a worker)
_controllers: dict[bool, Any] = {}
_pinned: set[bool] = set()  # the controllers (keys of _controllers) set to one thread


def threads_for(order: int, share: int | None = None) -> int:
    """The BLAS threads for a check whose largest matrix has this order."""
    cores = share if share is not None else _share if _share is not None else available_cores()
    return 1 if order < THREADS_PAY else max(1, cores)


def pin(share: int) -> None:
    """In a worker process: `share` cores for BLAS from now on, and one thread until a
    check asks for more."""
    global _share
    _share = max(1, share)
    _one_thread()


@contextlib.contextmanager
def chosen(order: int) -> Iterator[None]:
    """BLAS threads for one check (see `threads_for`), the setting before it restored."""
    want = threads_for(order)
    if _share is not None and want == 1:  # a pinned worker runs on one thread already
        _one_thread()
        yield
        return
    with _controller().limit(limits=want):
        yield


def _one_thread() -> None:
    """The BLAS libraries loaded so far on one thread. SciPy brings its own OpenBLAS when a
    check first imports scipy.linalg, after `pin`; left at its default of one thread a core,
    its threads spun against the other worker's (the catalogue took 24 s of CPU, not 18)."""
    key = "scipy.linalg" in sys.modules
    if key not in _pinned:
        _controller().limit(limits=1)
        _pinned.add(key)


def _controller() -> Any:
    """A controller of the BLAS libraries loaded (SciPy's own OpenBLAS once scipy.linalg
    is imported: a check of a large matrix uses it); building one reads the process's
    libraries, so it is kept."""
    import numpy  # noqa: F401  (loads the BLAS library that the controller must find)
    from threadpoolctl import ThreadpoolController

    key = "scipy.linalg" in sys.modules
    if key not in _controllers:
        _controllers[key] = ThreadpoolController()
    return _controllers[key]
