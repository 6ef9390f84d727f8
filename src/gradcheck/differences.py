"""Numerical derivatives of f along probes at one point, by one method.

d/dt f(x + t d) at t = 0 for every probe a claim asks about, cached by probe so that
all claims of an identity share them. An f with more entries than the sketch limit is
kept only as a count sketch along random directions (see gradcheck.sketch): the
claimed actions are then reduced the same way (`reduced`).
"""

from __future__ import annotations

import contextlib
import functools
import zlib
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from gradcheck.batch import STACK_LIMIT, fits
from gradcheck.norms import norm
from gradcheck.numdiff import (
    Estimate,
    fine_central,
    first_derivative,
    first_steps,
    second_derivative,
    second_steps,
    value_rounding,
)
from gradcheck.options import COMPLEX_NOISE_STEP, COMPLEX_SHARPEN, COMPLEX_SPREAD, EPS, ROUNDING, Numerics
from gradcheck.point import Point
from gradcheck.probes import Direction, Probe
from gradcheck.sampling import identity_rng
from gradcheck.sketch import BUCKETS, CountSketch


class Differences:
    """Cached numerical derivatives along probes at `point`, by `method`."""

    def __init__(self, point: Point, method: str, numerics: Numerics) -> None:
        self.point = point
        self.method = method
        self.step_factor = numerics.step_factor
        self.cache: dict[tuple[object, ...], Estimate] = {}
        self.probed: dict[tuple[object, ...], Probe] = {}  # the probes of first derivatives in `cache`
        self.ahead: dict[tuple[object, ...], np.ndarray] = {}  # changes of f taken ahead (`firsts`)
        self.quick = False  # first derivatives from one step size where they can be (`quickly`)
        self.fine: dict[tuple[object, ...], Estimate | None] = {}  # those, by probe (None: a kink may be near)
        self.kept: dict[tuple[object, complex], np.ndarray] = {}  # their changes of f, for `whole` to reuse
        self.sketch = (CountSketch(point.value.shape, identity_rng(point.sample.trial, point.identity.name + "/sketch"))
                       if point.value.size > numerics.sketch_limit else None)

    def sketched(self, probe: Probe) -> bool:
        """Whether f's values along this probe are kept only as a sketch: for an f with
        more than `sketch_limit` entries, along random directions (see gradcheck.sketch)."""
        return self.sketch is not None and probe.random

    def reduced(self, probe: Probe, action: np.ndarray) -> np.ndarray:
        """A claimed action along `probe`, as the numbers along it are kept."""
        return self.sketch(action) if self.sketch is not None and self.sketched(probe) else action

    def sketch_size(self, probes: Sequence[Probe]) -> int:
        return BUCKETS if any(map(self.sketched, probes)) else 0

    def step(self, probe: Probe) -> float:
        """The scale of the steps along `probe`: its own, times a factor between 1/sqrt(2)
        and sqrt(2) that differs from probe to probe and trial to trial (the same in every
        run). Two step sizes in a fixed ratio can agree by chance, f oscillating in
        resonance with them (x^2 + 1e-4 sin(w log x)); steps that vary cannot all."""
        seed = zlib.crc32(repr((probe.key, self.point.sample.trial, self.point.identity.name)).encode())
        return probe.scale * self.step_factor * float(2.0 ** (seed / 2**32 - 0.5))

    def _line_from(self, base: dict[str, np.ndarray], probe: Probe) -> Callable[[complex], np.ndarray]:
        """The change of f along `probe` from `base` (inputs near the sample's)."""
        return lambda t: self.point.change({n: _step(base[n], d, t) for n, d in probe.direction.items()})

    def _moved(self, direction: Direction, t: complex) -> dict[str, np.ndarray]:
        return {name: _step(np.asarray(self.point.sample.values[name]), d, t) for name, d in direction.items()}

    @property
    def quickens(self) -> bool:
        """Whether `quickly` changes anything: under central differences only (Richardson's
        table needs its three steps; the complex step takes one already)."""
        return self.method == "central"

    @contextlib.contextmanager
    def quickly(self) -> Iterator[None]:
        """Within it, a first derivative under central differences is taken at one step size
        (h/2, 2 evaluations: numdiff.fine_central), its error estimate the rounding part of
        what both step sizes give; outside it, at both (4 evaluations, the two at h/2
        reused). The value is the same, and the error estimate with both is as large or
        larger: a claim that passes with one step size passes with both, and only a claim
        that does not needs the second (checker._read). For a right claim that halves the
        evaluations; it does not change a verdict."""
        self.quick = self.quickens
        try:
            yield
        finally:
            self.quick = False

    def firsts(self, probes: Sequence[Probe], whole_sketched: bool = False) -> Iterator[Estimate]:
        """`first` along each of `probes` in turn (`whole` where sketched, with
        `whole_sketched`). The changes of f that each will surely take are evaluated
        beforehand in one stacked pass (`Point.changes`), as many probes at a time as fit
        batch.STACK_LIMIT: the tree is walked once for them all. Where that pass cannot be
        made, each is evaluated on its own, as `first` alone would."""
        for chunk in self._chunks(probes):
            self._take_ahead(chunk)
            for p in chunk:
                yield self.whole(p) if whole_sketched and self.sketched(p) else self.first(p)
            self.ahead.clear()

    def _chunks(self, probes: Sequence[Probe]) -> Iterator[Sequence[Probe]]:
        size = max(1, STACK_LIMIT // (self._entries * len(first_steps(self.method))))
        for start in range(0, len(probes), size):
            yield probes[start:start + size]

    @functools.cached_property
    def _entries(self) -> int:
        """The entries of f and of every input: at least what one point of a stacked pass
        holds (counted without drawing a direction that is not kept)."""
        inputs = sum(np.size(self.point.sample.values[v.name]) for v in self.point.identity.inputs)
        return max(1, self.point.value.size + inputs)

    def _take_ahead(self, probes: Sequence[Probe]) -> None:
        """The changes of f along `probes` at the steps `first` takes, into `ahead`."""
        wanted = [p for p in probes if p.key not in self.cache and not self.sketched(p)
                  and not (self.quick and p.key in self.fine)]
        groups: dict[frozenset[str], list[tuple[Probe, complex]]] = {}
        for p in wanted:
            for t in self._steps(p):
                if (p.key, t) not in self.kept:
                    groups.setdefault(p.names, []).append((p, t))
        for at in groups.values():
            if len(at) < 2 or not fits(len(at), (self._entries,)):
                continue
            values = self.point.changes([self._moved(p.direction, t) for p, t in at])
            if values is not None:
                self.ahead.update({(p.key, t): v for (p, t), v in zip(at, values)})

    def _steps(self, probe: Probe) -> tuple[complex, ...]:
        """The steps `first` surely takes along `probe`: those of `first_steps`, or within
        `quickly` the last two (h/2 and -h/2)."""
        steps = first_steps(self.method, self.step(probe))
        return steps[2:] if self.quick else steps

    def _change(self, probe: Probe, t: complex) -> np.ndarray:
        """The change of f at step t along `probe`: kept from `quickly`, taken ahead, or
        evaluated now."""
        known = self.kept.pop((probe.key, t), None)
        if known is None:
            known = self.ahead.pop((probe.key, t), None)
        return known if known is not None else self.point.change(self._moved(probe.direction, t))

    def first(self, probe: Probe) -> Estimate:
        """d/dt f(x + t d) at t = 0, cached by probe (sketched if f is large, see `sketched`;
        within `quickly`, from one step size where it may be)."""
        if self.quick and probe.key not in self.cache and not self.sketched(probe):
            fine = self._fine(probe)
            if fine is not None:
                return fine
        if probe.key not in self.cache:
            self.cache[probe.key] = self._first_sketched(probe) if self.sketched(probe) else self.whole(probe)
            self.probed[probe.key] = probe
        return self.cache[probe.key]

    def _fine(self, probe: Probe) -> Estimate | None:
        """`first` along `probe` from the steps at h/2 alone (see `quickly`), cached; None
        where a kink may be near. Their changes of f are kept for `whole`."""
        if probe.key not in self.fine:
            changes = {t: self._change(probe, t) for t in self._steps(probe)}
            names = probe.names
            estimate, smooth = fine_central(changes.__getitem__, self.step(probe), self.point.change_noise(names),
                                            self.point.change_size(names))
            self.kept.update({(probe.key, t): change for t, change in changes.items()})
            self.fine[probe.key] = _compact(estimate) if smooth else None
        return self.fine[probe.key]

    @functools.cached_property
    def complex_spread(self) -> float:
        """How far the complex step's numbers move between points within rounding of the
        sample, relative to their size (COMPLEX_SPREAD times the moves: two draws of the
        rounding only, so a wide margin), over the probes measured so far; 0 under the
        difference methods.

        The complex step takes no real step, but its imaginary part is computed like f:
        where f cancels large terms (A - A (I + A)^-1 A is about I while A is about 1e3)
        the slope is rounded at eps times those terms, repeatably at one point, so neither
        estimate of `_complex` sees it; at points within rounding of the sample the
        rounding is drawn again. Relative, so that it holds for combinations of the
        probes too. Asked before a complex-step reading fails (two evaluations a probe)."""
        if self.method != "complex":
            return 0.0
        moves, sizes = [], []
        for key, probe in self.probed.items():
            if self.sketched(probe):
                continue
            value = np.asarray(self.cache[key].value)
            sizes.append(norm(value))
            for i in range(2):
                jiggled = first_derivative(self._line_from(self.point.jiggle(i, probe.names), probe), self.step(probe), "complex")
                moves.append(norm(np.asarray(jiggled.value) - value))
        size = norm(np.array(sizes))
        return COMPLEX_SPREAD * norm(np.array(moves)) / size if size > 0 else 0.0

    def whole(self, probe: Probe) -> Estimate:
        """d/dt f(x + t d) at t = 0 entry by entry (not cached)."""
        names = probe.names
        if self.method == "complex":
            return self._complex(probe, None, self.point.change_noise(names, line=False), self.point.change_size(names))
        line: Callable[[complex], np.ndarray] = lambda t: self._change(probe, t)
        noise = self.point.change_noise(names)
        return _compact(first_derivative(line, self.step(probe), self.method, noise,
                                         self.point.change_size(names), at_zero=True))

    def _complex(self, probe: Probe, sketch: CountSketch | None, f_noise: np.ndarray | float,
                 f_size: np.ndarray | float) -> Estimate:
        """The complex step along `probe`, with an error estimate from the imaginary part.

        The step is exact but for the rounding of the values f is computed from:
        logsumexp(x + 1e9) takes its slope at x + 1e9 rounded to 1e-7. Two readings of
        that rounding, each safe where the other is not, and the smaller is kept:
        - from f: the rounding of f (`f_noise`, and eps times the size of its changing
          terms, `f_size`) per unit of the step's scale. It holds wherever f varies on the
          scale of its inputs, but a flat f (sum(cos(1e-5 x)): 3, where its slope is
          1e-10) makes it far larger than the error of the slope;
        - from the slope: the step again at four points along the probe, at relative steps
          of COMPLEX_NOISE_STEP; their fourth difference, to which a smooth slope
          contributes nothing, holds the rounding that moves with the point. A slope that
          varies faster than those steps (x^2 + 1e-4 sin(1e6 log x)) makes it large.
        Each is an upper bound of the error where it holds: their minimum judges no claim
        more leniently than either would alone.
        """
        def line(t: complex) -> np.ndarray:
            change = self._change(probe, t)
            return sketch(change) if sketch is not None else change

        def from_(a: float) -> Callable[[complex], np.ndarray]:
            return lambda t: line(a + t)

        step = self.step(probe)
        at = first_derivative(line, step, "complex")  # its own rounding, underflow and truncation only
        from_f = value_rounding(f_size, f_noise) / step
        if norm(from_f) <= COMPLEX_SHARPEN * norm(at.value):
            extra, nfev = from_f, at.nfev  # too small to matter: not worth four more evaluations
        else:
            shifted = [first_derivative(from_(k * COMPLEX_NOISE_STEP * step), step, "complex") for k in range(1, 5)]
            d = [np.asarray(at.value), *(s.value for s in shifted)]
            fourth = d[4] - 4 * d[3] + 6 * d[2] - 4 * d[1] + d[0]
            # independent errors of size e give a fourth difference of size e sqrt(70); four
            # times that, as numdiff takes four times the noise seen in f
            extra = np.minimum(from_f, 4 * np.abs(fourth) / np.sqrt(70.0))
            nfev = at.nfev + sum(s.nfev for s in shifted)
        return _compact(Estimate(at.value, at.error + extra, at.rounding + extra, nfev))

    def _first_sketched(self, probe: Probe) -> Estimate:
        assert self.sketch is not None
        if self.method == "complex":
            return self._complex(probe, self.sketch, self._sketched_noise / 4, 0.0)
        sketch = self.sketch
        # Sketching f(x + t d) - f(x), not f(x + t d): the sums then add up changes of
        # size t |f'|, and their own rounding is that much smaller.
        line: Callable[[complex], np.ndarray] = lambda t: sketch(self.point.change(self._moved(probe.direction, t)))
        # The rounding of f, entry by entry, as it adds up in each sum; numdiff takes
        # four times `f_noise` as the rounding of one value.
        return _compact(first_derivative(line, self.step(probe), self.method, self._sketched_noise / 4))

    @functools.cached_property
    def _sketched_noise(self) -> np.ndarray:
        assert self.sketch is not None
        names = frozenset(v.name for v in self.point.identity.inputs)
        noise = self.point.jiggled_noise(names)  # not kept: as large as f
        if self.method != "complex":  # as in `whole`: the complex step takes no real step along a line
            np.maximum(noise, self.point.line_noise(names), out=noise)
        noise *= 4
        return self.sketch.quadrature(np.maximum(noise, ROUNDING * EPS * np.abs(self.point.value), out=noise))

    def seconds(self, pairs: Sequence[tuple[Probe, Probe]]) -> Iterator[Estimate]:
        """`second` along each of `pairs` in turn, the changes of f each will surely take
        evaluated beforehand in stacked passes, as `firsts` does."""
        size = max(1, STACK_LIMIT // (self._entries * len(second_steps(self.method))))
        for start in range(0, len(pairs), size):
            chunk = pairs[start:start + size]
            self._take_ahead_second(chunk)
            for u, v in chunk:
                yield self.second(u, v)
            self.ahead.clear()

    def _take_ahead_second(self, pairs: Sequence[tuple[Probe, Probe]]) -> None:
        """The changes of f at the points `second` takes along `pairs`, into `ahead`."""
        groups: dict[frozenset[str], list[tuple[Probe, Probe, tuple[complex, complex]]]] = {}
        keys = set()
        for u, v in pairs:
            key = _second_key(u, v)
            if key in self.cache or key in keys:
                continue
            keys.add(key)
            for st in second_steps(self.method, self.step(u), self.step(v)):
                groups.setdefault(u.names | v.names, []).append((u, v, st))
        for at in groups.values():
            if len(at) < 2 or not fits(len(at), (self._entries,)):
                continue
            values = self.point.changes([self._plane_point(u, v, *st) for u, v, st in at])
            if values is not None:
                self.ahead.update({(_second_key(u, v), *st): value for (u, v, st), value in zip(at, values)})

    def _plane_point(self, u: Probe, v: Probe, s: complex, t: complex) -> dict[str, np.ndarray]:
        """The inputs at x + s u + t v."""
        moved = self._moved(u.direction, s)
        for n, d in v.direction.items():
            moved[n] = moved.get(n, np.asarray(self.point.sample.values[n])) + t * d
        return moved

    def second(self, u: Probe, v: Probe) -> Estimate:
        """d^2/ds dt f(x + s u + t v) at 0 (steps relative to the probes' own scale)."""
        key = _second_key(u, v)
        if key not in self.cache:

            def plane(s: complex, t: complex) -> np.ndarray:
                ahead = self.ahead.pop((key, s, t), None)
                return ahead if ahead is not None else self.point.change(self._plane_point(u, v, s, t))

            names = u.names | v.names
            self.cache[key] = _compact(second_derivative(plane, self.step(u), self.step(v), self.method,
                                                         self.point.change_noise(names),
                                                         self.point.change_size(names)))
        return self.cache[key]


def _second_key(u: Probe, v: Probe) -> tuple[object, ...]:
    return ("second", *sorted((u.key, v.key), key=repr))


def _step(x: np.ndarray, d: np.ndarray, t: complex) -> np.ndarray:
    """x + t d, with one array as large as x instead of two."""
    if isinstance(t, complex) and x.dtype == d.dtype == np.float64 and x.shape == d.shape:
        # the complex step: real and imaginary parts written apart, not d made complex and
        # multiplied as complex numbers (at n = 1000, 1.0 ms against 3.6 ms)
        moved = np.empty_like(d, dtype=np.complex128)  # laid out as d, as d * t would be
        if t.real:
            np.multiply(d, t.real, out=moved.real)
            moved.real += x
        else:
            moved.real = x
        np.multiply(d, t.imag, out=moved.imag)
        return moved
    moved = d * t
    if np.result_type(moved, x) != moved.dtype:  # a real direction of a complex input (format 6)
        return np.asarray(moved + x)
    moved += x
    return moved


def _compact(estimate: Estimate) -> Estimate:
    """Only the norms of the error estimates are ever used (the verdict compares norms):
    keeping them alone halves the memory of a check with a matrix-valued f."""
    return Estimate(estimate.value, np.asarray(norm(estimate.error)), np.asarray(norm(estimate.rounding)),
                    estimate.nfev, estimate.lower, estimate.upper)
