"""From readings to a verdict: the one place that decides PASS and FAIL.

Error measure (the format's): ``||claimed - numeric||_F / max(||numeric||_F,
||claimed||_F)`` over all probes of a trial. A claim passes a trial when its
error is at most ``rtol + noise``, where the noise floor ``noise = u / scale``
is the norm ``u`` of the numerical error estimate relative to the size of the
derivative: a relative tolerance plus the numerical uncertainty.

Floor for zero derivatives: when the derivative is no larger than ``u`` it
cannot be told from zero; the error is then measured against ``u / rtol`` and
the claim passes when it is within ``ZERO_SLACK * u`` of the numbers, so that the
claim 0 passes for a derivative that is exactly zero and any claim of a size above
the noise fails. The verdict is the worst trial. Why a claim failed is the business
of gradcheck.diagnosis, asked afterwards for failures only.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from gradcheck.catalogue import Claim, Identity
from gradcheck.errors import printable
from gradcheck.norms import distance, norm
from gradcheck.options import DEFAULT_MAX_NOISE as DEFAULT_MAX_NOISE  # re-exported
from gradcheck.options import DEFAULT_RTOL as DEFAULT_RTOL  # re-exported
from gradcheck.options import EPS, NOISE_STEP, NOT_SMOOTH, QUICK_NOISE, ROUNDING, SEEN, ZERO_SLACK
from gradcheck.reading import Reading

KINK = "the numerical derivative changes with the step"
# The rounding noise is read at points within rounding of the sample and along a line at
# steps of NOISE_STEP: a kink within those steps reads as rounding too.
ROUNDING_CAUSES = ("f is large compared with its change, or not smooth within "
                   + f"{NOISE_STEP:g} of the point".replace("e-0", "e-"))
TINY = 1e-300
HUGE = 1e300


class Status(str, enum.Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    XFAIL = "XFAIL"
    XPASS = "XPASS"

    @property
    def ok(self) -> bool:
        """True when this status does not fail a run."""
        return self in (Status.PASS, Status.XFAIL)


@dataclass(frozen=True)
class Comparison:
    error: float  # relative error, with the floor
    tolerance: float  # rtol plus the numerical uncertainty, relative
    noise: float  # numerical uncertainty relative to the size of the derivative

    @property
    def passed(self) -> bool:
        return self.error <= self.tolerance


def compare(claimed: np.ndarray, numeric: np.ndarray, uncertainty: np.ndarray, rtol: float) -> Comparison:
    """Judge claimed against numeric values (see the module notes)."""
    if not (np.all(np.isfinite(claimed)) and np.all(np.isfinite(numeric))):
        return Comparison(float("inf"), 0.0, float("inf"))
    diff = distance(claimed, numeric)
    scale = max(norm(claimed), norm(numeric))
    u = min(norm(uncertainty), HUGE)
    noise = u / max(scale, u, TINY)
    if scale > u:
        return Comparison(diff / scale, rtol + noise, noise)
    # Below the numerical noise the derivative is indistinguishable from zero:
    # measure against the floor u / rtol, and pass within ZERO_SLACK times the noise.
    return Comparison(diff * rtol / max(u, TINY), ZERO_SLACK * rtol, noise)


@dataclass(frozen=True)
class Step:
    """One step of a chain or a derivation (its label's first part: "link 2", "step 3",
    "read off"), over the trials: its largest error and noise, each relative to its size."""

    part: str
    error: float
    noise: float


def step_figures(readings: Sequence[Reading]) -> tuple[Step, ...]:
    """The steps the readings reached, in order (see `Step`)."""
    views: dict[str, list[Reading]] = {}
    for m in readings:
        for p in m.parts:
            views.setdefault(p.part.split(":", 1)[0], []).append(p)
    return tuple(Step(part, max(distance(v.claimed, v.numeric) / max(v.scale, TINY) for v in seen),
                      max(v.noise_norm / max(v.scale, TINY) for v in seen))
                 for part, seen in ((k, v[:len(readings)]) for k, v in views.items()))


@dataclass(frozen=True)
class ClaimResult:
    """The verdict on one claim of one identity, with everything needed to explain it; or
    the ERROR of a file that could not be loaded (`claim` None: it has no claims)."""

    identity: str
    path: str
    claim: Claim | None
    sizes: Mapping[str, int]
    status: Status
    error: float | None = None
    noise: float | None = None
    hint: str = ""
    message: str = ""
    readings: tuple[Reading, ...] = ()
    comparisons: tuple[Comparison, ...] = ()
    nfev: int = 0
    seconds: float = 0.0
    mode: str = ""
    details: tuple[str, ...] = field(default=())
    method: str = ""
    notes: tuple[str, ...] = field(default=())
    # what a passing claim may still hide (a layout the samples cannot tell apart)
    warnings: tuple[str, ...] = field(default=())
    file_line: int | None = None  # for a bad file: the line of its error
    # a chain's or a derivation's steps, figured from the readings when the result is made,
    # so that a report of a run needs no readings (which a run does not keep); None: no readings
    steps: tuple[Step, ...] | None = None

    @property
    def line(self) -> int | None:
        """The line of the file the row is about: its claim's, or a bad file's error's."""
        return self.claim.line if self.claim is not None else self.file_line

    def __post_init__(self) -> None:
        # Every report reads its text here: a file's control characters (a file name with
        # ESC in it, an exception quoting a file) are escaped once, for all of them.
        for name in ("identity", "path", "hint", "message"):
            object.__setattr__(self, name, printable(getattr(self, name)))
        for name in ("details", "notes", "warnings"):
            object.__setattr__(self, name, tuple(printable(t) for t in getattr(self, name)))
        chain = self.claim is not None and (bool(self.claim.rest) or self.claim.form == "derivation")
        if chain and self.readings and self.steps is None:
            object.__setattr__(self, "steps", step_figures(self.readings))

    @property
    def description(self) -> str:
        return printable(self.claim.describe()) if self.claim is not None else "(file)"


