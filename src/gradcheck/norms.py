"""Euclidean norms and distances that neither underflow nor overflow.

``np.linalg.norm`` squares the entries: below about 1e-154 the squares are 0 and
above about 1e154 they are infinite, so an error of 1e-170 reads as 0 and one of
1e200 as infinity. These functions divide by the largest magnitude first, as
LAPACK's nrm2 does, so every finite value from 1e-300 to 1e300 keeps its size.
A value that is not finite gives a result that is not finite (never 0).
"""

from __future__ import annotations

import numpy as np

__all__ = ["norm", "distance", "ratio"]


def _largest(*arrays: np.ndarray) -> float:
    """The largest magnitude of any entry (0 for no entries; NaN where there is one)."""
    out = 0.0
    for a in arrays:
        if a.size == 0:
            continue
        if a.dtype.kind == "c":
            a = np.abs(a)
        top = max(float(a.max()), -float(a.min()))  # two reductions, no |a| array
        if not top <= out:  # NaN propagates
            out = top
    return out


# Where the largest magnitude lies between these, no square overflows and none that
# underflows matters (entries below 1e-170 next to one of 1e-150 change the norm by less
# than eps): the rescaled copy is not needed.
_SAFE_LOW, _SAFE_HIGH = 1e-150, 1e150


# Where the sum of squares lies between these it is the norm's square to rounding: no
# square overflowed, and the largest entry is above 1e-140 / sqrt(size), so the squares
# that underflowed (entries below 1e-154) change it by less than eps. One reduction then
# suffices, where finding the largest magnitude first takes two more.
_SQUARES_LOW, _SQUARES_HIGH = 1e-280, 1e280


def norm(a: np.ndarray | float) -> float:
    """||a||_2 of all entries (real or complex), rescaled."""
    a = np.asarray(a)
    v = a.reshape(-1)
    squares = float(np.vdot(v, v).real)
    if _SQUARES_LOW < squares < _SQUARES_HIGH:
        return float(np.sqrt(squares))
    s = _largest(a)
    if _SAFE_LOW < s < _SAFE_HIGH:  # no square can overflow, none that matters underflows
        return float(np.sqrt(squares))
    if s == 0.0 or not np.isfinite(s):
        return s
    return s * float(np.linalg.norm(a / s))


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b||_2, rescaled (a - b itself may overflow when a and b are near 1e308)."""
    a, b = np.asarray(a), np.asarray(b)
    s = _largest(a, b)
    if _SAFE_LOW < s < _SAFE_HIGH:
        v = np.reshape(a - b, -1)
        return float(np.sqrt(np.vdot(v, v).real))
    if s == 0.0 or not np.isfinite(s):
        return s if s == 0.0 else float("inf")
    return s * float(np.linalg.norm(a / s - b / s))


def ratio(a: np.ndarray, b: np.ndarray) -> float:
    """<a, b> / <a, a>, the factor c minimising ||b - c a||, rescaled; 0 when a is 0."""
    a, b = np.asarray(a), np.asarray(b)
    s, t = _largest(a), _largest(b)
    if s == 0.0 or t == 0.0 or not (np.isfinite(s) and np.isfinite(t)):
        return 0.0
    a, b = a / s, b / t
    return float(np.real(np.vdot(a, b)) / np.real(np.vdot(a, a))) * (t / s)
