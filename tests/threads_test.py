from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info

from gradcheck import threads
from gradcheck.threads import THREADS_PAY, chosen, threads_for


def _blas_threads() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_small_checks_run_on_one_thread_large_ones_on_the_share_of_cores() -> None:
    assert threads_for(THREADS_PAY - 1, share=2) == 1
    assert threads_for(THREADS_PAY, share=2) == 2
    assert threads_for(10_000, share=1) == 1  # never more threads than the cores given
    assert threads_for(10_000, share=0) == 1


def test_a_check_in_this_process_gives_the_setting_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "_share", None)
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    monkeypatch.setattr(threads, "_others_running", lambda: 0)
    before = _blas_threads()
    with chosen(4):
        assert _blas_threads() == {1}
    assert _blas_threads() == before
    with chosen(THREADS_PAY):
        assert _blas_threads() == {2}
    assert _blas_threads() == before


def test_a_pinned_worker_stays_on_one_thread_between_large_checks() -> None:
    code = """
from threadpoolctl import threadpool_info
from gradcheck import threads
def blas():
    return sorted({l["num_threads"] for l in threadpool_info() if l["user_api"] == "blas"})
threads._others_running = lambda: 0  # as on an idle machine (the suite runs beside it)
threads.pin(2)
print(blas())
with threads.chosen(threads.THREADS_PAY):
    print(blas())
with threads.chosen(3):
    print(blas())
print(blas())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={"OPENBLAS_NUM_THREADS": "4", "PATH": ""}, check=True).stdout.split("\n")
    assert out[:4] == ["[1]", "[2]", "[1]", "[1]"]


def test_scipys_blas_loaded_after_pinning_runs_on_one_thread_too() -> None:
    # SciPy's wheels bring an OpenBLAS of their own, loaded when a check first imports
    # scipy.linalg; at its default it spun against the other worker's threads
    code = """
import json
from threadpoolctl import threadpool_info
from gradcheck import threads
def blas():
    return sorted((l["filepath"].rsplit("/", 1)[-1], l["num_threads"])
                  for l in threadpool_info() if l["user_api"] == "blas")
threads.pin(1)
import scipy.linalg
with threads.chosen(3):
    print(json.dumps(blas()))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={"OPENBLAS_NUM_THREADS": "4", "PATH": ""}, check=True).stdout
    libraries = json.loads(out)  # [file, threads] of each BLAS library
    assert len(libraries) >= 1 and {n for _, n in libraries} == {1}, libraries


@pytest.mark.parametrize(("others", "expected"), [(0, 2), (1, 1), (5, 1)])
def test_a_large_check_leaves_the_cores_other_processes_run_on(
        others: int, expected: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "_share", None)
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    monkeypatch.setattr(threads, "_others_running", lambda: others)
    with chosen(THREADS_PAY):
        assert _blas_threads() == {expected}


def _proc(tmp_path: Path, loadavg: str, own: list[str], parent: list[str]) -> str:
    (tmp_path / "loadavg").write_text(loadavg)
    for pid, states in (("self", own), (str(os.getppid()), parent)):
        for k, state in enumerate(states):
            (tmp_path / pid / "task" / str(k)).mkdir(parents=True)
            (tmp_path / pid / "task" / str(k) / "stat").write_text(f"{k} (python (x) y) {state} 1 2 3\n")
    return str(tmp_path)


@pytest.mark.parametrize(("loadavg", "own", "parent", "others"), [
    ("0.50 0.40 0.30 4/230 9999\n", ["R", "S", "R"], ["S"], 2),  # its own two running threads are not others
    ("0.50 0.40 0.30 4/230 9999\n", ["R"], ["R", "S"], 2),  # nor its parent's (a supervisor going to wait)
    ("0.50 0.40 0.30 1/230 9999\n", ["R"], [], 0),
    ("0.50 0.40 0.30 1/230 9999\n", ["R", "R"], ["R"], 0),  # counted at another moment: never below 0
    ("garbled\n", ["R"], [], 0),  # unreadable: as if idle (the share of cores, as before)
])
def test_the_other_running_tasks_are_the_runnable_ones_less_this_processs_and_its_parents(
        loadavg: str, own: list[str], parent: list[str], others: int, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "PROC", _proc(tmp_path, loadavg, own, parent))
    assert threads._others_running() == others


def test_a_thread_that_ends_while_it_is_read_is_not_running(tmp_path: Path) -> None:
    tasks = tmp_path / "task"
    for k, stat in enumerate(["1 (python) R 0\n", "", None]):  # running, emptied, gone
        (tasks / str(k)).mkdir(parents=True)
        if stat is not None:
            (tasks / str(k) / "stat").write_text(stat)
    assert threads._running(str(tasks)) == 1
    assert threads._running(str(tmp_path / "no such process")) == 0


def test_a_task_that_passes_is_not_counted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    readings = iter([3, 2, 3])  # a kernel task ran at the first and the last reading only
    monkeypatch.setattr(threads, "PROC", _proc(tmp_path, "", ["R"], []))
    monkeypatch.setattr(threads, "_runnable", lambda: next(readings))
    assert threads._others_running() == 1  # the least of the readings (2 - 1), not the first


@pytest.mark.skipif(not Path("/proc/loadavg").exists(), reason="Linux's /proc")
def test_a_busy_process_is_seen_running() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        for _ in range(200):  # until it runs its loop
            with open(f"/proc/{busy.pid}/stat") as f:
                if f.read().rpartition(")")[2].split()[0] == "R":
                    break
        assert threads._others_running() >= 1
    finally:
        busy.kill()
        busy.wait()
