"""gradcheck.heap: a worker's freed arrays are reused, not mapped and zeroed afresh."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

from gradcheck import heap

GLIBC = platform.libc_ver()[0] == "glibc"

# Page faults of making a 16 MiB array again after one was freed, in a new process set up
# as `setup` says (huge pages off: a kernel that backs arrays with them faults 512 times
# less, which would hide the difference measured).
FAULTS = textwrap.dedent("""
    import resource, sys
    import numpy as np
    {setup}
    def faults():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        a = np.ones(2 * 1024 * 1024)  # 16 MiB, every page touched
        after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        del a
        return after - before
    faults()
    print(faults())
""")
PAGES = 16 * 1024 * 1024 // os.sysconf("SC_PAGE_SIZE")


def _faults(setup: str, **env: str) -> int:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    environment.update(NUMPY_MADVISE_HUGEPAGE="0", **env)
    done = subprocess.run([sys.executable, "-c", FAULTS.format(setup=setup)], capture_output=True, text=True,
                          env=environment, check=True)
    return int(done.stdout)


@pytest.mark.skipif(not GLIBC, reason="malloc's thresholds are glibc's")
@pytest.mark.parametrize("setup", [
    "from gradcheck.heap import keep_freed; assert keep_freed()",
    "from gradcheck.checker import _worker_init; _worker_init()",
])
def test_a_large_array_made_again_reuses_the_freed_ones_pages(setup: str) -> None:
    assert _faults("") > PAGES // 2  # mapped afresh by default: a fault a page
    assert _faults(setup) < PAGES // 20


@pytest.mark.skipif(not GLIBC, reason="malloc's thresholds are glibc's")
def test_the_callers_own_malloc_settings_are_left_as_they_are() -> None:
    setup = "from gradcheck.heap import keep_freed; assert not keep_freed()"
    assert _faults(setup, MALLOC_TRIM_THRESHOLD_="0") > PAGES // 2


@pytest.mark.skipif(not GLIBC, reason="malloc's thresholds are glibc's")
def test_an_array_larger_than_the_threshold_is_still_given_back() -> None:
    code = textwrap.dedent(f"""
        import resource, numpy as np
        from gradcheck.heap import keep_freed
        assert keep_freed()
        np.ones({2 * heap.MMAP_FROM // 8})  # made and freed at once
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, open("/proc/self/statm").read().split()[1])
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "NUMPY_MADVISE_HUGEPAGE": "0"})
    peak_kb, resident_pages = map(int, done.stdout.split())
    resident_kb = resident_pages * os.sysconf("SC_PAGE_SIZE") // 1024
    assert peak_kb - resident_kb > heap.MMAP_FROM // 1024  # the 64 MiB left the process


def test_nothing_is_changed_where_the_c_library_is_not_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    assert heap.keep_freed() is False
