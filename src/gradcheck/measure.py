"""Measure one claim at one point: claimed versus numerical action on probes.

Every claim form is checked the same way. A *probe* is a direction for some
inputs; the claim's *action* on it is what the claim says the change of f is
(for a gradient G: sum(G * dX)), and the numerical action is the central
difference of f along the probe. Small inputs are probed along every entry
(the full gradient or Jacobian); large ones along a fixed number of random
directions, so the cost does not grow with the number of entries. Numerical
actions are cached per trial and shared by all claims of an identity.
"""

from __future__ import annotations

import dataclasses
import functools
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations_with_replacement

import numpy as np

from gradcheck.catalogue import Claim, Identity, Variable
from gradcheck.errors import ClaimError, ExpressionError
from gradcheck.functions import shape_str
from gradcheck.norms import distance, norm
from gradcheck.numdiff import EPS, ROUNDING, Estimate, first_derivative, second_derivative
from gradcheck.point import Point
from gradcheck.sampling import identity_rng
from gradcheck.sketch import BUCKETS, CountSketch

Direction = dict[str, np.ndarray]
KEEP_ENTRIES = 4_194_304  # random directions are kept while they total this many entries (32 MB)
KEEP_BOTH = 1_000_000  # beyond it, directions up to this many entries are kept in pairs


@dataclass(frozen=True)
class Settings:
    """How claims are measured (the numerical knobs of a run)."""

    full_limit: int = 100  # inputs with at most this many entries are probed entry by entry
    probes: int = 4  # random directions for larger inputs (power: see docs/format.md)
    hessian_full_limit: int = 9  # entries up to which a Hessian is checked entry by entry
    sketch_limit: int = 65_536  # f with more entries is compared through a count sketch (random probes)
    method: str = "central"  # see numdiff.METHODS
    rtol: float = 1e-11  # the run's tolerance floor (to skip diagnosis work for passing claims)
    # For sensitivity benchmarks: add a random error of this relative size to every
    # claim's value, claim + plant * ||claim|| * E / ||E|| (0: claims as written).
    plant: float = 0.0


@dataclass(frozen=True)
class Probe:
    """A direction, and the scale of its entries (steps are a multiple of it).

    Random directions beyond a memory budget (see `Prober.randoms`) are not kept:
    `make` draws them again, the same each time, when they are needed.
    """

    key: tuple[object, ...]
    make: Callable[[], Direction]
    scale: float = 1.0

    @property
    def direction(self) -> Direction:
        return self.make()

    @property
    def random(self) -> bool:
        return self.key[0] == "random"


def _kept(direction: Direction) -> Callable[[], Direction]:
    return lambda: direction


@dataclass(frozen=True)
class Measurement:
    """A claim at one point: claimed and numerical actions, flattened, with error estimates."""

    trial: int
    mode: str  # "full", "directional" or "value"
    claimed: np.ndarray
    numeric: np.ndarray
    uncertainty: np.ndarray
    nfev: int
    rounding: np.ndarray = field(default_factory=lambda: np.zeros(0))
    method: str = "central"
    conditions: dict[str, float] = field(default_factory=dict)  # of the sampled matrices
    # other readings of the claim (transposed, negated, ...): name -> (claimed, numeric)
    alternatives: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # the claimed and numerical derivative in the claim's own layout, when fully known
    display: tuple[np.ndarray, np.ndarray] | None = None
    sketch: int = 0  # the number of sums f was compared through (0: entry by entry)
    # The size the numbers would have if the terms of f that change changed by their own
    # size along each probe: a derivative below its noise is judged zero only where that
    # noise is small against this (see verdict.zero_judged).
    reference: float = 0.0
    # for a claim on several inputs, each input's share, judged on its own too
    parts: tuple[Measurement, ...] = ()
    part: str = ""  # the input whose share this is (a part), else ""
    kinks: int = 0  # probes along which f has a kink at the point (judged by a subgradient)
    conflict: str = ""  # why the numbers cannot judge the claim although they look clean
    ambiguous: str = ""  # why a passing claim may still hold only in another layout

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


def is_scalar(shape: tuple[int, ...]) -> bool:
    """Shapes (), (1,) and (1, 1) all mean a scalar."""
    return len(shape) <= 2 and int(np.prod(shape)) == 1


def vec(a: np.ndarray) -> np.ndarray:
    return np.asarray(a).reshape(-1, order="F")


