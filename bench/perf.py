"""Speed and memory of gradcheck on the machine at hand.

Prints: start-up time of `gradcheck --help` and `gradcheck list`; the whole bundled
catalogue's wall time and peak memory with --jobs 1 and --jobs 2, and the same for a
catalogue of ten copies of it (`--ten`; with --jobs 2 also writing three reports);
`verify logdet --size 1000`, idle and with one and two other processes running flat
out; and for log det X, the inverse's differential and a two-layer network at
n = 10 ... 2000: wall time, function evaluations and peak memory of one check (in
process, default settings, one trial), peak memory as a multiple of the inputs' size,
and whether a planted relative error (1e-7 unless --plant) is caught. Where PyTorch
and JAX are installed, the same functions checked by `torch.autograd.gradcheck` (fast
mode; full mode where its n^2 columns are few enough) and `jax.test_util.check_grads`
are timed in the same run and given as ratios.

    python bench/perf.py                 # everything but the ten copies
    python bench/perf.py --ten           # with them (several minutes)
    python bench/perf.py --sizes 10,100,500 --skip-catalogue --skip-peers
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from planted import planted

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


# the peak resident memory of the largest process that a command waited for
PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def timed_peak(command: Sequence[str]) -> tuple[float, float]:
    """Wall seconds and peak MB (of its largest process) of one run of `command`."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PEAK, *command], capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - start, int(out.split()[-1]) / 1024


def ten_copies(folder: Path) -> Path:
    """The bundled catalogue ten times over in `folder`, each copy's names (and the names
    its derivations use) given a suffix of their own: 7,050 distinct identities."""
    for k in range(10):
        for path in (ROOT / "identities").rglob("*.yaml"):
            text = re.sub(r"^name: (\S+)", rf"name: \g<1>_{k}", path.read_text(), count=1, flags=re.M)
            text = re.sub(r"uses: (\w+)", rf"uses: \g<1>_{k}", text)
            target = folder / f"copy{k}" / path.relative_to(ROOT / "identities")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    return folder


def timed(command: Sequence[str], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def one_check(identity: Identity, n: int, plant: float = 0.0) -> tuple[float, int, str]:
    """Wall time, evaluations and verdicts of one trial at size n (in process)."""
    options = Options(size=n, trials=1, timeout=None)
    start = time.perf_counter()
    results = check_identity(identity, options, point=planted(plant))
    seconds = time.perf_counter() - start
    return seconds, sum(r.nfev for r in results), ",".join(sorted({r.status.value for r in results}))


def peak_memory(identity: Identity, n: int) -> float:
    """Peak memory (MB) of the arrays one trial allocates, traced in a separate run:
    tracing slows every allocation, so it is not timed."""
    tracemalloc.start()
    check_identity(identity, Options(size=n, trials=1, timeout=None))
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return peak


def input_megabytes(identity: Identity, n: int) -> float:
    sizes = identity.sizes(size=n)
    return sum(float(np.prod(v.sized(sizes))) for v in (*identity.inputs, *identity.constants)) * 8 / 2**20


# -- peers: the same function, checked by PyTorch's and JAX's fast modes -------------

def _sample(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, n)) * (0.35 / np.sqrt(n))
    x[np.diag_indices(n)] += 1  # as gradcheck samples invertible matrices
    return {"X": x, "W1": rng.standard_normal((n, n)) / np.sqrt(n), "W2": rng.standard_normal((n, n)) / np.sqrt(n),
            "x": rng.standard_normal((n, 1)), "t": rng.standard_normal((n, 1))}  # --size sets k = n too


# torch's full mode builds the whole Jacobian, a column per input entry, each column two
# evaluations of f: only where it has at most this many entries (inputs x outputs) and
# columns (log det at n = 500 has 250,000 columns: half a million slogdets, an hour)
FULL_MODE_ENTRIES = 10**7
FULL_MODE_COLUMNS = 20_000


def torch_full_mode(label: str, n: int) -> tuple[float, float, bool] | None:
    """As `torch_fast_mode`, by `torch.autograd.gradcheck`'s full mode (None: not run)."""
    outputs = n * n if label == "inverse differential" else 1
    inputs = 2 * n * n if label == "two-layer network" else n * n
    if inputs * outputs > FULL_MODE_ENTRIES or inputs > FULL_MODE_COLUMNS:
        return None
    return torch_fast_mode(label, n, fast=False)


