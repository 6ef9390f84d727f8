"""Speed and memory of gradcheck on the machine at hand.

Prints: start-up time of `gradcheck --help` and `gradcheck list`; the whole bundled
catalogue's wall time with --jobs 1 and --jobs 2; and for log det X, the inverse's
differential and a two-layer network at n = 10 ... 2000: wall time, function evaluations
and peak memory of one check (in process, default settings, one trial), with the size
of the inputs for scale. Where PyTorch (or JAX) is installed, the same log det check by
`torch.autograd.gradcheck(fast_mode=True)` (and `jax.test_util.check_grads`) is timed in
the same run and given as a ratio.

    python bench/perf.py                 # everything
    python bench/perf.py --sizes 10,100,500 --skip-catalogue
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gradcheck.catalogue import Identity, load_text
from gradcheck.checker import Options, check_identity

ROOT = Path(__file__).resolve().parents[1]
GRADCHECK = str(Path(sys.executable).with_name("gradcheck"))

IDENTITIES = {
    "logdet": """
name: logdet
dims: {n: 4}
inputs: {X: {shape: [n, n], kind: invertible}}
function: logdet(X)
claims:
  - {wrt: X, layout: denominator, derivative: inv(X).T}
""",
    "inverse differential": """
name: inverse
dims: {n: 4}
inputs: {X: {shape: [n, n], kind: invertible}}
let: {Xi: inv(X)}
function: Xi
claims:
  - {differential: -Xi @ dX @ Xi}
""",
    "two-layer network": """
name: network
dims: {n: 4, k: 10}
inputs:
  W1: {shape: [n, n]}
  W2: {shape: [k, n]}
constants:
  x: {shape: [n, 1]}
  t: {shape: [k, 1]}
let:
  a: W1 @ x
  s: tanh(a)
  r: W2 @ s - t
function: r.T @ r
claims:
  - {wrt: W2, layout: denominator, derivative: 2 * r @ s.T}
  - {wrt: W1, layout: denominator, derivative: '((W2.T @ (2 * r)) * (1 - s * s)) @ x.T'}
""",
}


def timed(command: Sequence[str], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def one_check(identity: Identity, n: int) -> tuple[float, int, float, str]:
    """Wall time, evaluations, peak traced memory (MB) and verdicts of one trial at size n."""
    tracemalloc.start()
    start = time.perf_counter()
    results = check_identity(identity, Options(size=n, trials=1, timeout=None))
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    nfev = sum(r.nfev for r in results)
    return seconds, nfev, peak, ",".join(sorted({r.status.value for r in results}))


def torch_fast_mode(n: int) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    rng = np.random.default_rng(0)
    u, _ = np.linalg.qr(rng.standard_normal((n, n)))
    x = torch.tensor(u * np.exp(rng.uniform(0, np.log(10), n)) @ u.T, dtype=torch.float64, requires_grad=True)
    start = time.perf_counter()
    torch.autograd.gradcheck(lambda a: torch.linalg.slogdet(a)[1], (x,), fast_mode=True)
    return time.perf_counter() - start


def jax_check_grads(n: int) -> float | None:
    try:
        import jax
        import jax.numpy as jnp
        from jax.test_util import check_grads
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    x = jnp.asarray(np.eye(n) * 2 + np.random.default_rng(0).standard_normal((n, n)) / (4 * np.sqrt(n)))
    start = time.perf_counter()
    check_grads(lambda a: jnp.linalg.slogdet(a)[1], (x,), order=1, modes=["rev"])
    return time.perf_counter() - start


def row(cells: Sequence[object], widths: Sequence[int]) -> str:
    return "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))


def sizes_table(sizes: Sequence[int]) -> None:
    widths = [22, 6, 9, 7, 10, 10, 8]
    print(row(["identity", "n", "wall s", "evals", "peak MB", "inputs MB", "verdict"], widths))
    for label, text in IDENTITIES.items():
        identity = load_text(text, f"<bench {label}>")
        for n in sizes:
            seconds, nfev, peak, verdict = one_check(identity, n)
            inputs = sum(np.prod(v.sized(identity.sizes(size=n))) for v in (*identity.inputs, *identity.constants))
            print(row([label, n, f"{seconds:.3f}", nfev, f"{peak:.1f}", f"{inputs * 8 / 2**20:.1f}", verdict],
                      widths), flush=True)


def peers(sizes: Sequence[int]) -> None:
    identity = load_text(IDENTITIES["logdet"], "<bench logdet>")
    widths = [6, 12, 14, 8, 14, 8]
    print(row(["n", "gradcheck s", "torch fast s", "ratio", "jax s", "ratio"], widths))
    for n in sizes:
        ours = one_check(identity, n)[0]
        torch_s, jax_s = torch_fast_mode(n), jax_check_grads(n)
        cells: list[object] = [n, f"{ours:.3f}"]
        for other in (torch_s, jax_s):
            cells += ["not installed", "-"] if other is None else [f"{other:.3f}", f"{ours / other:.1f}x"]
        print(row(cells, widths), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,500,1000,2000")
    parser.add_argument("--skip-catalogue", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"start-up: gradcheck --help {timed([GRADCHECK, '--help']):.3f}s, "
          f"gradcheck list {timed([GRADCHECK, 'list', str(ROOT / 'identities')], 3):.3f}s")
    if not args.skip_catalogue:
        for jobs in (1, 2):
            seconds = timed([GRADCHECK, "run", str(ROOT / "identities"), "--jobs", str(jobs)], 1)
            print(f"whole catalogue, --jobs {jobs}: {seconds:.2f}s")
    print("\none check, one trial, default settings:")
    sizes_table(sizes)
    print("\nlog det X against the fast modes of the peers (in process):")
    peers([n for n in sizes if n <= 1000])
    print(f"\nverify logdet --size 1000 (3 trials, start-up included): "
          f"{timed([GRADCHECK, 'verify', 'logdet', '--size', '1000', '--catalogue', str(ROOT / 'identities' / 'seed')], 1):.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