class Prober:
    """Probe directions and cached numerical derivatives for one point."""

    def __init__(self, point: Point, settings: Settings, rng: np.random.Generator) -> None:
        self.point = point
        self.settings = settings
        self.rng = rng
        self.cache: dict[tuple[object, ...], Estimate] = {}
        self.probe_sets: dict[tuple[object, ...], list[Probe]] = {}
        self.serial = 0  # random probes are told apart by a serial number
        self.kept_entries = 0  # of random directions kept (see `randoms`)
        self.recent: dict[int, Direction] = {}  # the last ones drawn of those not kept, oldest first
        self.sketch = (CountSketch(point.value.shape, identity_rng(point.sample.trial, point.identity.name + "/sketch"))
                       if point.value.size > settings.sketch_limit else None)

    def value(self, name: str) -> np.ndarray:
        return np.asarray(self.point.sample.values[name])

    # -- probe sets --------------------------------------------------------

    def full(self, var: Variable) -> bool:
        return self.value(var.name).size <= self.settings.full_limit

    def input_probes(self, var: Variable) -> list[Probe]:
        key = ("input", var.name)
        if key not in self.probe_sets:
            self.probe_sets[key] = (self.basis(var) if self.full(var)
                                    else self.randoms([var], self.settings.probes))
        return self.probe_sets[key]

    def joint_full(self, inputs: Sequence[Variable]) -> bool:
        """Whether a differential's probes go entry by entry (the rule of `joint_probes`)."""
        return all(self.full(v) for v in inputs)

    def joint_probes(self, inputs: Sequence[Variable]) -> list[Probe]:
        """A differential's probes: each input's own, one input at a time. A differential is
        linear in the directions, so nothing is lost, and each input's part is judged on
        its own (a large part of another input cannot hide a slip in a small one); the
        probes are the ones derivative claims use, and their numbers are shared."""
        return [p for v in inputs for p in self.input_probes(v)]

    def basis(self, var: Variable) -> list[Probe]:
        x = self.value(var.name)
        if var.symmetric_perturbation:
            return self.symmetric_basis(var.name, x)
        scales = vec(self.point.scales(var.name))
        probes = []
        for i in range(x.size):
            d = np.zeros(x.size)
            d[i] = 1.0
            direction = {var.name: d.reshape(x.shape, order="F")}
            probes.append(Probe(("basis", var.name, i), _kept(direction), float(scales[i])))
        return probes

    def symmetric_basis(self, name: str, x: np.ndarray) -> list[Probe]:
        n, scale = x.shape[0], float(np.sqrt(np.mean(x**2)) or 1.0)
        probes = []
        for i, j in combinations_with_replacement(range(n), 2):
            d = np.zeros((n, n))
            d[i, j] = d[j, i] = 1.0 if i == j else np.sqrt(0.5)
            probes.append(Probe(("sym", name, i, j), _kept({name: d}), scale))
        return probes

    def random_direction(self, var: Variable, rng: np.random.Generator) -> np.ndarray:
        """A Gaussian direction, the same scale in every entry: its power to see an error
        must not depend on where the error is. (Scaled entry by entry, the directions of
        log det at a large spd X weighed the diagonal 20 times more than the rest, and
        an error only off the diagonal was seen 20 times smaller.)"""
        x = self.value(var.name)
        d = rng.standard_normal(x.shape)
        d *= self.point.scale_rms(var.name)
        return (d + d.T) / np.sqrt(2) if var.symmetric_perturbation else d

    def randoms(self, inputs: Sequence[Variable], count: int) -> list[Probe]:
        """`count` random probes of `inputs`. Their directions are kept while all the kept
        ones total at most KEEP_ENTRIES entries (drawing them again for every claim cost a
        third of a check at n = 1000); larger ones are drawn again when needed."""
        entries = count * sum(self.value(v.name).size for v in inputs)
        keep = self.kept_entries + entries <= KEEP_ENTRIES
        self.kept_entries += entries if keep else 0
        return [self.random(inputs, keep) for _ in range(count)]

    def random(self, inputs: Sequence[Variable], keep: bool) -> Probe:
        self.serial += 1
        serial, seed = self.serial, int(self.rng.integers(2**63))

        def draw() -> Direction:
            rng = np.random.default_rng(seed)
            return {v.name: self.random_direction(v, rng) for v in inputs}

        if keep:
            return Probe(("random", serial), _kept(draw()))

        def make() -> Direction:
            # Only the last two drawn are kept (a second derivative's pair), or the last one
            # when they are large.
            if serial not in self.recent:
                large = sum(self.value(v.name).size for v in inputs) > KEEP_BOTH
                while len(self.recent) >= (1 if large else 2):
                    del self.recent[next(iter(self.recent))]
                self.recent[serial] = draw()
            return self.recent[serial]

        return Probe(("random", serial), make)

    def sketched(self, probe: Probe) -> bool:
        """Whether f's values along this probe are kept only as a sketch: for an f with
        more than `sketch_limit` entries, along random directions (see gradcheck.sketch)."""
        return self.sketch is not None and probe.random

    def reduced(self, probe: Probe, action: np.ndarray) -> np.ndarray:
        """A claimed action along `probe`, as the numbers along it are kept."""
        return self.sketch(action) if self.sketch is not None and self.sketched(probe) else action

    def sketch_size(self, probes: Sequence[Probe]) -> int:
        return BUCKETS if any(map(self.sketched, probes)) else 0

    def claim_value(self, claim: Claim, extra: Mapping[str, np.ndarray] | None = None,
                    probe: int = 0) -> np.ndarray:
        """The claim's value at the point (with a planted error if the settings ask)."""
        value = self.point.claim(claim.expr, f"claim {claim.index}", extra)
        if not self.settings.plant:
            return value
        key = f"{self.point.identity.name}/{claim.index}/{self.point.sample.trial}/{probe}"
        noise = identity_rng(0, key).standard_normal(value.shape)
        size = float(np.linalg.norm(noise)) or 1.0
        return value + self.settings.plant * float(np.linalg.norm(value)) * noise / size

    # -- numerical derivatives ---------------------------------------------

    def step(self, probe: Probe) -> float:
        """The scale of the steps along `probe`: its own, times a factor between 1/sqrt(2)
        and sqrt(2) that differs from probe to probe and trial to trial (the same in every
        run). Two step sizes in a fixed ratio can agree by chance, f oscillating in
        resonance with them (x^2 + 1e-4 sin(w log x)); steps that vary cannot all."""
        seed = zlib.crc32(repr((probe.key, self.point.sample.trial, self.point.identity.name)).encode())
        return probe.scale * float(2.0 ** (seed / 2**32 - 0.5))

    def moved(self, direction: Direction, t: complex) -> dict[str, np.ndarray]:
        return {name: _step(self.value(name), d, t) for name, d in direction.items()}

    def numeric(self, probe: Probe) -> Estimate:
        """d/dt f(x + t d) at t = 0, cached by probe (sketched if f is large, see `sketched`)."""
        if probe.key not in self.cache:
            self.cache[probe.key] = (self._numeric_sketched(probe) if self.sketched(probe)
                                     else self.numeric_whole(probe))
        return self.cache[probe.key]

    def numeric_whole(self, probe: Probe) -> Estimate:
        """d/dt f(x + t d) at t = 0 entry by entry (not cached)."""
        names = frozenset(probe.direction)
        line: Callable[[complex], np.ndarray] = lambda t: self.point.change(self.moved(probe.direction, t))
        noise = self.point.change_noise(names, line=self.settings.method != "complex")
        return _compact(first_derivative(line, self.step(probe), self.settings.method, noise,
                                         self.point.change_size(names), at_zero=True))

    def _numeric_sketched(self, probe: Probe) -> Estimate:
        assert self.sketch is not None
        sketch = self.sketch
        # Sketching f(x + t d) - f(x), not f(x + t d): the sums then add up changes of
        # size t |f'|, and their own rounding is that much smaller.
        line: Callable[[complex], np.ndarray] = lambda t: sketch(self.point.change(self.moved(probe.direction, t)))
        # The rounding of f, entry by entry, as it adds up in each sum; numdiff takes
        # four times `f_noise` as the rounding of one value.
        return _compact(first_derivative(line, self.step(probe), self.settings.method, self.sketched_noise / 4))

    @functools.cached_property
    def sketched_noise(self) -> np.ndarray:
        assert self.sketch is not None
        names = frozenset(v.name for v in self.point.identity.inputs)
        noise = np.maximum(self.point.jiggled_noise(names), self.point.line_noise(names))  # not kept: as large as f
        noise *= 4
        return self.sketch.quadrature(np.maximum(noise, ROUNDING * EPS * np.abs(self.point.value), out=noise))

    def numeric_second(self, u: Probe, v: Probe) -> Estimate:
        """d^2/ds dt f(x + s u + t v) at 0 (steps relative to the probes' own scale)."""
        key = ("second", *sorted((u.key, v.key), key=repr))
        if key not in self.cache:

            def plane(s: complex, t: complex) -> np.ndarray:
                moved = self.moved(u.direction, s)
                for n, d in v.direction.items():
                    moved[n] = moved.get(n, self.value(n)) + t * d
                return self.point.change(moved)

            names = frozenset(u.direction) | frozenset(v.direction)
            self.cache[key] = _compact(second_derivative(plane, self.step(u), self.step(v), self.settings.method,
                                                         self.point.change_noise(names),
                                                         self.point.change_size(names)))
        return self.cache[key]


