"""The benchmarks still run (their figures are read by people, not asserted here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_perf_prints_its_table() -> None:
    out = subprocess.run([sys.executable, str(BENCH / "perf.py"), "--sizes", "10,120", "--skip-commands",
                          "--skip-peers"], capture_output=True, text=True, check=True, timeout=300).stdout
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("logdet", "inverse", "two-layer"))]
    assert len(rows) == 6
    assert all(r[-2] == "PASS" and r[-1] == "caught" for r in rows)
    evals = {int(r[-5]) for r in rows if r[-7] == "120"}  # past the full-Jacobian limit: a fixed count
    assert evals <= {6, 12}  # the complex step: one evaluation a direction


def test_the_sweep_prints_each_unexpected_verdict_and_counts(tmp_path: Path) -> None:
    (tmp_path / "right.yaml").write_text(
        "name: right\ndims: {n: 3}\ninputs:\n  X: {shape: [n, n], kind: spd}\nfunction: logdet(X)\n"
        "claims:\n  - {wrt: X, layout: denominator, derivative: inv(X)}\n"
        "  - {wrt: X, layout: denominator, derivative: inv(X) @ X @ inv(X), expect: fail, reason: a twin that holds}\n",
        encoding="utf-8")
    done = subprocess.run([sys.executable, str(BENCH / "sweep.py"), str(tmp_path), "--seeds", "0-1", "--sizes",
                           "2,3", "--conds", "1000", "--jobs", "1"], capture_output=True, text=True, timeout=300)
    lines = done.stdout.splitlines()
    assert done.returncode == 1, done.stderr
    # the twin holds (X^-1 X X^-1 = X^-1): an unexpected pass at every point, with its command
    assert len([line for line in lines if line.startswith("XPASS  right: claim 2")]) == 6
    assert "[--seed 1 --size 3]" in done.stdout and "(samples up to cond 1000)" in done.stdout
    assert lines[-1].startswith("1 identities x 6 points (6 checks): 6 unexpected verdicts in ")
