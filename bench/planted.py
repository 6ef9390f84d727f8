"""Claims with an error planted in them, to measure what size of error the judge catches.

`PlantedPoint` is a point whose claims read `claim + plant * ||claim|| * E / ||E||`, with
E a fixed random array per claim, trial and direction: pass `planted(delta)` as the
`point` of `check_identity`. It lives here, not in gradcheck: the product never plants.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from gradcheck.catalogue import Identity
from gradcheck.expr import Expr
from gradcheck.point import Point
from gradcheck.sampling import Sample


class PlantedPoint(Point):
    """A point whose claims ("claim N") carry a planted relative error of size `plant`."""

    def __init__(self, identity: Identity, sample: Sample, plant: float) -> None:
        super().__init__(identity, sample)
        self.plant = plant
        self.planting = True

    def claim(self, expr: Expr, what: str, extra: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        return self._planted(super().claim(expr, what, extra), what, extra)

    def claims(self, expr: Expr, what: str, extras: Sequence[Mapping[str, np.ndarray]]) -> list[np.ndarray] | None:
        values = super().claims(expr, what, extras)
        return None if values is None else [self._planted(v, what, e) for v, e in zip(values, extras)]

    def _planted(self, value: np.ndarray, what: str, extra: Mapping[str, np.ndarray] | None) -> np.ndarray:
        if not (self.plant and self.planting and what.startswith("claim ")):
            return value
        key = [self.identity.name, what, str(self.sample.trial)]
        key += [f"{k}:{np.asarray(v).tobytes().hex()}" for k, v in sorted((extra or {}).items())]
        rng = np.random.default_rng(zlib.crc32("/".join(key).encode()))
        noise = rng.standard_normal(value.shape)
        size = float(np.linalg.norm(noise)) or 1.0
        return np.asarray(value + self.plant * float(np.linalg.norm(value)) * noise / size)

    def claim_noise(self, expr: Expr, what: str, extra: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        # the claim's own rounding noise, of the claim as written (a planted error is not noise)
        self.planting = False
        try:
            return super().claim_noise(expr, what, extra)
        finally:
            self.planting = True


def planted(plant: float) -> Callable[[Identity, Sample], Point]:
    """A `point` factory for `check_identity`: claims off by `plant` (0: as written)."""
    if not plant:
        return Point
    return lambda identity, sample: PlantedPoint(identity, sample, plant)
