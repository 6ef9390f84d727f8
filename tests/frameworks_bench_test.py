"""bench/frameworks.py runs and prints its side-by-side table (real PyTorch and JAX)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import framework

framework("torch")
framework("jax")

BENCH = Path(__file__).resolve().parents[1] / "bench" / "frameworks.py"


def test_the_side_by_side_table() -> None:
    out = subprocess.run([sys.executable, str(BENCH), "--only", "logdet 20", "--repeats", "1"],
                         capture_output=True, text=True, check=True, timeout=600).stdout
    table = out.split("seconds per check")[0]
    verdicts = {line[:26].strip(): line[26:].split() for line in table.splitlines() if line.startswith("logdet 20")}
    assert verdicts["logdet 20"] == ["ok"] * 5
    # gradcheck's adapters catch a 1e-6 error in one entry, which every peer misses
    assert verdicts["logdet 20: entry 1e-06 off"][-2:] == ["caught", "caught"]
    assert max(len(line) for line in out.splitlines()) <= 86
