"""Why a claim failed: the slips a failing claim is tried against, and the hint they give.

Two halves. At the point, a failing reading is given its other readings: the claim
transposed, negated, symmetrised, read row-major, with two variables swapped, with one
of its terms dropped or its sign flipped (the slips listed here, applied by each claim
form). After the verdict, `diagnosed` finds the reading that explains the numbers (up
to a constant factor, too) and says so in one line, with the largest difference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from fractions import Fraction

import numpy as np

from gradcheck.catalogue import Claim
from gradcheck.errors import EvaluationError
from gradcheck.norms import ratio
from gradcheck.point import Point
from gradcheck.reading import Alternatives, Reading
from gradcheck.verdict import ClaimResult, Comparison, compare

# -- slips to try, at the point ----------------------------------------------------


def sym(a: np.ndarray) -> np.ndarray:
    return np.asarray((a + a.T) / 2)


def matrix_slips(c: np.ndarray) -> dict[str, np.ndarray]:
    """Other readings of a square claimed matrix, in the order a diagnosis tries them."""
    if not (c.ndim == 2 and c.shape[0] == c.shape[1] and c.shape[0] > 1):
        return {}
    return {"transposed": c.T, "symmetrised": sym(c), "independent entries": (c + c * np.eye(c.shape[0])) / 2}


def derivative_slips(claim: Claim, point: Point, c: np.ndarray, layout: str, f_shape: tuple[int, ...],
                     x_shape: tuple[int, ...], extra: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Every other reading of a derivative claim's matrix `c` a diagnosis tries (`extra`:
    names the claim sees besides the point's, a vjp's cotangent)."""
    return {**matrix_slips(c), **_swapped(claim, point, c.shape, extra), **_term_slips(claim, point, c, extra),
            **_row_major(c, layout, f_shape, x_shape)}


def reshaped_slips(c: np.ndarray) -> dict[str, np.ndarray]:
    """A cotangent whose entries were put in place in the wrong order: a flat vector
    reshaped row by row where the input is laid out column by column, or the other way
    (for a square matrix, the claim transposed; tried after that)."""
    if c.ndim < 2 or sorted(c.shape)[-2] < 2:
        return {}
    return {"reshaped": c.reshape(-1, order="C").reshape(c.shape, order="F"),
            "reshaped back": c.reshape(-1, order="F").reshape(c.shape, order="C")}


def value_slips(values: Sequence[np.ndarray], target: np.ndarray) -> Alternatives:
    """Other readings of claimed values (a differential's, an equality's) against `target`."""
    stacked = np.concatenate([np.asarray(v).reshape(-1, order="F") for v in values])
    alts = {"negated": (-stacked, target)}
    if values and values[0].ndim == 2 and values[0].shape[0] == values[0].shape[1] > 1:
        alts["transposed"] = (np.concatenate([v.T.reshape(-1, order="F") for v in values]), target)
    return alts


