"""Numbers along probes: taken ahead in stacked passes; a large matrix-valued f compared through a
count sketch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gradcheck.catalogue import load_text
from gradcheck.checker import Options, check_identity
from gradcheck.differences import Differences, _step
from gradcheck.options import Numerics
from gradcheck.point import Point
from gradcheck.probes import ProbeSets
from gradcheck.sampling import draw_sample
from gradcheck.sketch import BUCKETS
from gradcheck.verdict import ClaimResult, Status

INVERSE = """\
name: inverse
dims: {{n: 30}}
inputs: {{X: {{shape: [n, n], kind: invertible}}}}
let: {{Xi: inv(X)}}
function: Xi
claims:
  - {{differential: '{claim}'}}
"""

LINEAR = """\
name: linear
dims: {{m: 150, n: 120}}
inputs: {{x: {{shape: [n, 1]}}}}
constants: {{A: {{shape: [m, n]}}}}
function: A @ tanh(x)
claims:
  - {{wrt: x, layout: numerator, derivative: '{claim}'}}
"""


def check(template: str, claim: str, sketch_limit: int = 100, method: str = "central") -> ClaimResult:
    identity = load_text(template.format(claim=claim), "t.yaml")
    options = Options(trials=2, method=method, numerics=Numerics(sketch_limit=sketch_limit))
    [result] = check_identity(identity, options)
    return result


@pytest.mark.parametrize("method", ["central", "richardson", "complex"])
def test_a_right_claim_passes_through_the_sketch_as_it_does_whole(method: str) -> None:
    sketched = check(INVERSE, "-Xi @ dX @ Xi", method=method)
    whole = check(INVERSE, "-Xi @ dX @ Xi", sketch_limit=10**9, method=method)
    assert sketched.status is whole.status is Status.PASS
    assert {m.sketch for m in sketched.readings} == {BUCKETS}
    assert {m.sketch for m in whole.readings} == {0}
    if method == "richardson":  # retakes its table per probe where truncation dominates
        assert sketched.nfev <= 2 * whole.nfev and whole.nfev <= 2 * sketched.nfev
    else:
        assert sketched.nfev == whole.nfev
    assert sketched.noise is not None and whole.noise is not None
    assert sketched.noise < 10 * whole.noise + 1e-12


@pytest.mark.parametrize("error", ["1e-6", "1e-7"])
def test_small_errors_are_caught_through_the_sketch(error: str) -> None:
    # an error that is not a slip of the claim's own shape, of about that relative size
    assert check(INVERSE, f"-Xi @ dX @ Xi + {error} * dX @ Xi.T").status is Status.FAIL


@pytest.mark.parametrize(("claim", "hint"), [
    ("Xi @ dX @ Xi", "matches the claim negated"),
    ("-(Xi @ dX @ Xi).T", "matches the claim transposed"),
    ("-2 * Xi @ dX @ Xi", "off by a factor: numerical = 1/2 x claim"),
])
def test_failures_are_explained_from_the_sketch(claim: str, hint: str) -> None:
    result = check(INVERSE, claim)
    assert result.status is Status.FAIL
    assert result.hint.startswith(hint)
    assert any(d.startswith("largest difference at entry") for d in result.details)


def test_a_jacobian_claim_of_a_large_vector_function_is_sketched() -> None:
    right = check(LINEAR, "A @ diag(1 - tanh(x) ** 2)")
    assert right.status is Status.PASS and right.readings[0].sketch == BUCKETS
    assert right.mode == "directional"
    wrong = check(LINEAR, "A @ diag(1 - tanh(x) ** 2) + 1e-6 * A")
    assert wrong.status is Status.FAIL


STACKED = """\
name: stacked
dims: {n: 3}
inputs: {X: {shape: [n, n], kind: invertible}, y: {shape: [n, 1]}}
let: {Xi: inv(X)}
function: Xi @ tanh(y) + y.T @ X @ y
claims:
  - {differential: -Xi @ dX @ Xi @ tanh(y)}
