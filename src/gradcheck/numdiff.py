"""Numerical derivatives with an estimate of their own error.

Pure array functions: callers pass the function restricted to a line (or a
plane, for second derivatives) through the point, already scaled so that a
step of ``t`` moves each entry by about ``t`` relative (see `entry_scales`).

Notes
-----
Methods (``METHODS``):

``central``
    Central differences at steps ``h`` and ``h/2``, ``h = eps**(1/3)``
    (about 6e-6), which balances the O(h**2) truncation error against the
    O(eps/h) rounding error. The value is the ``h/2`` one; its truncation
    error is a third of the gap between the two (the method is second
    order); the estimate takes twice the whole gap, which also covers
    rounding noise larger than assumed. 4 evaluations; 2 for ``fine_central``,
    the same value with the rounding part of the error estimate alone, which
    decides only that a claim passes (the steps at h can only add to it).
``richardson``
    Central differences at ``h, h/2, h/4`` with ``h = 1e-3``, extrapolated
    twice (Richardson's table, sixth order). The error estimate is twice the
    gap between the last two extrapolants plus the gap within the previous
    column. 6 evaluations. Its rounding error is about 100 times smaller than
    ``central``'s. Where the estimate is mostly truncation (a random direction of a
    large input carries f far along a curve), the table is taken again from ``h/4``
    and then ``h/16`` (4 evaluations each, reusing one column), and the table with the
    smaller error estimate is kept: no single base step suits both a tanh layer at
    n = 100 (truncation) and log det at n = 300 (rounding).
``complex``
    Complex step: ``Im f(x + i h d) / h`` with ``h = 1e-20``; no subtraction,
    so exact to rounding. Valid only when f is complex-analytic (the caller
    decides). 1 evaluation.

Second derivatives use the four-point mixed difference; under ``central``
and ``richardson`` alike it is extrapolated over steps ``h, h/2, h/4`` with
``h = 5e-3`` (12 evaluations), since plain second differences resolve only
about 1e-6.

Every estimate also carries its rounding part alone, ``eps * |f| / h`` times
a safety factor, or more where the rounding noise of f measured at the point is
larger (an f computed with cancellation, such as the determinant of an
ill-conditioned product), so that callers can tell noise from truncation: a large
truncation part at a point means f is not smooth there (a kink).
The step actually taken, ``(x + h d) - x``, differs from ``h d`` by at most
``eps |x|``; with steps scaled to the entries this is below 1e-10 relative.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from gradcheck.norms import norm
from gradcheck.options import (
    EPS,
    FIRST_STEP,
    KINK_IN_SIGHT,
    KINK_RATIO,
    REFINE_TABLES,
    ROUNDING,
    SECOND_STEP,
    TRUNCATION_DOMINATES,
)

__all__ = ["Estimate", "METHODS", "entry_scales", "fine_central", "first_derivative", "first_steps", "second_derivative", "second_steps"]

METHODS = ("central", "richardson", "complex")
TINY = 1e-300

Line = Callable[[float | complex], np.ndarray]
Plane = Callable[[float | complex, float | complex], np.ndarray]


@dataclass(frozen=True)
class Estimate:
    """A numerical derivative, entry-wise estimates of its error (and of the part of
    it that is rounding), and the number of evaluations it cost."""

    value: np.ndarray
    error: np.ndarray
    rounding: np.ndarray
    nfev: int
    # Where f has a kink at the point itself (its one-sided derivatives differ, whatever
    # the step), the derivative is any value between them (a subgradient): entry-wise
    # bounds, equal to `value` where there is no kink; None when there is none at all.
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None

    def scaled(self, factor: float) -> Estimate:
        lower, upper = self.lower, self.upper
        if lower is not None and upper is not None:
            lower, upper = np.minimum(lower * factor, upper * factor), np.maximum(lower * factor, upper * factor)
        return Estimate(self.value * factor, self.error * abs(factor), self.rounding * abs(factor), self.nfev,
                        lower, upper)


def entry_scales(x: np.ndarray) -> np.ndarray:
    """How far each entry of `x` may be moved, relative: ``max(|x_i|, rms(x))``.

    The rms floor keeps the step sensible for entries that happen to be near 0.
    """
    a = np.abs(x)
    if not isinstance(a, np.ndarray) or a.ndim == 0:
        a = np.array(a, dtype=float)  # numpy gives a scalar for a 0-d array
    rms = float(np.linalg.norm(a) / np.sqrt(a.size)) if a.size else 1.0
    return np.asarray(np.maximum(a, rms if rms > 0 else 1.0, out=a))  # in place: x may be as large as the limit


def _magnitude(*values: np.ndarray) -> np.ndarray:
    return np.asarray(np.maximum.reduce([np.abs(v) for v in values]))


def _central(g: Line, h: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The central difference at step h, the magnitude of the values, and the values."""
    plus, minus = g(h), g(-h)
    return (plus - minus) / (2 * h), _magnitude(plus, minus), plus, minus


