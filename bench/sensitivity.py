"""How small an error in a claim does gradcheck catch, and does it ever reject a right one?

Plants a relative error delta (claim + delta ||claim|| E / ||E||, E random) into every
claim of the catalogue that passes as written, for delta = 1e-1 ... 1e-12, and prints
the detection rate per numerical method. Then counts the claims of the unmodified
catalogue that do not get their expected verdict over many seeds and sizes (false
failures, and errors). Where PyTorch is installed, `torch.autograd.gradcheck` at its
defaults is run on the same planted errors of the derivative claims, for comparison.

    python bench/sensitivity.py                   # full sweep (50 seeds x sizes 2..10)
    python bench/sensitivity.py --seeds 5 --jobs 2
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # planted, perf and torch_compare beside this file
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from planted import planted

from gradcheck.catalogue import Identity, load_catalogue
from gradcheck.checker import Options, check_identity, choose_method
from gradcheck.verdict import DEFAULT_RTOL, ClaimResult, Status

DELTAS = [10.0**-k for k in range(1, 13)]
METHODS = ("auto", "central", "richardson", "complex")  # auto: the default
ROOT = Path(__file__).resolve().parents[1]


RTOL = DEFAULT_RTOL


def check(identity: Identity, method: str, plant: float = 0.0, seed: int = 0,
          size: int | None = None) -> list[ClaimResult]:
    """The results of `identity` with every claim off by `plant` (relative)."""
    options = Options(seed=seed, size=size, method=method, rtol=RTOL)
    return check_identity(identity, options, point=planted(plant))


def applicable(identity: Identity, method: str) -> bool:
    """Complex step counts only where it is valid (else the checker falls back); auto,
    the default, everywhere (it is the complex step or central differences)."""
    return method == "auto" or choose_method(identity, method)[0] == method


def baseline(identities: Sequence[Identity], method: str) -> dict[tuple[str, int], bool]:
    """Which claims pass as written (the ones errors are planted into)."""
    out = {}
    for identity in identities:
        if applicable(identity, method):
            for r in check(identity, method):
                # a claim that is zero (to rounding) cannot carry a relative error
                nonzero = all(np.linalg.norm(m.claimed) > 10 * np.linalg.norm(m.uncertainty)
                              for m in r.readings)
                out[(identity.name, r.claim.index)] = r.status is Status.PASS and nonzero
    return out


def detection(identities: Sequence[Identity], method: str, delta: float,
              right: dict[tuple[str, int], bool]) -> tuple[int, int]:
    caught = total = 0
    for identity in identities:
        if not applicable(identity, method):
            continue
        for r in check(identity, method, plant=delta):
            if right.get((identity.name, r.claim.index)):
                total += 1
                caught += r.status is not Status.PASS
    return caught, total


def _false_verdicts(args: tuple[str, str, int, int, float]) -> list[str]:
    catalogue_dir, method, seed, size, rtol = args
    global RTOL
    RTOL = rtol
    found = []
    for identity in load_catalogue([catalogue_dir]).identities:
        for r in check(identity, method, seed=seed, size=size):
            expected = Status.XFAIL if r.claim.expect_fail else Status.PASS
            if r.status is not expected and "over the limit" not in r.message:
                found.append(f"{method} seed {seed} size {size}: {identity.name} claim {r.claim.index} "
                             f"{r.status.value} {r.message or r.hint}")
    return found


def false_verdicts(catalogue_dir: str, method: str, seeds: int, sizes: Iterable[int], jobs: int) -> list[str]:
    work = [(catalogue_dir, method, seed, size, RTOL) for seed in range(seeds) for size in sizes]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return [line for lines in pool.map(_false_verdicts, work) for line in lines]


def torch_rows(identities: Sequence[Identity]) -> dict[str, list[str]]:
    """torch.autograd.gradcheck's detection rates (default and fast mode), if PyTorch is here."""
    try:
        import torch_compare  # noqa: PLC0415 (optional, only with PyTorch installed)
    except ImportError:
        print("(PyTorch is not installed: no comparison; pip install torch==2.13.0)")
        return {}
    rows = {}
    for fast in (False, True):
        counts = [torch_compare.detection(identities, delta, fast_mode=fast) for delta in DELTAS]
        name = f"torch gradcheck{' fast_mode' if fast else ''} ({counts[0][1]} derivative claims)"
        rows[name] = [f"{100 * c / max(t, 1):.0f}%" for c, t in counts]
    return rows