def torch_fast_mode(label: str, n: int, fast: bool = True) -> tuple[float, float, bool] | None:
    """Seconds of the first call and of a second, warm call, and whether it passed."""
    try:
        import torch
    except ImportError:
        return None
    v = {k: torch.tensor(a, dtype=torch.float64) for k, a in _sample(n).items()}
    functions = {
        "logdet": (lambda a: torch.linalg.slogdet(a)[1], (v["X"],)),
        "inverse differential": (torch.linalg.inv, (v["X"],)),
        "two-layer network": (lambda w1, w2: ((w2 @ torch.tanh(w1 @ v["x"]) - v["t"]) ** 2).sum(),
                              (v["W1"], v["W2"])),
    }
    fn, args = functions[label]
    args = tuple(a.clone().requires_grad_(True) for a in args)
    times = []
    for _ in range(2):
        start = time.perf_counter()
        passed = torch.autograd.gradcheck(fn, args, fast_mode=fast, raise_exception=False)
        times.append(time.perf_counter() - start)
    return times[0], times[1], passed


def jax_check_grads(label: str, n: int) -> tuple[float, float, bool] | None:
    """Seconds of the first call (with JAX's compilation) and of a second, warm call, and
    whether it passed the right gradient (at its default step and tolerance it may not)."""
    try:
        import jax
        import jax.numpy as jnp
        from jax.test_util import check_grads
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    v = {k: jnp.asarray(a) for k, a in _sample(n).items()}
    functions = {
        "logdet": (lambda a: jnp.linalg.slogdet(a)[1], (v["X"],)),
        "inverse differential": (jnp.linalg.inv, (v["X"],)),
        "two-layer network": (lambda w1, w2: jnp.sum((w2 @ jnp.tanh(w1 @ v["x"]) - v["t"]) ** 2),
                              (v["W1"], v["W2"])),
    }
    fn, args = functions[label]
    times, passed = [], True
    for _ in range(2):
        start = time.perf_counter()
        try:
            check_grads(fn, args, order=1, modes=["rev"])
        except AssertionError:
            passed = False
        times.append(time.perf_counter() - start)
    return times[0], times[1], passed


# -- tables ----------------------------------------------------------------------

def row(cells: Sequence[object], widths: Sequence[int]) -> str:
    return "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))


def sizes_table(sizes: Sequence[int], plant: float) -> dict[tuple[str, int], float]:
    """Our figures; returns the wall times, for the peers' ratios."""
    widths = [20, 5, 7, 5, 8, 8, 7, 12]
    print(row(["identity", "n", "wall s", "evals", "peak MB", "x inputs", "verdict", f"{plant:g} planted"], widths))
    walls = {}
    for label, text in IDENTITIES.items():
        identity = load_text(text, f"<bench {label}>")
        for n in sizes:
            seconds, nfev, verdict = one_check(identity, n)
            caught = one_check(identity, n, plant=plant)[2].replace("FAIL", "caught").replace("PASS", "MISSED")
            peak = peak_memory(identity, n)
            walls[label, n] = seconds
            print(row([label, n, f"{seconds:.3f}", nfev, f"{peak:.1f}", f"{peak / input_megabytes(identity, n):.1f}",
                       verdict, caught], widths), flush=True)
    return walls


def peers_table(walls: dict[tuple[str, int], float]) -> None:
    widths = [20, 5, 7, 14, 6, 14, 6, 14, 6]
    print(row(["identity", "n", "ours s", "torch fast s", "ratio", "torch full s", "ratio", "jax s", "ratio"], widths))
    installed = {name: importlib.util.find_spec(name) is not None for name in ("torch", "jax")}
    for (label, n), seconds in walls.items():
        cells: list[object] = [label, n, f"{seconds:.3f}"]
        for name, peer in (("torch", torch_fast_mode(label, n)), ("torch", torch_full_mode(label, n)),
                           ("jax", jax_check_grads(label, n))):
            alarm = "" if peer is None or peer[2] else "!"
            cells += ([("too large" if installed[name] else "not installed"), "-"] if peer is None
                      else [f"{alarm}{peer[1]:.3f} ({peer[0]:.2f})", f"{seconds / peer[1]:.1f}x"])
        print(row(cells, widths), flush=True)