def _step(x: np.ndarray, d: np.ndarray, t: complex) -> np.ndarray:
    """x + t d, with one array as large as x instead of two."""
    moved = d * t
    moved += x
    return moved


def _compact(estimate: Estimate) -> Estimate:
    """Only the norms of the error estimates are ever used (the verdict compares norms):
    keeping them alone halves the memory of a check with a matrix-valued f."""
    return Estimate(estimate.value, np.asarray(norm(estimate.error)), np.asarray(norm(estimate.rounding)),
                    estimate.nfev, estimate.lower, estimate.upper)


# -- claim forms ---------------------------------------------------------------

def measure(claim: Claim, identity: Identity, prober: Prober) -> Measurement:
    """Compare one claim with the numbers at the prober's point."""
    before = prober.point.nfev
    m = _FORMS[claim.form](claim, identity, prober)
    method = "exact" if claim.form == "equals" else prober.settings.method
    # Other readings of the claim (transposed, negated, ...) only matter to diagnose a
    # failure; for large inputs they cost as much memory as the check itself.
    # The claim's own value carries rounding too, amplified by the conditioning of the
    # matrices the identity inverts (a claim built from inv(X^T X) at cond 1e6 loses 6 digits).
    worst = max(prober.point.conditions.values(), default=1.0)
    own = np.array([ROUNDING * EPS * worst * norm(m.claimed)])
    if m.sketch and prober.sketch is not None:
        # each sum of a sketch adds up its terms with rounding
        size = norm(m.claimed) + norm(m.numeric)
        own += ROUNDING * EPS * np.sqrt(prober.sketch.terms) * size
    if claim.form in ("derivative", "hessian") and _might_fail(m, prober.settings.rtol, own):
        # Before a claim fails narrowly, its own sensitivity to the rounding of the inputs:
        # a claim such as cos(1e6 log x) is defined only to 1e6 eps at the sampled point.
        own += 4 * _relative_claim_noise(claim, prober) * norm(m.claimed)
    parts = tuple(_part_measurement(m, part, prober, worst, method) for part in m.parts)
    m.uncertainty, m.rounding = np.concatenate([m.uncertainty, own]), np.concatenate([m.rounding, own])
    alternatives = m.more() if m.more is not None and _might_fail(m, prober.settings.rtol) else {}
    return Measurement(prober.point.sample.trial, m.mode, m.claimed, m.numeric, m.uncertainty,
                       prober.point.nfev - before, rounding=m.rounding, method=method,
                       alternatives=alternatives, display=m.display, conditions=prober.point.conditions,
                       sketch=m.sketch, reference=m.reference, parts=parts, kinks=m.kinks,
                       ambiguous=m.ambiguous)


