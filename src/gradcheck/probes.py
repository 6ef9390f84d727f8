"""The directions along which claims are compared with the numbers at one point.

A *probe* is a direction for some inputs. Small inputs are probed along every entry
(the full gradient or Jacobian); large ones along a fixed number of random directions,
so the cost does not grow with the number of entries. Random directions are kept while
they fit a memory budget and drawn again, the same each time, beyond it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations_with_replacement

import numpy as np

from gradcheck.catalogue import Variable
from gradcheck.options import Numerics
from gradcheck.point import Point
from gradcheck.tangents import TANGENTS

Direction = dict[str, np.ndarray]
KEEP_ENTRIES = 4_194_304  # random directions are kept while they total this many entries (32 MB)
KEEP_BOTH = 1_000_000  # beyond it, directions up to this many entries are kept in pairs


@dataclass(frozen=True)
class Probe:
    """A direction, and the scale of its entries (steps are a multiple of it).

    Random directions beyond the memory budget (see `ProbeSets.randoms`) are not kept:
    `make` draws them again, the same each time, when they are needed.
    """

    key: tuple[object, ...]
    make: Callable[[], Direction]
    scale: float = 1.0
    # the inputs it moves: given where the direction is not kept, so that asking does not
    # draw it (at n = 1000, a draw costs as much as an evaluation of a cheap f)
    names: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.names:
            object.__setattr__(self, "names", frozenset(self.make()))

    @property
    def direction(self) -> Direction:
        return self.make()

    @property
    def random(self) -> bool:
        return self.key[0] == "random"


def vec(a: np.ndarray) -> np.ndarray:
    """The format's vec: columns stacked (column-major)."""
    return np.asarray(a).reshape(-1, order="F")


def _kept(direction: Direction) -> Callable[[], Direction]:
    return lambda: direction


class ProbeSets:
    """The probes of one point: each input's, drawn once and shared by every claim."""

    def __init__(self, point: Point, numerics: Numerics, rng: np.random.Generator) -> None:
        self.point = point
        self.numerics = numerics
        self.rng = rng
        self.sets: dict[tuple[object, ...], list[Probe]] = {}
        self.serial = 0  # random probes are told apart by a serial number
        self.kept_entries = 0  # of random directions kept (see `randoms`)
        self.recent: dict[int, Direction] = {}  # the last ones drawn of those not kept, oldest first

    def value(self, name: str) -> np.ndarray:
        return np.asarray(self.point.sample.values[name])

    def full(self, var: Variable) -> bool:
        """Whether `var` is probed entry by entry."""
        return self.value(var.name).size <= self.numerics.full_limit

    def of_input(self, var: Variable) -> list[Probe]:
        key = ("input", var.name)
        if key not in self.sets:
            self.sets[key] = self.basis(var) if self.full(var) else self.randoms([var], self.numerics.probes)
        return self.sets[key]

    def joint_full(self, inputs: Sequence[Variable]) -> bool:
        """Whether a differential's probes (each input's own) all go entry by entry."""
        return all(self.full(v) for v in inputs)

    def hessian_pairs(self, var: Variable) -> tuple[str, list[tuple[Probe, Probe]]]:
        """The pairs of probes a Hessian claim is compared along, and the mode."""
        if self.value(var.name).size <= self.numerics.hessian_full_limit:
            basis = self.basis(var)
            return "full", [(u, v) for u in basis for v in basis]
        u, v = self.randoms([var], self.numerics.probes), self.randoms([var], self.numerics.probes)
        return "directional", list(zip(u, v))

    def basis(self, var: Variable) -> list[Probe]:
        x = self.value(var.name)
        if var.symmetric_perturbation:
            return self._symmetric_basis(var.name, x)
        if var.perturb is not None:
            return self._tangent_basis(var, x)
        scales = vec(self.point.scales(var.name))
        probes = []
        # a complex entry is two real ones: moved along 1 and along i (format 6)
        units = (1.0, 1j) if np.iscomplexobj(x) else (1.0,)
        for unit in units:
            for i in range(x.size):
                d = np.zeros(x.size, dtype=type(unit))
                d[i] = unit
                direction = {var.name: d.reshape(x.shape, order="F")}
                key = ("basis", var.name, i) if unit == 1.0 else ("basis", var.name, i, "imaginary")
                probes.append(Probe(key, _kept(direction), float(scales[i])))
        return probes

    def _symmetric_basis(self, name: str, x: np.ndarray) -> list[Probe]:
        n, scale = x.shape[0], float(np.sqrt(np.mean(x**2)) or 1.0)
        probes = []
        for i, j in combinations_with_replacement(range(n), 2):
            d = np.zeros((n, n))
            d[i, j] = d[j, i] = 1.0 if i == j else np.sqrt(0.5)
            probes.append(Probe(("sym", name, i, j), _kept({name: d}), scale))
        return probes

    def _tangent_basis(self, var: Variable, x: np.ndarray) -> list[Probe]:
        """An orthonormal basis of the space `var` is restricted to (gradcheck.tangents),
        with steps of the entries' root mean square."""
        scale = float(np.sqrt(np.mean(x**2)) or 1.0)
        return [Probe(("tangent", var.name, i), _kept({var.name: d}), scale)
                for i, d in enumerate(TANGENTS[str(var.perturb)].basis(x))]

    def _random_direction(self, var: Variable, rng: np.random.Generator) -> np.ndarray:
        """A Gaussian direction, the same scale in every entry: its power to see an error
        must not depend on where the error is. (Scaled entry by entry, the directions of
        log det at a large spd X weighed the diagonal 20 times more than the rest, and
        an error only off the diagonal was seen 20 times smaller.)"""
        x = self.value(var.name)
        d = rng.standard_normal(x.shape)
        if np.iscomplexobj(x):  # standard complex normal: as isotropic in C^n = R^2n
            d = (d + 1j * rng.standard_normal(x.shape)) / np.sqrt(2)
        d *= self.point.scale_rms(var.name)
        if var.symmetric_perturbation:
            return np.asarray((d + d.T) / np.sqrt(2))
        # a Gaussian of the restricted space, as isotropic in it as d is in the whole
        return np.asarray(TANGENTS[var.perturb].project(d, x)) if var.perturb is not None else d

    def randoms(self, inputs: Sequence[Variable], count: int) -> list[Probe]:
        """`count` random probes of `inputs`. Their directions are kept while all the kept
        ones total at most KEEP_ENTRIES entries (drawing them again for every claim cost a
        third of a check at n = 1000); larger ones are drawn again when needed."""
        entries = count * sum(self.value(v.name).size for v in inputs)
        keep = self.kept_entries + entries <= KEEP_ENTRIES
        self.kept_entries += entries if keep else 0
        return [self._random(inputs, keep) for _ in range(count)]

    def _random(self, inputs: Sequence[Variable], keep: bool) -> Probe:
        self.serial += 1
        serial, seed = self.serial, int(self.rng.integers(2**63))

        def draw() -> Direction:
            rng = np.random.default_rng(seed)
            return {v.name: self._random_direction(v, rng) for v in inputs}

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

        return Probe(("random", serial), make, names=frozenset(v.name for v in inputs))
