"""The judge against adversarial cases (bench/adversarial.py): scale, additive
constants, rounding an eps-sized move cannot resolve, complex branches that overflow."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from gradcheck.catalogue import load_text
from gradcheck.checker import Options, check_identity
from gradcheck.functions import sigmoid, softplus
from gradcheck.verdict import Status

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import adversarial  # noqa: E402

SETTLED = [c for c in adversarial.CASES if not c.open]


@pytest.mark.parametrize("method", ["central", "complex", "richardson"])
@pytest.mark.parametrize("case", SETTLED, ids=[c.name for c in SETTLED])
def test_no_wrong_verdict(case: adversarial.Case, method: str) -> None:
    assert adversarial.wrong_verdicts(case, Options(seed=0, method=method)) == []


def statuses(function: str, *claims: str, **options: object) -> list[Status]:
    text = (f"name: t\ndims: {{n: 3}}\ninputs:\n  X: {{shape: [n, n]}}\nfunction: '{function}'\nclaims:\n"
            + "".join(f"  - {c}\n" for c in claims))
    return [r.status for r in check_identity(load_text(text, "t.yaml"), Options(**options))]  # type: ignore[arg-type]


def test_a_large_constant_does_not_let_a_wrong_gradient_pass() -> None:
    grad = "{{wrt: X, layout: denominator, derivative: '{}'}}"
    assert statuses("1e8 + 1e-4 * trace(X @ X)", grad.format("2e-4 * X.T"), grad.format("1e-4 * X.T"),
                    grad.format("0 * X")) == [Status.PASS, Status.FAIL, Status.FAIL]


def test_a_zero_derivative_is_still_judged_zero() -> None:
    # the Hessian of a linear function, and a differential that is identically zero
    assert statuses("trace(X)", "{wrt: X, hessian: '0 * eye(9)'}", "{wrt: X, hessian: 'eye(9)'}") == [
        Status.PASS, Status.FAIL]
    assert statuses("inv(X) @ X", "{differential: '0 * dX'}") == [Status.PASS]


def test_a_flat_function_is_judged_by_the_complex_step_to_full_precision() -> None:
    # f is 3 and its slope 1e-10 x: differences cannot see the slope, and the complex step
    # must not take the rounding of f's value for an error of its own
    text = ("name: t\ninputs:\n  x: {shape: [3, 1]}\nfunction: 'sum(cos(1e-5 * x))'\nclaims:\n"
            "  - {wrt: x, layout: denominator, derivative: '-1e-5 * sin(1e-5 * x)'}\n"
            "  - {wrt: x, layout: denominator, derivative: '-1.0000001e-5 * sin(1e-5 * x)'}\n")
    right, wrong = check_identity(load_text(text, "t.yaml"), Options(method="central"))
    assert right.status is Status.PASS and wrong.status is Status.FAIL
    assert "used complex there" in " ".join(right.notes)
    # by default (auto) the complex step is the method from the start
    right, wrong = check_identity(load_text(text, "t.yaml"))
    assert (right.status, wrong.status, right.method, right.notes) == (Status.PASS, Status.FAIL, "complex", ())


def test_without_any_method_that_can_see_the_derivative_it_is_an_error() -> None:
    # relu is not complex-analytic: no complex step; the constant hides 1e-4 tr(X X)
    [status] = statuses("1e12 + sum(relu(X)) * 1e-6 + 1e-9 * trace(X @ X)",
                        "{wrt: X, layout: denominator, derivative: '0 * X'}")
    assert status is Status.FAIL or status is Status.ERROR


@pytest.mark.parametrize("fn", [sigmoid, softplus])
def test_complex_branches_do_not_overflow(fn: object) -> None:
    z = np.array([-1000 + 1e-20j, 1000 + 1e-20j, 0.3 + 1e-20j])
    out = fn(z)  # type: ignore[operator]
    assert np.all(np.isfinite(out))
    assert np.allclose(np.real(out), fn(np.real(z)))  # type: ignore[operator]


def test_each_input_of_a_differential_is_judged_and_diagnosed_on_its_own() -> None:
    text = ("name: t\ndims: {n: 3}\ninputs:\n  X: {shape: [n, n]}\n  Y: {shape: [n, n]}\n"
            "constants:\n  A: {shape: [n, n]}\nfunction: '1e9 * trace(A @ X) + trace(Y @ Y)'\nclaims:\n"
            "  - {differential: '1e9 * trace(A @ dX) + 2 * trace(Y @ dY)'}\n"
            "  - {differential: '1e9 * trace(A @ dX) + trace(Y @ dY)'}\n")
    right, wrong = check_identity(load_text(text, "t.yaml"), Options())
    assert (right.status, wrong.status) == (Status.PASS, Status.FAIL)
    assert wrong.hint == "off by a factor in the part along dY: numerical = 2 x claim"


def test_a_kink_at_a_structural_zero_is_judged_by_its_one_sided_derivatives() -> None:
    text = ("name: t\ndims: {n: 4}\ninputs:\n  L: {shape: [n, n], kind: lower}\nfunction: sum(relu(L))\nclaims:\n"
            "  - {wrt: L, layout: denominator, derivative: step(L)}\n"
            "  - {wrt: L, layout: denominator, derivative: 2 * step(L)}\n")
    right, wrong = check_identity(load_text(text, "t.yaml"), Options())
    assert (right.status, wrong.status) == (Status.PASS, Status.FAIL)
    assert any("at a kink" in note for note in right.notes)


def test_a_derivative_one_method_sees_is_never_judged_zero_by_another() -> None:
    # central steps see only the rounding of 1e9; the complex step sees softmax(x)
    text = ("name: t\ndims: {n: 4}\ninputs:\n  x: {shape: [n]}\nfunction: logsumexp(x + 1e9)\nclaims:\n"
            "  - {wrt: x, layout: denominator, derivative: '0 * x'}\n"
            "  - {wrt: x, layout: denominator, derivative: '-softmax(x)'}\n")
    for result in check_identity(load_text(text, "t.yaml"), Options()):
        assert result.status in (Status.FAIL, Status.ERROR)


def test_steps_in_resonance_with_f_cannot_agree_by_chance() -> None:
    w = adversarial.RESONANT  # w h = 2 pi for the base step h of central differences
    text = (f"name: t\ndims: {{n: 1}}\ninputs:\n  x: {{shape: [n], kind: positive}}\n"
            f"function: 'sum(x * x + 1e-4 * sin({w!r} * log(x)))'\nclaims:\n"
            f"  - {{wrt: x, layout: denominator, derivative: '2 * x + 1e-4 * {w!r} * cos({w!r} * log(x)) / x'}}\n"
            "  - {wrt: x, layout: denominator, derivative: '2 * x'}\n")
    for method in ("central", "richardson"):
        right, wrong = check_identity(load_text(text, "t.yaml"), Options(method=method))
        assert right.status is not Status.FAIL, right
        assert wrong.status is not Status.PASS, wrong


def test_a_layout_the_symmetric_samples_cannot_show_is_warned_about() -> None:
    text = ("name: t\ndims: {n: 4}\ninputs:\n  X: {shape: [n, n], kind: spd}\nfunction: logdet(X)\nclaims:\n"
            "  - {wrt: X, layout: numerator, derivative: inv(X)}\n"
            "  - {wrt: X, layout: numerator, derivative: inv(X) @ X @ X}\n")
    slip, other = check_identity(load_text(text, "t.yaml"), Options())
    assert slip.status is Status.PASS
    assert slip.warnings and "kind invertible" in slip.warnings[0]
    assert other.status is Status.FAIL and not other.warnings


@pytest.mark.parametrize(("claim", "hint"), [
    ("2 * A + 4 * X", "matches the claim transposed: it holds in layout numerator, "
                      "and off by a factor: numerical = 1/2 x that"),
    ("A.T + 2 * X.T + X", "matches the claim without the term 'X'"),
    ("A.T - 2 * X.T", "matches the claim with the sign of the term '2 * X.T' flipped"),
])
def test_combined_slips_are_diagnosed(claim: str, hint: str) -> None:
    text = ("name: t\ndims: {n: 3}\ninputs:\n  X: {shape: [n, n]}\nconstants:\n  A: {shape: [n, n]}\n"
            f"function: trace(A @ X) + trace(X @ X)\nclaims:\n  - {{wrt: X, layout: denominator, derivative: '{claim}'}}\n")
    [result] = check_identity(load_text(text, "t.yaml"), Options())
    assert (result.status, result.hint) == (Status.FAIL, hint)


def test_a_row_major_jacobian_is_diagnosed() -> None:
    text = ("name: t\ndims: {n: 3, m: 2}\ninputs:\n  W: {shape: [n, m]}\nconstants:\n  B: {shape: [m, n]}\n"
            "function: W @ B\nclaims:\n  - {wrt: W, layout: numerator, derivative: 'kron(eye(n), B.T)'}\n")
    [result] = check_identity(load_text(text, "t.yaml"), Options())
    assert result.status is Status.FAIL
    assert result.hint.startswith("matches the claim read in row-major order")


def assert_at_seeds(text: str, seeds: tuple[int, ...], expected: list[Status]) -> None:
    """Each seed's verdicts on the claims of `text`, in order."""
    for seed in seeds:
        results = check_identity(load_text(text, "t.yaml"), Options(seed=seed))
        assert [r.status for r in results] == expected, seed


