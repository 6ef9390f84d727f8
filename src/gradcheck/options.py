"""Everything a run can be told, in one place: limits, numerics and run options.

Options are frozen records handed down explicitly, from the command line (or the API,
or the pytest plugin) to the code that needs them, and to worker processes with the
work itself: nothing is kept in a module global that a worker started by `spawn` or
`forkserver` would see at its default.

The tolerances and safety factors of the judge are at the end, in one table (they are
constants: changing one changes what PASS means, so they are not options).

Kept free of heavy imports (no NumPy, YAML or rich) so that `gradcheck --help` starts fast.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field

DEFAULT_SEED = 0
DEFAULT_TRIALS = 3
DEFAULT_TIMEOUT = 120.0  # seconds per identity
# The ranges a command line (gradcheck's or pytest's) accepts
MAX_SIZE = 20_000  # a dimension
MAX_TRIALS = 1000
MAX_TIMEOUT = 7 * 24 * 3600.0  # a week: beyond it a timer is no limit, and setitimer overflows
RTOL_RANGE = (1e-15, 1.0)
# The tolerance is the numerical error estimate plus this floor, which stands for the
# rounding error of evaluating the claim itself.
DEFAULT_RTOL = 1e-11
# A point whose numerical derivative is noisier than this (relative) cannot be judged
# at the default tolerance: the claim is measured again with a better method, or the
# point is resampled, and a claim never judged is an ERROR.
DEFAULT_MAX_NOISE = 1e-6
METHOD_CHOICES = ("central", "richardson", "complex", "auto")


@dataclass(frozen=True)
class Limits:
    """What one catalogue file may cost: they hold against files written to exhaust memory."""

    max_elements: int = 25_000_000  # entries of any sampled or intermediate array
    max_file_bytes: int = 1_000_000  # size of an identity file
    # LaTeX in one file, in characters: its parser (Earley) costs ~0.15 s per 1,000, so
    # 20,000 bound a file's LaTeX to a few seconds (the catalogue's largest file has 361)
    max_tex_chars: int = 20_000
    max_load_seconds: float = 20.0  # reading one file's expressions, whatever they are
    max_memory: int = 2 << 30  # address space of a process checking identities, in bytes


# The limits in force while an identity is loaded or checked. Expressions are evaluated
# deep inside NumPy callbacks that take no options, so the entry points (`applied`) set
# them for the duration of their work; a worker process gets them with each task.
_LIMITS: ContextVar[Limits] = ContextVar("gradcheck_limits", default=Limits())


def current_limits() -> Limits:
    """The limits applied by the innermost `applied` (the defaults outside any)."""
    return _LIMITS.get()


@contextlib.contextmanager
def applied(limits: Limits) -> Iterator[None]:
    """Apply `limits` to everything evaluated inside the block (this thread only)."""
    token = _LIMITS.set(limits)
    try:
        yield
    finally:
        _LIMITS.reset(token)


@dataclass(frozen=True)
class Numerics:
    """How claims are probed: which inputs entry by entry, how many random directions."""

    full_limit: int = 100  # inputs with at most this many entries are probed entry by entry
    probes: int = 4  # random directions for larger inputs (power: see docs/format.md)
    hessian_full_limit: int = 9  # entries up to which a Hessian is checked entry by entry
    sketch_limit: int = 65_536  # f with more entries is compared through a count sketch
    # difference steps times this: a function that computes in float32 needs steps
    # (eps32 / eps64)^(1/3) times larger to balance truncation against its rounding
    step_factor: float = 1.0


@dataclass(frozen=True)
class Options:
    """What a run asks for: points, sizes, method, tolerance, probing and limits."""

    seed: int = DEFAULT_SEED
    trials: int = DEFAULT_TRIALS
    rtol: float = DEFAULT_RTOL
    size: int | None = None  # every dimension
    dims: Mapping[str, int] = field(default_factory=dict)  # one dimension each
    method: str = "auto"  # one of METHOD_CHOICES
    max_noise: float = DEFAULT_MAX_NOISE
    timeout: float | None = DEFAULT_TIMEOUT  # seconds per identity
    numerics: Numerics = field(default_factory=Numerics)
    limits: Limits = field(default_factory=Limits)


# -- tolerances and safety factors --------------------------------------------------
#
# Every constant below decides, directly or through the error estimates, whether a claim
# passes. docs/format.md ("Tolerances and safety factors") lists them; a test keeps the
# two in step.

EPS = sys.float_info.epsilon

# Assumed rounding error of one evaluation of f, in units of eps * |f| (numdiff).
ROUNDING = 8.0
# Base steps of the first-derivative methods, relative to the scale of the entries:
# central's minimises truncation plus rounding for a smooth f; Richardson's larger step
# beats rounding; the complex step has no rounding in its difference at all.
FIRST_STEP = {"central": EPS ** (1 / 3), "richardson": 1e-3, "complex": 1e-20}
# Base steps of the second-derivative methods (a Hessian entry, a second differential).
SECOND_STEP = {"central": 5e-3, "richardson": 5e-3, "complex": 1e-4}
# Richardson's table is taken again a quarter of the step lower, up to this many times,
# where its error is more than TRUNCATION_DOMINATES times its rounding part (numdiff).
REFINE_TABLES = 2
TRUNCATION_DOMINATES = 10.0
# A gap between the one-sided derivatives this many times their drift is a kink (numdiff).
KINK_RATIO = 10.0
# One-sided derivatives further apart than this, relative (a smooth f puts them h f''
# apart, 3e-6 relative to f' for f'' ~ f'), may be a kink: central differences then take
# their second step size before any claim passes (numdiff.fine_central).
KINK_IN_SIGHT = 1e-3
# A claim read from one step size of central differences passes there only with noise
# below this share of --max-noise (verdict.passes_quickly).
QUICK_NOISE = 0.01
# Relative step of the line along which the rounding noise of f is read (point).
NOISE_STEP = 1e-5
# Relative step of the line along which the complex step's own noise is read: large
# enough to cross the rounding of values f computes from (x + 1e9 rounds at 1e-7), small
# enough that a smooth slope's fourth difference (this step to the fourth) is nothing.
COMPLEX_NOISE_STEP = 1e-4
# The complex step's rounding is read from the slope too (four more evaluations) only when
# the reading from f is above this, relative to the slope: below it the step still catches
# errors of 1e-10, its promise.
COMPLEX_SHARPEN = 1e-10
# A sampled matrix that an identity inverts is drawn again when its condition number is
# above this: a claim built on its inverse has lost that many digits (point).
MAX_INVERTED_COND = 1e6
MAX_DET_COND = 1e10  # a determinant's argument (see point.DETERMINANT): rounding 1e10 eps ~ 2e-6
# Samples of kinds spd and invertible have a condition number at most this (sampling).
SAMPLE_COND = 10.0
# A claim's own sensitivity to the rounding of the inputs, taken this many times into
# the tolerance before a claim fails narrowly (forms).
CLAIM_NOISE_FACTOR = 4.0
COMPLEX_SPREAD = 16.0  # the complex step's rounding: times its moves at two points near the sample
# A derivative no larger than its noise passes a claim within this many times the noise
# (verdict: a claim of 0 passes an exactly zero derivative).
ZERO_SLACK = 2.0
# Noise this many times the rounding part of the error estimate means the derivative
# changes with the step: f is not smooth near the point (verdict).
NOT_SMOOTH = 10.0
# A method "sees" a derivative when its numbers are this many times their noise: a zero
# judged by another method is then no verdict (verdict).
SEEN = 2.0

TOLERANCES: dict[str, str] = {
    "DEFAULT_RTOL": "relative tolerance on top of the error estimate (--rtol)",
    "DEFAULT_MAX_NOISE": "largest relative noise at which a claim is judged (--max-noise)",
    "ROUNDING": "rounding error of one value of f, in eps * |f|",
    "FIRST_STEP": "base steps of first derivatives, relative to the entries",
    "SECOND_STEP": "base steps of second derivatives, relative to the entries",
    "REFINE_TABLES": "times Richardson's table is retaken at a quarter of the step",
    "TRUNCATION_DOMINATES": "error over rounding above which Richardson retakes its table",
    "KINK_RATIO": "gap between one-sided derivatives, in drifts, that makes a kink",
    "KINK_IN_SIGHT": "relative gap between one-sided derivatives that may be a kink (a second step size)",
    "QUICK_NOISE": "share of --max-noise below which one step size of central differences passes a claim",
    "NOISE_STEP": "relative step of the line that reads the rounding noise of f",
    "COMPLEX_NOISE_STEP": "relative step of the line that reads the complex step's noise",
    "COMPLEX_SHARPEN": "relative rounding from f above which the complex step reads it from the slope",
    "MAX_INVERTED_COND": "condition number above which an inverted sample is redrawn",
    "MAX_DET_COND": "condition number above which the argument of det is redrawn",
    "SAMPLE_COND": "largest condition number of spd and invertible samples",
    "CLAIM_NOISE_FACTOR": "weight of the claim's own input-rounding sensitivity",
    "COMPLEX_SPREAD": "weight of the complex step's moves at points within rounding",
    "ZERO_SLACK": "a zero derivative passes claims within this many noises",
    "NOT_SMOOTH": "noise over rounding above which f is not smooth at the point",
    "SEEN": "numbers over noise above which a method sees a derivative",
}