def _term_slips(claim: Claim, point: Point, c: np.ndarray,
                extra: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The claim with one of its additive terms left out, or with that term's sign flipped
    (a term too many, or a sign slip in one term: the commonest slips in a sum)."""
    terms = claim.expr.terms()
    if len(terms) < 2 or len(terms) > 8:
        return {}
    out = {}
    for sign, term in terms:
        try:
            value = np.broadcast_to(sign * point.claim(term, "", extra), c.shape)
        except (EvaluationError, ValueError):
            continue
        out[f"without the term '{term.source}'"] = c - value
        out[f"with the sign of the term '{term.source}' flipped"] = c - 2 * value
    return out


def _row_major(c: np.ndarray, layout: str, f_shape: tuple[int, ...], x_shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """A Jacobian claim read as if f and x were vectorised row by row (NumPy's and PyTorch's
    reshape), brought to the format's column-major vec."""
    if int(np.prod(f_shape)) == 1 or c.ndim != 2 or (len(f_shape) < 2 and len(x_shape) < 2):
        return {}
    rows, cols = (f_shape, x_shape) if layout == "numerator" else (x_shape, f_shape)

    def order(shape: tuple[int, ...]) -> np.ndarray:
        size = int(np.prod(shape))
        return np.arange(size).reshape(shape, order="C").reshape(-1, order="F")

    if c.shape != (int(np.prod(rows)), int(np.prod(cols))):
        return {}
    f_side = "rows" if layout == "numerator" else "columns"
    readings = {
        "row-major": c[order(rows)][:, order(cols)],
        # one side only: the Jacobian of f^T, or with respect to X^T (a commutation matrix
        # K, with K vec(A) = vec(A^T), missing on that side)
        "commuted f": c[order(rows)] if f_side == "rows" else c[:, order(cols)],
        "commuted x": c[:, order(cols)] if f_side == "rows" else c[order(rows)],
    }
    out: dict[str, np.ndarray] = {}
    for name, moved in readings.items():
        if not np.array_equal(moved, c) and not any(np.array_equal(moved, m) for m in out.values()):
            out[name] = moved
    return out


def _swapped(claim: Claim, point: Point, shape: tuple[int, ...],
             extra: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The claim with two of its variables of the same shape exchanged (a common slip)."""
    values = point.sample.values
    names = sorted(n for n in claim.expr.names if n in values)
    out = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if values[a].shape != values[b].shape:
                continue
            try:
                c = point.claim(claim.expr, "", {**(extra or {}), a: values[b], b: values[a]})
            except EvaluationError:
                continue
            if c.shape == shape:
                out[f"{a} and {b} swapped"] = c
    return out


# -- the hint, after the verdict ---------------------------------------------------

_READINGS = {
    "transposed": "matches the claim transposed",
    "conjugated": "matches the claim conjugated",
    "negated": "matches the claim negated",
    "symmetrised": "matches the symmetric part of the claim, sym(claim)",
    "symmetric parts agree": "matches only on its symmetric part: right for symmetric dX only",
    "independent entries": ("is the derivative w.r.t. the independent entries of a symmetric X "
                            "(off-diagonal counted twice); the gradient is (claim + claim∘I)/2"),
    "row-major": ("matches the claim read in row-major order (vec of f and x taken row by row, as "
                  "NumPy's reshape does); the format's vec is column-major"),
    "commuted f": ("matches the claim with a commutation matrix on the side of f: it is the "
                   "derivative of f transposed (K vec(F) = vec(F^T))"),
    "direction transposed": "matches the claim with its {} transposed",
    "direction and claim transposed": ("matches the claim transposed with its {} transposed: every "
                                       "transpose in it missing (or one too many)"),
    "reshaped": ("matches the claim with its entries reordered: a vector reshaped row by row "
                 "where its entries go column by column (or the other way)"),
    "reshaped back": ("matches the claim with its entries reordered: a vector reshaped row by row "
                      "where its entries go column by column (or the other way)"),
    "blocks reversed": "matches the claim with its blocks in the reverse order of 'wrt'",
    "not linear": ("agrees along each entry of the direction but not along a combination of them: "
                   "the claim is not linear in its direction, as a differential must be"),
    "commuted x": ("matches the claim with a commutation matrix on the side of the input: it is "
                   "the derivative with respect to the input transposed (K vec(X) = vec(X^T))"),
}


def diagnosed(result: ClaimResult, rtol: float) -> ClaimResult:
    """`result` with a hint and details saying why its claim did not pass (unchanged if it
    passed or was never judged)."""
    if result.claim is None or not result.comparisons or all(c.passed for c in result.comparisons):
        return result
    worst = max(range(len(result.comparisons)), key=lambda i: _excess(result.comparisons[i]))
    view = worst_view(result.readings[worst], rtol)
    if result.readings[worst].ordered:  # a chain: the first link that does not hold, by name
        hint, details = diagnose(result.claim, replace(view, part=""), rtol)
        return replace(result, hint=f"{view.part} does not hold: {hint}", details=details)
    hint, details = diagnose(result.claim, view, rtol)
    return replace(result, hint=hint, details=details)


def worst_view(m: Reading, rtol: float) -> Reading:
    """The whole reading, or the input's share of it that fails by the most (the diagnosis
    then speaks of that share: "off by a factor 2" in the dY part); for a chain, the first
    link that fails."""
    def excess(view: Reading) -> float:
        return _excess(compare(view.claimed, view.numeric, view.uncertainty, rtol))

    if m.ordered:
        return next((view for view in m.parts if excess(view) > 0), m)
    whole = excess(m)
    part = max(m.parts, key=excess, default=None)
    return part if part is not None and excess(part) > max(whole, 0.0) else m


def _excess(c: Comparison) -> float:
    return c.error - c.tolerance


def diagnose(claim: Claim, m: Reading, rtol: float) -> tuple[str, tuple[str, ...]]:
    """A short hint and detail lines explaining why a claim failed."""
    details = _worst_entry(m)
    for name, (c, n) in m.alternatives.items():
        if compare(c, n, m.uncertainty, rtol).passed:
            return _reading(claim, name), details
    for name, (c, n) in m.alternatives.items():
        # (another convention and a factor: the plain factor below says it more simply)
        factor = (_factor(replace(m, claimed=c, numeric=n), rtol)
                  if name != "negated" and not name.startswith("convention ") else None)
        if factor is not None:
            return f"{_reading(claim, name)}, and off by a factor: numerical = {factor} x that", details
    if _column_signs(m, rtol):
        return ("matches with the signs of some columns flipped: an eigen- or singular vector's sign "
                "convention (eigvecsh, svdu and svdv make each column's largest entry positive)"), details
    factor = _factor(m, rtol)
    where = f" in {m.part}" if m.part else ""
    if factor is not None:
        return f"off by a factor{where}: numerical = {factor} x claim", details
    size = compare(m.claimed, m.numeric, m.uncertainty, rtol).error
    return f"no simple slip found{where} (relative error {size:.1e})", details


def _reading(claim: Claim, name: str) -> str:
    if name.startswith("convention "):  # a derivative wrt a complex input (format 6)
        return f"matches the claim read in convention {name.split()[1]}, not {claim.convention}"
    if name.endswith(" swapped"):
        return f"matches the claim with {name}"
    if name.startswith(("without the term", "with the sign of the term")):
        return f"matches the claim {name}"
    if name.startswith("with d"):  # a direction transposed: dX^T for dX
        return f"matches the {'step' if claim.form == 'derivation' else 'claim'} {name}"
    text = _READINGS[name]
    if name in ("direction transposed", "direction and claim transposed"):
        kind = "cotangent" if claim.form == "vjp" else "tangent"
        # the Python API's directions have no name of the user's ("<cotangent>")
        named = claim.direction and not claim.direction.startswith("<")
        return text.format(f"{kind} {claim.direction}" if named else kind)
    if name == "transposed" and claim.form == "derivative":
        other = "denominator" if claim.layout == "numerator" else "numerator"
        return f"{text}: it holds in layout {other}"
    return text


def _column_signs(m: Reading, rtol: float) -> bool:
    """Whether the claim matches the numbers shown once some of its columns change sign: of
    eigen- or singular vectors, a claim that fixed their signs another way than the function."""
    if m.display is None:
        return False
    claimed, numeric = (np.asarray(a) for a in m.display)
    if claimed.ndim != 2 or claimed.shape != numeric.shape or np.iscomplexobj(claimed):
        return False
    signs = np.where(np.sum(claimed * numeric, axis=0) < 0, -1.0, 1.0)
    if np.all(signs > 0):
        return False
    return compare((claimed * signs).reshape(-1), numeric.reshape(-1), m.uncertainty, rtol).passed



def _factor(m: Reading, rtol: float) -> str | None:
    """A constant a with numeric = a * claimed, written as a small fraction, if there is one."""
    a = ratio(m.claimed, m.numeric)
    if a == 0 or not compare(a * m.claimed, m.numeric, m.uncertainty, rtol).passed:
        return None
    frac = Fraction(a).limit_denominator(16)
    if frac != 1 and abs(float(frac) - a) <= 1e-6 * abs(a):
        return str(frac)
    shown = f"{a:.6g}"
    # not a factor to speak of; nor is any ratio of two single numbers that is no simple fraction
    return None if shown == "1" or np.size(m.claimed) <= 1 else shown


def _worst_entry(m: Reading) -> tuple[str, ...]:
    if m.display is None:
        return ()
    claimed, numeric = (np.atleast_1d(np.asarray(a)) for a in m.display)
    if not (np.iscomplexobj(claimed) or np.iscomplexobj(numeric)):
        claimed, numeric = claimed.astype(float), numeric.astype(float)
    if claimed.shape != numeric.shape or claimed.size == 0:
        return ()
    diff = np.abs(claimed - numeric)
    index = np.unravel_index(int(np.argmax(diff)), diff.shape)
    where = ",".join(str(i + 1) for i in index)
    return (f"largest difference at entry ({where}): claimed {claimed[index]:.6g}, "
            f"numerical {numeric[index]:.6g}",)