def test_a_complex_step_through_cancelling_terms_reads_its_own_rounding(monkeypatch: pytest.MonkeyPatch) -> None:
    # A - A (I + A)^-1 A = I - (I + A)^-1 for spd A up to cond 1e3: f is about I while its
    # terms are about 1e3, so the complex step's slope is rounded at 1e-13 of them,
    # repeatably at the point; the numbers' rounding read at points within rounding of
    # the sample keeps the right claims passing, and a slip of 1e-6 still fails
    from gradcheck import sampling

    monkeypatch.setattr(sampling, "SAMPLE_COND", 1000.0)
    text = """\
name: cb3_approx_large_symmetric
dims: {n: 4}
inputs: {A: {shape: [n, n], kind: spd}}
let: {Wi: inv(eye(n) + A)}
function: A - A @ Wi @ A
claims:
  - {differential: Wi @ dA @ Wi}
  - {wrt: A, layout: denominator, derivative: 'kron(Wi, Wi)'}
  - {wrt: A, layout: denominator, derivative: 'kron(Wi, Wi) * (1 + 1e-6)'}
"""
    assert_at_seeds(text, (3, 10, 11, 14), [Status.PASS, Status.PASS, Status.FAIL])


def test_a_zero_differential_met_by_rounding_is_refined_before_it_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # d(X^-1 X) = 0 at invertible X up to cond 1e3: the complex step reads 1.7e-12 of
    # rounding where its first estimate says 7.6e-13 (seed 2). Against a claim of zero the
    # relative error is 1 at any size; the numbers are far below f's size, so more
    # uncertainty could make them a judged zero: the refinements must be taken. A claim
    # off by 1e-6 of f's slope still fails.
    from gradcheck import sampling

    monkeypatch.setattr(sampling, "SAMPLE_COND", 1000.0)
    text = """\
name: inverse_times_matrix
dims: {n: 3}
inputs: {X: {shape: [n, n], kind: invertible}}
let: {Xi: inv(X)}
function: Xi @ X
claims:
  - {differential: 'zeros(n, n)'}
  - {differential: 1e-6 * Xi @ dX}
"""
    assert_at_seeds(text, (2, 3, 7, 8, 11, 16, 19), [Status.PASS, Status.FAIL])


def test_each_input_part_of_a_differential_gets_the_rounding_of_its_own_claim(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A = S R S^-1 B with S and B up to cond 1e3: the claim's part along dB is small and
    # rounded at 1e-10 of itself, far more than the whole claim is, relative to its size
    from gradcheck import sampling
    from gradcheck.catalogue import bundled_catalogue

    monkeypatch.setattr(sampling, "SAMPLE_COND", 1000.0)
    folder = bundled_catalogue()
    assert folder is not None
    text = (folder / "cookbook" / "ch3" / "cb3_inverse_sum_implication.yaml").read_text(encoding="utf-8")
    right = text.split("  - differential: ")[1].split("\n")[0]
    wrong = right.replace("+ S @ R @ inv(S) @ dB)", "+ 1.000001 * S @ R @ inv(S) @ dB)")
    assert wrong != right
    text += f"  - differential: {wrong}\n"
    for seed in (7, 9):
        statuses = [r.status for r in check_identity(load_text(text, "t.yaml"), Options(seed=seed))]
        assert statuses[3:] == [Status.PASS, Status.FAIL], seed
