from __future__ import annotations

import numpy as np
import pytest

from gradcheck import point as point_module
from gradcheck.catalogue import load_text
from gradcheck.expr import parse
from gradcheck.numdiff import entry_scales
from gradcheck.point import COND_SIZE_LIMIT, Point
from gradcheck.sampling import draw_sample

TEXT = """\
name: conditions
dims: {{n: {n}}}
inputs: {{X: {{shape: [n, n]}}, S: {{shape: [n, n], kind: spd}}}}
let: {{A: inv(X @ X), B: inv(X.T @ X + S)}}
function: trace(A + B + inv(X))
claims:
  - {{wrt: X, layout: denominator, derivative: X}}
"""


def point(n: int) -> Point:
    identity = load_text(TEXT.format(n=n), "t.yaml")
    return Point(identity, draw_sample(identity, {"n": n}, np.random.default_rng(3)))


@pytest.mark.parametrize("n", [6, COND_SIZE_LIMIT + 20])
def test_every_inverted_matrix_has_its_own_condition_number(n: int) -> None:
    p = point(n)
    x, s = p.sample.values["X"], p.sample.values["S"]
    norm = 2 if n <= COND_SIZE_LIMIT else 1
    expected = {"X @ X": x @ x, "X.T @ X + S": x.T @ x + s, "X": x}
    for where, matrix in expected.items():
        assert p.conditions[where] == pytest.approx(np.linalg.cond(matrix, norm), rel=1e-6)
    # a large spd sample is well conditioned by construction and not measured
    assert ("S" in p.conditions) == (n <= COND_SIZE_LIMIT)


def test_jiggles_are_within_rounding_and_the_same_at_every_call() -> None:
    p = point(5)
    x = p.sample.values["X"]
    first, again = p.jiggle(0)["X"], p.jiggle(0)["X"]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, p.jiggle(1)["X"])
    assert 0 < np.max(np.abs(first - x) / np.maximum(np.abs(x), np.sqrt(np.mean(x**2)))) < 1e-14


