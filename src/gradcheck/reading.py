"""What one claim reads at one point: claimed and numerical actions, with error estimates.

A `Reading` is what a claim form (gradcheck.forms) returns and what the verdict judges:
the claim's action on every probe next to the numerical one, flattened, with the
numerical error estimate of each. It is frozen; the steps after it (the claim's own
rounding sensitivity, the other readings a diagnosis tries) return new ones.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from gradcheck.norms import norm

# Other readings of a claim (transposed, negated, ...): name -> (claimed, numeric).
Alternatives = Mapping[str, tuple[np.ndarray, np.ndarray]]
# A claimed and a numerical derivative side by side, in the claim's own layout.
Display = tuple[np.ndarray, np.ndarray]
# The other readings of a failing claim, and the display if only a failure shows one.
Explanation = tuple[Alternatives, Display | None]


@dataclass(frozen=True)
class Reading:
    """A claim at one point: claimed and numerical actions, flattened, with error estimates."""

    trial: int
    mode: str  # "full", "directional" or "value"
    claimed: np.ndarray
    numeric: np.ndarray
    uncertainty: np.ndarray
    nfev: int
    rounding: np.ndarray = field(default_factory=lambda: np.zeros(0))
    method: str = "central"
    conditions: Mapping[str, float] = field(default_factory=dict)  # of the sampled matrices
    # other readings of the claim, for a diagnosis (filled in for failures only)
    alternatives: Alternatives = field(default_factory=dict)
    # the claimed and numerical derivative in the claim's own layout, when fully known
    display: Display | None = None
    sketch: int = 0  # the number of sums f was compared through (0: entry by entry)
    # The size the numbers would have if the terms of f that change changed by their own
    # size along each probe: a derivative below its noise is judged zero only where that
    # noise is small against this (see verdict.zero_judged).
    reference: float = 0.0
    # for a claim on several inputs, each input's share, judged on its own too
    parts: tuple[Reading, ...] = ()
    part: str = ""  # which share this is ("the part along dX", "link 2: a = b"), else ""
    # whether the parts are in an order (a chain's links): a diagnosis names the first that
    # fails, not the worst
    ordered: bool = False
    kinks: int = 0  # probes along which f has a kink at the point (judged by a subgradient)
    conflict: str = ""  # why the numbers cannot judge the claim although they look clean
    ambiguous: str = ""  # why a passing claim may still hold only in another layout
    # How to build the other readings (they need the point, which a result outlives);
    # dropped once used, so that a reading can cross to another process.
    explain: Callable[[], Explanation] | None = field(default=None, compare=False, repr=False)

    @property
    def views(self) -> tuple[Reading, ...]:
        """The reading and each input's share of it: a claim is judged on all of them."""
        return (self, *self.parts)

    # Norms the verdict asks for again and again (a frozen record: computed once).
    @functools.cached_property
    def noise_norm(self) -> float:
        return norm(self.uncertainty)

    @functools.cached_property
    def numeric_norm(self) -> float:
        return norm(self.numeric)

    @functools.cached_property
    def scale(self) -> float:
        """The size of the derivative: the larger of the claimed and the numerical one."""
        return max(norm(self.claimed), self.numeric_norm)