def status_of(passed: bool, expect_fail: bool) -> Status:
    if expect_fail:
        return Status.XPASS if passed else Status.XFAIL
    return Status.PASS if passed else Status.FAIL


def unjudgeable(m: Reading, max_noise: float, rtol: float = DEFAULT_RTOL) -> str | None:
    """Why `m` (or an input's share of it) is too noisy to judge (see `_unjudgeable`)."""
    if m.conflict:
        return m.conflict
    for view in m.views:
        reason = _unjudgeable(view, max_noise, rtol)
        if reason:
            return f"{reason} ({view.part})" if view.part else reason
    return None


def _unjudgeable(m: Reading, max_noise: float, rtol: float = DEFAULT_RTOL) -> str | None:
    """Why the numbers of `m` are too noisy to judge its claim, or None.

    Noise above `max_noise` (relative) matters when the numerical derivative
    changes with the step (f is not smooth near the point: the numbers
    themselves are unreliable), when the derivative is no larger than its noise
    (nothing shows that it is zero rather than hidden by rounding: a constant
    added to f, or a large unrelated term, would let every claim pass), or when
    it would let the claim pass (a wrong claim could pass too). A claim that is
    wrong by more than the noise of a nonzero derivative is judged (it fails).
    """
    u, scale, r = m.noise_norm, m.scale, norm(m.rounding)
    if u <= max_noise * scale:
        return None
    noise = u / max(scale, TINY)
    if u > NOT_SMOOTH * r:
        return f"{KINK} (noise floor {noise:.1e}): f is not smooth near the point"
    if scale <= u:
        if _zero(m, max_noise):
            return None
        return (f"the derivative is below the rounding noise of f (noise floor {noise:.1e}): "
                f"{ROUNDING_CAUSES}")
    diff = distance(m.claimed, m.numeric)
    if diff > rtol * scale + u:
        return None
    return f"rounding noise floor {noise:.1e} is above {max_noise:g}: {ROUNDING_CAUSES}"