def byte_compiled() -> None:
    """Start-up is timed as installed: pip byte-compiles a package as it installs it, but a
    source checkout where Python writes no bytecode (PYTHONDONTWRITEBYTECODE) compiles
    every module it imports at every start (0.13 s of a `verify`)."""
    import gradcheck

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(gradcheck.__file__).parent)], check=True)


def commands(catalogue: bool, ten: bool) -> None:
    byte_compiled()
    print(f"start-up: gradcheck --help {timed([GRADCHECK, '--help']):.3f}s, "
          f"gradcheck list {timed([GRADCHECK, 'list', str(ROOT / 'identities')], 3):.3f}s (medians)")
    bundled: dict[int, float] = {}
    if catalogue or ten:
        for jobs in (1, 2):
            runs = [timed_peak([GRADCHECK, "run", str(ROOT / "identities"), "--jobs", str(jobs)]) for _ in range(3)]
            bundled[jobs] = max(p for _, p in runs)
            print(f"whole catalogue, --jobs {jobs}: {statistics.median(w for w, _ in runs):.2f}s (median of 3), "
                  f"peak {bundled[jobs]:.0f} MB (its largest process)")
    if ten:
        with tempfile.TemporaryDirectory() as folder:
            copies = ten_copies(Path(folder))
            for jobs in (1, 2):
                seconds, peak = timed_peak([GRADCHECK, "run", str(copies), "--jobs", str(jobs)])
                print(f"ten copies of the catalogue (7,050 identities), --jobs {jobs}: {seconds:.1f}s, "
                      f"peak {peak:.0f} MB (one run; {peak / bundled[jobs]:.2f}x the bundled one's)", flush=True)
            reports = [f"--{kind}" for kind in ("json", "junit", "markdown")]
            seconds, peak = timed_peak([GRADCHECK, "run", str(copies), "--jobs", "2",
                                        *(a for kind in reports for a in (kind, f"{folder}/report.{kind[2:]}"))])
            print(f"  the same, --jobs 2, writing the JSON, JUnit and Markdown reports: {seconds:.1f}s, "
                  f"peak {peak:.0f} MB", flush=True)
    verify = [GRADCHECK, "verify", "logdet", "--size", "1000", "--catalogue", str(ROOT / "identities" / "seed")]
    print(f"verify logdet --size 1000 (3 trials, start-up included): {timed(verify, 3):.2f}s (median of 3)")
    for busy in (1, 2):
        with busy_cores(busy):
            print(f"  the same with {busy} other process{'es' if busy > 1 else ''} running flat out: "
                  f"{timed(verify, 3):.2f}s (median of 3)")


@contextlib.contextmanager
def busy_cores(count: int) -> Iterator[None]:
    """`count` other processes spinning, as on a loaded machine (a CI runner's neighbours)."""
    spinning = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        time.sleep(0.5)
        yield
    finally:
        for process in spinning:
            process.kill()
            process.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,500,1000,2000")
    parser.add_argument("--skip-catalogue", action="store_true")
    parser.add_argument("--skip-peers", action="store_true", help="do not run PyTorch or JAX")
    parser.add_argument("--skip-commands", action="store_true", help="no command-line timings at all")
    parser.add_argument("--ten", action="store_true", help="also run ten copies of the catalogue (minutes)")
    parser.add_argument("--plant", type=float, default=1e-7, help="the relative error planted in every claim")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if not args.skip_commands:
        commands(catalogue=not args.skip_catalogue, ten=args.ten)
    print("\none check, one trial, default settings, in process; peak MB: arrays traced in a separate run;"
          f"\n{args.plant:g} planted: the same check with every claim off by {args.plant:g} relative")
    walls = sizes_table(sizes, args.plant)
    if not args.skip_peers:
        print("\nthe same functions by the peers' fast modes, in process: a second, warm call (the first,"
              "\nwith set-up or compilation, in brackets); ratio: our wall time over the peer's warm call;"
              "\n! marks a false alarm: the peer rejected the right gradient at its defaults")
        peers_table(walls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