"""


@pytest.mark.parametrize("method", ["central", "richardson", "complex"])
def test_numbers_taken_ahead_in_stacked_passes_are_the_numbers_taken_one_by_one(
        method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    identity = load_text(STACKED, "t.yaml")
    sample = draw_sample(identity, identity.sizes(), np.random.default_rng(0))
    numerics = Numerics()
    ahead, alone = (Differences(Point(identity, sample), method, numerics) for _ in range(2))
    probes = ProbeSets(ahead.point, numerics, np.random.default_rng(1))
    probes_x, probes_y = probes.of_input(identity.input("X")), probes.of_input(identity.input("y"))
    pairs = [(u, v) for u in probes_y for v in probes_y]
    calls = {"one by one": 0}
    one = Point.change

    def counted(self: Point, *args: Any, **kwargs: Any) -> np.ndarray:
        calls["one by one"] += 1
        return one(self, *args, **kwargs)

    monkeypatch.setattr(Point, "change", counted)
    stacked = [*ahead.firsts(probes_x), *ahead.firsts(probes_y), *ahead.seconds(pairs)]
    # ahead: only the changes of f beyond the first steps (rounding, refinements) one by one
    assert calls["one by one"] < 0.2 * ahead.point.nfev
    single = [*(alone.first(p) for p in (*probes_x, *probes_y)), *(alone.second(u, v) for u, v in pairs)]
    for a, b in zip(stacked, single, strict=True):
        np.testing.assert_allclose(a.value, b.value, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(a.error, b.error, rtol=1e-6, atol=1e-13)


def _differences(text: str, method: str = "central") -> tuple[Differences, ProbeSets]:
    identity = load_text(text, "t.yaml")
    sample = draw_sample(identity, identity.sizes(), np.random.default_rng(0))
    numbers = Differences(Point(identity, sample), method, Numerics())
    return numbers, ProbeSets(numbers.point, Numerics(), np.random.default_rng(1))


def test_quickly_one_step_size_then_the_second_reusing_the_first() -> None:
    """Within `quickly`, central differences take the steps at h/2 alone (2 evaluations a
    probe, stacked or not); the value is the one both step sizes give, its error estimate
    that one's rounding part; outside, the steps at h are added and those at h/2 reused."""
    numbers, probes = _differences(STACKED)
    both, _ = _differences(STACKED)
    along = probes.of_input(numbers.point.identity.input("X"))
    start = numbers.point.nfev
    with numbers.quickly():
        quick = [*numbers.firsts(along[:2]), numbers.first(along[2])]
    quick_cost = numbers.point.nfev - start
    full = [numbers.first(p) for p in along[:3]]
    more = numbers.point.nfev - start - quick_cost
    fresh = both.point.nfev
    reference = [both.first(p) for p in along[:3]]
    fresh = both.point.nfev - fresh
    for q, f, r in zip(quick, full, reference, strict=True):
        assert q.nfev == 2 and f.nfev == 4
        np.testing.assert_allclose(q.value, r.value, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(f.value, r.value, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(f.error, r.error, rtol=1e-6)
        assert q.error <= f.error and q.error == q.rounding
    # the steps at h/2 were kept for the full ones: together they cost what both step sizes
    # cost from the start (the rounding of f is read once, with the first)
    assert more == 2 * 3 and quick_cost + more == fresh
    assert not numbers.kept  # every kept change was used
    with numbers.quickly():  # a full estimate made already is the one given
        assert numbers.first(along[0]) is full[0]


def test_quickly_changes_nothing_but_under_central_differences() -> None:
    for method in ("richardson", "complex"):
        numbers, probes = _differences(STACKED, method)
        assert not numbers.quickens
        with numbers.quickly():
            estimate = numbers.first(probes.of_input(numbers.point.identity.input("y"))[0])
        assert estimate.nfev > 2 or method == "complex"
        assert not numbers.fine and not numbers.kept


def test_quickly_takes_both_step_sizes_where_a_kink_may_be_near() -> None:
    """relu at the structural zeros of a lower-triangular L: the one-sided derivatives
    differ at every step there, and the verdict's note on the kink needs both step sizes;
    elsewhere one step size is taken."""
    text = ("name: t\ndims: {n: 3}\ninputs:\n  L: {shape: [n, n], kind: lower}\nfunction: sum(relu(L))\n"
            "claims:\n  - {wrt: L, layout: denominator, derivative: step(L)}\n")
    numbers, probes = _differences(text)
    along = probes.of_input(numbers.point.identity.input("L"))
    with numbers.quickly():
        estimates = [numbers.first(p) for p in along]
    kinked = [e for p, e in zip(along, estimates) if numbers.fine[p.key] is None]
    assert kinked and all(e.nfev == 4 and e.lower is not None for e in kinked)
    assert any(e.nfev == 2 for e in estimates)


@pytest.mark.parametrize("t", [1e-20j, 0.25 + 1e-20j, complex(0.5, 0.0), 0.5])
@pytest.mark.parametrize("order", ["C", "F"])
def test_a_step_is_x_plus_t_d_laid_out_as_d(t: complex, order: str) -> None:
    rng = np.random.default_rng(2)
    x, d = rng.standard_normal((4, 3)), np.asarray(rng.standard_normal((4, 3)), order=order)
    moved = _step(x, d, t)
    np.testing.assert_array_equal(moved, d * t + x)  # the same numbers, to the last bit
    assert moved.flags.f_contiguous == d.flags.f_contiguous and moved.flags.c_contiguous == d.flags.c_contiguous
    assert np.shares_memory(moved, d) is False and np.shares_memory(moved, x) is False


def test_a_complex_step_of_a_scalar_input_is_a_complex_scalar_array() -> None:
    moved = _step(np.asarray(2.0), np.asarray(-1.0), 0.5 + 1e-20j)
    assert moved.shape == () and moved == 1.5 - 1e-20j