def _even_drift(coarse: tuple[np.ndarray, np.ndarray, float], fine: tuple[np.ndarray, np.ndarray, float]) -> np.ndarray:
    """How far the steps are from the regime where their errors fall as they should.

    With g(0) = 0, (g(h) + g(-h)) / h is the even part of g over the step: h f''(0) plus
    O(h^3) for a smooth f, so at h and h/2 it halves, to rounding. Central differences
    cancel it, which is why two of them can agree by chance when f oscillates with the
    steps (x^2 + 1e-4 sin(w log x), w h = 2 pi: both miss the sine); the even parts do not
    halve then, and their misfit is added to the error estimate. For a smooth f it is of
    the order of the rounding noise already counted."""
    (p1, m1, h1), (p2, m2, h2) = coarse, fine
    return np.asarray(np.abs((p1 + m1) / h1 - (h1 / h2) * (p2 + m2) / h2))




def _kink(coarse: tuple[np.ndarray, np.ndarray, float], fine: tuple[np.ndarray, np.ndarray, float],
          value: np.ndarray, error: np.ndarray,
          rounding: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Bracket the derivative where f has a kink at the point itself (g(0) = 0).

    The one-sided differences at two steps, right (g(h) / h) and left (-g(-h) / h), drift
    by O(h) for a smooth f, and their gap is as small as that drift; at a kink the gap
    stays whatever the step (relu at a structural zero: right 1, left 0 at every h), and
    the central difference, their mean, is no derivative at all. There the error becomes
    the drift and the value may be anything between the two sides."""
    (p1, m1, h1), (p2, m2, h2) = coarse, fine
    if np.iscomplexobj(value):  # a bracket needs an order: complex values have none
        return error, None, None
    right1, left1, right2, left2 = p1 / h1, -m1 / h1, p2 / h2, -m2 / h2
    drift = np.abs(right1 - right2) + np.abs(left1 - left2)
    kinked = np.abs(right2 - left2) > KINK_RATIO * (drift + rounding)
    if not np.any(kinked):
        return error, None, None
    lower = np.where(kinked, np.minimum(right2, left2), value)
    upper = np.where(kinked, np.maximum(right2, left2), value)
    return np.where(kinked, drift + rounding, error), lower, upper


def value_rounding(magnitude: np.ndarray | float, f_noise: np.ndarray | float) -> np.ndarray:
    """Rounding error of one value of f: the assumed ROUNDING * eps * |f|, or more where
    the noise seen in f (see `Point.rounding_noise`) is larger."""
    return np.asarray(np.maximum(ROUNDING * EPS * np.asarray(magnitude), 4 * np.asarray(f_noise)))


def first_derivative(g: Line, scale: float = 1.0, method: str = "central",
                     f_noise: np.ndarray | float = 0.0, f_size: np.ndarray | float = 0.0,
                     at_zero: bool = False) -> Estimate:
    """``g'(0)`` by `method`, with steps `scale` times the method's base step.

    `f_noise` is the rounding noise of f seen at the point, if measured. `f_size` is the
    size of f, when g gives its change rather than its value (the rounding of one value
    is eps times the size of what is computed, not of the change). `at_zero` says that
    g(0) = 0 (g is that change): one-sided differences are then known, and a kink at the
    point itself is bracketed (see `Estimate.lower`).
    """
    h = FIRST_STEP[method] * scale
    if method == "complex":
        return _complex_step(g, h, value_rounding(f_size, f_noise) / scale)
    if method == "richardson":
        return _richardson(g, h, f_noise, f_size, at_zero)
    coarse, mag_a, pa, ma = _central(g, h)
    fine, mag_b, pb, mb = _central(g, h / 2)
    rounding = value_rounding(np.maximum.reduce([mag_a, mag_b, np.broadcast_to(f_size, np.shape(mag_a))]), f_noise) / h
    # |coarse - fine| is three times the truncation error of `fine`, and also holds the
    # rounding noise actually seen; it is taken whole, as a safety margin.
    error = 2 * np.abs(coarse - fine) + rounding
    if not at_zero:
        return Estimate(fine, error, rounding, 4)
    error = error + _even_drift((pa, ma, h), (pb, mb, h / 2))
    error, lower, upper = _kink((pa, ma, h), (pb, mb, h / 2), fine, error, rounding)
    return Estimate(fine, error, rounding, 4, lower, upper)


def fine_central(g: Line, scale: float = 1.0, f_noise: np.ndarray | float = 0.0,
                 f_size: np.ndarray | float = 0.0) -> tuple[Estimate, bool]:
    """``g'(0)`` as `first_derivative` takes it under ``central`` (its value is the central
    difference at h/2), from those two evaluations alone: its error estimate is the
    rounding part of that one's, without the truncation part that the steps at h would
    add. Every error estimate the verdict sees is that one's or larger, so a claim that
    passes with this estimate passes with that one (see `Differences.quickly`). With it,
    whether it may stand for that one: not where a kink may be near, the one-sided
    differences at h/2 (g(0) = 0: g gives a change) further apart than a smooth f makes
    them (KINK_IN_SIGHT of their size, beyond rounding), for the verdict notes a kink."""
    h = FIRST_STEP["central"] * scale
    fine, magnitude, plus, minus = _central(g, h / 2)
    rounding = value_rounding(np.maximum(magnitude, f_size), f_noise) / h
    right, left = plus / (h / 2), -minus / (h / 2)
    gap = np.abs(right - left)
    smooth = bool(np.all(gap <= KINK_IN_SIGHT * np.maximum(np.abs(right), np.abs(left)) + 4 * rounding))
    return Estimate(fine, rounding, rounding, 2), smooth


def first_steps(method: str, scale: float = 1.0) -> tuple[float | complex, ...]:
    """The points t at which `first_derivative` evaluates g whatever g is (it may take
    more), in its order: a caller can evaluate them all at once beforehand."""
    h = FIRST_STEP[method] * scale
    if method == "complex":
        return (1j * h,)
    halvings = 3 if method == "richardson" else 2
    return tuple(t for k in range(halvings) for t in (h / 2**k, -(h / 2**k)))


def second_steps(method: str, scale_u: float = 1.0, scale_v: float = 1.0) -> tuple[tuple[complex, complex], ...]:
    """The points (s, t) at which `second_derivative` evaluates g whatever g is (it may
    take more), in its order."""
    if method == "complex":
        tiny = FIRST_STEP["complex"] * scale_u
        return tuple((1j * tiny, t) for t in first_steps("richardson", scale_v))
    hu, hv = SECOND_STEP[method] * scale_u, SECOND_STEP[method] * scale_v
    return tuple(point for f in (1.0, 0.5, 0.25) for a, b in [(hu * f, hv * f)]
                 for point in ((a, b), (a, -b), (-a, b), (-a, -b)))


SMALL_F = 1e-200  # below this |f|, h * f' may fall among the subnormal numbers
SUBNORMAL = float(np.finfo(float).tiny) / EPS  # below this a value has lost digits to underflow


def _complex_step(g: Line, h: float, noise: np.ndarray | float) -> Estimate:
    """``Im g(i h) / h``, with an error estimate from the imaginary part alone: a large real
    part (an additive constant, a large unrelated term) does not touch the imaginary one.

    `noise` is the rounding error of f at the point per unit of the step's scale: the
    imaginary part is evaluated at the rounded real point, so an f that rounds its inputs
    away (x + 1e9) carries that error into the derivative too."""
    value = g(1j * h)
    size = float(np.max(np.abs(np.real(value)), initial=0.0))
    if 0.0 < size < SMALL_F:
        # f is so small that h f' would be subnormal and lose its digits: larger steps,
        # whose truncation error (of order h**2) the gap between two of them bounds.
        h *= min(SMALL_F / size, 1e12)
        coarse, value = np.imag(g(1j * h)) / h, g(0.5j * h)
        h /= 2
        d = np.imag(value) / h
        truncation, nfev = np.abs(coarse - d), 3
    else:
        d, truncation, nfev = np.imag(value) / h, np.zeros(()), 1
    # No subtraction of nearby values, but the terms of d can cancel, and an
    # ill-conditioned f (a determinant of a nearly singular product), or one whose
    # arguments lose digits (x + 1e9), loses them in the imaginary part too: about the
    # rounding of f at the point. An additive constant or a term of other inputs is not
    # part of f here (see Point.change). An imaginary part among the subnormal numbers
    # has lost digits: SUBNORMAL / h covers them.
    rounding = ROUNDING * EPS * np.abs(d) + np.asarray(noise) + SUBNORMAL / h
    return Estimate(d, rounding + truncation, rounding, nfev)


def _richardson(g: Line, h: float, f_noise: np.ndarray | float = 0.0,
                 f_size: np.ndarray | float = 0.0, at_zero: bool = False) -> Estimate:
    """Richardson's table over steps h, h/2, h/4; where its error is mostly truncation,
    the table again one step quarter lower (down to REFINE_TABLES times), and the one
    with the smaller error estimate is kept.

    A fixed base step cannot suit every probe: a random direction of a large input moves
    f far along a curve (a tanh layer at n = 100: the table's gap is 1e-8 relative, 40
    times central's error), while a shorter one takes more rounding where f is noisy
    (log det at n = 300). Each table's estimate bounds its own error, so the smaller of
    the two judges no claim more leniently than either would alone."""
    centrals: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    def central(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if k not in centrals:
            centrals[k] = _central(g, h / 2**k)
        return centrals[k]

    best = _table(central, 0, h, f_noise, f_size, at_zero)
    for k in range(2, 2 * REFINE_TABLES + 1, 2):
        if norm(best.error) <= TRUNCATION_DOMINATES * norm(best.rounding):
            break
        finer = _table(central, k, h, f_noise, f_size, at_zero)
        if norm(finer.error) >= norm(best.error):
            break
        best = finer
    return replace(best, nfev=2 * len(centrals))


def _table(central: Callable[[int], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], k: int, h: float,
           f_noise: np.ndarray | float, f_size: np.ndarray | float, at_zero: bool) -> Estimate:
    """Richardson's table over the central differences at steps h / 2**(k, k+1, k+2)."""
    (d1, m1, _, _), (d2, m2, p2, n2), (d3, m3, p3, n3) = central(k), central(k + 1), central(k + 2)
    h1 = h / 2**k
    r1, r2 = (4 * d2 - d1) / 3, (4 * d3 - d2) / 3
    best = (16 * r2 - r1) / 15
    # rounding of d3 is amplified by the extrapolation weights (about 1.5)
    rounding = 2 * value_rounding(np.maximum.reduce([m1, m2, m3, np.broadcast_to(f_size, np.shape(m1))]),
                                  f_noise) / (h1 / 2)
    error = _table_error(best, r1, r2) + rounding
    if not at_zero:
        return Estimate(best, error, rounding, 6)
    error = error + _even_drift((p2, n2, h1 / 2), (p3, n3, h1 / 4))
    error, lower, upper = _kink((p2, n2, h1 / 2), (p3, n3, h1 / 4), best, error, rounding)
    return Estimate(best, error, rounding, 6, lower, upper)


def _table_error(best: np.ndarray, r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
    """Error of the extrapolated value: the gap to the previous column, plus the gap
    within that column, which covers steps still outside the asymptotic regime (f with
    large higher derivatives, such as log(1 - sigmoid) far out)."""
    return np.asarray(2 * np.abs(best - r2) + np.abs(r2 - r1))


def second_derivative(g: Plane, scale_u: float = 1.0, scale_v: float = 1.0, method: str = "central",
                      f_noise: np.ndarray | float = 0.0, f_size: np.ndarray | float = 0.0) -> Estimate:
    """``d^2 g / ds dt`` at (0, 0); the steps in s and t are scaled separately."""
    hu, hv = SECOND_STEP[method] * scale_u, SECOND_STEP[method] * scale_v
    if method == "complex":
        # complex step in s, extrapolated differences in t: d/dt Im[g(ih, t)] / h
        tiny = FIRST_STEP["complex"] * scale_u
        line: Line = lambda t: np.imag(g(1j * tiny, t)) / tiny
        return first_derivative(line, scale_v, "richardson", f_noise, f_size)

    def mixed(f: float) -> tuple[np.ndarray, np.ndarray]:
        a, b = hu * f, hv * f
        vals = (g(a, b), g(a, -b), g(-a, b), g(-a, -b))
        return (vals[0] - vals[1] - vals[2] + vals[3]) / (4 * a * b), _magnitude(*vals)

    if method in ("richardson", "central"):
        # Plain central second differences resolve only about 1e-6 relative: not enough to
        # catch the errors the first derivatives catch, so both methods extrapolate here.
        (d1, m1), (d2, m2), (d3, m3) = mixed(1.0), mixed(0.5), mixed(0.25)
        r1, r2 = (4 * d2 - d1) / 3, (4 * d3 - d2) / 3
        best = (16 * r2 - r1) / 15
        size = np.broadcast_to(f_size, np.shape(m1))
        rounding = 2 * value_rounding(np.maximum.reduce([m1, m2, m3, size]), f_noise) / (hu * hv / 16)
        return Estimate(best, _table_error(best, r1, r2) + rounding, rounding, 12)
    raise ValueError(f"unknown method {method!r}")
