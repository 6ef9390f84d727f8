"""The whole catalogue at many points: every verdict that is not the expected one.

    python bench/sweep.py [PATHS...] [--seeds 0-19] [--sizes 2-8] [--conds 10,100,1000] [--jobs 2]

Each identity is checked at every seed and every size (`--size N` for all its dimensions,
as `gradcheck run --size N` does), and again at the default sizes with spd, invertible
and hpd samples drawn up to each condition number of `--conds` (the product draws them up
to 10: the sweep shows the judge holds beyond). A claim whose status is not the one it
expects (PASS, or XFAIL under `expect: fail`) is printed with the command that shows it;
an identity that cannot be stated at a size (a claim needs n >= 3) is an ERROR there, and
printed too. The last line counts the checks and the unexpected verdicts; the exit status
is 1 when there is any.

Slow (the catalogue times 20 seeds times 7 sizes): a bench, not a unit test.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gradcheck import sampling
from gradcheck.catalogue import Identity, load_catalogue
from gradcheck.checker import Options, check_identity
from gradcheck.verdict import Status

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = {False: Status.PASS, True: Status.XFAIL}


@dataclass(frozen=True)
class Case:
    """One check of one identity: a seed, a size for every dimension (or the file's), and
    the largest condition number of the spd, invertible and hpd samples."""

    seed: int
    size: int | None
    cond: float


def _numbers(text: str) -> list[int]:
    """"0-19" or "2,5,8" as a list of integers ("" for none: --sizes "" sweeps the
    conditioned samples only)."""
    out: list[int] = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def cases(seeds: Sequence[int], sizes: Sequence[int], conds: Sequence[float]) -> list[Case]:
    return ([Case(seed, size, sampling.SAMPLE_COND) for seed in seeds for size in sizes]
            + [Case(seed, None, cond) for seed in seeds for cond in conds])


def _unexpected(identity: Identity, case: Case) -> list[str]:
    """The claims of `identity` whose verdict at `case` is not the expected one."""
    sampling.SAMPLE_COND = case.cond  # the draws read it at every call (spectrum of spd, ...)
    try:
        results = check_identity(identity, Options(seed=case.seed, size=case.size))
    finally:
        sampling.SAMPLE_COND = 10.0
    where = f"--seed {case.seed}" + (f" --size {case.size}" if case.size else "") + \
        (f" (samples up to cond {case.cond:g})" if case.cond != 10.0 else "")
    found = []
    for r in results:
        want = EXPECTED[bool(r.claim and r.claim.expect_fail)]
        if r.status is not want:
            label = r.claim.test_name() if r.claim else "(file)"
            found.append(f"{r.status.value:6} {identity.name}: {label} [{where}] {r.hint or r.message}")
    return found


def _run(job: tuple[Identity, list[Case]]) -> tuple[int, list[str]]:
    identity, todo = job
    return len(todo), [line for case in todo for line in _unexpected(identity, case)]


def sweep(identities: Sequence[Identity], todo: Sequence[Case], jobs: int) -> Iterator[tuple[int, list[str]]]:
    work = [(identity, list(todo)) for identity in identities]
    if jobs == 1:
        yield from map(_run, work)
        return
    with ProcessPoolExecutor(jobs) as pool:
        yield from pool.map(_run, work, chunksize=1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", default=[str(ROOT / "identities")])
    parser.add_argument("--seeds", default="0-19")
    parser.add_argument("--sizes", default="2-8")
    parser.add_argument("--conds", default="100,1000", help="condition numbers of the samples (beyond 10)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("-k", default=None, help="only identities whose name contains this")
    args = parser.parse_args(argv)
    catalogue = load_catalogue([Path(p) for p in args.paths])
    for bad in catalogue.bad_files:
        print(f"ERROR  {bad.path}: {bad.error}")
    identities = [i for i in catalogue.identities if args.k is None or args.k in i.name]
    conds = [float(c) for c in args.conds.split(",") if c]
    todo = cases(_numbers(args.seeds), _numbers(args.sizes), conds)
    start, checks, unexpected = time.monotonic(), 0, len(catalogue.bad_files)
    for count, lines in sweep(identities, todo, args.jobs):
        checks += count
        unexpected += len(lines)
        for line in lines:
            print(line, flush=True)
    print(f"{len(identities)} identities x {len(todo)} points ({checks} checks): {unexpected} unexpected "
          f"verdicts in {time.monotonic() - start:.0f} s")
    return 1 if unexpected else 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
