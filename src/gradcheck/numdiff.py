"""Finite-difference derivatives with an estimate of their own error.

Pure array functions: callers pass the function restricted to a line (or a
plane, for second derivatives) through the point.

Notes
-----
Step rule. A direction is scaled to the magnitude of the entries it moves
(see `entry_scales`), so a step of ``t`` changes each entry by about ``t``
relative. First derivatives use ``t = eps**(1/3)`` (about 6e-6), which
balances the O(t**2) truncation error of central differences against the
O(eps/t) rounding error; mixed second derivatives use ``t = eps**(1/4)``.

Error estimate. Every derivative is computed at steps ``t`` and ``t/2``. The
truncation error of the ``t/2`` value is a third of the gap between the two
(central differences are second order); rounding adds about
``eps * |f| / t``. The estimate is twice the first plus the second, per entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "FIRST_STEP", "SECOND_STEP", "entry_scales", "first_derivative", "second_derivative"]

EPS = float(np.finfo(float).eps)
FIRST_STEP = EPS ** (1 / 3)
SECOND_STEP = EPS ** (1 / 4)
ROUNDING = 8.0  # assumed rounding error of one evaluation of f, in units of eps * |f|

Line = Callable[[float], np.ndarray]
Plane = Callable[[float, float], np.ndarray]


@dataclass(frozen=True)
class Estimate:
    """A numerical derivative, an entry-wise estimate of its error, and its cost."""

    value: np.ndarray
    error: np.ndarray
    nfev: int


def entry_scales(x: np.ndarray) -> np.ndarray:
    """How far each entry of `x` may be moved, relative: ``max(|x_i|, rms(x))``.

    The rms floor keeps the step sensible for entries that happen to be near 0.
    """
    a = np.abs(x)
    rms = float(np.sqrt(np.mean(a**2))) if a.size else 1.0
    return np.maximum(a, rms if rms > 0 else 1.0)


def _magnitude(*values: np.ndarray) -> np.ndarray:
    return np.maximum.reduce([np.abs(v) for v in values])


def first_derivative(g: Line, step: float = FIRST_STEP) -> Estimate:
    """``g'(0)`` by central differences at `step` and `step/2`.

    Returns the `step/2` value; its error estimate is described in the module notes.
    """
    a_plus, a_minus = g(step), g(-step)
    b_plus, b_minus = g(step / 2), g(-step / 2)
    coarse = (a_plus - a_minus) / (2 * step)
    fine = (b_plus - b_minus) / step
    rounding = ROUNDING * EPS * _magnitude(a_plus, a_minus, b_plus, b_minus) / step
    error = 2 * np.abs(coarse - fine) / 3 + rounding
    return Estimate(np.asarray(fine), np.asarray(error), 4)


def second_derivative(g: Plane, step: float = SECOND_STEP) -> Estimate:
    """``d^2 g / ds dt`` at (0, 0) by the four-point mixed difference at `step` and `step/2`."""

    def mixed(t: float) -> tuple[np.ndarray, np.ndarray]:
        vals = (g(t, t), g(t, -t), g(-t, t), g(-t, -t))
        return (vals[0] - vals[1] - vals[2] + vals[3]) / (4 * t * t), _magnitude(*vals)

    coarse, mag_a = mixed(step)
    fine, mag_b = mixed(step / 2)
    # |coarse - fine| already holds the noise actually seen; this term is a floor for it
    rounding = 2 * EPS * np.maximum(mag_a, mag_b) / (step / 2) ** 2
    error = 2 * np.abs(coarse - fine) / 3 + rounding
    return Estimate(np.asarray(fine), np.asarray(error), 8)