@pytest.mark.parametrize("kept", [True, False])
def test_scales_times_a_factor_are_a_fresh_array_at_every_call(kept: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not kept:
        monkeypatch.setattr(point_module, "SCALES_KEPT", 0)
    p = point(5)
    x = p.sample.values["X"]
    scaled = p.scales("X", 4.0)
    np.testing.assert_array_equal(scaled, entry_scales(x) * 4.0)
    scaled[...] = -1.0  # the caller's to change: what is kept stays as it was
    np.testing.assert_array_equal(p.scales("X"), entry_scales(x))
    assert p.scales("X") is not p.scales("X")


def test_the_scales_of_a_scalar_input_are_an_array_to_change_in_place() -> None:
    identity = load_text("name: s\ninputs: {a: {shape: []}}\nfunction: a * a\n"
                         "claims:\n  - {wrt: a, layout: numerator, derivative: 2 * a}\n", "s.yaml")
    p = Point(identity, draw_sample(identity, {}, np.random.default_rng(1)))
    scaled = p.scales("a", 2.0)
    assert isinstance(scaled, np.ndarray) and scaled.shape == ()
    scaled *= 3.0
    assert scaled == 6.0 * entry_scales(p.sample.values["a"])


def test_a_determinant_of_an_ill_conditioned_power_is_judged_not_redrawn() -> None:
    # det(X^3) at cond(X) = 1e3: X^3 has condition ~1e9, which a determinant (smooth at a
    # singular matrix) computes to 1e9 eps; an inverse of it would be redrawn
    from gradcheck.sampling import Sample

    text = """\
name: p
inputs: {{X: {{shape: [3, 3], kind: invertible}}}}
function: {function}
claims:
  - {{equals: 'det(X) ** 3'}}
"""
    x = np.diag([1.0, 10.0, 1000.0]) + 0.1
    sample = Sample("p", 0, {}, {"X": x})
    cube = np.linalg.cond(x @ x @ x)
    judged = Point(load_text(text.format(function="det(matrix_power(X, 3))"), "t.yaml"), sample)
    assert judged.ill_conditioned() is None and judged.conditions["matrix_power(X, 3)"] == pytest.approx(cube)
    inverted = Point(load_text(text.format(function="logdet(matrix_power(X, 3)) * 0 + det(X) ** 3"), "t.yaml"),
                     sample)
    assert inverted.ill_conditioned() == f"cond(matrix_power(X, 3)) = {cube:.1e} is above 1e+06"
    # a positive power inverts nothing: its argument is not measured for it
    powered = Point(load_text(text.format(function="trace(matrix_power(inv(X), 2))"), "t.yaml"), sample)
    assert set(powered.conditions) == {"X"}


@pytest.mark.parametrize("hoisted_from", [0, 10**9])  # small inputs: the stacked pass alone
def test_a_claims_still_parts_are_evaluated_once_for_all_its_directions(
        hoisted_from: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(point_module, "HOISTED_FROM", hoisted_from)
    p = point(5)
    expr = parse("trace(inv(X) @ dX) + trace(inv(X @ X) @ dX @ dX)", {"X", "dX"})
    directions = [{"dX": d} for d in np.random.default_rng(4).standard_normal((6, 5, 5))]
    expected = [np.trace(np.linalg.inv(p.sample.values["X"]) @ d["dX"]) for d in directions]
    inverses = []
    inverse = np.linalg.inv
    monkeypatch.setattr(np.linalg, "inv", lambda a: inverses.append(1) or inverse(a))
    one_by_one = [p.claim(expr, "claim 1", d) for d in directions]
    stacked = p.claims(expr, "claim 1", directions)
    # named: inv(X) once, inv(X @ X) never (let A has that text: its value is taken);
    # else both once a direction and once in the stacked pass
    assert len(inverses) == (1 if hoisted_from == 0 else 2 * (len(directions) + 1))
    assert stacked is not None
    for a, b, e in zip(one_by_one, stacked, expected):
        assert float(a) == pytest.approx(float(b), rel=1e-12)
        assert abs(float(a) - e) > 0  # the second term is there


def test_still_parts_of_different_claims_at_one_point_keep_their_own_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(point_module, "HOISTED_FROM", 0)
    p = point(4)
    x, d = p.sample.values["X"], np.random.default_rng(5).standard_normal((4, 4))
    first, second = parse("trace(inv(X) @ dX)", {"X", "dX"}), parse("trace(X @ X @ dX)", {"X", "dX"})
    for _ in range(2):
        assert float(p.claim(first, "claim 1", {"dX": d})) == pytest.approx(np.trace(np.linalg.inv(x) @ d))
        assert float(p.claim(second, "claim 2", {"dX": d})) == pytest.approx(np.trace(x @ x @ d))


@pytest.mark.parametrize("folder", ["seed", "giles"])
def test_naming_the_still_parts_changes_no_verdict(folder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Below HOISTED_FROM the parts are not named (it would not pay): named at every size,
    every claim of these folders still gets the verdict it gets without."""
    from conftest import CATALOGUE
    from gradcheck.catalogue import load_catalogue
    from gradcheck.checker import Options, check_catalogue

    catalogue = load_catalogue([CATALOGUE / folder])
    plain = [(r.identity, r.status) for batch in check_catalogue(catalogue, Options()) for r in batch]
    monkeypatch.setattr(point_module, "HOISTED_FROM", 0)
    named = [(r.identity, r.status) for batch in check_catalogue(catalogue, Options()) for r in batch]
    assert named == plain and len(plain) > 100


def test_a_claim_written_with_a_lets_text_takes_the_lets_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """At a point, inv(X @ X).T in a claim is let A's value (transposed), at the sample and
    at the points within rounding of it, and no inverse is taken for it; below
    HOISTED_FROM it is computed as written (the same value)."""
    plain = point(5)
    written = parse("inv(X @ X).T + X", {"X"})
    expected = plain.claim(written, "claim 1")
    noise = plain.claim_noise(written, "claim 1")
    monkeypatch.setattr(point_module, "HOISTED_FROM", 0)
    p = point(5)
    inverses = []
    inverse = np.linalg.inv
    monkeypatch.setattr(np.linalg, "inv", lambda a: inverses.append(1) or inverse(a))
    np.testing.assert_array_equal(p.claim(written, "claim 1"), expected)
    assert not inverses
    np.testing.assert_array_equal(p.claim_noise(written, "claim 1"), noise)
    assert len(inverses) == 2 * 2  # the two lets' inverses at each of the two points: none more


def test_a_jiggle_of_some_inputs_is_those_inputs_of_the_whole_jiggle(monkeypatch: pytest.MonkeyPatch) -> None:
    p = point(5)
    made: list[str] = []
    jiggle = Point._jiggle
    monkeypatch.setattr(Point, "_jiggle", lambda self, var, rng: made.append(var.name) or jiggle(self, var, rng))
    only_x = p.jiggle(1, {"X"})
    assert made == ["X"] and set(only_x) == {"X"}
    whole = p.jiggle(1)
    assert made == ["X", "S"]  # X was kept
    np.testing.assert_array_equal(only_x["X"], whole["X"])


def test_large_jiggles_are_made_again_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(point_module, "SCALES_KEPT", 10)  # less than one input of 25 entries
    p = point(5)
    first, again = p.jiggle(0), p.jiggle(0)
    assert first["X"] is not again["X"]
    np.testing.assert_array_equal(first["X"], again["X"])


@pytest.mark.parametrize("shape", [(), (7,), (30, 40), (2, 3, 4)])
def test_signs_are_flipped_as_np_negative_flips_them(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(6)
    for a in (np.abs(rng.standard_normal(shape)), rng.standard_normal((*shape, 2))[..., 0],  # strided
              np.abs(rng.standard_normal(shape)) + 1j):
        a = np.array(a) if a.flags.c_contiguous else a
        mask = rng.integers(0, 2, np.shape(a), dtype=bool)
        expected = np.array(a)
        np.negative(expected, out=expected, where=mask)
        flipped = a.copy() if a.flags.c_contiguous else a
        point_module._negate(flipped, mask)
        np.testing.assert_array_equal(flipped, expected)
        assert a.dtype != np.float64 or not a.flags.c_contiguous or np.array_equal(np.signbit(flipped), mask)


@pytest.mark.parametrize(("function", "own"), [
    ("inv(X)", True), ("X", False), ("real(X).T", False), ("X[0:2, :]", False),
])
@pytest.mark.parametrize("step", [1e-3, 1e-20j])
def test_a_change_is_formed_in_the_values_memory_only_where_no_one_else_holds_it(
        function: str, own: bool, step: complex, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(point_module, "SUBTRACTED_IN_PLACE", 0)
    identity = load_text(f"""\
format: 6
name: c
dims: {{n: 4}}
inputs: {{X: {{shape: [n, n], kind: invertible}}}}
function: {function}
claims:
  - {{wrt: X, layout: denominator, derivative: X}}
""", "t.yaml")
    p = Point(identity, draw_sample(identity, {"n": 4}, np.random.default_rng(3)))
    x, value = p.sample.values["X"].copy(), p.value.copy()
    moved = {"X": p.sample.values["X"] + step * np.arange(16.0).reshape(4, 4)}
    before = moved["X"].copy()
    evaluated: list[np.ndarray] = []
    at = p.at
    monkeypatch.setattr(p, "at", lambda m, where="": evaluated.append(at(m, where)) or evaluated[-1])
    change = p.change(moved)
    np.testing.assert_array_equal(change, identity.function({"X": before, "n": 4}) - value)  # the same numbers
    np.testing.assert_array_equal(moved["X"], before)  # no one's array written
    np.testing.assert_array_equal(p.sample.values["X"], x)
    np.testing.assert_array_equal(p.value, value)
    own = own and (step != 1e-20j or function == "inv(X)")  # complex less real: in a complex array
    assert (change is evaluated[0]) == own
