from __future__ import annotations

import numpy as np
import pytest

from gradcheck import probes as probes_module
from gradcheck.catalogue import load_text
from gradcheck.options import Numerics
from gradcheck.point import Point
from gradcheck.probes import ProbeSets
from gradcheck.sampling import draw_sample

TEXT = """\
name: two
dims: {n: 6}
inputs: {X: {shape: [n, n]}, y: {shape: [n, 1]}}
function: sum(X @ y)
claims:
  - {equals: sum(X @ y)}
"""


def probe_sets() -> ProbeSets:
    identity = load_text(TEXT, "t.yaml")
    point = Point(identity, draw_sample(identity, {"n": 6}, np.random.default_rng(0)))
    return ProbeSets(point, Numerics(full_limit=0), np.random.default_rng(1))


@pytest.mark.parametrize("keep", [probes_module.KEEP_ENTRIES, 0])
def test_a_random_probe_names_its_inputs_without_drawing_its_direction(
        keep: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probes_module, "KEEP_ENTRIES", keep)
    sets = probe_sets()
    identity = sets.point.identity
    drawn: list[str] = []
    draw = ProbeSets._random_direction
    monkeypatch.setattr(ProbeSets, "_random_direction",
                        lambda self, var, rng: drawn.append(var.name) or draw(self, var, rng))
    [probe] = sets.randoms(list(identity.inputs), 1)
    before = len(drawn)
    assert probe.names == {"X", "y"}
    assert len(drawn) == before  # asking the names drew nothing (kept: drawn once, when made)
    assert set(probe.direction) == probe.names
    np.testing.assert_array_equal(probe.direction["X"], probe.direction["X"])  # the same when drawn again
