"""BLAS threads chosen by the tool, not left to the BLAS library.

OpenBLAS starts one thread per core of the machine. For the small matrices of most
checks that buys nothing (a 100 x 100 product is done before a second thread wakes),
and on a loaded machine the threads spin against each other and against the other
processes: a slogdet at n = 250 took 1.4 s with two threads where one takes 0.7 ms. So
a check runs BLAS on one thread when its largest matrix is below THREADS_PAY, and
otherwise on this process's share of the cores it may use (its affinity mask, divided
among the worker processes of a run), less one for each task of another process that
is running when the check starts: never more threads than cores, nor than idle ones.

In a worker process `pin` sets the share once; in any other process (the Python API,
the adapters of PyTorch and JAX) `chosen` limits the threads for the check only and
gives the caller's setting back.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
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
PROC = "/proc"  # where Linux tells what runs (see `_others_running`)
SAMPLES = 3

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
    if want > 1:  # on a busy machine an extra thread waits for a core and makes the others wait
        want = max(1, want - _others_running())
    if _share is not None and want == 1:  # a pinned worker runs on one thread already
        _one_thread()
        yield
        return
    with _controller().limit(limits=want):
        yield


def _others_running() -> int:
    """The tasks of other processes running or waiting for a core: Linux's count of
    runnable tasks (/proc/loadavg, its fourth field) less this process's and its parent's
    (their threads in state R: OpenBLAS's spinning ones, the supervisor of a `verify`
    that has not yet gone to wait), the least of SAMPLES readings over a millisecond (a
    spinning process is runnable at every one, a passing kernel task is not); 0 where it
    cannot be read. With both of two cores taken by other processes, `verify logdet
    --size 1000` took 5.4 s on two threads and 3.0 s on one. The count is the machine's,
    not the affinity mask's: confined to some cores of a busy machine, a check keeps to
    one thread."""
    ours = [os.path.join(PROC, "self", "task"), os.path.join(PROC, str(os.getppid()), "task")]
    counts = []
    for k in range(SAMPLES):
        if k:
            time.sleep(0.0005)
        try:
            runnable = _runnable()
        except (OSError, ValueError, IndexError):
            return 0
        counts.append(runnable - sum(_running(folder) for folder in ours))
    return max(0, min(counts))


def _runnable() -> int:
    """The machine's runnable tasks now (the first half of /proc/loadavg's fourth field)."""
    with open(os.path.join(PROC, "loadavg"), encoding="ascii") as f:
        return int(f.read().split()[3].split("/")[0])


def _running(tasks: str) -> int:
    """How many of the threads listed in `tasks` (a /proc/PID/task folder) are in state R."""
    try:
        names = os.listdir(tasks)
    except OSError:
        return 0
    count = 0
    for task in names:
        try:
            with open(os.path.join(tasks, task, "stat"), encoding="ascii", errors="replace") as f:
                count += f.read().rpartition(")")[2].split()[0] == "R"  # the state follows the name
        except (OSError, IndexError):
            pass  # a thread that ended meanwhile
    return count


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
