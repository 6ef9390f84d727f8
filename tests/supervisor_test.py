"""Worker processes that the parent supervises: deaths, deadlines, order, start methods."""
from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from gradcheck import supervisor
from gradcheck.supervisor import Lost, available_cores, supervised


def _work(item: int) -> tuple[str, int]:
    if item == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # what the OOM killer does
    if item == 5:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(60)  # a native call no signal interrupts
    return ("done", item * item)


def _lost(item: int, why: Lost) -> tuple[str, int]:
    return (f"{why.reason}: {why.detail}", item)


def test_results_come_back_in_order() -> None:
    assert list(supervised([0, 1, 2, 4, 6, 7], _work, _lost, jobs=2, limit=None)) == \
        [("done", 0), ("done", 1), ("done", 4), ("done", 16), ("done", 36), ("done", 49)]


def test_a_dead_worker_is_its_item_lost_and_the_rest_go_on() -> None:
    got = list(supervised([1, 3, 4], _work, _lost, jobs=1, limit=None))
    assert got == [("done", 1), ("died: killed by signal 9 (SIGKILL; out of memory?)", 3), ("done", 16)]


def test_a_stuck_worker_is_killed_at_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor, "KILL_GRACE", 0.3)
    start = time.monotonic()
    got = list(supervised([5, 2], _work, _lost, jobs=2, limit=0.2))
    assert got == [("deadline: still running past its deadline", 5), ("done", 4)]
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_every_start_method(method: str) -> None:
    assert list(supervised([2, 3, 4], _work, _lost, jobs=2, limit=None, method=method)) == \
        [("done", 4), ("died: killed by signal 9 (SIGKILL; out of memory?)", 3), ("done", 16)]


def test_stopping_early_kills_the_workers() -> None:
    results = supervised([1, 5, 5], _work, _lost, jobs=2, limit=None)
    assert next(results) == ("done", 1)
    children = _children()
    assert children
    results.close()
    time.sleep(0.2)
    assert not (_children() & children)


def _children() -> set[int]:
    import multiprocessing

    return {p.pid for p in multiprocessing.active_children() if p.pid is not None}


def test_cores_are_the_affinity_mask() -> None:
    assert available_cores() == len(os.sched_getaffinity(0))


def test_a_worker_whose_parent_is_gone_exits_quietly(tmp_path: Any) -> None:
    import subprocess
    import sys

    script = tmp_path / "orphan.py"
    script.write_text(
        "import multiprocessing, os, signal, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from supervisor_test import _work, _lost\n"
        "from gradcheck.supervisor import supervised\n"
        "results = supervised([1, 2, 4], _work, _lost, jobs=2, limit=None)\n"
        "next(results)\n"
        "print(*[p.pid for p in multiprocessing.active_children()], flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)  # the parent dies without stopping its workers\n")
    proc = subprocess.run([sys.executable, str(script), os.path.dirname(__file__)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert "Traceback" not in proc.stderr, proc.stderr
    workers = [int(p) for p in proc.stdout.split()]
    assert workers
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
