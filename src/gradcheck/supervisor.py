"""Work in processes that the parent watches over.

A catalogue comes from other people, and one identity can kill the process that checks
it (the kernel's OOM killer, a crash in native code) or sit in a native call that no
signal interrupts (SciPy's logm of a large matrix). So checks run in worker processes,
and the parent, which runs no catalogue code, supervises them: a worker that dies or
passes its hard deadline is killed and replaced, and its item gets the result that
`lost` gives it; every other item's result stands. Results come back in input order.

The parent waits on the workers' pipes and process sentinels together, so a dead worker
is seen at once, whatever killed it; a worker whose parent is gone reads end-of-file and
exits quietly. Work functions and items travel by pickling, so any start method works.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, TypeVar

__all__ = ["supervised", "available_cores", "Lost"]

T = TypeVar("T")
R = TypeVar("R")

KILL_GRACE = 5.0  # seconds a worker has past its own timeout before it is killed


@dataclass(frozen=True)
class Lost:
    """Why a worker returned no result for an item: it died, or was killed at its deadline."""

    reason: str  # "died" or "deadline"
    detail: str  # for the reader: "killed by signal 9 (SIGKILL; out of memory?)"


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, as a container's quota
    sets it), not the host's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _serve(conn: Connection, work: Callable[[Any], Any], initializer: Callable[[], None] | None,
           inherited: Sequence[Connection] = ()) -> None:
    """A worker's loop: items in, results out, until told to stop or the parent is gone.
    `inherited`: the parent's ends of pipes that a forked worker holds copies of (its own
    and its elder siblings'); closed, so that the parent's death is end-of-file here."""
    for end in inherited:
        end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if initializer is not None:
        initializer()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        index, item = message
        result = work(item)
        try:
            conn.send((index, result))
        except (BrokenPipeError, OSError):
            return
        except Exception as exc:  # a result that does not pickle: its item is lost, not the worker
            conn.send((index, Lost("died", f"its result could not be sent back ({type(exc).__name__}: {exc})")))


@dataclass
class _Worker(Generic[T]):
    process: Any  # multiprocessing.Process of the context
    conn: Connection
    task: tuple[int, T] | None = None
    deadline: float = float("inf")
    started: float = field(default_factory=time.monotonic)

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


def _start(ctx: Any, work: Callable[[T], R], initializer: Callable[[], None] | None,
           siblings: Sequence[_Worker[T]]) -> _Worker[T]:
    parent, child = ctx.Pipe()
    # a forked child holds copies of every descriptor; other start methods pass none
    inherited = [parent, *(w.conn for w in siblings)] if ctx.get_start_method() == "fork" else []
    process = ctx.Process(target=_serve, args=(child, work, initializer, inherited), daemon=True)
    process.start()
    child.close()
    return _Worker(process, parent)


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        number = -exitcode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        why = "; out of memory?" if number == signal.SIGKILL else ""
        return f"killed by signal {number} ({name}{why})"
    return f"exited with status {exitcode}"


def supervised(items: Sequence[T], work: Callable[[T], R], lost: Callable[[T, Lost], R], *, jobs: int,
               limit: float | None, initializer: Callable[[], None] | None = None,
               method: str | None = None) -> Iterator[R]:
    """`work(item)` for every item, in `jobs` worker processes, yielded in item order.
    An item whose worker dies, or runs `limit` seconds (plus a grace) without a result,
    yields `lost(item, why)` and its worker is replaced. `method`: the start method
    (default: the platform's). Stopping the iteration early (Ctrl-C in the caller, a
    closed generator) kills every worker."""
    ctx = multiprocessing.get_context(method)
    pending = list(enumerate(items))[::-1]
    finished: dict[int, R] = {}
    workers: list[_Worker[T]] = []
    for _ in range(max(1, min(jobs, len(items)))):
        workers.append(_start(ctx, work, initializer, workers))
    deadline = (limit + max(KILL_GRACE, 0.1 * limit)) if limit else None
    following = 0
    try:
        while following < len(items):
            for worker in workers:
                if worker.task is None and pending:
                    worker.task = pending.pop()
                    worker.deadline = time.monotonic() + deadline if deadline else float("inf")
                    worker.conn.send(worker.task)
            busy = [w for w in workers if w.task is not None]
            soonest = min(w.deadline for w in busy) - time.monotonic()
            ready = set(wait([*(w.conn for w in busy), *(w.process.sentinel for w in busy)],
                             timeout=None if soonest == float("inf") else max(0.0, soonest)))
            for i, worker in enumerate(workers):
                outcome = _outcome(worker, ready, lost)
                if outcome is None:
                    continue
                index, result, replace = outcome
                finished[index] = result
                worker.task = None
                if replace:
                    worker.stop()
                    if pending:
                        workers[i] = _start(ctx, work, initializer, workers[:i] + workers[i + 1:])
            while following in finished:
                yield finished.pop(following)
                following += 1
    finally:
        for worker in workers:
            worker.stop()


def _outcome(worker: _Worker[T], ready: set[Any], lost: Callable[[T, Lost], R]) -> tuple[int, R, bool] | None:
    """What a busy worker has to show: (index, result, whether to replace the worker)."""
    if worker.task is None:
        return None
    index, item = worker.task
    if worker.conn in ready:
        try:
            got, result = worker.conn.recv()
            return got, (lost(item, result) if isinstance(result, Lost) else result), False
        except (EOFError, OSError):
            pass  # it died while sending: below
    if worker.process.sentinel in ready or not worker.process.is_alive():
        worker.process.join()
        return index, lost(item, Lost("died", _death(worker.process.exitcode))), True
    if time.monotonic() >= worker.deadline:
        return index, lost(item, Lost("deadline", "still running past its deadline")), True
    return None
