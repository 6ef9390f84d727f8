"""Where BLAS threads start to pay: the order from which gradcheck.threads.THREADS_PAY
lets a check use more than one thread.

Times a log-determinant, an inverse and a matrix product at orders 128 ... 1024 on one
thread and on every core this process may use. Run it on an idle machine: on a busy one
the extra threads only wait for cores (which is why small checks stay on one).

    python bench/threads.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import ThreadpoolController

from gradcheck.supervisor import available_cores
from gradcheck.threads import THREADS_PAY

ORDERS = (128, 256, 384, 512, 768, 1024)


def _ms(fn: Callable[[], object], n: int) -> float:
    fn()
    reps = max(3, int(2e8 / n**3))
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - start) / reps * 1e3


def _timings(a: np.ndarray, b: np.ndarray) -> list[float]:
    n = a.shape[0]
    return [_ms(lambda: np.linalg.slogdet(a), n), _ms(lambda: np.linalg.inv(a), n), _ms(lambda: a @ b, n)]


def main() -> None:
    controller = ThreadpoolController()
    cores = available_cores()
    rng = np.random.default_rng(0)
    print(f"milliseconds per call, 1 thread | {cores} threads (THREADS_PAY = {THREADS_PAY})")
    print(f"{'n':>6} {'slogdet':>9} {'inv':>9} {'matmul':>9} | {'slogdet':>9} {'inv':>9} {'matmul':>9}")
    for n in ORDERS:
        row = []
        for threads in (1, cores):
            with controller.limit(limits=threads):
                row += _timings(rng.standard_normal((n, n)), rng.standard_normal((n, n)))
        print(f"{n:>6} " + " ".join(f"{t:9.2f}" for t in row[:3]) + " | " + " ".join(f"{t:9.2f}" for t in row[3:]))


if __name__ == "__main__":
    main()
