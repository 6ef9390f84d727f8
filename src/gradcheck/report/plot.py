"""The picture that tells a real disagreement from a numerical one: each claim's relative
error against the numerical derivative, as the difference step sweeps over decades.

A right claim's error falls with the step (central differences: as h^2) until rounding
takes over (as eps/h), a V; a wrong claim's error stays flat at the size of the slip.
The sweep reruns the judge's own central differences (`Numerics.step_factor`) at one
point, so the numbers are the ones a verdict is made of. Drawn with matplotlib (the
optional extra `gradcheck[plot]`), as PNG or SVG by the file's suffix.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from gradcheck.catalogue import Identity
from gradcheck.checker import check_identity
from gradcheck.options import FIRST_STEP, Options
from gradcheck.verdict import ClaimResult, Status

FACTORS = tuple(10.0 ** (k / 2) for k in range(-10, 9))  # the default step times 1e-5 ... 1e4


@dataclass(frozen=True)
class Sweep:
    """One claim's errors along the steps (relative steps; None where it could not be read)."""

    claim: int
    label: str
    steps: tuple[float, ...]
    errors: tuple[float | None, ...]
    noise: tuple[float | None, ...]


def sweep(identity: Identity, options: Options, factors: Sequence[float] = FACTORS) -> list[Sweep]:
    """Every claim's error and noise floor at each step (one point: the first trial's)."""
    runs = []
    for factor in factors:
        at = replace(options, trials=1, method="central", max_noise=1.0,
                     numerics=replace(options.numerics, step_factor=factor))
        runs.append(check_identity(identity, at))
    steps = tuple(FIRST_STEP["central"] * f for f in factors)
    out = []
    for k, claim in enumerate(identity.claims):
        results = [run[k] for run in runs]
        central = [r if r.method in ("central", "") else None for r in results]
        out.append(Sweep(claim.index, claim.describe(), steps,
                         tuple(_finite(r.error) if r else None for r in central),
                         tuple(_finite(r.noise) if r else None for r in central)))
    return out


def _finite(value: float | None) -> float | None:
    return value if value is not None and np.isfinite(value) and value > 0 else None


def draw(identity: Identity, sweeps: Sequence[Sweep], results: Sequence[ClaimResult], path: str | Path) -> Path:
    """One panel per claim, written to `path` (its suffix .png or .svg chooses the format)."""
    from gradcheck.report.output import write_atomic

    target = Path(path)
    buffer = io.BytesIO()
    _save(identity, sweeps, results, buffer, target.suffix.lstrip(".").lower() or "png")
    write_atomic(target, buffer.getvalue())  # the same safe writing as every report
    return target


def svg(identity: Identity, sweeps: Sequence[Sweep], results: Sequence[ClaimResult]) -> str:
    """The picture as SVG text, to embed in a page (no XML prologue)."""
    buffer = io.StringIO()
    _save(identity, sweeps, results, buffer, "svg")
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _save(identity: Identity, sweeps: Sequence[Sweep], results: Sequence[ClaimResult], target: Any,
          fmt: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: a file
    import matplotlib.pyplot as plt

    count = len(sweeps)
    columns = min(count, 2)
    rows = (count + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(6.4 * columns, 4.2 * rows), squeeze=False)
    for panel, (s, result) in zip(axes.flat, zip(sweeps, results)):
        _panel(panel, s, result)
    for panel in list(axes.flat)[count:]:
        panel.set_visible(False)
    figure.suptitle(f"{identity.name}: relative error against the step (central differences)")
    figure.tight_layout()
    figure.savefig(target, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    plt.close(figure)


def _panel(ax: Any, s: Sweep, result: ClaimResult) -> None:
    """One claim's picture on `ax`, a matplotlib Axes."""
    steps = np.array(s.steps)
    errors = np.array([e if e is not None else np.nan for e in s.errors])
    noise = np.array([n if n is not None else np.nan for n in s.noise])
    ax.loglog(steps, errors, "o-", color="C0", label="relative error")
    ax.loglog(steps, noise, "--", color="C1", label="error estimate (rounding and truncation)")
    finite = np.isfinite(errors)
    if finite.any() and result.status is Status.PASS:  # a right claim's slopes, through its smallest error
        best = int(np.nanargmin(np.where(finite, errors, np.nan)))
        slope = errors[best] * (steps / steps[best]) ** 2
        ax.loglog(steps, slope, ":", color="gray", label="truncation slope h^2")
        rounding = errors[best] * steps[best] / steps
        ax.loglog(steps, rounding, ":", color="silver", label="rounding slope 1/h")
    if finite.any():
        low, high = np.nanmin(errors[finite]), np.nanmax(errors[finite])
        ax.set_ylim(max(low / 100, 1e-17), min(high * 100, 1e3))
    ax.axvline(FIRST_STEP["central"], color="green", lw=0.8, label="gradcheck's step")
    verdict = result.status.value + (f": {result.hint}" if result.hint else "")
    ax.set_title(f"claim {s.claim}: {s.label}\n{_short(verdict)}", fontsize=9)
    ax.set_xlabel("relative step h")
    ax.set_ylabel("relative error")
    ax.legend(fontsize=7)


def _short(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