SCALING_SIZES = (3, 10, 30, 100, 300)


def smallest_caught(identity: Identity, method: str, size: int, seeds: int = 2) -> float | None:
    """The smallest planted relative error (of DELTAS) that every claim of `identity` fails
    with, at every seed, at `size`; None if even the largest passes somewhere."""
    smallest = None
    for delta in DELTAS:
        for seed in range(seeds):
            if any(r.status is not Status.FAIL for r in check(identity, method, delta, seed, size)):
                return smallest
        smallest = delta
    return smallest


def scaling_rows(methods: Sequence[str], sizes: Sequence[int]) -> dict[str, list[str]]:
    """Per identity of bench/perf.py and method, the smallest planted error caught at each size."""
    from perf import IDENTITIES  # noqa: PLC0415 (beside this file)

    from gradcheck.catalogue import load_text  # noqa: PLC0415

    rows = {}
    for label, text in IDENTITIES.items():
        identity = load_text(text, f"{label}.yaml")
        for method in methods:
            if applicable(identity, method):
                found = [smallest_caught(identity, method, n) for n in sizes]
                rows[f"{label}, {method}"] = ["-" if d is None else f"{d:.0e}" for d in found]
    return rows


def print_table(rows: dict[str, list[str]], header: Sequence[str]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows.values())) for i, h in enumerate(header)]
    name_width = max(len("method"), *map(len, rows))
    print("method".ljust(name_width), *(h.rjust(w) for h, w in zip(header, widths)))
    for name, cells in rows.items():
        print(name.ljust(name_width), *(c.rjust(w) for c, w in zip(cells, widths)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("catalogue", nargs="?", default=str(ROOT / "identities"))
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--sizes", default="2-10", help="range of --size values, e.g. 2-10")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--rtol", type=float, default=DEFAULT_RTOL)
    parser.add_argument("--skip-planted", action="store_true", help="only the false-verdict sweep")
    parser.add_argument("--scaling-sizes", default=",".join(map(str, SCALING_SIZES)),
                        help="sizes of the per-method table of the smallest error caught ('' to skip)")
    args = parser.parse_args(argv)
    global RTOL
    RTOL = args.rtol
    lo, hi = (int(x) for x in args.sizes.split("-"))
    methods = args.methods.split(",")
    identities = load_catalogue([args.catalogue]).identities
    start = time.perf_counter()
    rows: dict[str, list[str]] = {}
    for method in methods if not args.skip_planted else ():
        right = baseline(identities, method)
        cells = []
        for delta in DELTAS:
            caught, total = detection(identities, method, delta, right)
            cells.append(f"{100 * caught / max(total, 1):.0f}%")
        rows[f"{method} ({sum(right.values())} claims)"] = cells
    if not args.skip_planted:
        rows.update(torch_rows(identities))
    sizes = [int(n) for n in args.scaling_sizes.split(",") if n]
    if sizes and not args.skip_planted:
        print("Smallest planted relative error caught by every claim at every seed, by size n:")
        print_table(scaling_rows(methods, sizes), [f"n={n}" for n in sizes])
        print()
    if rows:
        print(f"Detection rate of planted relative errors (catalogue {args.catalogue}):")
        print_table(rows, [f"{d:.0e}" for d in DELTAS])
        print(f"\nplanted-error sweep: {time.perf_counter() - start:.1f}s")
    print(f"\nFalse verdicts of the unmodified catalogue, seeds 0-{args.seeds - 1}, sizes {lo}-{hi}:")
    for method in methods:
        t0 = time.perf_counter()
        bad = false_verdicts(args.catalogue, method, args.seeds, range(lo, hi + 1), args.jobs)
        print(f"  {method}: {len(bad)} false verdicts ({time.perf_counter() - t0:.1f}s)")
        for line in bad[:20]:
            print("    " + line)
    print(f"\ntotal wall time: {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