def _part_measurement(m: _Partial, part: _Part, prober: Prober, worst: float, method: str) -> Measurement:
    """One input's share of a measurement, with the claim's own rounding of that share."""
    claimed, numeric = m.claimed[part.start:part.stop], m.numeric[part.start:part.stop]
    own = np.array([ROUNDING * EPS * worst * norm(claimed)])
    if m.sketch and prober.sketch is not None:
        own += ROUNDING * EPS * np.sqrt(prober.sketch.terms) * (norm(claimed) + norm(numeric))
    return Measurement(prober.point.sample.trial, m.mode, claimed, numeric,
                       np.concatenate([m.uncertainty[part.first:part.last], own]), 0,
                       rounding=np.concatenate([m.rounding[part.first:part.last], own]), method=method,
                       sketch=m.sketch, reference=part.reference, part=part.name)


def _might_fail(m: _Partial, rtol: float, own: np.ndarray | None = None) -> bool:
    """A generous superset of the verdict's failures (see verdict.compare)."""
    diff = distance(m.claimed, m.numeric)
    scale = max(norm(m.claimed), norm(m.numeric))
    u = norm(np.concatenate([m.uncertainty, own])) if own is not None else norm(m.uncertainty)
    return not diff <= 0.5 * (rtol * scale + u)


