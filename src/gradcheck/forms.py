"""The claim forms: what each kind of claim says the change of f is, next to the numbers.

Every form is checked the same way: the claim's *action* on each probe (for a gradient
G along dX: sum(G * dX)) against the numerical derivative of f along it. `measure`
returns a frozen `Reading`; `refined` adds the claim's own sensitivity to the rounding of
the inputs (asked only before a claim fails). The other readings a diagnosis tries are
built by the reading's `explain`, from the slips listed in gradcheck.diagnosis.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from gradcheck import diagnosis
from gradcheck.batch import STACK_LIMIT, fits
from gradcheck.catalogue import Claim, Identity, Variable
from gradcheck.differences import Differences
from gradcheck.errors import ClaimError, EvaluationError, LayoutSlip
from gradcheck.expr import Expr
from gradcheck.functions import shape_str, transposed
from gradcheck.kinds import KINDS
from gradcheck.norms import distance, norm
from gradcheck.numdiff import Estimate
from gradcheck.options import CLAIM_NOISE_FACTOR, EPS, ROUNDING
from gradcheck.point import Point
from gradcheck.probes import Probe, ProbeSets, vec
from gradcheck.reading import Display, Explanation, Reading
from gradcheck.sampling import identity_rng


@dataclass(frozen=True)
class Probing:
    """What a claim is measured with at one point: the probes and the numbers along them."""

    point: Point
    probes: ProbeSets
    numbers: Differences

    @property
    def method(self) -> str:
        return self.numbers.method

    @property
    def numbers_limit(self) -> int:
        """Entries up to which a second-order claim is checked along every pair of them."""
        return self.probes.numerics.hessian_full_limit

    def value(self, name: str) -> np.ndarray:
        return np.asarray(self.point.sample.values[name])


def measure(claim: Claim, identity: Identity, at: Probing) -> Reading:
    """Compare one claim with the numbers at the point of `at`."""
    before = at.point.nfev
    reading = _FORMS[claim.form](claim, identity, at)
    own = _own_rounding(reading, at)
    method = "exact" if claim.form == "equals" else at.method
    parts = tuple(replace(_with_own(part, _own_rounding(part, at)), method=method) for part in reading.parts)
    return replace(_with_own(reading, own), nfev=at.point.nfev - before, parts=parts, method=method,
                   conditions=at.point.conditions)


def refined(reading: Reading, claim: Claim, at: Probing, thorough: bool = True) -> Reading:
    """`reading` with the claim's own sensitivity to the rounding of the inputs in its
    uncertainty: a claim such as cos(1e6 log x) is defined only to 1e6 eps at the sampled
    point; and under the complex step, the numbers' (see `Differences.complex_spread`).
    Both relative, so each input's part of a differential gets its share. Asked before a
    claim fails (it costs two evaluations; unless `thorough` is False, two a probe for
    the numbers and two an input for the parts)."""
    numbers = at.numbers.complex_spread if reading.method == "complex" and thorough else 0.0
    if claim.form not in ("derivative", "hessian", "differential"):
        return _widened(reading, numbers, 0.0) if numbers else reading
    # a differential's value depends on its directions: any will do to see its rounding,
    # and each input's part is read along its own (a small part is not judged by the
    # rounding of a large one)
    directions = _noise_directions(claim, at) if claim.form == "differential" else None
    own = CLAIM_NOISE_FACTOR * _relative_claim_noise(claim, at.point, directions)
    parts = []
    for part in reading.parts:
        along = {d: (v if part.part == _part_label(d) else np.zeros_like(v)) for d, v in (directions or {}).items()}
        mine = CLAIM_NOISE_FACTOR * _relative_claim_noise(claim, at.point, along) if directions and thorough else own
        parts.append(_widened(part, numbers, mine))
    return replace(_widened(reading, numbers, own), parts=tuple(parts))


def _part_label(direction: str) -> str:
    """The name of an input's part of a differential's reading ("the part along dX")."""
    return f"the part along {direction}"


def _widened(view: Reading, numbers: float, own: float) -> Reading:
    """`view` with rounding relative to its numbers (`numbers`) and to its claimed values
    (`own`) in its uncertainty."""
    extra = numbers * norm(view.numeric) + own * norm(view.claimed)
    return _with_own(view, extra) if extra else view


def _noise_directions(claim: Claim, at: Probing) -> dict[str, np.ndarray]:
    """Random directions dX for every input, scaled as the inputs' entries, the same at
    every call (to read a differential claim's rounding)."""
    rng = identity_rng(at.point.sample.trial, f"{at.point.identity.name}/claim-noise/{claim.index}")
    return {f"d{v.name}": at.point.scales(v.name) * rng.standard_normal(np.shape(at.value(v.name)))
            for v in at.point.identity.inputs}


def explained(reading: Reading) -> Reading:
    """`reading` with its other readings built (for a failure), ready to leave the point."""
    parts = tuple(map(explained, reading.parts))
    if reading.explain is None:
        return replace(reading, parts=parts)
    alternatives, display = reading.explain()
    return replace(reading, alternatives=alternatives, display=display or reading.display, explain=None,
                   parts=parts)


def settled(reading: Reading) -> Reading:
    """`reading` without its ways to explain itself, its parts' too: they hold the point,
    which a result outlives (and which cannot cross to another process)."""
    return replace(reading, explain=None, parts=tuple(map(settled, reading.parts)))


def _own_rounding(reading: Reading, at: Probing) -> float:
    """The rounding of the claim's own value, amplified by the conditioning of the matrices
    the identity inverts (a claim built from inv(X^T X) at cond 1e6 loses 6 digits), and of
    the sums of a sketch."""
    worst = max(at.point.conditions.values(), default=1.0)
    own = ROUNDING * EPS * worst * norm(reading.claimed)
    if reading.sketch and at.numbers.sketch is not None:
        own += ROUNDING * EPS * np.sqrt(at.numbers.sketch.terms) * (norm(reading.claimed) + norm(reading.numeric))
    return own


def _with_own(reading: Reading, own: float) -> Reading:
    extra = np.array([own])
    return replace(reading, uncertainty=np.concatenate([reading.uncertainty, extra]),
                   rounding=np.concatenate([reading.rounding, extra]))


def _relative_claim_noise(claim: Claim, point: Point, extra: dict[str, np.ndarray] | None = None) -> float:
    """How much a claim's value moves between points within rounding of the sample,
    relative to its size (see `Point.claim_noise`); `extra` binds a differential's
    directions."""
    try:
        noise = point.claim_noise(claim.expr, f"claim {claim.index}", extra)
    except EvaluationError:
        return 0.0
    size = norm(point.claim(claim.expr, f"claim {claim.index}", extra))
    return norm(noise) / size if size > 0 else 0.0


# -- shapes and layouts -------------------------------------------------------------

def is_scalar(shape: tuple[int, ...]) -> bool:
    """Shapes (), (1,) and (1, 1) all mean a scalar."""
    return len(shape) <= 2 and math.prod(shape) == 1


def expected_derivative_shape(f_shape: tuple[int, ...], x_shape: tuple[int, ...], layout: str) -> tuple[int, ...]:
    """The shape a derivative claim must have (see the format's layout rules)."""
    if is_scalar(f_shape):
        if len(x_shape) <= 1 or layout == "denominator":
            return x_shape
        # numerator: the gradient transposed (of a stack of matrices, each matrix: format 6)
        return (*x_shape[:-2], x_shape[-1], x_shape[-2])
    m, n = int(np.prod(f_shape)), int(np.prod(x_shape))
    return (m, n) if layout == "numerator" else (n, m)


def _check_derivative_shape(claim: Claim, c: np.ndarray, f_shape: tuple[int, ...],
                            x_shape: tuple[int, ...]) -> None:
    layout = claim.layout or "denominator"
    want = expected_derivative_shape(f_shape, x_shape, layout)
    if c.shape == want or (is_scalar(c.shape) and is_scalar(want)):
        return
    other = "numerator" if layout == "denominator" else "denominator"
    fits = c.shape == expected_derivative_shape(f_shape, x_shape, other)
    hint = f"the claimed shape fits layout {other}" if fits else "it fits neither layout"
    message = (f"claimed derivative has shape {shape_str(c.shape)} but layout {layout} expects "
               f"{shape_str(want)} for f of shape {shape_str(f_shape)} and {claim.wrt} of shape "
               f"{shape_str(x_shape)}; {hint} in claim {claim.index}")
    if fits and claim.form == "derivative" and claim.read_off is None:
        raise LayoutSlip(message, other)  # the slip of layouts: a FAIL, as at a square size
    raise ClaimError(message)


# What a derivative G with respect to a complex Z states in each convention (format 6), as
# df = factor * Re sum(H * dZ) with H = conj(G) or G: for G = df/dX + i df/dY (pytorch),
# Re sum(conj(G) dZ) = sum(df/dX dX + df/dY dY).
_CONVENTION_FORMS: dict[str, tuple[float, bool]] = {
    "pytorch": (1.0, True), "jax": (1.0, False), "wirtinger": (2.0, False), "conjugate": (2.0, True)}


def derivative_action(c: np.ndarray, layout: str, f_shape: tuple[int, ...],
                      x_shape: tuple[int, ...], convention: str | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """The linear map dX -> df that a derivative claim `c` states (of a real scalar f with
    respect to a complex input, in `convention`)."""
    if is_scalar(f_shape):
        g = c.reshape(x_shape) if is_scalar(c.shape) else c
        if layout == "numerator" and len(x_shape) >= 2:
            g = transposed(g)  # the transpose (of a stack of matrices, each one's: format 6)
        if convention is not None:
            factor, conjugate = _CONVENTION_FORMS[convention]
            h = np.conj(g) if conjugate else g
            return lambda d: np.asarray(factor * np.real(np.sum(h * d)))
        if g.size <= LAID_OUT_LIMIT:
            g = np.ascontiguousarray(g)  # laid out once as the directions are, not read across at each
        return lambda d: _summed_product(g, d)
    jac = c if layout == "numerator" else c.T
    return lambda d: (jac @ vec(d)).reshape(f_shape, order="F")


# Beyond this many entries a derivative claim is not copied to lie in memory as the
# directions do: the copy would be held while f is evaluated along them (at n = 2000, a
# sixth of log det's peak), and contracting it as it lies costs 7 ms a probe there.
LAID_OUT_LIMIT = 1_000_000


def _summed_product(g: np.ndarray, d: np.ndarray) -> np.ndarray:
    """sum(g * d), as a dot product where both lie in memory in the same order (at
    n = 1000, 0.2 ms against 2.5 ms, and no product held), else contracted as they lie
    (no product held either)."""
    if g.shape == d.shape and g.flags.c_contiguous and d.flags.c_contiguous:
        return np.asarray(np.dot(g.reshape(-1), d.reshape(-1)))
    if g.size > LAID_OUT_LIMIT and g.shape == d.shape and g.dtype.kind == d.dtype.kind == "f":
        axes = list(range(g.ndim))
        return np.asarray(np.einsum(g, axes, d, axes, []))
    return np.asarray(np.sum(g * d))


def _constant_filled(claim: Claim, value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A claim without variables (`derivative: 0`) stands for every entry of `shape`."""
    if claim.expr.names or value.size != 1 or is_scalar(shape):
        return value
    return np.full(shape, value.reshape(()).item())


def _layout_ambiguity(var: Variable, c: np.ndarray, f_shape: tuple[int, ...]) -> str:
    """Why a gradient claim on a symmetric sample cannot show its layout, or "".

    At a symmetric X, a claim that equals its own transpose is the same matrix in both
    layouts (inv(X).T = inv(X) for spd X): it would pass in the wrong layout too."""
    if not KINDS[var.kind].symmetric or var.restricted or not is_scalar(f_shape):
        return ""
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] < 2:
        return ""
    if distance(c, c.T) > 1e-12 * norm(c):
        return ""
    return (f"{var.name} is sampled {var.kind}, where this claim equals its transpose: the layouts "
            f"numerator and denominator cannot be told apart; give {var.name} kind invertible "
            "(or general) to check the layout")


# -- the numbers along probes -------------------------------------------------------

def _bracketed(estimate: Estimate, claimed: np.ndarray) -> np.ndarray:
    """The numbers along a probe, where f has a kink at the point the claim itself if it
    lies between the one-sided derivatives (any subgradient holds), else the nearer end."""
    if estimate.lower is None or estimate.upper is None:
        return estimate.value
    return np.clip(np.reshape(claimed, np.shape(estimate.value)), estimate.lower, estimate.upper)


def _kinks(estimates: Sequence[Estimate]) -> int:
    """How many probes found a kink at the point."""
    return sum(e.lower is not None for e in estimates)


def _reference(point: Point, probes: Sequence[Probe]) -> float:
    """The norm, over probes, of the size of the changing terms of f per unit step."""
    sizes = np.array([point.change_size_norm(p.names) / p.scale for p in probes])
    return norm(sizes)


def _stack(values: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate([vec(v) for v in values]) if values else np.zeros(0)


def _along(estimates: Sequence[Estimate], claimed: Sequence[np.ndarray], at: Probing, probes: Sequence[Probe],
           mode: str) -> Reading:
    """The reading of claimed actions against the numbers along `probes` (a first derivative)."""
    return Reading(at.point.sample.trial, mode, _stack(claimed),
                   _stack([_bracketed(e, a) for e, a in zip(estimates, claimed)]),
                   _stack([e.error for e in estimates]), 0, rounding=_stack([e.rounding for e in estimates]),
                   sketch=at.numbers.sketch_size(probes), kinks=_kinks(estimates),
                   reference=_reference(at.point, probes))


def _assemble(estimates: Sequence[Estimate], layout: str, f_shape: tuple[int, ...],
              x_shape: tuple[int, ...], convention: str | None = None) -> np.ndarray:
    """The numerical derivative in a claim's layout, from entry-by-entry probes (for a
    complex input, along each entry's real and then imaginary unit, in `convention`)."""
    if convention is not None:
        n = int(np.prod(x_shape))
        parts = [np.array([float(np.real(e.value).reshape(-1)[0]) for e in half]) for half in
                 (estimates[:n], estimates[n:2 * n])]
        factor, conjugate = _CONVENTION_FORMS[convention]
        g = (parts[0] + (1j if conjugate else -1j) * parts[1]) / factor
        g = g.reshape(x_shape, order="F")
        return transposed(g) if layout == "numerator" and len(x_shape) >= 2 else g
    if is_scalar(f_shape):
        g = np.array([float(np.real(e.value).reshape(-1)[0]) for e in estimates]).reshape(x_shape, order="F")
        return transposed(g) if layout == "numerator" and len(x_shape) >= 2 else g
    jac = np.column_stack([vec(e.value) for e in estimates])
    return jac if layout == "numerator" else jac.T


# -- the forms ----------------------------------------------------------------------

def _derivative(claim: Claim, identity: Identity, at: Probing) -> Reading:
    assert claim.wrt is not None and claim.layout is not None
    wrt, layout = claim.wrt, claim.layout
    f_shape, x = at.point.value.shape, at.value(wrt)
    c = _constant_filled(claim, at.point.claim(claim.expr, f"claim {claim.index}"),
                         expected_derivative_shape(f_shape, x.shape, layout))
    _check_derivative_shape(claim, c, f_shape, x.shape)
    var = identity.input(wrt)
    probes = at.probes.of_input(var)
    convention = claim.convention
    if convention is not None:
        _complex_derivative_checks(claim, at.point.value)

    def acting(matrix: np.ndarray, convention: str | None = convention) -> Callable[[Probe], np.ndarray]:
        """The claimed action along a probe of `matrix`, its map made once for all probes."""
        act = derivative_action(matrix, layout, f_shape, x.shape, convention)
        return lambda p: at.numbers.reduced(p, act(p.direction[wrt]))

    # Numbers and claim along each probe in turn: a large random direction is drawn once.
    estimates, claimed, claim_acts = [], [], acting(c)
    for p, e in zip(probes, at.numbers.firsts(probes)):
        estimates.append(e)
        claimed.append(claim_acts(p))
    reading = _along(estimates, claimed, at, probes, "full" if at.probes.full(var) else "directional")
    shown = None
    if reading.mode == "full" and not var.restricted:
        # where f has a kink, the numbers shown are the bracketed ones (the claim, if within)
        bracketed = [replace(e, value=_bracketed(e, a)) for e, a in zip(estimates, claimed)]
        shown = _assemble(bracketed, layout, f_shape, x.shape, convention).reshape(c.shape)

    def explain() -> Explanation:
        slips = diagnosis.derivative_slips(claim, at.point, c, layout, f_shape, x.shape)
        # every reading along each probe in turn: a large random direction is drawn once
        acts = {name: acting(matrix) for name, matrix in slips.items()}
        acted: dict[str, list[np.ndarray]] = {name: [] for name in slips}
        for p in probes:
            for name, act in acts.items():
                acted[name].append(act(p))
        alts = {"negated": (-reading.claimed, reading.numeric)}
        alts.update((name, (_stack(values), reading.numeric)) for name, values in acted.items())
        if convention is not None:  # the slips of complex derivatives: a conjugate, another convention
            for other in _CONVENTION_FORMS:
                if other != convention:
                    alts[f"convention {other}"] = (_stack(list(map(acting(c, other), probes))), reading.numeric)
            alts["conjugated"] = (_stack(list(map(acting(np.conj(c)), probes))), reading.numeric)
        if shown is not None and c.ndim == 2 and c.shape[0] == c.shape[1]:
            alts["symmetric parts agree"] = (vec(diagnosis.sym(c)), vec(diagnosis.sym(shown)))
        return alts, None

    return replace(reading, display=(c, shown) if shown is not None else None, explain=explain,
                   ambiguous=_layout_ambiguity(var, c, f_shape))


def _complex_derivative_checks(claim: Claim, f: np.ndarray) -> None:
    """A derivative with respect to a complex input is defined here for a real scalar f."""
    if np.iscomplexobj(f):
        raise EvaluationError(f"f is complex: a derivative with respect to complex {claim.wrt} needs a real f "
                              f"(take real(...) or abs(...)), or state a differential, in claim {claim.index}")
    if not is_scalar(f.shape):
        raise EvaluationError(f"a derivative with respect to complex {claim.wrt} needs a scalar f, but f has shape "
                              f"{shape_str(f.shape)}: state a differential or a vjp in claim {claim.index}")


def _differential(claim: Claim, identity: Identity, at: Probing) -> Reading:
    f_shape = at.point.value.shape

    def _bound(p: Probe) -> dict[str, np.ndarray]:
        direction = p.direction
        return {v.name: _moved_along(direction, v.name, at) for v in identity.inputs}

    def value(p: Probe) -> np.ndarray:
        return _claimed_change(claim, at, {f"d{n}": d for n, d in _bound(p).items()}, "differential")

    # Each input's own probes, one input at a time: a differential is linear in the
    # directions, so nothing is lost, and each input's part is judged on its own (a large
    # part of another input cannot hide a slip in a small one); the probes are the ones
    # derivative claims use, and their numbers are shared.
    probes: list[Probe] = []
    claimed: list[np.ndarray] = []
    estimates: list[Estimate] = []
    for var in identity.inputs:
        own = at.probes.of_input(var)
        for chunk in _chunks(own, sum(at.value(v.name).size for v in identity.inputs)):
            values = _claimed_changes(claim, at, [{f"d{n}": d for n, d in _bound(p).items()} for p in chunk],
                                      "differential")
            # a sketch, for a large f: see `Differences.sketched`; the whole values are let
            # go before f is evaluated along the chunk (at n = 2000, each is as large as X)
            claimed += [at.numbers.reduced(p, v) for p, v in zip(chunk, values)]
            del values
            estimates += at.numbers.firsts(chunk)
        probes += own
        combined = _combination(var, own, estimates[-len(own):], at) if at.probes.full(var) else None
        if combined is not None:
            probes.append(combined[0])
            claimed.append(value(combined[0]))
            estimates.append(combined[1])
    mode = "full" if at.probes.joint_full(identity.inputs) else "directional"
    reading = _along(estimates, claimed, at, probes, mode)
    if len(identity.inputs) > 1:
        reading = replace(reading, parts=_input_parts(reading, at.point, probes, claimed))
    worst = int(np.argmax([distance(vec(c), vec(e.value)) for c, e in zip(claimed, estimates)]))
    if not reading.sketch:
        def explained_whole() -> Explanation:
            alts = {**_linear_slip(reading, probes, claimed), **diagnosis.value_slips(claimed, reading.numeric)}
            if claim.expr.names:  # a constant claim has no direction to transpose
                bound = [{f"d{n}": d for n, d in _bound(p).items()} for p in probes]
                alts.update(_with_directions_transposed(claim.expr, at, bound, reading.numeric))
            return alts, None

        return replace(reading, display=(claimed[worst], estimates[worst].value), explain=explained_whole)

    def explain() -> Explanation:
        # The claim's values and one probe's numbers, whole again, only to explain a failure.
        alts = {"negated": (-reading.claimed, reading.numeric)}
        if len(f_shape) == 2 and f_shape[0] == f_shape[1] > 1:
            alts["transposed"] = (_stack([at.numbers.reduced(p, value(p).T) for p in probes]), reading.numeric)
        shown: Display = (value(probes[worst]), at.numbers.whole(probes[worst]).value)
        return alts, shown

    return replace(reading, explain=explain)


def _moved_along(direction: Mapping[str, np.ndarray], name: str, at: Probing) -> np.ndarray:
    """How far `direction` moves input `name`: zeros (made only then) where it does not
    move it. (Made for every input as a default, at n = 1000 the zeros cost 1.4 ms a
    probe and input, 2 % of a check of log det.)"""
    moved = direction.get(name)
    return moved if moved is not None else np.zeros_like(at.value(name))


def _linear_slip(reading: Reading, probes: Sequence[Probe],
                 claimed: Sequence[np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The claim with its values along the combination probes taken as right: if that
    passes, the claim holds along every entry and is not linear (see `_combination`)."""
    ends = np.cumsum([np.size(c) for c in claimed])
    mask = np.zeros(reading.claimed.size, dtype=bool)
    for p, end, c in zip(probes, ends, claimed):
        if p.key[0] == "combination":
            mask[end - np.size(c):end] = True
    if not mask.any():
        return {}
    return {"not linear": (np.where(mask, reading.numeric, reading.claimed), reading.numeric)}


def _claimed_changes(claim: Claim, at: Probing, extras: Sequence[dict[str, np.ndarray]],
                     what: str) -> list[np.ndarray]:
    """`_claimed_change` with each of `extras`, in one stacked pass where they fit in one
    (see `Point.claims`); else, or where the pass cannot be made, one at a time."""
    stacked = None
    if len(extras) > 1 and fits(len(extras), (sum(np.size(d) for d in extras[0].values()),)):
        stacked = at.point.claims(claim.expr, f"claim {claim.index}", extras)
    if stacked is None:
        return [_claimed_change(claim, at, extra, what) for extra in extras]
    return [_shaped_change(claim, at, value, what) for value in stacked]


def _claimed_change(claim: Claim, at: Probing, extra: dict[str, np.ndarray], what: str) -> np.ndarray:
    """A claimed change of f (a differential, a jvp) with its directions bound, in f's shape."""
    return _shaped_change(claim, at, at.point.claim(claim.expr, f"claim {claim.index}", extra), what)


def _shaped_change(claim: Claim, at: Probing, value: np.ndarray, what: str) -> np.ndarray:
    f_shape = at.point.value.shape
    c = _constant_filled(claim, value, f_shape)
    if c.shape != f_shape and not (is_scalar(c.shape) and is_scalar(f_shape)):
        raise ClaimError(f"claimed {what} has shape {shape_str(c.shape)} but f has "
                         f"shape {shape_str(f_shape)} in claim {claim.index}")
    return c.reshape(f_shape) if c.size == math.prod(f_shape) else c


def _chunks(probes: Sequence[Probe], entries: int) -> Iterator[Sequence[Probe]]:
    """`probes` in runs whose directions, of `entries` entries each, fit one stacked value:
    one at a time where they are large (a random direction beyond the kept ones is drawn
    when needed, and only the last one is kept)."""
    size = max(1, STACK_LIMIT // max(entries, 1))
    for start in range(0, len(probes), size):
        yield probes[start:start + size]


def _combination(var: Variable, probes: Sequence[Probe], estimates: Sequence[Estimate],
                 at: Probing) -> tuple[Probe, Estimate] | None:
    """One more probe of `var`: a random combination of its basis probes, with the same
    combination of their numbers (the derivative is linear in the direction).

    A claim that is not linear in its direction can agree with every basis direction
    (sum(dX * dX) for f = sum(X): 1 along each e_i) but not with a combination of them.
    None where f has a kink along a probe (its numbers are then a bracket, not a value)."""
    if len(probes) < 2 or any(e.lower is not None for e in estimates):
        return None
    rng = identity_rng(at.point.sample.trial, f"{at.point.identity.name}/combination/{var.name}")
    weights = rng.standard_normal(len(probes)) * np.array([p.scale for p in probes])
    direction = sum((w * p.direction[var.name] for w, p in zip(weights, probes)), np.zeros_like(at.value(var.name)))
    value = sum((w * np.asarray(e.value) for w, e in zip(weights, estimates)), np.zeros(()))
    # errors of a sum add at most linearly (the estimates are norms)
    error = sum(abs(w) * float(e.error) for w, e in zip(weights, estimates))
    rounding = sum(abs(w) * float(e.rounding) for w, e in zip(weights, estimates))
    scale = float(norm(weights) / np.sqrt(len(probes)))
    probe = Probe(("combination", var.name), lambda: {var.name: direction}, scale)
    return probe, Estimate(np.asarray(value), np.asarray(error), np.asarray(rounding),
                           sum(e.nfev for e in estimates))


def _input_parts(reading: Reading, point: Point, probes: Sequence[Probe],
                 claimed: Sequence[np.ndarray]) -> tuple[Reading, ...]:
    """Each input's share of a differential's reading: its entries and its probes."""
    spans: dict[str, list[int]] = {}  # name -> [start, stop, first probe, last probe + 1]
    start = 0
    for k, (p, c) in enumerate(zip(probes, claimed)):
        [name] = p.names
        stop = start + np.size(c)
        span = spans.setdefault(name, [start, stop, k, k + 1])
        span[1], span[3] = stop, k + 1
        start = stop
    parts = []
    for name, (lo, hi, first, last) in spans.items():
        parts.append(Reading(reading.trial, reading.mode, reading.claimed[lo:hi], reading.numeric[lo:hi],
                             reading.uncertainty[first:last], 0, rounding=reading.rounding[first:last],
                             sketch=reading.sketch, reference=_reference(point, probes[first:last]),
                             part=_part_label(f"d{name}")))
    return tuple(parts)


def _hessian(claim: Claim, identity: Identity, at: Probing) -> Reading:
    if not is_scalar(at.point.value.shape):
        raise EvaluationError(f"a hessian claim needs a scalar function, but f has shape "
                              f"{shape_str(at.point.value.shape)} in claim {claim.index}")
    if claim.blocks:
        return _block_hessian(claim, identity, at)
    assert claim.wrt is not None
    var, x = identity.input(claim.wrt), at.value(claim.wrt)
    n = x.size
    h = _constant_filled(claim, at.point.claim(claim.expr, f"claim {claim.index}"), (n, n))
    if h.shape != (n, n) and not (n == 1 and is_scalar(h.shape)):
        raise ClaimError(f"claimed hessian has shape {shape_str(h.shape)} but {claim.wrt} has {n} "
                         f"entries, so ({n},{n}) is expected in claim {claim.index}")
    h = h.reshape(n, n)
    mode, pairs = at.probes.hessian_pairs(var)
    estimates = list(at.numbers.seconds(pairs))

    def actions(m: np.ndarray) -> np.ndarray:
        return np.array([vec(u.direction[var.name]) @ m @ vec(v.direction[var.name]) for u, v in pairs])

    numeric = _stack([e.value for e in estimates])
    claimed = actions(h)
    size = norm(at.point.change_size(frozenset({var.name})))
    reference = float(np.sqrt(sum((size / (u.scale * v.scale)) ** 2 for u, v in pairs)))
    display = (h, numeric.reshape(n, n)) if mode == "full" and not var.restricted else None
    return Reading(at.point.sample.trial, mode, claimed, numeric, _stack([e.error for e in estimates]), 0,
                   rounding=_stack([e.rounding for e in estimates]), reference=reference, display=display,
                   explain=lambda: ({"negated": (-claimed, numeric),
                                     **{name: (actions(m), numeric) for name, m in diagnosis.matrix_slips(h).items()}},
                                    None))


def _block_hessian(claim: Claim, identity: Identity, at: Probing) -> Reading:
    """The Hessian over several inputs, with respect to vec(x) stacked on vec(y) ...: blocks
    [[H_xx, H_xy], [H_yx, H_yy]] in the order of `wrt`. Checked entry by entry when the
    inputs have at most hessian_full_limit entries together, else along random pairs."""
    inputs = [identity.input(name) for name in claim.blocks]
    sizes = [at.value(v.name).size for v in inputs]
    n = sum(sizes)
    h = _constant_filled(claim, at.point.claim(claim.expr, f"claim {claim.index}"), (n, n))
    if h.shape != (n, n):
        listed = " + ".join(f"{s} ({v.name})" for s, v in zip(sizes, inputs))
        raise ClaimError(f"claimed hessian has shape {shape_str(h.shape)} but wrt [{', '.join(claim.blocks)}] "
                         f"has {listed} = {n} entries, so ({n},{n}) is expected in claim {claim.index}")
    if n <= at.numbers_limit:
        basis = [p for v in inputs for p in at.probes.basis(v)]
        mode, pairs = "full", [(u, v) for u in basis for v in basis]
    else:
        count = at.probes.numerics.probes
        mode, pairs = "directional", list(zip(at.probes.randoms(inputs, count), at.probes.randoms(inputs, count)))

    def stacked(p: Probe) -> np.ndarray:
        d = p.direction
        return np.concatenate([vec(_moved_along(d, v.name, at)) for v in inputs])

    def actions(m: np.ndarray) -> np.ndarray:
        return np.array([stacked(u) @ m @ stacked(v) for u, v in pairs])

    estimates = list(at.numbers.seconds(pairs))
    reading = _second_reading(actions(h), estimates, mode, at, pairs, frozenset(claim.blocks))
    restricted = any(v.restricted for v in inputs)
    display = (h, reading.numeric.reshape(n, n)) if mode == "full" and not restricted else None
    def explain() -> Explanation:
        alts = {"negated": (-reading.claimed, reading.numeric),
                **{name: (actions(m), reading.numeric) for name, m in diagnosis.matrix_slips(h).items()}}
        # the blocks written in the reverse order of `wrt`: cut by the reversed sizes, then
        # put back in the order of `wrt`
        written = sizes[::-1]
        order = np.concatenate([np.arange(start, start + size) for start, size in
                                reversed(list(zip(np.cumsum([0, *written[:-1]]), written)))])
        alts["blocks reversed"] = (actions(h[np.ix_(order, order)]), reading.numeric)
        return alts, None

    return replace(reading, display=display, explain=explain)


def _equals(claim: Claim, identity: Identity, at: Probing, link: str = "link") -> Reading:
    """f = a (or, for a chain, f = a = b = ...: each link against the one before it,
    judged on its own, the first that does not hold named)."""
    point = at.point
    reference = norm(point.change_size(frozenset(v.name for v in identity.inputs)))
    f = point.value
    left, left_noise, left_text = f, point.rounding_noise, "f"
    links = []
    for k, expr in enumerate(claim.links):
        what = f"claim {claim.index}" + (f" {link} {k + 1}" if claim.rest else "")
        c = point.claim(expr, what)
        if c.shape != f.shape and not (is_scalar(c.shape) and is_scalar(f.shape)):
            raise ClaimError(f"claimed value has shape {shape_str(c.shape)} but f has shape "
                             f"{shape_str(f.shape)} in {what}")
        c = c.reshape(f.shape)
        # Both sides are the same function if the link holds, so between points within
        # rounding of each other their difference changes by rounding noise alone.
        noise = point.claim_noise(expr, what).reshape(f.shape)
        uncertainty = vec(4 * (left_noise + noise) + 4 * EPS * np.maximum(np.abs(c), np.abs(left)))
        part = f"link {k + 1}: {left_text} = {expr.source}" if claim.rest else ""
        links.append(Reading(point.sample.trial, "value", vec(c), vec(left), uncertainty, 0, rounding=uncertainty,
                             reference=reference, display=(c, left), part=part,
                             explain=_value_explain(c, left)))
        left, left_noise, left_text = c, noise, expr.source
    if len(links) == 1:
        return links[0]
    whole = Reading(point.sample.trial, "value", _stack([r.claimed for r in links]),
                    _stack([r.numeric for r in links]), _stack([r.uncertainty for r in links]), 0,
                    rounding=_stack([r.rounding for r in links]), reference=reference, parts=tuple(links),
                    ordered=True)
    return replace(whole, explain=lambda: ({}, None))


def _value_explain(c: np.ndarray, target: np.ndarray) -> Callable[[], Explanation]:
    return lambda: (diagnosis.value_slips([c], vec(target)), None)


def cotangent(claim: Claim, at: Probing) -> np.ndarray:
    """A vjp's cotangent: Gaussian, of f's shape, the same at every run of a trial."""
    assert claim.direction is not None
    rng = identity_rng(at.point.sample.trial, f"{at.point.identity.name}/cotangent/{claim.index}")
    shape = at.point.value.shape
    if np.iscomplexobj(at.point.value):  # a complex f's cotangent is complex (format 6)
        return np.asarray((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2))
    return np.asarray(rng.standard_normal(shape))


def _pairing(convention: str | None, complex_values: bool) -> Callable[[np.ndarray, np.ndarray], float]:
    """The inner product a vjp is the adjoint in: sum(A B) of real arrays; where complex
    values take part (format 6), Re sum(conj(A) B) (PyTorch's) or Re sum(A B) (JAX's)."""
    if not complex_values:
        return lambda a, b: np.sum(a * b)
    if convention == "jax":
        return lambda a, b: float(np.real(np.sum(a * b)))
    return lambda a, b: float(np.real(np.vdot(a, b)))


def _vjp(claim: Claim, identity: Identity, at: Probing) -> Reading:
    """A backward pass: given the cotangent G of f, the cotangent of the input,
    grad_X sum(G * f) (of X's shape). Judged as that gradient, along the input's probes:
    sum(claim * D) against sum(G * df along D)."""
    assert claim.wrt is not None and claim.direction is not None
    wrt, name = claim.wrt, claim.direction
    var, x = identity.input(wrt), at.value(wrt)
    g = cotangent(claim, at)
    extra = {name: g}
    c = _constant_filled(claim, at.point.claim(claim.expr, f"claim {claim.index}", extra), x.shape)
    if c.shape != x.shape and not (is_scalar(c.shape) and is_scalar(x.shape)):
        raise ClaimError(f"claimed vjp has shape {shape_str(c.shape)} but {claim.wrt} has shape "
                         f"{shape_str(x.shape)} (a vjp is the cotangent of the input) in claim {claim.index}")
    c = c.reshape(x.shape)
    probes = at.probes.of_input(var)
    size = norm(g)
    pair = _pairing(claim.convention, np.iscomplexobj(g) or np.iscomplexobj(x))
    claimed, numeric, error, rounding = [], [], [], []
    for p, e in zip(probes, at.numbers.firsts(probes, whole_sketched=True)):
        claimed.append(pair(c, p.direction[claim.wrt]))
        numeric.append(pair(g, np.reshape(e.value, g.shape)))
        # |<G, err>| <= |G| |err|; at a kink, any value between the one-sided ones
        spread = norm(np.asarray(e.upper) - np.asarray(e.lower)) if e.lower is not None else 0.0
        error.append(size * (float(e.error) + spread))
        rounding.append(size * float(e.rounding))
    mode = "full" if at.probes.full(var) else "directional"
    reading = Reading(at.point.sample.trial, mode, np.array(claimed), np.array(numeric), np.array(error), 0,
                      rounding=np.array(rounding), reference=size * _reference(at.point, probes))
    shown = None
    if mode == "full" and not var.restricted:
        values = np.array(numeric)
        if np.iscomplexobj(x):  # along each entry's real unit, then its imaginary one
            sign = -1.0 if claim.convention == "jax" else 1.0
            values = values[: x.size] + sign * 1j * values[x.size:]
        shown = values.reshape(x.shape, order="F")

    def explain() -> Explanation:
        slips = {**diagnosis.derivative_slips(claim, at.point, c, "denominator", (), x.shape, extra),
                 **diagnosis.reshaped_slips(c)}
        alts = {"negated": (-reading.claimed, reading.numeric)}
        if g.ndim == 2 and g.shape[0] == g.shape[1] > 1:
            try:  # a backward pass that takes G where G^T belongs (or the other way)
                flipped = np.asarray(at.point.claim(claim.expr, "", {name: g.T})).reshape(x.shape)
                slips["direction transposed"] = flipped
                if flipped.ndim == 2 and len(set(flipped.shape)) == 1:  # square
                    # -A G A for -A^T G A^T: every transpose missing, the whole formula transposed
                    slips["direction and claim transposed"] = flipped.T
            except (EvaluationError, ValueError):
                pass
        if np.iscomplexobj(c):
            slips["conjugated"] = np.conj(c)
        for slip, m in slips.items():
            alts[slip] = (np.array([pair(m, p.direction[wrt]) for p in probes]), reading.numeric)
        return alts, None

    return replace(reading, display=(c, shown) if shown is not None else None, explain=explain,
                   ambiguous=_layout_ambiguity(var, c, ()))


def _jvp(claim: Claim, identity: Identity, at: Probing) -> Reading:
    """A forward pass: the change of f along a tangent V of the input, f'(X)[V]. Judged as
    a differential in that input alone, V bound to each probe's direction."""
    assert claim.wrt is not None and claim.direction is not None
    var, name = identity.input(claim.wrt), claim.direction

    def value(p: Probe) -> np.ndarray:
        return _claimed_change(claim, at, {name: p.direction[var.name]}, "jvp")

    probes = list(at.probes.of_input(var))
    claimed: list[np.ndarray] = []
    estimates: list[Estimate] = []
    for chunk in _chunks(probes, at.value(var.name).size):
        values = _claimed_changes(claim, at, [{name: p.direction[var.name]} for p in chunk], "jvp")
        claimed += [at.numbers.reduced(p, v) for p, v in zip(chunk, values)]
        estimates += at.numbers.firsts(chunk)
    combined = _combination(var, probes, estimates, at) if at.probes.full(var) else None
    if combined is not None:
        probes.append(combined[0])
        claimed.append(value(combined[0]))
        estimates.append(combined[1])
    reading = _along(estimates, claimed, at, probes, "full" if at.probes.full(var) else "directional")
    worst = int(np.argmax([distance(vec(c), vec(e.value)) for c, e in zip(claimed, estimates)]))
    if reading.sketch:
        return replace(reading, explain=lambda: ({"negated": (-reading.claimed, reading.numeric)},
                                                 (value(probes[worst]), at.numbers.whole(probes[worst]).value)))
    def explain() -> Explanation:
        alts = {**_linear_slip(reading, probes, claimed), **diagnosis.value_slips(claimed, reading.numeric)}
        if at.value(var.name).ndim == 2 and at.value(var.name).shape[0] == at.value(var.name).shape[1] > 1:
            try:  # a forward pass that takes V where V^T belongs
                flipped = [_claimed_change(claim, at, {name: p.direction[var.name].T}, "jvp") for p in probes]
                alts["direction transposed"] = (_stack(flipped), reading.numeric)
            except EvaluationError:
                pass
        return alts, None

    return replace(reading, display=(claimed[worst], estimates[worst].value), explain=explain)


def _second_pairs(inputs: Sequence[Variable], at: Probing) -> tuple[str, list[tuple[Probe, Probe]]]:
    """Pairs of directions of `inputs` (all at once) along which a second-order claim is
    compared: every pair of entries when they are few, else random pairs and each random
    direction with itself."""
    if sum(at.value(v.name).size for v in inputs) <= at.numbers_limit:
        basis = [p for v in inputs for p in at.probes.basis(v)]
        return "full", [(u, v) for i, u in enumerate(basis) for v in basis[i:]]
    u, v = at.probes.randoms(inputs, at.probes.numerics.probes), at.probes.randoms(inputs, at.probes.numerics.probes)
    return "directional", [*zip(u, v), *((p, p) for p in u)]


def _second_reading(claimed: np.ndarray, estimates: Sequence[Estimate], mode: str, at: Probing,
                    pairs: Sequence[tuple[Probe, Probe]], names: frozenset[str]) -> Reading:
    size = norm(at.point.change_size(names))
    reference = float(np.sqrt(sum((size / (u.scale * v.scale)) ** 2 for u, v in pairs)))
    return Reading(at.point.sample.trial, mode, claimed, _stack([e.value for e in estimates]),
                   _stack([e.error for e in estimates]), 0, rounding=_stack([e.rounding for e in estimates]),
                   reference=reference)


def _second_differential(claim: Claim, identity: Identity, at: Probing) -> Reading:
    """d^2 f written with the directions dX, dY, ...: the second derivative of f along a
    direction, a quadratic form. Checked as the bilinear form it polarises to,
    (q(u + v) - q(u - v)) / 4, against d^2 f / ds dt along pairs (u, v), and along each
    direction with itself."""
    if not is_scalar(at.point.value.shape):
        raise EvaluationError(f"a second_differential claim needs a scalar function, but f has shape "
                              f"{shape_str(at.point.value.shape)} in claim {claim.index}")
    mode, pairs = _second_pairs(identity.inputs, at)

    def q(direction: dict[str, np.ndarray]) -> float:
        extra = {f"d{v.name}": _moved_along(direction, v.name, at) for v in identity.inputs}
        c = _constant_filled(claim, at.point.claim(claim.expr, f"claim {claim.index}", extra), ())
        if not is_scalar(c.shape):
            raise ClaimError(f"claimed second differential has shape {shape_str(c.shape)} but f is a scalar "
                             f"in claim {claim.index}")
        return float(np.real(c.reshape(-1)[0]))

    def bilinear(u: Probe, v: Probe) -> float:
        du, dv = u.direction, v.direction
        names = set(du) | set(dv)
        zero = {n: np.zeros_like(at.value(n)) for n in names}
        plus = {n: du.get(n, zero[n]) + dv.get(n, zero[n]) for n in names}
        minus = {n: du.get(n, zero[n]) - dv.get(n, zero[n]) for n in names}
        return (q(plus) - q(minus)) / 4

    claimed = np.array([bilinear(u, v) for u, v in pairs])
    estimates = list(at.numbers.seconds(pairs))
    reading = _second_reading(claimed, estimates, mode, at, pairs, frozenset(v.name for v in identity.inputs))
    return replace(reading, explain=lambda: ({"negated": (-reading.claimed, reading.numeric)}, None))


def _hvp(claim: Claim, identity: Identity, at: Probing) -> Reading:
    """A Hessian-vector product: H V for a tangent V of the input (named by `tangent`), of
    the input's shape; checked as sum(U * claim(V)) against d^2 f / ds dt along (U, V)."""
    assert claim.wrt is not None and claim.direction is not None
    if not is_scalar(at.point.value.shape):
        raise EvaluationError(f"an hvp claim needs a scalar function, but f has shape "
                              f"{shape_str(at.point.value.shape)} in claim {claim.index}")
    var, name = identity.input(claim.wrt), claim.direction
    x = at.value(var.name)
    mode, pairs = _second_pairs([var], at)
    values: dict[object, np.ndarray] = {}

    def product(v: Probe) -> np.ndarray:
        if v.key not in values:
            c = _constant_filled(claim, at.point.claim(claim.expr, f"claim {claim.index}",
                                                       {name: v.direction[var.name]}), x.shape)
            if c.shape != x.shape and not (is_scalar(c.shape) and is_scalar(x.shape)):
                raise ClaimError(f"claimed hvp has shape {shape_str(c.shape)} but {var.name} has shape "
                                 f"{shape_str(x.shape)} in claim {claim.index}")
            values[v.key] = c.reshape(x.shape)
        return values[v.key]

    # both orders of each pair: H V must hold for V along either direction
    ordered = [*pairs, *((v, u) for u, v in pairs if u.key != v.key)]
    claimed = np.array([np.sum(u.direction[var.name] * product(v)) for u, v in ordered])
    estimates = list(at.numbers.seconds(ordered))
    reading = _second_reading(claimed, estimates, mode, at, ordered, frozenset({var.name}))

    def explain() -> Explanation:
        alts = {"negated": (-reading.claimed, reading.numeric)}
        if x.ndim == 2 and x.shape[0] == x.shape[1] > 1:
            alts["transposed"] = (np.array([np.sum(u.direction[var.name] * product(v).T) for u, v in ordered]),
                                  reading.numeric)
        return alts, None

    return replace(reading, explain=explain)


DERIVATION_DIRECTIONS = 4  # random directions along which later steps are compared with earlier ones


def _derivation(claim: Claim, identity: Identity, at: Probing) -> Reading:
    """Steps that each follow from the one before: the first against the numbers (a
    differential) or against f (a value), every later one against the one before it along
    random directions, and the derivative read off against the last. Every step is judged
    and shown; the diagnosis names the first that does not follow."""
    directions = {f"d{v.name}" for v in identity.inputs}
    if not any(e.moves(directions) for e in claim.links):
        chain = _equals(replace(claim, form="equals"), identity, at, "step")
        links = chain.parts or (chain,)
        return _ordered(tuple(replace(p, part=_step_label(claim, k, "f")) for k, p in enumerate(links)), at)
    first = _differential(replace(claim, rest=()), identity, at)
    label = _step_label(claim, 0)
    parts = [replace(first, part=label, parts=()),
             *(replace(p, part=f"{label} ({p.part})") for p in first.parts)]
    bound = _derivation_directions(identity, at, claim)
    previous = _step_values(claim.links[0], claim, at, bound, 0)
    for k, expr in enumerate(claim.rest, start=1):
        values = _step_values(expr, claim, at, bound, k)
        parts.append(_follows(values, previous, at, _step_label(claim, k), expr, claim, bound))
        previous = values
    if claim.read_off is not None:
        parts.append(_read_off(claim, identity, at))
    return _ordered(tuple(parts), at)


def _step_label(claim: Claim, k: int, first: str = "df") -> str:
    rule = claim.by[k] if k < len(claim.by) else None
    source = claim.links[k].source
    if k == 0:
        text = f"step 1: {first} = {source}"
    else:
        text = f"step {k + 1}: {claim.links[k - 1].source} = {source}"
    return f"{text} (by {rule})" if rule else text


def _ordered(parts: tuple[Reading, ...], at: Probing) -> Reading:
    """The reading of a claim made of steps: every step's, each judged on its own."""
    return Reading(at.point.sample.trial, parts[0].mode, _stack([p.claimed for p in parts]),
                   _stack([p.numeric for p in parts]), _stack([p.uncertainty for p in parts]), 0,
                   rounding=_stack([p.rounding for p in parts]), reference=max(p.reference for p in parts),
                   parts=parts, ordered=True, explain=lambda: ({}, None))


Bound = list[dict[str, np.ndarray]]


def _derivation_directions(identity: Identity, at: Probing, claim: Claim) -> Bound:
    """Random directions of every input at once, as d<name> (the same for every step)."""
    rng = identity_rng(at.point.sample.trial, f"{at.point.identity.name}/derivation/{claim.index}")
    return [{f"d{v.name}": rng.standard_normal(at.value(v.name).shape) * at.point.scale_rms(v.name)
             for v in identity.inputs} for _ in range(DERIVATION_DIRECTIONS)]


StepValues = list[tuple[np.ndarray, np.ndarray]]  # per direction: the value and its rounding noise


def _step_values(expr: Expr, claim: Claim, at: Probing, bound: Bound, k: int) -> StepValues:
    what = f"claim {claim.index} step {k + 1}"
    f_shape = at.point.value.shape
    out = []
    for extra in bound:
        c = at.point.claim(expr, what, extra)
        if not expr.names and c.ndim == 0:  # a constant step, such as 0, has every shape
            c = np.broadcast_to(c, f_shape)
        if c.shape != f_shape and not (is_scalar(c.shape) and is_scalar(f_shape)):
            raise ClaimError(f"step {k + 1} has shape {shape_str(c.shape)} but f has shape "
                             f"{shape_str(f_shape)} in claim {claim.index}")
        noise = at.point.claim_noise(expr, what, extra)
        out.append((c.reshape(f_shape), np.broadcast_to(noise, c.shape).reshape(f_shape)))
    return out


def _with_directions_transposed(expr: Expr, at: Probing, bound: Bound,
                                numeric: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The step read with dX^T for dX, one square direction at a time (the commonest slip
    in a trace manipulation)."""
    out = {}
    for name in bound[0] if bound else ():
        if bound[0][name].ndim != 2 or bound[0][name].shape[0] != bound[0][name].shape[1] or len(bound[0][name]) < 2:
            continue
        try:
            values = [at.point.claim(expr, "", {**extra, name: extra[name].T}) for extra in bound]
        except EvaluationError:
            continue
        out[f"with {name}^T for {name}"] = (_stack(values), numeric)
    return out


def _follows(values: StepValues, previous: StepValues, at: Probing, label: str, expr: Expr,
             claim: Claim, bound: Bound) -> Reading:
    """A step against the one before it, along the same directions: equal to rounding."""
    claimed = _stack([c for c, _ in values])
    numeric = _stack([c for c, _ in previous])
    noise = _stack([n for _, n in values]) + _stack([n for _, n in previous])
    uncertainty = 4 * noise + 4 * EPS * np.maximum(np.abs(claimed), np.abs(numeric))
    shown = (values[0][0], previous[0][0])
    return Reading(at.point.sample.trial, "value", claimed, numeric, uncertainty, 0, rounding=uncertainty,
                   reference=norm(numeric), part=label, display=shown,
                   explain=lambda: ({**diagnosis.value_slips([c for c, _ in values], numeric),
                                     **_with_directions_transposed(expr, at, bound, numeric)}, None))


def _read_off(claim: Claim, identity: Identity, at: Probing) -> Reading:
    """The derivative read off the last step: df = tr(D dX) (or its layout's action) along
    directions of that input alone."""
    assert claim.read_off is not None and claim.wrt is not None and claim.layout is not None
    wrt, layout, f_shape, read_off = claim.wrt, claim.layout, at.point.value.shape, claim.read_off
    x = at.value(wrt)
    d = _constant_filled(claim, at.point.claim(claim.read_off, f"claim {claim.index} read_off"),
                         expected_derivative_shape(f_shape, x.shape, layout))
    _check_derivative_shape(replace(claim, form="derivative"), d, f_shape, x.shape)
    only = [{name: (v if name == f"d{wrt}" else np.zeros_like(v)) for name, v in extra.items()}
            for extra in _derivation_directions(identity, at, claim)]
    last = _step_values(claim.links[-1], claim, at, only, len(claim.links) - 1)
    act = derivative_action(d, layout, f_shape, x.shape)
    claimed = _stack([act(extra[f"d{wrt}"]) for extra in only])
    numeric = _stack([c for c, _ in last])
    own = ROUNDING * EPS * np.sqrt(d.size) * norm(d) * max(norm(e[f"d{wrt}"]) for e in only)
    uncertainty = 4 * _stack([n for _, n in last]) + 4 * EPS * np.abs(numeric) + own
    label = f"read off: {claim.read_off.source} ({layout}, wrt {wrt})"

    def explain() -> Explanation:
        slips = diagnosis.derivative_slips(replace(claim, expr=read_off, rest=()), at.point, d, layout,
                                           f_shape, x.shape)
        alts = {"negated": (-claimed, numeric)}
        for name, m in slips.items():
            if m.shape == d.shape:
                slip = derivative_action(m, layout, f_shape, x.shape)
                alts[name] = (_stack([slip(e[f"d{wrt}"]) for e in only]), numeric)
        return alts, None

    return Reading(at.point.sample.trial, "value", claimed, numeric, uncertainty, 0, rounding=uncertainty,
                   reference=norm(numeric), part=label, explain=explain)


_FORMS: dict[str, Callable[[Claim, Identity, Probing], Reading]] = {
    "derivative": _derivative, "differential": _differential, "hessian": _hessian, "equals": _equals,
    "vjp": _vjp, "jvp": _jvp, "derivation": _derivation,
    "second_differential": _second_differential, "hvp": _hvp,
}