def assess(view: Reading, rtol: float) -> Comparison:
    """`compare` of a view, where a claim and a derivative that are both within rounding of
    zero, below ROUNDING eps times the size of f's changing terms per unit step, agree: a
    derivative that vanishes (f constant along the directions) is computed as rounding,
    which no method's error estimate need see (the complex step's rounding of a zero slope
    repeats from point to point)."""
    c = compare(view.claimed, view.numeric, view.uncertainty, rtol)
    if not c.passed and 0 < view.scale <= _rounding_floor(view):
        return Comparison(0.0, c.tolerance, c.noise)
    return c


def _rounding_floor(view: Reading) -> float:
    """ROUNDING eps times the size of f's changing terms per unit step, amplified by the
    conditioning of what the identity inverts (as a claim's own rounding is): below it a
    derivative is rounding."""
    worst = max(view.conditions.values(), default=1.0)
    return ROUNDING * EPS * max(worst, 1.0) * view.reference


def zero_judged(m: Reading, max_noise: float) -> bool:
    """Whether `m` shows a derivative that is zero: no larger than its noise, and that
    noise within `max_noise` of the size of what changes in f (a constant or an unrelated
    term of f is not part of that size, so it cannot hide a derivative as "zero")."""
    return any(_zero(view, max_noise) for view in m.views)


def within_reach(m: Reading, rtol: float, reach: float) -> bool:
    """Whether more uncertainty, up to `reach` relative (the most at which a claim is
    still judged), could let `m` pass: no view fails by more. A view below its noise is
    always within reach (its error is not relative), and so is one whose numbers are
    within `reach` of the size of f's changing terms: more uncertainty, up to that size,
    could put them below it, where they are judged as a zero (`zero_judged`). A claim
    that d(X^-1 X) = 0 met a complex-step rounding of 1.7e-12 estimated at 7.6e-13 (cond
    1e3): its relative error is 1 whatever the size, and it failed unrefined."""
    for view in m.views:
        c = compare(view.claimed, view.numeric, view.uncertainty, rtol)
        if not c.passed and c.noise < 1.0 and c.error > c.tolerance + reach and view.scale > reach * view.reference:
            return False
    return True


def passes(m: Reading, rtol: float) -> bool:
    """Whether the claim passes at `m` (as a whole and in every input's share)."""
    return all(assess(v, rtol).passed for v in m.views)


def passes_quickly(m: Reading, rtol: float, max_noise: float) -> bool:
    """Whether `m`, read from central differences at one step size (its error estimate
    their rounding alone: `Differences.quickly`), passes as the reading from both would.

    The second step size adds a truncation part to the error estimate, the value staying
    the same: a claim that passes here passes there, unless that reading is too noisy to
    judge (another method then judges the claim). That needs a truncation error far above
    this rounding, which a right claim would not be within rounding of; a wrong one would
    have to match it, to rounding, along every probe (the steps differ from probe to
    probe). So `m` decides only with noise below QUICK_NOISE times `max_noise` in every
    view (the truncation would have to be over 100 times the rounding), no view judged
    zero, and no conflict."""
    return (passes(m, rtol) and not m.conflict and not zero_judged(m, max_noise)
            and all(v.noise_norm <= QUICK_NOISE * max_noise * v.scale for v in m.views))


def disagreeing(m: Reading, other: Reading) -> Reading:
    """`m`, unjudgeable because `other` (another method) passes the claim that `m` fails."""
    return dataclasses.replace(m, conflict=(f"{m.method} fails the claim but {other.method} passes it: "
                                            "f varies faster than one method's steps"))


def visible(m: Reading) -> set[str]:
    """Where `m` sees a derivative: the views (the whole as "", an input's share by its
    name) whose numbers are clearly above their own noise, and above the rounding floor
    (numbers below it are rounding however repeatable: a complex step's rounding of a zero
    slope can stand well above the error it estimates)."""
    return {v.part for v in m.views if v.numeric_norm > max(SEEN * v.noise_norm, _rounding_floor(v))}