def _relative_claim_noise(claim: Claim, prober: Prober) -> float:
    """How much a claim's value moves between points within rounding of the sample,
    relative to its size (see `Point.claim_noise`)."""
    try:
        noise = prober.point.claim_noise(claim.expr, f"claim {claim.index}")
    except ExpressionError:
        return 0.0
    size = norm(prober.point.claim(claim.expr, f"claim {claim.index}"))
    return norm(noise) / size if size > 0 else 0.0


def _constant_filled(claim: Claim, value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A claim without variables (`derivative: 0`) stands for every entry of `shape`."""
    if claim.expr.names or value.size != 1 or is_scalar(shape):
        return value
    return np.full(shape, value.reshape(()).item())


def _stack(values: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate([vec(v) for v in values]) if values else np.zeros(0)


def expected_derivative_shape(f_shape: tuple[int, ...], x_shape: tuple[int, ...], layout: str) -> tuple[int, ...]:
    """The shape a derivative claim must have (see the format's layout rules)."""
    if is_scalar(f_shape):
        if len(x_shape) <= 1:
            return x_shape
        return x_shape if layout == "denominator" else x_shape[::-1]
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
    raise ClaimError(
        f"claimed derivative has shape {shape_str(c.shape)} but layout {layout} expects "
        f"{shape_str(want)} for f of shape {shape_str(f_shape)} and {claim.wrt} of shape "
        f"{shape_str(x_shape)}; {hint} in claim {claim.index}"
    )


def derivative_action(c: np.ndarray, layout: str, f_shape: tuple[int, ...],
                      x_shape: tuple[int, ...]) -> Callable[[np.ndarray], np.ndarray]:
    """The linear map dX -> df that a derivative claim `c` states."""
    if is_scalar(f_shape):
        g = c.reshape(x_shape) if is_scalar(c.shape) else c
        if layout == "numerator" and len(x_shape) == 2:
            g = g.T
        return lambda d: np.asarray(np.sum(g * d))
    jac = c if layout == "numerator" else c.T
    return lambda d: (jac @ vec(d)).reshape(f_shape, order="F")


def _derivative(claim: Claim, identity: Identity, prober: Prober) -> _Partial:
    assert claim.wrt is not None and claim.layout is not None
    wrt = claim.wrt
    f_shape, x = prober.point.value.shape, prober.value(wrt)
    c = _constant_filled(claim, prober.claim_value(claim),
                         expected_derivative_shape(f_shape, x.shape, claim.layout or "denominator"))
    _check_derivative_shape(claim, c, f_shape, x.shape)
    var = identity.input(claim.wrt)
    probes = prober.input_probes(var)

    def action(matrix: np.ndarray, p: Probe) -> np.ndarray:
        return prober.reduced(p, derivative_action(matrix, claim.layout or "", f_shape, x.shape)(p.direction[wrt]))

    def actions(matrix: np.ndarray) -> np.ndarray:
        return _stack([action(matrix, p) for p in probes])

    # Numbers and claim along each probe in turn: a large random direction is drawn once.
    estimates, claimed = [], []
    for p in probes:
        estimates.append(prober.numeric(p))
        claimed.append(action(c, p))
    numeric = _stack([_bracketed(e, a) for e, a in zip(estimates, claimed)])
    part = _Partial("full" if prober.full(var) else "directional", _stack(claimed), numeric,
                    _stack([e.error for e in estimates]), rounding=_stack([e.rounding for e in estimates]),
                    sketch=prober.sketch_size(probes), kinks=kinks(estimates))
    part.reference = _reference(prober, probes)
    part.ambiguous = _layout_ambiguity(var, c, f_shape)
    shown = None
    if part.mode == "full" and not var.symmetric_perturbation:
        # where f has a kink, the numbers shown are the bracketed ones (the claim, if within)
        bracketed = [dataclasses.replace(e, value=_bracketed(e, a)) for e, a in zip(estimates, claimed)]
        shown = _assemble(bracketed, claim.layout or "", f_shape, x.shape).reshape(c.shape)
        part.display = (c, shown)

    def more() -> dict[str, tuple[np.ndarray, np.ndarray]]:
        readings = {**_matrix_readings(c), **_swapped(claim, prober, c.shape),
                    **_term_readings(claim, prober, c), **_row_major(c, claim.layout or "", f_shape, x.shape)}
        # every reading along each probe in turn: a large random direction is drawn once
        acted: dict[str, list[np.ndarray]] = {name: [] for name in readings}
        for p in probes:
            for name, matrix in readings.items():
                acted[name].append(action(matrix, p))
        alts = {"negated": (-part.claimed, numeric)}
        alts.update((name, (_stack(values), numeric)) for name, values in acted.items())
        if shown is not None and c.ndim == 2 and c.shape[0] == c.shape[1]:
            alts["symmetric parts agree"] = (vec(_sym(c)), vec(_sym(shown)))
        return alts

    part.more = more
    return part


SYMMETRIC_KINDS = frozenset({"symmetric", "spd"})


def _layout_ambiguity(var: Variable, c: np.ndarray, f_shape: tuple[int, ...]) -> str:
    """Why a gradient claim on a symmetric sample cannot show its layout, or "".

    At a symmetric X, a claim that equals its own transpose is the same matrix in both
    layouts (inv(X).T = inv(X) for spd X): it would pass in the wrong layout too."""
    if var.kind not in SYMMETRIC_KINDS or var.symmetric_perturbation or not is_scalar(f_shape):
        return ""
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] < 2:
        return ""
    if distance(c, c.T) > 1e-12 * norm(c):
        return ""
    return (f"{var.name} is sampled {var.kind}, where this claim equals its transpose: the layouts "
            f"numerator and denominator cannot be told apart; give {var.name} kind invertible "
            "(or general) to check the layout")


def _bracketed(estimate: Estimate, claimed: np.ndarray) -> np.ndarray:
    """The numbers along a probe, where f has a kink at the point the claim itself if it
    lies between the one-sided derivatives (any subgradient holds), else the nearer end."""
    if estimate.lower is None or estimate.upper is None:
        return estimate.value
    return np.clip(np.reshape(claimed, np.shape(estimate.value)), estimate.lower, estimate.upper)


def kinks(estimates: Sequence[Estimate]) -> int:
    """How many probes found a kink at the point."""
    return sum(e.lower is not None for e in estimates)


def _reference(prober: Prober, probes: Sequence[Probe]) -> float:
    """The norm, over probes, of the size of the changing terms of f per unit step."""
    sizes = np.array([prober.point.change_size_norm(frozenset(p.direction)) / p.scale for p in probes])
    return norm(sizes)


def _sym(a: np.ndarray) -> np.ndarray:
    return np.asarray((a + a.T) / 2)


def _matrix_readings(c: np.ndarray) -> dict[str, np.ndarray]:
    """Other readings of a square claimed matrix, in the order a diagnosis tries them."""
    if not (c.ndim == 2 and c.shape[0] == c.shape[1] and c.shape[0] > 1):
        return {}
    return {"transposed": c.T, "symmetrised": _sym(c), "independent entries": (c + c * np.eye(c.shape[0])) / 2}


def _term_readings(claim: Claim, prober: Prober, c: np.ndarray) -> dict[str, np.ndarray]:
    """The claim with one of its additive terms left out, or with that term's sign flipped
    (a term too many, or a sign slip in one term: the commonest slips in a sum)."""
    terms = claim.expr.terms()
    if len(terms) < 2 or len(terms) > 8:
        return {}
    out = {}
    for sign, term in terms:
        try:
            value = np.broadcast_to(sign * prober.point.claim(term, ""), c.shape)
        except (ExpressionError, ValueError):
            continue
        out[f"without the term '{term.source}'"] = c - value
        out[f"with the sign of the term '{term.source}' flipped"] = c - 2 * value
    return out


def _row_major(c: np.ndarray, layout: str, f_shape: tuple[int, ...], x_shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """A Jacobian claim read as if f and x were vectorised row by row (NumPy's and PyTorch's
    reshape), brought to the format's column-major vec."""
    if is_scalar(f_shape) or c.ndim != 2 or (len(f_shape) < 2 and len(x_shape) < 2):
        return {}
    rows, cols = (f_shape, x_shape) if layout == "numerator" else (x_shape, f_shape)

    def order(shape: tuple[int, ...]) -> np.ndarray:
        size = int(np.prod(shape))
        return np.arange(size).reshape(shape, order="C").reshape(-1, order="F")

    if c.shape != (int(np.prod(rows)), int(np.prod(cols))):
        return {}
    moved = c[order(rows)][:, order(cols)]
    return {} if np.array_equal(moved, c) else {"row-major": moved}


def _swapped(claim: Claim, prober: Prober, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """The claim with two of its variables of the same shape exchanged (a common slip)."""
    values = prober.point.sample.values
    names = sorted(n for n in claim.expr.names if n in values)
    out = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if values[a].shape != values[b].shape:
                continue
            try:
                c = prober.point.claim(claim.expr, "", {a: values[b], b: values[a]})
            except ExpressionError:
                continue
            if c.shape == shape:
                out[f"{a} and {b} swapped"] = c
    return out


def _assemble(estimates: Sequence[Estimate], layout: str, f_shape: tuple[int, ...],
              x_shape: tuple[int, ...]) -> np.ndarray:
    """The numerical derivative in a claim's layout, from entry-by-entry probes."""
    if is_scalar(f_shape):
        g = np.array([float(np.real(e.value).reshape(-1)[0]) for e in estimates]).reshape(x_shape, order="F")
        return g.T if layout == "numerator" and len(x_shape) == 2 else g
    jac = np.column_stack([vec(e.value) for e in estimates])
    return jac if layout == "numerator" else jac.T


def _differential(claim: Claim, identity: Identity, prober: Prober) -> _Partial:
    probes = prober.joint_probes(identity.inputs)
    f_shape = prober.point.value.shape

    def value(k: int, p: Probe) -> np.ndarray:
        extra = {f"d{v.name}": p.direction.get(v.name, np.zeros_like(prober.value(v.name)))
                 for v in identity.inputs}
        c = _constant_filled(claim, prober.claim_value(claim, extra, k), f_shape)
        if c.shape != f_shape and not (is_scalar(c.shape) and is_scalar(f_shape)):
            raise ClaimError(f"claimed differential has shape {shape_str(c.shape)} but f has "
                             f"shape {shape_str(f_shape)} in claim {claim.index}")
        return c.reshape(f_shape) if c.size == int(np.prod(f_shape)) else c

    claimed, estimates = [], []
    for k, p in enumerate(probes):
        claimed.append(prober.reduced(p, value(k, p)))  # a sketch, for a large f: see `Prober.sketched`
        estimates.append(prober.numeric(p))
    full = prober.joint_full(identity.inputs)
    numeric = _stack([_bracketed(e, a) for e, a in zip(estimates, claimed)])
    part = _Partial("full" if full else "directional", _stack(claimed), numeric,
                    _stack([e.error for e in estimates]), rounding=_stack([e.rounding for e in estimates]),
                    sketch=prober.sketch_size(probes), kinks=kinks(estimates))
    part.reference = _reference(prober, probes)
    if len(identity.inputs) > 1:
        part.parts = _input_parts(prober, probes, claimed)
    worst = int(np.argmax([distance(vec(c), vec(e.value)) for c, e in zip(claimed, estimates)]))
    if not part.sketch:
        part.more = lambda: _value_alternatives(claimed, numeric)
        part.display = (claimed[worst], estimates[worst].value)
        return part

    def more() -> dict[str, tuple[np.ndarray, np.ndarray]]:
        # The claim's values and one probe's numbers, whole again, only to explain a failure.
        values = (value(k, p) for k, p in enumerate(probes))
        alts = {"negated": (-part.claimed, numeric)}
        if len(f_shape) == 2 and f_shape[0] == f_shape[1] > 1:
            alts["transposed"] = (_stack([prober.reduced(p, v.T) for p, v in zip(probes, values)]), numeric)
        part.display = (value(worst, probes[worst]), prober.numeric_whole(probes[worst]).value)
        return alts

    part.more = more
    return part


def _input_parts(prober: Prober, probes: Sequence[Probe], claimed: Sequence[np.ndarray]) -> list[_Part]:
    """The entries of the stacked numbers that belong to each input's probes."""
    parts: dict[str, _Part] = {}
    start = 0
    for k, (p, c) in enumerate(zip(probes, claimed)):
        [name] = p.direction
        stop = start + np.size(c)
        old = parts.get(name)
        parts[name] = _Part(name, old.start if old else start, stop, old.first if old else k, k + 1,
                            (old.probes if old else ()) + (p,))
        start = stop
    for name, part in parts.items():
        parts[name] = dataclasses.replace(part, reference=_reference(prober, part.probes))
    return list(parts.values())


def _value_alternatives(values: Sequence[np.ndarray],
                        target: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    alts = {"negated": (-_stack(values), target)}
    if values and values[0].ndim == 2 and values[0].shape[0] == values[0].shape[1] > 1:
        alts["transposed"] = (_stack([v.T for v in values]), target)
    return alts


def _hessian_pairs(var: Variable, prober: Prober) -> tuple[str, list[tuple[Probe, Probe]]]:
    x = prober.value(var.name)
    if x.size <= prober.settings.hessian_full_limit:
        basis = prober.basis(var)
        return "full", [(basis[i], basis[j]) for i in range(len(basis)) for j in range(len(basis))]
    u, v = prober.randoms([var], prober.settings.probes), prober.randoms([var], prober.settings.probes)
    pairs = list(zip(u, v))
    return "directional", pairs


def _hessian(claim: Claim, identity: Identity, prober: Prober) -> _Partial:
    assert claim.wrt is not None
    if not is_scalar(prober.point.value.shape):
        raise ExpressionError(f"a hessian claim needs a scalar function, but f has shape "
                              f"{shape_str(prober.point.value.shape)} in claim {claim.index}")
    var, x = identity.input(claim.wrt), prober.value(claim.wrt)
    n = x.size
    h = _constant_filled(claim, prober.claim_value(claim), (n, n))
    if h.shape != (n, n) and not (n == 1 and is_scalar(h.shape)):
        raise ClaimError(f"claimed hessian has shape {shape_str(h.shape)} but {claim.wrt} has {n} "
                              f"entries, so ({n},{n}) is expected in claim {claim.index}")
    h = h.reshape(n, n)
    mode, pairs = _hessian_pairs(var, prober)
    estimates = [prober.numeric_second(u, v) for u, v in pairs]

    def actions(m: np.ndarray) -> np.ndarray:
        return np.array([vec(u.direction[var.name]) @ m @ vec(v.direction[var.name]) for u, v in pairs])

    numeric = _stack([e.value for e in estimates])
    part = _Partial(mode, actions(h), numeric, _stack([e.error for e in estimates]),
                    rounding=_stack([e.rounding for e in estimates]))
    size = norm(prober.point.change_size(frozenset({var.name})))
    part.reference = float(np.sqrt(sum((size / (u.scale * v.scale)) ** 2 for u, v in pairs)))
    part.more = lambda: {"negated": (-part.claimed, numeric),
                         **{name: (actions(m), numeric) for name, m in _matrix_readings(h).items()}}
    if mode == "full" and not var.symmetric_perturbation:
        part.display = (h, numeric.reshape(n, n))
    return part


def _equals(claim: Claim, identity: Identity, prober: Prober) -> _Partial:
    point = prober.point
    c = prober.claim_value(claim)
    f = point.value
    if c.shape != f.shape and not (is_scalar(c.shape) and is_scalar(f.shape)):
        raise ClaimError(f"claimed value has shape {shape_str(c.shape)} but f has shape "
                              f"{shape_str(f.shape)} in claim {claim.index}")
    c = c.reshape(f.shape)
    # Both sides are the same function if the claim holds, so between points within
    # rounding of each other their difference changes by rounding noise alone.
    noise = point.rounding_noise + point.claim_noise(claim.expr, f"claim {claim.index}").reshape(f.shape)
    uncertainty = vec(4 * noise + 4 * EPS * np.maximum(np.abs(c), np.abs(f)))
    part = _Partial("value", vec(c), vec(f), uncertainty, rounding=uncertainty,
                    reference=norm(point.change_size(frozenset(v.name for v in identity.inputs))))
    part.more = lambda: _value_alternatives([c], vec(f))
    part.display = (c, f)
    return part


@dataclass(frozen=True)
class _Part:
    """One input's entries in a measurement: values [start, stop), probes [first, last)."""

    name: str
    start: int
    stop: int
    first: int
    last: int
    probes: tuple[Probe, ...] = ()
    reference: float = 0.0


@dataclass
class _Partial:
    mode: str
    claimed: np.ndarray
    numeric: np.ndarray
    uncertainty: np.ndarray
    display: tuple[np.ndarray, np.ndarray] | None = None
    rounding: np.ndarray = field(default_factory=lambda: np.zeros(0))
    more: Callable[[], dict[str, tuple[np.ndarray, np.ndarray]]] | None = None  # other readings
    sketch: int = 0
    reference: float = 0.0
    parts: list[_Part] = field(default_factory=list)
    kinks: int = 0
    ambiguous: str = ""


_FORMS: dict[str, Callable[[Claim, Identity, Prober], _Partial]] = {
    "derivative": _derivative, "differential": _differential, "hessian": _hessian, "equals": _equals,
}
