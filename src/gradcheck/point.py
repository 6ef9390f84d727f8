"""An identity evaluated at one sampled point, and at points moved from it.

`Point` owns the environment in which expressions are evaluated: inputs,
constants, dimension sizes and lets. Values that are not finite are turned into
a `NonFiniteError` that names the innermost sub-expression that produced them.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from gradcheck import batch
from gradcheck.catalogue import Identity, Variable
from gradcheck.errors import ClaimError, EvalError, EvaluationError, NonFiniteError
from gradcheck.expr import COMPLEX_VALUES, FRAME, Expr, printed, quiet
from gradcheck.functions import inv
from gradcheck.kinds import KINDS
from gradcheck.norms import norm
from gradcheck.numdiff import entry_scales
from gradcheck.options import EPS, MAX_DET_COND, MAX_INVERTED_COND, NOISE_STEP
from gradcheck.sampling import Sample, identity_rng

Env = dict[str, Any]

# Functions whose result depends on how close their argument is to singular (matrix_power
# only at a negative power: see `_inverted`).
INVERTING = frozenset({"inv", "solve", "det", "logdet", "adj", "pinv", "matrix_power", "logm", "sqrtm", "chol",
                       "lul", "luu"})
# Arguments of these only: computed to eps times their condition number, relative, and
# redrawn above MAX_DET_COND, not MAX_INVERTED_COND. A determinant is a polynomial in the
# entries, defined and smooth at a singular matrix; its rounding is what the conditions
# add to the claims' own (det(X^3) at cond(X) = 1e3 is judged, to 1e-7).
DETERMINANT = frozenset({"det"})
# Decompositions whose factors are differentiable only where the spectrum is simple: their
# "condition" is the largest eigen- or singular value over the smallest gap between them.
SPECTRAL = frozenset({"eigvecsh", "svdu", "svdv", "svdvals"})
SCALES_KEPT = 1_048_576  # inputs up to this many entries keep their step scales (8 MB)
WATCHED = INVERTING | SPECTRAL
# The calls of WATCHED functions seen as the function ("") and each let are evaluated:
# (function, its argument's text, the argument values).
Calls = dict[str, list[tuple[str, str, list[Any]]]]
Watch = tuple[frozenset[str], Callable[[str, str, list[Any]], None]]
HOISTED_FROM = 10_000  # input entries from which a claim's still parts are evaluated once a point
SUBTRACTED_IN_PLACE = 65_536  # entries of f from which its change is formed in its own memory
COND_SIZE_LIMIT = 200  # larger matrices: the 1-norm condition number, from an inverse (an SVD costs more)


@dataclass(frozen=True)
class Term:
    """One signed term of f: sign * expr, the inputs it depends on, its value at the sample."""

    sign: float
    expr: Expr
    inputs: frozenset[str]
    value: np.ndarray


class Point:
    """The identity's lets and function at a sample, and at nearby points."""

    def __init__(self, identity: Identity, sample: Sample) -> None:
        self.identity = identity
        self.sample = sample
        self.where = f"the sampled point (trial {sample.trial + 1})"
        self._scales: dict[str, np.ndarray] = {}
        base: Env = {**sample.dims, **sample.values}
        # the calls whose arguments' conditions are measured, seen as f and the lets are
        # evaluated here (evaluating them again to see them cost a second pass at every point)
        calls: Calls | None = {} if any(WATCHED & e.calls for e in self._evaluated) else None
        self.env = self._with_lets(base, self.where, calls=calls)
        self.value = self._function(self.env, self.where, calls)
        self.nfev = 1
        self._inverting: set[str] = set()  # the conditions of arguments something inverts
        self.conditions = self._conditions(calls or {})
        self._noise: dict[tuple[frozenset[str], bool], np.ndarray] = {}
        self._size_norms: dict[frozenset[str], float] = {}
        self._scale_rms: dict[str, float] = {}
        self._jiggles: dict[tuple[int, str], np.ndarray] = {}
        self._jiggles_kept = 0  # entries
        self._parts: Env = {}  # the values here of claims' still parts (see `_still_parts`), by name
        # the lets by their text: a claim's part written as one takes its value (`_reused`)
        self._let_texts = {text: name for name, let in identity.lets if (text := printed(let)) is not None}
        self._hoisting = sum(np.size(sample.values[v.name]) for v in identity.inputs) >= HOISTED_FROM

    @property
    def _evaluated(self) -> list[Expr]:
        """The function and the lets, in the order their calls are looked at."""
        return [self.identity.function, *(e for _, e in self.identity.lets)]

    def _watched(self, calls: Calls) -> Iterator[tuple[str, str, list[Any]]]:
        """The calls seen, the function's first, then each let's in order."""
        for key in ("", *(name for name, _ in self.identity.lets)):
            yield from calls.get(key, ())

    def _conditions(self, calls: Calls) -> dict[str, float]:
        """Condition numbers of the square sampled matrices of an identity that inverts
        something, of every matrix its function and lets invert (such as X^T X), and of the
        spectra its decompositions need simple (see `spectral_condition`)."""
        exprs = [*self._evaluated, *(c.expr for c in self.identity.claims)]
        out = self._inverted_conditions(calls) if any(INVERTING & e.calls for e in exprs) else {}
        for fn, where, args in self._watched(calls):
            a = np.asarray(args[0])
            if fn in SPECTRAL and a.ndim == 2 and not np.iscomplexobj(a) and _all_finite(a):
                out[f"gaps of {where}"] = max(out.get(f"gaps of {where}", 0.0), spectral_condition(fn, a))
        return out

    def _inverted_conditions(self, calls: Calls) -> dict[str, float]:
        out: dict[str, float] = {}
        # A sampled X is often what a let inverts: its number is reused. Only sampled arrays
        # are told apart by id (they live as long as the point; a temporary's id may recur).
        sampled: dict[int, float] = {id(v): -1.0 for v in self.sample.values.values()}
        # Large samples of these kinds are well conditioned by construction (see sampling):
        # an inverse to confirm it would cost as much as a few evaluations of f.
        known = {id(self.sample.values[v.name]) for v in (*self.identity.inputs, *self.identity.constants)
                 if KINDS[v.kind].conditioned and max(np.shape(self.sample.values[v.name])) > COND_SIZE_LIMIT}

        def record(where: str, value: Any) -> None:
            a = np.asarray(value)
            if id(value) in known:
                return
            if a.ndim >= 2 and a.shape[-1] == a.shape[-2] > 1 and a.dtype.kind in "fc" and _all_finite(a):
                if sampled.get(id(value), -1.0) >= 0:  # a sampled array measured already
                    out[where] = sampled[id(value)]
                    return
                out[where] = condition_number(a)
                if id(value) in sampled:
                    sampled[id(value)] = out[where]

        def watch(fn: str, where: str, args: list[Any]) -> None:
            if _inverted(fn, args):
                record(where, args[0])
                if fn not in DETERMINANT:
                    self._inverting.add(where)

        # a constant with a given value is the same at every point: drawing again cannot
        # improve it, and a singular one (a shift matrix) that nothing inverts is fine (if
        # something inverts it, the watch below measures that argument)
        fixed = {v.name for v in self.identity.constants if v.value is not None}
        for name, value in self.sample.values.items():
            if name not in fixed:
                record(name, value)
        for fn, where, args in self._watched(calls):
            if fn in INVERTING:
                watch(fn, where, args)
        return out

    def jiggle(self, i: int, names: Collection[str] | None = None) -> dict[str, np.ndarray]:
        """Point `i` of two within rounding of the sample (inputs moved by 4 eps, relative),
        the same at every call: the inputs `names` of it (all by default). Each input is
        drawn from a stream of its own, so that the noise of a change along one input
        does not cost jiggling all of them (at n = 1000, as much as a cheap f)."""
        return {v.name: self._jiggled(i, v) for v in self.identity.inputs if names is None or v.name in names}

    def _jiggled(self, i: int, var: Variable) -> np.ndarray:
        """Input `var` at point `i`: kept while the kept ones total two points of
        SCALES_KEPT entries (each is as large as its input), else made when needed."""
        if (i, var.name) in self._jiggles:
            return self._jiggles[(i, var.name)]
        value = self._jiggle(var, identity_rng(self.sample.trial, f"{self.identity.name}/rounding/{i}/{var.name}"))
        if self._jiggles_kept + value.size <= 2 * SCALES_KEPT:
            self._jiggles[(i, var.name)] = value
            self._jiggles_kept += value.size
        return value

    @functools.cached_property
    def rounding_noise(self) -> np.ndarray:
        """How much f changes between points within rounding of each other: an empirical
        measure of the rounding error of evaluating f, which can be far above eps |f|
        when f is computed with cancellation. (For claims of equality, whose two sides
        are compared as values.)"""
        where = "a point within rounding of the sample"
        return _largest(self.at(self.jiggle(i), where) - self.value for i in range(2))

    def change_noise(self, names: frozenset[str], line: bool = True) -> np.ndarray:
        """The rounding noise of the change of f when the inputs `names` move (see
        `change`), measured once per set of names: the noise a derivative along such
        moves carries. Terms of f that do not depend on `names` add none.

        Two readings, the larger kept: the change of f at two points within rounding of
        the sample (`jiggled_noise`), and with `line`, its fourth difference along a line
        at steps of NOISE_STEP (`line_noise`). The second is for difference quotients,
        whose steps are of that size; the complex step, which takes no real step, needs
        only the first."""
        if (names, line) not in self._noise:
            jiggled = self.jiggled_noise(names)
            self._noise[(names, line)] = np.maximum(jiggled, self.line_noise(names)) if line else jiggled
        return self._noise[(names, line)]

    def jiggled_noise(self, names: frozenset[str]) -> np.ndarray:
        """How much the change of f moves between points within rounding of the sample
        (only `names` moved): rounding noise, far above eps |f| when f cancels."""
        where = "a point within rounding of the sample"
        return _largest(self.change(self.jiggle(i, names), where) for i in range(2))

    def line_noise(self, names: frozenset[str]) -> np.ndarray:
        """The fourth difference of the change of f along a line at relative steps of
        NOISE_STEP, to which a smooth f contributes nothing (NOISE_STEP**4 times its fourth
        derivative) but rounding does; it sees the rounding of an f whose arguments an
        eps-sized move cannot change (exp(1e-10 x) - 1 rounds at eps, not at eps |f|), and
        any structure of f finer than the steps."""
        where = "a point within rounding of the sample"
        rng = identity_rng(self.sample.trial, f"{self.identity.name}/noise-line")
        line = {}
        for name in sorted(names):
            d = self.scales(name)
            _negate(d, rng.integers(0, 2, d.shape, dtype=bool))
            # along the input's own space (as `_jiggle`): a symmetric one stays symmetric
            line[name] = (d + d.T) / 2 if self.identity.input(name).symmetric_perturbation else d

        def at(k: int) -> np.ndarray:
            return self.change({n: _moved(self.sample.values[n], d, k * NOISE_STEP) for n, d in line.items()}, where)

        # One-sided (t = 0, d, ..., 4d): a kink at the point itself (relu at a structural
        # zero) lies at an end of the stencil, not inside it, and is not read as noise.
        fourth = at(4) - 4 * at(3) + 6 * at(2) - 4 * at(1)  # the change at the point itself is 0
        # the fourth difference of independent errors of size s has size s sqrt(70)
        return np.asarray(np.abs(fourth) / np.sqrt(70.0))

    @functools.cached_property
    def terms(self) -> tuple[Term, ...]:
        """f as a signed sum of terms, each with the inputs it depends on and its value at
        the sample (see `Expr.terms`)."""
        split = self.identity.function.terms()
        if len(split) == 1:
            return (Term(1.0, self.identity.function, self._inputs_of(self.identity.function.names), self.value),)
        return tuple(Term(sign, expr, self._inputs_of(expr.names),
                          np.asarray(finite(expr, self.env, "function", self.where))) for sign, expr in split)

    def _inputs_of(self, names: frozenset[str]) -> frozenset[str]:
        """The inputs that `names` depend on, directly or through lets."""
        needed = set(names)
        for name, expr in reversed(self.identity.lets):
            if name in needed:
                needed |= expr.names
        return frozenset(v.name for v in self.identity.inputs if v.name in needed)

    def change(self, moved: Mapping[str, np.ndarray], where: str = "a perturbed point") -> np.ndarray:
        """f at the point whose inputs in `moved` are replaced, minus f at the sample,
        formed term by term: terms that do not depend on the moved inputs are left out
        (they would add only their rounding), so the change of a small part of f is not
        lost in the rounding of a large constant or an unrelated large term."""
        names = frozenset(moved)
        changing = [t for t in self.terms if t.inputs & names]
        if len(changing) == len(self.terms) == 1:
            return self._less_value(self.at(moved, where), moved)
        self.nfev += 1
        env: Env = {**self.env, **moved}
        lets = tuple((n, e) for n, e in self.identity.function_lets if self._inputs_of(frozenset({n})) & names)
        self._with_lets(env, where, lets)
        total: Any = np.zeros(())
        for term in changing:
            value = np.asarray(finite(term.expr, env, "function", where))
            total = total + term.sign * (value - term.value)
        return np.broadcast_to(total, self.value.shape).astype(np.result_type(total, float), copy=True)

    def _less_value(self, value: np.ndarray, moved: Mapping[str, np.ndarray]) -> np.ndarray:
        """`value` - f at the sample, in `value`'s own memory where only this evaluation
        made it (for an f as large as its inputs, one array less at the peak: at n = 2000
        the complex step's change of inv(X) is twice X's size). Not where it lies in an
        array someone holds (f = X returns the moved X itself, f = real(X).T a view of the
        sample's), nor below SUBTRACTED_IN_PLACE entries, where no memory is at stake."""
        if value.size < SUBTRACTED_IN_PLACE or not _writable_whole(value) or value.shape != self.value.shape \
                or np.result_type(value, self.value) != value.dtype:
            return np.asarray(value - self.value)
        held = (*moved.values(), *self.sample.values.values(), *self.env.values(), self.value)
        if any(isinstance(a, np.ndarray) and np.may_share_memory(value, a) for a in held):
            return np.asarray(value - self.value)
        value -= self.value
        return value

    def changes(self, points: Sequence[Mapping[str, np.ndarray]]) -> np.ndarray | None:
        """`change` at each of `points` (each moving the same inputs) in one pass over the
        expressions, the moved values stacked (see gradcheck.batch): row i is the change at
        points[i]. None where the pass cannot be made or a value is not a finite number:
        `change`, point by point, then says what went wrong, as it always has."""
        names, count = frozenset(points[0]), len(points)
        env: Env = {**self.env, **{n: batch.stacked([np.asarray(p[n]) for p in points]) for n in names}}
        rank = self.value.ndim
        total: Any = np.zeros(())
        try:
            with quiet():
                for name, expr in self.identity.function_lets:
                    if self._inputs_of(frozenset({name})) & names:
                        env[name] = _stacked_number(batch.evaluate(expr, env), expr)
                for term in (t for t in self.terms if t.inputs & names):
                    shape = term.value.shape
                    value = batch.rows(_stacked_number(batch.evaluate(term.expr, env), term.expr), count, shape)
                    total = total + term.sign * (value - term.value).reshape((count, *(1,) * (rank - len(shape)), *shape))
                out = np.broadcast_to(total, (count, *self.value.shape))
        except (batch.Unstackable, EvaluationError, *STACK_FAULTS):
            return None
        self.nfev += count
        return out.astype(np.result_type(out, float), copy=True)

    def change_size_norm(self, names: frozenset[str]) -> float:
        """The norm of `change_size(names)`, computed once per set of names."""
        if names not in self._size_norms:
            self._size_norms[names] = norm(self.change_size(names))
        return self._size_norms[names]

    def change_size(self, names: frozenset[str]) -> np.ndarray:
        """The size of the terms of f that change when `names` move: what their rounding
        is proportional to."""
        sizes = [np.abs(t.value) for t in self.terms if t.inputs & names]
        if len(sizes) == len(self.terms):
            return np.asarray(np.abs(self.value))
        total: Any = sum(sizes, np.zeros(()))
        return np.broadcast_to(total, self.value.shape)

    def claim_noise(self, expr: Expr, what: str, extra: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """Like `rounding_noise`, for a claim's own value (with directions in `extra`)."""
        base = self.claim(expr, what, extra)
        expr = self._reused(expr)  # the lets are evaluated at each point within rounding too

        def change(i: int) -> np.ndarray:
            env = self._with_lets({**self.sample.dims, **self.sample.values, **self.jiggle(i)}, self.where)
            env.update(extra or {})
            try:
                return np.asarray(np.asarray(finite(expr, env, what, self.where)) - base)
            except NonFiniteError as exc:
                raise ClaimError(exc.message) from None

        return _largest(change(i) for i in range(2))

    def scales(self, name: str, times: float = 1.0) -> np.ndarray:
        """`entry_scales` of input `name` times `times` (a fresh array, to be changed in
        place). Kept for inputs of up to SCALES_KEPT entries: every direction and jiggle
        needs them."""
        x = self.sample.values[name]
        if np.size(x) > SCALES_KEPT:
            fresh = entry_scales(x)
            if times != 1.0:
                fresh *= times
            return fresh
        if name not in self._scales:
            self._scales[name] = entry_scales(x)
        # one pass over the kept scales, not a copy and a second pass over it
        kept = self._scales[name]
        scaled: np.ndarray = np.multiply(kept, times, out=np.empty_like(kept))  # an array even for a scalar input
        return scaled

    def scale_rms(self, name: str) -> float:
        """The root mean square of the step scales of input `name` (computed once)."""
        if name not in self._scale_rms:
            s = self.scales(name)
            self._scale_rms[name] = float(np.sqrt(np.mean(np.square(s, out=s)))) if s.size else 1.0
        return self._scale_rms[name]

    def _jiggle(self, var: Variable, rng: np.random.Generator) -> np.ndarray:
        x = self.sample.values[var.name]
        step = self.scales(var.name, 4 * EPS)
        _negate(step, rng.integers(0, 2, x.shape, dtype=bool))
        if np.iscomplexobj(x):  # a complex entry rounds in both parts: half the moves imaginary
            step = np.where(rng.integers(0, 2, x.shape, dtype=bool), 1j * step, step)
        # an exact zero (the upper triangle of a `lower` sample) carries no rounding: moving
        # it would cross a kink there (step(L) jumps), which is not noise
        step[x == 0] = 0.0
        if var.symmetric_perturbation:
            # it moves along symmetric directions only, so its rounding is symmetric too (and
            # a matrix function of it keeps taking the symmetric path: see functions._spectral)
            step = (step + step.T) / 2
        step += x
        return step

    def ill_conditioned(self) -> str | None:
        """Why this point is too close to singular to judge, or None."""
        for name, cond in self.conditions.items():
            limit = MAX_INVERTED_COND if name in self._inverting or name in self.sample.values else MAX_DET_COND
            if not cond < limit:
                return f"cond({name}) = {cond:.1e} is above {limit:.0e}"
        return None

    def _with_lets(self, env: Env, where: str, lets: tuple[tuple[str, Expr], ...] | None = None,
                   calls: Calls | None = None) -> Env:
        # what d(E) in a claim needs to move the inputs and the lets with them
        env[FRAME] = (tuple(v.name for v in self.identity.inputs), self.identity.lets)
        if self.identity.complex_values:
            env[COMPLEX_VALUES] = True
        for name, expr in self.identity.lets if lets is None else lets:
            env[name] = finite(expr, env, f"let {name}", where, _seen(calls, name))
        return env

    def _function(self, env: Env, where: str, calls: Calls | None = None) -> np.ndarray:
        return np.asarray(finite(self.identity.function, env, "function", where, _seen(calls, "")))

    def at(self, moved: Mapping[str, np.ndarray], where: str = "a perturbed point") -> np.ndarray:
        """f at the point whose inputs in `moved` are replaced."""
        env: Env = {**self.sample.dims, **self.sample.values, **moved}
        self.nfev += 1
        return self._function(self._with_lets(env, where, self.identity.function_lets), where)

    def claim(self, expr: Expr, what: str, extra: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """A claim's expression at the sampled point (with directions in `extra`)."""
        try:
            if not extra:
                return np.asarray(finite(self._reused(expr), self.env, what, self.where))
            expr = self._still_parts(expr, frozenset(extra), what)
            return np.asarray(finite(expr, {**self.env, **self._parts, **extra}, what, self.where))
        except NonFiniteError as exc:
            # a value, but not a finite one: the claim is refuted (under `expect: fail`,
            # its expected failure); one that cannot be evaluated at all (two shapes that
            # do not fit) stays an error even there, so that a typo is never the erratum
            raise ClaimError(exc.message) from None

    def _reused(self, expr: Expr) -> Expr:
        """`expr` reading a let where it writes the let's text (see `Expr.reusing`): at a
        point the lets are evaluated already. Only for inputs of HOISTED_FROM entries or
        more, as `_still_parts`; a claim read along directions has its still parts reused
        (any part written as a let is still), not the rest, whose text the hoisting reads."""
        return expr.reusing(self._let_texts) if self._hoisting else expr

    def _still_parts(self, expr: Expr, moving: frozenset[str], what: str) -> Expr:
        """`expr` with the parts that do not read `moving` named (see `Expr.hoisted`, which
        keeps the named form), their values evaluated here once (raising as `claim` does
        where they cannot be). Only for inputs of HOISTED_FROM entries or more: below,
        naming the parts costs about what it saves (the profile put it at 8 % of the
        catalogue's checks), and a stacked pass (`claims`) evaluates them once a pass anyway."""
        if not self._hoisting:
            return expr
        parts, hoisted = expr.hoisted(moving)
        for name, part in parts:
            if name not in self._parts:
                self._parts[name] = finite(self._reused(part), self.env, what, self.where)
        return hoisted

    def claims(self, expr: Expr, what: str, extras: Sequence[Mapping[str, np.ndarray]]) -> list[np.ndarray] | None:
        """`claim` with each of `extras` (the same names in each), in one pass over the
        expression, the directions stacked (see gradcheck.batch). None where the pass cannot
        be made or a value is not a finite number: `claim`, one at a time, then says what
        went wrong, as it always has."""
        names, count = frozenset(extras[0]), len(extras)
        env: Env = {**self.env, **{n: batch.stacked([np.asarray(e[n]) for e in extras]) for n in names}}
        try:
            expr = self._still_parts(expr, names, what)
            env.update(self._parts)
            with quiet():
                value = _stacked_number(batch.evaluate(expr, env), expr)
            return [np.asarray(row) for row in batch.rows(value, count, batch.shape_of(value)).copy()]
        except (batch.Unstackable, EvaluationError, *STACK_FAULTS):
            return None


def _inverted(fn: str, args: list[Any]) -> bool:
    """Whether a call of an INVERTING function inverts its argument: X^k does for k < 0."""
    return fn != "matrix_power" or len(args) < 2 or not np.all(np.asarray(args[1]) >= 0)


def spectral_condition(fn: str, a: np.ndarray) -> float:
    """The largest eigenvalue of sym(A) (for eigvecsh) or singular value of A over the
    smallest gap between two of them; for the singular vectors of a matrix that is not
    square the smallest singular value counts as a gap too (their derivative divides by it)."""
    if fn == "eigvecsh":
        values = np.linalg.eigvalsh((a + a.T) / 2)
    else:
        values = np.linalg.svd(a, compute_uv=False)
    gaps = list(np.abs(np.diff(np.sort(values))))
    if fn != "eigvecsh" and a.shape[0] != a.shape[1] and values.size:
        gaps.append(float(np.min(values)))
    top = float(np.max(np.abs(values), initial=0.0))
    smallest = min(gaps, default=np.inf)
    return float(top / smallest) if smallest > 0 else float("inf")


def condition_number(a: np.ndarray) -> float:
    """The 2-norm condition number up to order COND_SIZE_LIMIT; above it the 1-norm one,
    ||A||_1 ||A^-1||_1, which costs one inverse where an SVD costs several."""
    if a.ndim > 2:  # a stack of matrices (format 6): its worst
        return max((condition_number(m) for m in a.reshape(-1, *a.shape[-2:])), default=1.0)
    if a.shape[0] <= COND_SIZE_LIMIT:
        return float(np.linalg.cond(a))
    try:
        inverse = inv(a)
    except EvalError:
        return float("inf")
    return float(np.linalg.norm(a, 1) * np.linalg.norm(inverse, 1))


def _moved(x: np.ndarray, d: np.ndarray, t: float) -> np.ndarray:
    out = d * t
    if np.result_type(out, x) != out.dtype:  # a real direction of a complex input (format 6)
        return np.asarray(out + x)
    out += x
    return out


def _negate(a: np.ndarray, where: np.ndarray) -> None:
    """Negate the entries of `a` where `where` holds, in place. Those of a contiguous
    float64 array have their sign bit flipped, a byte at a time: np.negative with `where`
    branches on each entry of a random mask, 6.6 ms at a million entries against 0.7 ms."""
    if a.dtype == np.float64 and a.flags.c_contiguous and where.shape == a.shape and sys.byteorder == "little":
        sign_bytes = a.reshape(-1).view(np.uint8)[7::8]  # the high byte of each entry
        sign_bytes ^= np.left_shift(where.reshape(-1).view(np.uint8), 7)
    else:
        np.negative(a, out=a, where=where)


def _writable_whole(a: np.ndarray) -> bool:
    """Whether `a` may be written in place: writable, and contiguous in one order or the
    other (a broadcast or strided view can hold one number at several places)."""
    return bool(a.flags.writeable and (a.flags.c_contiguous or a.flags.f_contiguous))


def _largest(changes: Iterator[np.ndarray]) -> np.ndarray:
    """The entry-wise largest absolute change, holding two arrays at a time."""
    out = np.abs(np.asarray(next(changes)))
    for change in changes:
        change = np.asarray(change)
        if out.ndim and change.flags.writeable and change.dtype == out.dtype:
            np.maximum(out, np.abs(change, out=change), out=out)
        else:
            out = np.maximum(out, np.abs(change))
    return np.asarray(out)


def _all_finite(value: Any) -> bool:
    a = np.asarray(value)
    return a.dtype.kind not in "fc" or bool(np.isfinite(a).all())  # integers and booleans are


def _seen(calls: Calls | None, key: str) -> Watch | None:
    """A watch that keeps the calls of WATCHED functions in `calls[key]` (none: no watch)."""
    if calls is None:
        return None
    seen = calls.setdefault(key, [])
    return WATCHED, lambda fn, where, args: seen.append((fn, where, args))


def finite(expr: Expr, env: Mapping[str, Any], what: str, where: str, watch: Watch | None = None) -> Any:
    """Evaluate `expr` (with `watch`: its calls of those functions seen, see
    `Expr.watch_calls`); a value that is not finite raises, naming where it arose."""
    try:
        value = expr(env) if watch is None else expr.watch_calls(cast(Env, env), *watch)
    except NonFiniteError:
        raise
    except EvaluationError as exc:
        raise EvaluationError(f"{exc.message} in {what} at {where}") from None
    value = _numeric(value, expr, what, where)
    if not _all_finite(value):
        found = expr.locate_nonfinite(env)
        detail = found.message if found else f"'{expr.source}' is not finite"
        raise NonFiniteError(f"{detail} in {what} at {where}")
    return value


# What a stacked pass may meet that a pass point by point reports (see `Point.changes`).
STACK_FAULTS = (EvalError, ValueError, TypeError, ZeroDivisionError, OverflowError, MemoryError,
                np.linalg.LinAlgError)


def _stacked_number(value: Any, expr: Expr) -> Any:
    """A stacked value as `finite` would accept it point by point; refused (the caller goes
    point by point) where it is not finite, or not numbers."""
    if not isinstance(value, batch.Batch):
        value = _numeric(value, expr, "", "")
    elif value.array.dtype == bool:
        value = batch.Batch(value.array.astype(float))
    elif value.array.dtype == object:
        raise batch.Unstackable("not numbers")
    if not _all_finite(value.array if isinstance(value, batch.Batch) else value):
        raise batch.Unstackable("not finite")
    return value


def _numeric(value: Any, expr: Expr, what: str, where: str) -> Any:
    """A value as numbers arithmetic can use: a comparison's booleans as 0.0 and 1.0, an
    integer beyond int64 (Python's, from 2**64 * 2**64) as a float; an integer array stays
    (it may be positions), a float or complex one is returned as it is."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, np.ndarray) and value.dtype == bool):
        return np.asarray(value, dtype=float)
    if isinstance(value, int) and not -2**63 <= value < 2**63:
        try:
            return float(value)
        except OverflowError:
            raise NonFiniteError(f"'{expr.source}' is an integer too large for a float in {what} at {where}") from None
    if isinstance(value, np.ndarray) and value.dtype == object:
        try:
            return value.astype(float)
        except (TypeError, ValueError, OverflowError):
            raise EvaluationError(f"'{expr.source}' is not an array of numbers in {what} at {where}") from None
    return value