def not_zero(m: Reading, seen: set[str]) -> Reading:
    """`m`, no longer allowed to judge zero the views in `seen` (another method saw them)."""
    parts = tuple(dataclasses.replace(p, reference=0.0) if p.part in seen else p for p in m.parts)
    return dataclasses.replace(m, reference=0.0 if "" in seen else m.reference, parts=parts)


def _zero(view: Reading, max_noise: float) -> bool:
    return (view.scale <= view.noise_norm <= max_noise * view.reference
            or 0 < view.scale <= _rounding_floor(view))


def judge(identity: str, path: str, claim: Claim, sizes: Mapping[str, int],
          readings: Sequence[Reading], rtol: float, seconds: float = 0.0,
          max_noise: float = DEFAULT_MAX_NOISE, notes: tuple[str, ...] = ()) -> ClaimResult:
    """The verdict on a claim from its readings over all trials."""
    if not readings:
        return errored(identity, path, claim, sizes, "no point could be sampled", seconds)
    noisy = next(filter(None, (unjudgeable(m, max_noise, rtol) for m in readings)), None)
    if noisy:
        hint = " (try --method richardson or complex)" if readings[0].method == "central" else ""
        return dataclasses.replace(
            errored(identity, path, claim, sizes, f"cannot judge at any point tried: {noisy}{hint}", seconds),
            notes=notes, readings=tuple(readings))
    comparisons = tuple(_worst(assess(v, rtol) for v in m.views)
                        for m in readings)
    worst = max(range(len(comparisons)), key=lambda i: comparisons[i].error - comparisons[i].tolerance)
    passed = all(c.passed for c in comparisons)
    if passed and any(zero_judged(m, max_noise) for m in readings):
        notes = (*notes, "judged zero: the derivative is below its noise, itself within --max-noise of "
                 "the size of f's changing terms (a claim that small passes)")
    if passed and any(m.kinks for m in readings):
        notes = (*notes, "at a kink: the claim lies between the one-sided derivatives (a subgradient)")
    return ClaimResult(
        identity, path, claim, dict(sizes), status_of(passed, claim.expect_fail),
        error=max(c.error for c in comparisons), noise=max(c.noise for c in comparisons),
        readings=tuple(readings), comparisons=comparisons,
        nfev=sum(m.nfev for m in readings), seconds=seconds, mode=readings[worst].mode,
        method=readings[worst].method, notes=notes,
        warnings=tuple(dict.fromkeys(m.ambiguous for m in readings if m.ambiguous)) if passed else (),
    )


def _worst(comparisons: Iterable[Comparison]) -> Comparison:
    return max(comparisons, key=lambda c: c.error - c.tolerance)


def errored(identity: str, path: str, claim: Claim, sizes: Mapping[str, int], message: str,
            seconds: float = 0.0) -> ClaimResult:
    return ClaimResult(identity, path, claim, dict(sizes), Status.ERROR, message=message, seconds=seconds)


def file_error(name: str, path: str, message: str, line: int | None = None) -> ClaimResult:
    """The ERROR row of a file that could not be loaded."""
    return ClaimResult(name, path, None, {}, Status.ERROR, message=message, file_line=line)


def slipped_result(identity: Identity, claim: Claim, sizes: Mapping[str, int], hint: str,
                   seconds: float = 0.0) -> ClaimResult:
    """A derivative claim with the other layout's shape: a FAIL with the layout diagnosis,
    the same verdict as the slip gets where both layouts have one shape."""
    return ClaimResult(identity.name, identity.path, claim, dict(sizes), Status.FAIL, hint=hint, message=hint,
                       seconds=seconds)


def refuted_result(identity: Identity, claim: Claim, sizes: Mapping[str, int], message: str,
                   seconds: float = 0.0) -> ClaimResult:
    """An expected failure whose own expression cannot stand (wrong shape, not finite)."""
    return ClaimResult(identity.name, identity.path, claim, dict(sizes), Status.XFAIL, hint=message,
                       message=message, seconds=seconds)
