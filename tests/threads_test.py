from __future__ import annotations

import json
import subprocess
import sys

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
